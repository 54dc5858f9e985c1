"""Time the simulation engine, side by side in one run:

(a) the engine (``dlndyn.simulate``'s default path for the setting, low rank at T=100) against
    plain ``jax.grad`` training of the same network (``reference.autodiff_step``), one eta0;
(b) a 12-point eta0 sweep (0.02 ... 0.3) in one compiled call: the low-rank engine (initial
    weights read-only and shared by the grid, training carried as factors) against the dense
    engine (every matrix updated in place per seed and learning rate: the engine before the
    low-rank path, kept as ``method="dense"``).

Every implementation runs through the arguments ``simulate`` would pass (``grid_arguments``),
compiled ahead of time (``run_grid.lower(...).compile()``, timed separately) and then run and
timed (best of ``--repeats`` calls, blocked on the result), so the times exclude compilation.
Same seeds, weights and data everywhere; the losses are compared as a sanity check.

Usage (defaults are the reference setting; the machine may be shared, so the load average
before and after each measurement is recorded):
    python benchmarks/bench_engine.py [--D 512 --nu 2 --alpha 2 --L 3 --T 100 --seeds 8
        --grid 12 --repeats 1 --out benchmarks/results/engine.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")  # the comparison is on CPU unless told otherwise

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import jax  # noqa: E402
import numpy as np  # noqa: E402

from dlndyn import Setting  # noqa: E402
from dlndyn.bordelon25.sim.engine import choose_path, grid_arguments, run_grid  # noqa: E402
from dlndyn.bordelon25.sim.reference import autodiff_step  # noqa: E402
from dlndyn.core.train import precision  # noqa: E402
from _common import cpu_name  # noqa: E402


def load() -> tuple:
    return tuple(round(x, 2) for x in os.getloadavg())


def machine() -> str:
    cpu = cpu_name()
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 2**20:.0f} GiB memory"
    except (OSError, ValueError, IndexError):
        pass
    dev = jax.devices()[0]
    return (f"{dev.platform} ({dev.device_kind}), {cpu}, {os.cpu_count()} CPU cores{mem}, "
            f"{platform.system()} {platform.machine()}, Python {platform.python_version()}, "
            f"jax {jax.__version__}")


def measure(s, D, seeds, dtype, repeats, **kw):
    """(compile s, run s, loads, (test, train, diverged)) of one compiled call."""
    with precision(dtype):
        args, kwargs = grid_arguments(s, D, seeds, seed=0, dtype=dtype, **kw)
        load_before = load()
        start = time.perf_counter()
        compiled = run_grid.lower(*args, **kwargs).compile()
        compile_s = time.perf_counter() - start
        best, out = np.inf, None
        for _ in range(repeats):
            start = time.perf_counter()
            out = jax.block_until_ready(compiled(*args))
            best = min(best, time.perf_counter() - start)
        return compile_s, best, (load_before, load()), tuple(np.asarray(x) for x in out)


def max_rel(a, b):
    ok = np.isfinite(a) & np.isfinite(b)
    return float(np.max(np.abs(a[ok] - b[ok]) / np.abs(b[ok]))), int(ok.sum())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--D", type=int, default=512)
    ap.add_argument("--nu", type=float, default=2.0)
    ap.add_argument("--alpha", type=float, default=2.0)
    ap.add_argument("--L", type=int, default=3)
    ap.add_argument("--T", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--eta0", type=float, default=0.1)
    ap.add_argument("--grid", type=int, default=12, help="points of the eta0 sweep 0.02..0.3")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "engine.md")
    args = ap.parse_args(argv)

    s = Setting(L=args.L, nu=args.nu, alpha=args.alpha, gamma0=1.0, eta0=args.eta0, T=args.T)
    sizes = s.sizes(args.D)
    grid = [float(x) for x in np.linspace(0.02, 0.3, args.grid)]
    auto = choose_path(sizes, s.L - 1, s.T)
    cases = {  # name: (part, simulate's keyword arguments)
        f"engine, default path ({auto})": ("a", {}),
        "jax.grad training (autodiff_step)": ("a", {"step_fn": autodiff_step}),
        "dense engine (method='dense')": ("a", {"method": "dense"}),
        f"low-rank engine, {args.grid}-point eta0 grid": ("b", {"method": "lowrank",
                                                               "eta0_grid": grid}),
        f"dense engine, {args.grid}-point eta0 grid": ("b", {"method": "dense",
                                                            "eta0_grid": grid}),
    }
    res = {}
    start_load = load()
    for name, (part, kw) in cases.items():
        res[name] = measure(s, args.D, args.seeds, args.dtype, args.repeats, **kw)
        c, r, (l0, l1), _ = res[name]
        print(f"({part}) {name}: run {r:.3f} s, compile {c:.3f} s, load {l0} -> {l1}",
              flush=True)

    names = list(cases)
    eng, ad, dense1, low_g, dense_g = (res[n] for n in names)
    rel_a, n_a = max_rel(eng[3][0], ad[3][0])
    rel_a1, _ = max_rel(eng[3][0], dense1[3][0])
    rel_b, n_b = max_rel(low_g[3][0], dense_g[3][0])
    same_div = bool(np.array_equal(low_g[3][2], dense_g[3][2]))
    n_div = int(low_g[3][2][:, :, -1].sum())

    def row(name, base):
        c, r, (l0, l1), _ = res[name]
        return (f"| {name} | {r:.3f} | {r / res[base][1]:.1f}x | {c:.2f} | "
                f"{l0[0]:.2f} -> {l1[0]:.2f} |")

    head = ["| implementation | run, s | time / first row | compile, s | load (1 min) |",
            "|---|---:|---:|---:|---:|"]
    lines = [
        "# Simulation engine: low-rank vs dense vs jax.grad",
        "",
        f"Setting: D={sizes['D']}, N={sizes['N']} (nu={s.nu:g}), P={sizes['P']} "
        f"(alpha={s.alpha:g}, full batch), L={s.L}, T={s.T}, {args.seeds} seeds, {args.dtype}, "
        f"muP gamma0=1; (a) eta0={s.eta0:g}, (b) {args.grid} eta0 from 0.02 to 0.3 in one "
        f"compiled call.",
        f"Machine: {machine()}.",
        f"Load average (1, 5, 15 min) at the start {start_load}, at the end {load()}: the "
        f"machine is shared, and every time below is wall time under that load.",
        f"Date: {datetime.datetime.now().isoformat(timespec='seconds')}. Command: "
        f"`python benchmarks/bench_engine.py` (best of {args.repeats} compiled "
        f"call{'s' if args.repeats > 1 else ''}; compile timed apart).",
        "",
        "## (a) engine vs plain jax.grad training, one eta0",
        "",
        *head,
        row(names[0], names[0]), row(names[1], names[0]), row(names[2], names[0]),
        "",
        f"**jax.grad / engine: {ad[1] / eng[1]:.1f}x** (target >= 25x). Same losses: max "
        f"relative difference of the test loss {rel_a:.1e} against jax.grad over {n_a} "
        f"(seed, step) pairs, {rel_a1:.1e} against the dense engine.",
        "",
        f"## (b) {args.grid}-point eta0 sweep, one compiled call",
        "",
        *head,
        row(names[3], names[3]), row(names[4], names[3]),
        "",
        f"**dense / low-rank: {dense_g[1] / low_g[1]:.1f}x** (target >= 3x). Same losses: max "
        f"relative difference of the test loss {rel_b:.1e} over {n_b} finite "
        f"(seed, eta0, step) entries; diverged flags identical: {same_div} "
        f"({n_div} of {args.seeds * args.grid} runs diverged by the last step).",
        "",
    ]
    text = "\n".join(lines)
    print()
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
