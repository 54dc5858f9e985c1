"""The late-time bump of the rich power-law theory (docs/bordelon25.md, section 7.5): physics or artefact?

At nu = alpha_B = inf, capacity 1.5, source 0.5, L = 2, physical eta = 0.05, gamma = 3 the
theory's loss is not monotone after t ~ 500. This script measures, side by side:

1. the theory on 10^6 modes in 300 bins (the Figure 10 solver), and at D = 1000 modes
   unbinned and binned: loss and the top mode's multiplier eta lambda_1 M(t+1, t);
2. finite networks trained by exact *population* gradient descent (alpha_B = inf: the
   gradient pseudo-input is a = Lambda (beta* - beta), no batch noise) at D = 1000 modes,
   width N = nu D, several seeds, float64: loss and the sharpness
   S(t) = (eta_raw / D) lambda_max(Lambda^1/2 J J^T Lambda^1/2) (J = d beta / d theta), the
   edge of stability of gradient descent being S = 2.

Writes benchmarks/results/bump.md, bump.png (and bump.npz with the curves). Run:
python benchmarks/bench_bump.py [--D 1000] [--nu 1 2] [--seeds 3] [--T 1500]; the issue's
numbers alone (benchmarks/results/bump_reproduce.md): python benchmarks/bench_bump.py --reproduce
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from functools import partial
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from _common import cpu_name, write_result  # noqa: E402
from dlndyn import Setting  # noqa: E402
from dlndyn.bordelon25.conventions import raw_learning_rate  # noqa: E402
from dlndyn.bordelon25.setting import spectrum  # noqa: E402
from dlndyn.bordelon25.sim.engine import (  # noqa: E402
    end_to_end,
    init_replicates,
    rank_one_update,
    test_loss,
)
from dlndyn.bordelon25.theory.powerlaw import (  # noqa: E402
    first_rise,
    mode_set,
    physical_setting,
    top_mode_multiplier,
)
from dlndyn.bordelon25.theory.stepper import step_dmft  # noqa: E402
from dlndyn.core.train import precision  # noqa: E402

inf = math.inf
L, ETA, GAMMA, A, B = 2, 0.05, 3.0, 1.5, 0.5


def physical(modes, T, nu=inf):
    base = Setting(L=L, nu=inf, alpha_B=inf, data="powerlaw", capacity=A, source=B, T=T)
    return physical_setting(base, modes, eta=ETA, gamma=GAMMA).replace(nu=nu)


@partial(jax.jit, static_argnames=("D", "N", "T", "every", "iters"))
def population_gd(params, data, eta0, gamma, *, D, N, T, every, iters):
    """Population GD of plain networks (L = 2) from the engine's initial replicates
    (:func:`init_replicates`, a leading seed axis): loss (S, T), sharpness
    (S, T // every), the latter by ``iters`` warm-started power iterations every ``every``
    steps."""
    lam, b = (jnp.asarray(x) for x in spectrum(A, B, D))
    eta_raw = raw_learning_rate(eta0, gamma, N)

    def one_seed(params_data):
        params, data = params_data
        beta_star = data["beta_star"]

        def step(params, _):
            beta, g1, g_upper = end_to_end(params, gamma)
            a = lam * (beta_star - beta)
            return rank_one_update(params, a, g1, g_upper, eta0, gamma), \
                test_loss(beta, beta_star, 0.0, lam)

        def sharp(params, v):
            f = lambda p: end_to_end(p, gamma)[0]  # noqa: E731
            _, vjp = jax.vjp(f, params)

            def op(u):  # (eta/D) Lambda^1/2 J J^T Lambda^1/2 u
                (jt,) = vjp(jnp.sqrt(lam) * u)
                return eta_raw / D * jnp.sqrt(lam) * jax.jvp(f, (params,), (jt,))[1]

            def it(v, _):
                w = op(v)
                return w / jnp.linalg.norm(w), None

            v, _ = jax.lax.scan(it, v, None, length=iters)
            return v @ op(v), v

        def block(carry, _):
            params, v = carry
            params, loss = jax.lax.scan(step, params, None, length=every)
            s, v = sharp(params, v)
            return (params, v), (loss, s)

        v0 = jnp.zeros(D).at[0].set(1.0)
        _, (loss, s) = jax.lax.scan(block, (params, v0), None, length=T // every)
        return loss.reshape(-1), s

    return jax.lax.map(one_seed, (params, data))


def theory_curves(T, D):
    out = {}
    for name, modes, bins in (("1e6/300 bins", 10**6, 300), (f"{D} modes", D, None),
                              (f"{D} modes/100 bins", D, 100)):
        s = physical(modes, T)
        t0 = time.perf_counter()
        res = step_dmft(s, mode_set(s, modes, bins))
        out[name] = (res.test_loss, top_mode_multiplier(res.order["M"], mode_set(s, modes, bins)),
                     time.perf_counter() - t0)
    return out


def onset(mult):
    """First step where the multiplier reaches 2 (None if never)."""
    hit = np.flatnonzero(np.asarray(mult) >= 2.0)
    return None if hit.size == 0 else int(hit[0])


def rise(loss):
    """First step whose loss exceeds 1.05 times its running minimum (None if none)."""
    t = first_rise(np.arange(len(loss)), loss, rtol=0.05)
    return None if t is None else int(t)


def reproduce():
    """The numbers of issue 12: 10^6 modes in 300 bins, T = 3001, physical units."""
    lines = ["| L | eta | gamma | " + " | ".join(f"L(t={t})" for t in REPRO_STEPS)
             + " | onset (mult >= 2) | first rise (5%) | max mult | seconds |",
             "|---|---|---|" + "---|" * (len(REPRO_STEPS) + 4)]
    for L_, eta in ((2, 0.05), (2, 0.0333), (2, 0.0333333), (1, 0.05)):
        base = Setting(L=L_, nu=inf, alpha_B=inf, data="powerlaw", capacity=A, source=B,
                       T=3001)
        s = physical_setting(base, 10**6, eta=eta, gamma=GAMMA)
        t0 = time.perf_counter()
        ms = mode_set(s, 10**6, 300)
        res = step_dmft(s, ms)
        loss, mult = res.test_loss, top_mode_multiplier(res.order["M"], ms)
        lines.append(f"| {L_} | {eta:g} | {GAMMA:g} | "
                     + " | ".join(f"{loss[t]:.4f}" for t in REPRO_STEPS)
                     + f" | {onset(mult)} | {rise(loss)} | {np.max(mult):.3f} "
                     f"| {time.perf_counter() - t0:.0f} |")
        print(lines[-1], flush=True)
    return lines


REPRO_STEPS = (100, 300, 1000, 2000, 2999, 3000)


def plot(npz, out):
    """Loss and multiplier of every curve in ``npz`` (written by a main run) to ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = np.load(npz)
    fig, ax = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    for k in d.files:
        x = d[k]
        if k.startswith("theory"):
            ax[0].loglog(np.arange(1, x.size), x[1:], lw=0.9, label=k)
        elif k.startswith("mult"):
            ax[1].semilogx(np.arange(x.size), x, lw=0.9)
        elif k.endswith("loss"):
            for i, y in enumerate(x):
                ax[0].loglog(np.arange(1, y.size), y[1:], lw=0.5, ls="--",
                             label=f"network {k.split()[1]}, seed {i}")
        elif k.endswith("sharpness"):
            every = d[k.replace("sharpness", "loss")].shape[1] // x.shape[1]
            for y in x:
                ax[1].semilogx(every * np.arange(1, y.size + 1), y, lw=0.5, ls="--")
    ax[0].set_xlim(100, None)
    ax[0].set_ylim(3e-3, 0.3)
    ax[0].set_ylabel("test loss")
    ax[0].legend(fontsize=6)
    ax[1].axhline(2.0, color="k", lw=0.8)
    ax[1].set_ylabel("top-mode multiplier (theory) / sharpness (networks)")
    ax[1].set_xlabel("step t")
    fig.savefig(out, dpi=90)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reproduce", action="store_true",
                    help="only the issue's numbers (10^6 modes, 300 bins, T = 3001)")
    ap.add_argument("--D", type=int, default=1000)
    ap.add_argument("--nu", type=float, nargs="+", default=[1.0, 2.0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--T", type=int, default=1500)
    ap.add_argument("--every", type=int, default=10)
    ap.add_argument("--iters", type=int, default=8)
    args = ap.parse_args()
    if args.reproduce:
        write_result(ROOT / "benchmarks/results/bump_reproduce.md", "\n".join(
            ["# The late-time bump: the issue's numbers", "",
             "`python benchmarks/bench_bump.py --reproduce` (theory, nu = alpha_B = inf, "
             f"capacity {A}, source {B}, 10^6 modes in 300 bins; eta, gamma physical).", ""]
            + reproduce()) + "\n")
        return
    D, T = args.D, args.T
    th = theory_curves(T, D)
    sims = {}
    for nu in args.nu:
        s = physical(D, T, nu=nu)
        N = max(1, round(nu * D))  # population gradient: no batch (alpha_B = inf)
        t0 = time.perf_counter()
        with precision("float64"):
            params, data = init_replicates(0, args.seeds, D=D, N=N, P=1, n_mid=L - 1,
                                           sigma=0.0, online=True, dtype=np.float64,
                                           spectrum=spectrum(A, B, D))
            loss, sharp = population_gd(params, data, s.eta0, s.gamma, D=D, N=N, T=T,
                                        every=args.every, iters=args.iters)
            loss, sharp = np.asarray(loss), np.asarray(sharp)
        sims[nu] = (loss, sharp, time.perf_counter() - t0)
        print(f"nu={nu}: {sims[nu][2]:.0f} s", flush=True)
    pts = [t for t in (100, 300, 500, 600, 700, 800, 1000, 1200, 1499, 2000, 2999) if t < T]
    lines = [
        "# The late-time bump of the rich power-law theory: theory vs population-GD networks",
        "",
        f"`python benchmarks/bench_bump.py --D {D} --nu {' '.join(map(str, args.nu))} "
        f"--seeds {args.seeds} --T {T}` on {cpu_name()}, float64.",
        "",
        f"Setting: L = {L}, capacity {A}, source {B}, physical eta = {ETA}, gamma = {GAMMA} "
        "(docs/bordelon25.md, section 7.3), nu = alpha_B = inf in the theory; the networks run "
        f"exact population GD (a = Lambda (beta* - beta)) at D = {D}, N = nu D. Multiplier: "
        "theory eta lambda_1 M(t+1, t) (`top_mode_multiplier`); networks: the sharpness "
        "(eta/D) lambda_max(Lambda^1/2 J J^T Lambda^1/2) by power iteration every "
        f"{args.every} steps (seed mean). Onset: first step with multiplier >= 2; "
        "first rise: first step whose loss exceeds 1.05 x its running minimum.",
        "",
        "| curve | " + " | ".join(f"L(t={t})" for t in pts)
        + " | onset (mult >= 2) | first rise | max mult | seconds |",
        "|---|" + "---|" * (len(pts) + 4),
    ]
    for name, (loss, mult, sec) in th.items():
        lines.append(f"| theory, {name} | " + " | ".join(f"{loss[t]:.4f}" for t in pts)
                     + f" | {onset(mult)} | {rise(loss)} | {np.max(mult):.3f} "
                     f"| {sec:.0f} |")
    for nu, (loss, sharp, sec) in sims.items():
        mean = loss.mean(axis=0)
        sh = sharp.mean(axis=0)
        on = [onset(np.repeat(x, args.every)) for x in sharp]
        rises = [rise(x) for x in loss]
        lines.append(f"| network nu={nu:g}, {len(loss)} seeds (mean) | "
                     + " | ".join(f"{mean[t]:.4f}" for t in pts)
                     + f" | {on} | {rises} | {np.max(sh):.3f} | {sec:.0f} |")
    lines += ["", "Per-seed network losses at the same steps:", ""]
    for nu, (loss, _, _) in sims.items():
        for i, x in enumerate(loss):
            lines.append(f"- nu={nu:g} seed {i}: " + ", ".join(f"{x[t]:.4f}" for t in pts))
    np.savez(ROOT / "benchmarks/results/bump.npz",
             **{f"theory {k}": v[0] for k, v in th.items()},
             **{f"mult {k}": v[1] for k, v in th.items()},
             **{f"sim nu={k} loss": v[0] for k, v in sims.items()},
             **{f"sim nu={k} sharpness": v[1] for k, v in sims.items()})
    write_result(ROOT / "benchmarks/results/bump.md", "\n".join(lines) + "\n")
    plot(ROOT / "benchmarks/results/bump.npz", ROOT / "benchmarks/results/bump.png")


if __name__ == "__main__":
    main()
