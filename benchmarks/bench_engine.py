"""Time the rank-one GD engine against plain jax.grad training of the same network.

Both run through ``dlndyn.simulate`` (one jit-compiled call: scan over steps, vmap over seeds),
on the same setting, seeds, weights and data; only the step function differs:

* rank-one engine: ``dlndyn.bordelon25.sim.engine.rank_one_step`` (the default step), O(P D + N D + L N^2) a step;
* autodiff:        ``dlndyn.bordelon25.sim.reference.autodiff_step``, jax.grad of the network evaluated on the
                   whole data matrix, O(P (N D + L N^2)) a step.

Each implementation is called twice with identical arguments: the first call compiles (and
runs), the second is timed. ``simulate`` returns numpy arrays, so it has already blocked on the
result when it returns. The two tables are compared as a sanity check.

Usage (defaults are the reference setting):
    PYTHONPATH=src python benchmarks/bench_engine.py [--D 512 --nu 2 --alpha 2 --L 3 --T 100
        --seeds 8 --out benchmarks/results/engine.md]
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

from dlndyn import Setting, simulate  # noqa: E402
from dlndyn.bordelon25.sim.reference import autodiff_step  # noqa: E402


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--D", type=int, default=512)
    ap.add_argument("--nu", type=float, default=2.0)
    ap.add_argument("--alpha", type=float, default=2.0)
    ap.add_argument("--L", type=int, default=3)
    ap.add_argument("--T", type=int, default=100)
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--eta0", type=float, default=0.1)
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "engine.md")
    args = ap.parse_args(argv)

    s = Setting(L=args.L, nu=args.nu, alpha=args.alpha, gamma0=1.0, eta0=args.eta0, T=args.T)
    sizes = s.sizes(args.D)
    runs = {
        "rank-one engine (dlndyn.simulate)": None,
        "jax.grad full network (autodiff_step)": autodiff_step,
    }
    results, tables = {}, {}
    for name, step_fn in runs.items():
        def call(step_fn=step_fn):
            return simulate(s, D=args.D, seeds=args.seeds, seed=0, dtype=args.dtype,
                            step_fn=step_fn)

        _, first = timed(call)  # compile + run
        table, steady = timed(call)  # compiled: run only
        results[name] = (steady, first)
        tables[name] = table
        print(f"{name}: {steady:.3f} s (first call incl. compile {first:.3f} s)", flush=True)

    fast, slow = tables.values()
    finite = np.isfinite(fast.test_loss) & np.isfinite(slow.test_loss)
    rel = np.max(np.abs(fast.test_loss[finite] - slow.test_loss[finite]) / slow.test_loss[finite])
    base = results["rank-one engine (dlndyn.simulate)"][0]

    device = jax.devices()[0]
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    lines = [
        "# Rank-one engine vs jax.grad training",
        "",
        f"Setting: D={sizes['D']}, N={sizes['N']} (nu={s.nu:g}), P={sizes['P']} "
        f"(alpha={s.alpha:g}, full batch), L={s.L}, T={s.T}, {args.seeds} seeds, {args.dtype}, "
        f"eta0={s.eta0:g}, muP gamma0=1.",
        f"Machine: {device.platform} ({device.device_kind}), {os.cpu_count()} CPU cores, "
        f"{platform.machine()}, Python {platform.python_version()}, jax {jax.__version__}; "
        f"load average at the end {tuple(round(x, 2) for x in load) if load else 'n/a'}.",
        f"Date: {datetime.datetime.now().isoformat(timespec='seconds')}.",
        "",
        "Seconds: the second of two identical `simulate` calls (compiled; the first compiles).",
        "",
        "| implementation | seconds | ratio | first call (incl. compile), s |",
        "|---|---:|---:|---:|",
    ]
    for name, (steady, first) in results.items():
        lines.append(f"| {name} | {steady:.3f} | {steady / base:.1f}x | {first:.3f} |")
    lines += [
        "",
        f"Both runs give the same losses: max relative difference of the test loss "
        f"{rel:.1e} over {int(finite.sum())} (seed, step) pairs; "
        f"final mean test loss {fast.groupby('step').test_loss.mean().iloc[-1]:.4g}.",
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
