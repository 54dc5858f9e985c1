"""Yaras et al. 2023: time one GD step of the wide network, and the compression speed-up.

1. One GD step of the original (wide) deep matrix factorisation network at d = 300, L = 3,
   float64, three ways on the same weights and target:

   * engine: ``dlndyn.yaras23.train.Runner``, blocks of 100 steps under ``lax.fori_loop``,
     compiled ahead of time (the driver of every figure);
   * jitted jax.grad loop: ``jax.jit(jax.grad(loss))`` called from a Python loop, the update
     done in Python (one dispatch per step);
   * plain jax.grad loop: ``jax.grad(loss)`` with no jit at all (op-by-op dispatch).

   Each is warmed up first (compilation excluded); the step time is the median over repeats,
   the engine and the jitted loop interleaved so that a change of machine load hits both.
   The three final weights are compared as a check.

2. The compression speed-up measured in one run: ``dlndyn.yaras23.compare`` on the default
   F9 setting (d = 200, r = 10, L = 3, eps = 1e-2, step rule), wall time of the training
   blocks to train loss < tol, original vs compressed (compilation excluded).

Usage:
    PYTHONPATH=src python benchmarks/bench_yaras23.py [--d 300 --steps 100 --repeats 3
        --out benchmarks/results/yaras23.md]
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("JAX_PLATFORMS", "cpu")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from dlndyn.core.train import precision  # noqa: E402
from dlndyn.yaras23 import api, data, train  # noqa: E402


def step_times(d, L, steps, repeats, eta):
    phi = data.low_rank_gaussian(data.rng(0, 0), d, 10)
    dat = {"phi": phi, "mask": np.ones_like(phi)}
    w0 = data.init_weights(data.rng(0, 1), [d] * (L + 1), 0.5)
    out, finals = {}, {}

    runner = train.Runner(train.factorization_loss, lambda p, dj: {}, eta=eta, block=steps,
                          n_factors=L)
    grad = jax.jit(jax.grad(train.factorization_loss))
    djax = jax.tree_util.tree_map(jnp.asarray, dat)

    def python_loop(g, n):
        params = tuple(jnp.asarray(p) for p in w0)
        jax.block_until_ready(g(params, djax))  # warm-up (compiles the jitted version)
        t0 = time.perf_counter()
        for _ in range(n):
            gs = g(params, djax)
            params = tuple(p - eta * gi for p, gi in zip(params, gs))
        jax.block_until_ready(params)
        return (time.perf_counter() - t0) / n, params

    # repeats interleaved, so that a change of machine load hits both alike
    engine, jitted = [], []
    for _ in range(repeats):
        state, dj = runner.start(w0, dat)
        state, dt = runner.advance(state, dj)
        engine.append(dt / steps)
        dt, params = python_loop(grad, steps)
        jitted.append(dt)
    out["engine (Runner: fori_loop blocks, AOT-compiled)"] = statistics.median(engine)
    out["jax.jit(jax.grad) in a Python loop"] = statistics.median(jitted)
    finals["engine"] = [np.asarray(p) for p in state[0]]
    finals["jit"] = [np.asarray(p) for p in params]

    n_plain = max(3, steps // 10)
    dt, _ = python_loop(jax.grad(train.factorization_loss), n_plain)
    out[f"plain jax.grad, no jit ({n_plain} steps)"] = dt
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(finals["engine"], finals["jit"]))
    return out, diff


def speedup():
    cfg = dict(d=200, r=10, L=3, eps=1e-2, rank=10, tol=1e-10)
    phi, _ = api._matrix_problem(cfg["d"], cfg["r"], 1.0, 0)
    eta = data.step_rule(phi, cfg["L"])
    curve = api.compare(cfg["d"], cfg["r"], cfg["L"], cfg["eps"], eta, 20000, cfg["rank"],
                        (0.0,), None, 0, tol=cfg["tol"], block=100)["curve"]
    res = {}
    for method, g in curve.groupby("method"):
        hit = g[g.train_loss < cfg["tol"]]
        res[method] = (int(hit.step.iloc[0]), float(hit.seconds.iloc[0]))
    return cfg, eta, res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--d", type=int, default=300)
    ap.add_argument("--L", type=int, default=3)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "yaras23.md"))
    args = ap.parse_args(argv)
    eta = 1.0  # mean-loss step: small next to d^2, the weights barely move (timing only)
    with precision("float64"):
        times, diff = step_times(args.d, args.L, args.steps, args.repeats, eta)
        cfg, eta_c, res = speedup()
    base = times["engine (Runner: fori_loop blocks, AOT-compiled)"]
    lines = [
        "# Yaras et al. 2023: one GD step of the wide network, and the compression speed-up",
        "",
        f"Machine: {jax.default_backend()} ({platform.machine()}), {os.cpu_count()} CPU cores, "
        f"Python {platform.python_version()}, jax {jax.__version__}; load average at the end "
        f"{tuple(round(x, 2) for x in os.getloadavg())}. Date: "
        f"{datetime.datetime.now().isoformat(timespec='seconds')}.",
        f"Command: `PYTHONPATH=src python benchmarks/bench_yaras23.py --d {args.d} --L {args.L} "
        f"--steps {args.steps} --repeats {args.repeats}`.",
        "",
        f"## 1. One GD step, deep matrix factorisation, d = {args.d}, L = {args.L}, float64",
        "",
        "Compilation excluded (warm-up first); median over "
        f"{args.repeats} repeats of {args.steps} steps.",
        "",
        "| implementation | ms / step | ratio to the engine |",
        "|---|---:|---:|",
    ]
    for name, t in times.items():
        lines.append(f"| {name} | {1e3 * t:.2f} | {t / base:.2f}x |")
    lines += [
        "",
        f"Engine and jitted jax.grad loop agree: max |difference| of the final weights {diff:.1e}.",
        "",
        "## 2. Compression speed-up, one run (default F9 setting)",
        "",
        f"d = {cfg['d']}, r = {cfg['r']}, L = {cfg['L']}, eps = {cfg['eps']}, mean-loss eta = "
        f"{eta_c:.4g} (step rule), compressed rank {cfg['rank']} (width {2 * cfg['rank']}), "
        f"gamma = 0; wall time of the training blocks to train loss < {cfg['tol']:g} "
        "(compilation and per-block measurements excluded).",
        "",
        "| network | steps to tol | seconds to tol | ms / step |",
        "|---|---:|---:|---:|",
    ]
    for method in ("original", "compressed"):
        s, t = res[method]
        lines.append(f"| {method} | {s} | {t:.2f} | {1e3 * t / s:.3f} |")
    ratio = res["original"][1] / res["compressed"][1]
    lines += ["", f"Speed-up (original / compressed seconds to tol): **{ratio:.1f}x**.", ""]
    text = "\n".join(lines)
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
