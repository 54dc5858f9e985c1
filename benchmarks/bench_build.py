"""Wall and CPU time of a fresh build, with per-rule time from Snakemake's benchmark files.

CPU time (user + system of Snakemake and every job process) is the figure to compare on a
shared machine: wall time there depends on what else runs.

    python benchmarks/bench_build.py                       # the main paper's default build
    python benchmarks/bench_build.py --targets fig1 fig4 --old 90367e2
        # the same targets, side by side with an earlier commit's layout, in one run

Each build writes into a new temporary results directory (nothing cached), with
`snakemake --cores N`; the earlier commit is checked out into a temporary git worktree and
built with this environment. Appends a section to benchmarks/results/build.md: machine, load
average before and after, wall time of each build, jobs per rule and their summed seconds.
"""

from __future__ import annotations

import argparse
import csv
import glob
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build(checkout: Path, targets, cores: int, extra) -> dict:
    out = Path(tempfile.mkdtemp(prefix="dlndyn-build-"))
    cmd = [sys.executable, "-m", "snakemake", *targets, "--cores", str(cores), "--quiet",
           "--config", f"results={out}/results", f"figures_dir={out}/figures", *extra]
    start, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(cmd, cwd=checkout, capture_output=True, text=True)
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if proc.returncode:
        sys.exit(f"build failed in {checkout}:\n{proc.stderr[-3000:]}")
    per_rule = defaultdict(lambda: [0, 0.0])
    for tsv in glob.glob(f"{out}/results/benchmarks/**/*.tsv", recursive=True):
        rule = Path(tsv).parent.name if "bordelon25" not in tsv else "bordelon25_" + Path(
            tsv).parent.name
        with open(tsv) as f:
            row = next(csv.DictReader(f, delimiter="\t"))
        per_rule[rule][0] += 1
        per_rule[rule][1] += float(row["s"])
    n_jobs = len(list(Path(out, "results").rglob("*.parquet")))
    return {"wall": wall, "cpu": cpu, "per_rule": dict(per_rule), "tables": n_jobs}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", nargs="+", default=["bordelon25"])
    ap.add_argument("--old-targets", nargs="+", help="targets of the old layout (default: same)")
    ap.add_argument("--old", help="an earlier commit to build side by side")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("extra", nargs="*", help="more snakemake options, after --")
    args = ap.parse_args()

    load0 = os.getloadavg()
    runs = {"this checkout": build(ROOT, args.targets, args.cores, args.extra)}
    if args.old:
        wt = Path(tempfile.mkdtemp(prefix="dlndyn-old-")) / "old"
        subprocess.run(["git", "worktree", "add", "--detach", str(wt), args.old], cwd=ROOT,
                       check=True, capture_output=True)
        try:
            runs[f"commit {args.old}"] = build(wt, args.old_targets or args.targets, args.cores,
                                               args.extra)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(wt)], cwd=ROOT)
    load1 = os.getloadavg()

    lines = [f"\n## {time.strftime('%Y-%m-%d %H:%M')}: `snakemake --cores {args.cores} "
             f"{' '.join(args.targets)}` from scratch\n",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}; "
             f"load average before {load0[0]:.1f}, after {load1[0]:.1f}.\n",
             "| build | wall time (s) | CPU time, all processes (s) | tables |",
             "|---|---|---|---|"]
    lines += [f"| {name} | {r['wall']:.0f} | {r['cpu']:.0f} | {r['tables']} |"
              for name, r in runs.items()]
    for name, r in runs.items():
        if r["per_rule"]:
            lines += [f"\n{name}, per rule (Snakemake benchmark files):\n",
                      "| rule | jobs | summed s |", "|---|---|---|"]
            lines += [f"| {rule} | {n} | {s:.0f} |"
                      for rule, (n, s) in sorted(r["per_rule"].items())]
    text = "\n".join(lines) + "\n"
    print(text)
    results = ROOT / "benchmarks" / "results" / "build.md"
    if not results.exists():
        results.write_text("# Build wall time\n\nWritten by `benchmarks/bench_build.py`.\n")
    with open(results, "a") as f:
        f.write(text)


if __name__ == "__main__":
    main()
