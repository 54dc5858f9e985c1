"""Theory speed (issue 10): today's solvers against the forward steppers, side by side, one run.

Rows (the issue's targets):

* residual DMFT, T=100, L=8 and L=32: windowed Picard (``theory(s, method="picard")``, the
  default before the residual stepper) against the exact forward stepper (the default now);
* residual DMFT, L=8, T=200: the same (Picard timed once; it takes minutes);
* plain DMFT, L=3, nu=2, alpha=2, T=1000: the plain forward stepper as of commit e16f1a2
  (loaded from git, "today") against the current one.

Residual rows use the docs/bordelon25.md, section 4.7 setting of bench_residual_dmft.py (muP, nu=1, alpha=4,
gamma0=1, beta0=1 with beta0/sqrt(L) branches, eta0=0.05). Each row also reports the largest
relative difference of the two test-loss curves. Wall and CPU (process) seconds are both
recorded: on a shared machine the wall time includes waiting for a core.

    python benchmarks/bench_theory.py [--quick]     # --quick: skip the minutes-long Picard row
    python benchmarks/bench_theory.py --profile [T]  # CPU split of the plain stepper and its
                                                     # bandwidth floor, no file

Writes benchmarks/results/theory.md (machine, load averages, thread settings). ``--profile``
times the plain row's stepper by phase (backward / weight-data / forward) and by triangular
kernel (number of calls and CPU seconds), to see where a step's matrix passes go.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
import types
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import numpy as np  # noqa: E402

from dlndyn import Setting, theory  # noqa: E402
from dlndyn.bordelon25.theory.stepper import Modes  # noqa: E402
from _common import cpu_name, write_result  # noqa: E402

OUT = ROOT / "benchmarks" / "results" / "theory.md"
BASELINE_COMMIT = "e16f1a2"  # main before issue 10's theory work
RESIDUAL = dict(nu=1.0, alpha=4.0, gamma0=1.0, eta0=0.05, residual=True, beta0=1.0)


def baseline_step_dmft():
    """step_dmft of the plain stepper at BASELINE_COMMIT, or None without git history."""
    path = "src/dlndyn/bordelon25/theory/stepper.py"
    try:
        src = subprocess.run(["git", "show", f"{BASELINE_COMMIT}:{path}"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    name = "dlndyn.bordelon25.theory._baseline_stepper"
    mod = types.ModuleType(name)
    mod.__package__ = "dlndyn.bordelon25.theory"
    sys.modules[name] = mod
    exec(compile(src, f"{BASELINE_COMMIT}:{path}", "exec"), mod.__dict__)
    return mod.step_dmft


def timed(fn, repeats: int):
    """(best wall seconds, CPU seconds of that run, result) over ``repeats`` runs."""
    best = (np.inf, np.inf, None)
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        w, c = time.perf_counter() - w0, time.process_time() - c0
        if w < best[0]:
            best = (w, c, out)
    return best


def rel_diff(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.max(np.abs(a[ok] / b[ok] - 1))) if ok.any() else float("nan")


def machine() -> str:
    cpu = cpu_name()
    return (f"{cpu}, {os.cpu_count()} CPUs visible (shared with other jobs), Python "
            f"{platform.python_version()}, numpy {np.__version__}, "
            f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}")


def main(quick: bool = False) -> str:
    load0 = os.getloadavg()
    rows = []

    def residual_row(L, T, picard_repeats, target):
        s = Setting(L=L, T=T, **RESIDUAL)
        new = timed(lambda: theory(s), 3)
        if picard_repeats:
            old = timed(lambda: theory(s, method="picard"), picard_repeats)
            diff = rel_diff(new[2].test_loss, old[2].test_loss)
        else:
            old, diff = (np.nan, np.nan, None), np.nan
        rows.append((f"residual DMFT, L={L}, T={T}", "windowed Picard", old, "residual stepper",
                     new, diff, target))
        print(rows[-1][:2], old[:2], new[:2], diff, flush=True)

    residual_row(8, 100, 1, "-")
    residual_row(32, 100, 1, "<= 1 s")
    residual_row(8, 200, 0 if quick else 1, "<= 5 s")

    s = Setting(L=3, nu=2.0, alpha=2.0, T=1000)
    from dlndyn.bordelon25.theory.stepper import step_dmft
    new = timed(lambda: step_dmft(s, Modes.isotropic()), 2)
    base = baseline_step_dmft()
    if base is not None:
        old = timed(lambda: base(s, Modes.isotropic()), 2)
        diff = rel_diff(new[2].test_loss, old[2].test_loss)
    else:
        old, diff = (np.nan, np.nan, None), np.nan
    rows.append(("plain DMFT, L=3, nu=2, alpha=2, T=1000", f"stepper at {BASELINE_COMMIT}", old,
                 "stepper now", new, diff, "<= 3 s"))
    print(rows[-1][:2], old[:2], new[:2], diff, flush=True)
    load1 = os.getloadavg()

    lines = [
        "# Theory solve time: today's solver against the forward steppers (issue 10)",
        "",
        f"`python benchmarks/bench_theory.py{' --quick' if quick else ''}` on {machine()}. "
        f"Load average (1, 5, 15 min) at the start {load0[0]:.1f}, {load0[1]:.1f}, "
        f"{load0[2]:.1f}; at the end {load1[0]:.1f}, {load1[1]:.1f}, {load1[2]:.1f} "
        "(on 2 cores: a load above 2 means the solves waited for a core, so the wall times "
        "are upper bounds; CPU seconds are the process's own time).",
        "",
        "Residual rows: muP, nu=1, alpha=4, gamma0=1, beta0=1 with beta0/sqrt(L) branches, "
        "eta0=0.05 (docs/bordelon25.md, section 4.7). Steppers: best of 3 (plain: 2) runs; Picard: one run. "
        "'max rel. diff' is the largest relative difference of the two test-loss curves.",
        "",
        "The residual differences are the fixed point's own tolerance (tol=1e-10 on "
        "correlations of order 1, so about 1e-12 absolute on losses that fall to 1e-4 .. 1e-8): "
        "at L=8, T=100, Picard with tol=1e-13 differs from the stepper by 1.6e-10 instead of "
        "1.7e-8 (measured separately, same machine).",
        "",
        "| case | today | wall (s) | CPU (s) | new | wall (s) | CPU (s) | speed-up (wall) "
        "| max rel. diff | target |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    for case, old_name, old, new_name, new, diff, target in rows:
        ratio = old[0] / new[0] if np.isfinite(old[0]) else np.nan
        lines.append(
            f"| {case} | {old_name} | {old[0]:.2f} | {old[1]:.2f} | {new_name} | {new[0]:.3f} "
            f"| {new[1]:.3f} | {ratio:.0f}x | {diff:.1e} | {target} |")
    return write_result(OUT, "\n".join(lines) + "\n")


def profile(T: int = 1000) -> None:
    """CPU seconds of the plain stepper (L=3, nu=2, alpha=2) split by phase and by kernel."""
    import collections

    from dlndyn.bordelon25.theory import stepper as st

    cpu, calls = collections.Counter(), collections.Counter()

    def timed_call(key, fn):
        def wrapper(*args, **kwargs):
            c0 = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                cpu[key] += time.process_time() - c0
                calls[key] += 1
        return wrapper

    saved = []
    for owner, name in [(st, n) for n in ("_vec_tri", "_tri_vec", "_vec_tri_k", "_tri_vec_k")] + [
            (st.PlainHidden, "backward_row"), (st.WeightData, "row"),
            (st.PlainHidden, "forward_row")]:
        fn = getattr(owner, name)
        saved.append((owner, name, fn))
        setattr(owner, name, timed_call(name, fn))
    try:
        s = Setting(L=3, nu=2.0, alpha=2.0, T=T)
        w0, c0 = time.perf_counter(), time.process_time()
        st.step_dmft(s, Modes.isotropic())
        wall, total = time.perf_counter() - w0, time.process_time() - c0
    finally:
        for owner, name, fn in saved:
            setattr(owner, name, fn)
    print(f"plain stepper, L=3, nu=2, alpha=2, T={T}: {total:.2f} CPU s, {wall:.2f} wall s "
          f"(load {os.getloadavg()[0]:.1f}); the kernels are inside the phases")
    for key, sec in cpu.most_common():
        print(f"  {key:14s} {sec:7.2f} s  {100 * sec / total:5.1f} %  {calls[key]:7d} calls")
    floor(s, total)


def history_matrices(s: Setting) -> int:
    """Number of T x T history matrices the plain stepper keeps for ``s`` (isotropic data)."""
    from dlndyn.bordelon25.theory import stepper as st

    T, count = s.T, 0
    for obj in (st.WeightData(s, Modes.isotropic()), st.PlainHidden(s)):
        for value in vars(obj).values():
            for a in value if isinstance(value, list) else [value]:
                if isinstance(a, np.ndarray) and a.shape[-2:] == (T, T):
                    count += a.size // (T * T)
    return count


def floor(s: Setting, seconds: float) -> None:
    """The bandwidth floor of the plain stepper: every history matrix read once per step.

    Row t of every order parameter needs its O(t^2) past (section 4.5 of docs/bordelon25.md),
    so a step reads at least the written lower half of each history matrix. At the matrix-vector
    bandwidth measured here that is a lower bound for any implementation that keeps the
    history in float64 memory; numpy's BLAS calls read each matrix about twice per step (symmetric
    ones in full), since the products that use one matrix come in different phases of a step.
    """
    rng = np.random.default_rng(0)
    mats = [rng.standard_normal((s.T, s.T)) for _ in range(16)]
    x = rng.standard_normal(s.T)
    best = np.inf
    for _ in range(5):
        w0 = time.perf_counter()
        for A in mats:
            A @ x
        best = min(best, time.perf_counter() - w0)
    bandwidth = len(mats) * s.T**2 * 8 / best
    m = history_matrices(s)
    half_bytes = sum((t + 1) ** 2 / 2 for t in range(s.T)) * 8
    bound = m * half_bytes / bandwidth
    print(f"bandwidth floor: {m} history matrices x (sum over steps of half of t^2 float64) = "
          f"{m * half_bytes / 1e9:.1f} GB; matrix-vector products run at {bandwidth / 1e9:.1f} GB/s "
          f"here ({s.T} x {s.T}), so one read of each per step takes >= {bound:.2f} s; "
          f"the stepper took {seconds:.2f} s = {seconds * bandwidth / 1e9:.0f} GB at that rate, "
          f"{seconds / bound:.1f} reads of every half-matrix per step")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="skip the minutes-long Picard solve at L=8, T=200")
    parser.add_argument("--profile", nargs="?", type=int, const=1000, metavar="T",
                        help="only print the plain stepper's CPU split by phase and kernel")
    args = parser.parse_args()
    if args.profile:
        profile(args.profile)
    else:
        main(args.quick)
