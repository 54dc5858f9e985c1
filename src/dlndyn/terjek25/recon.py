"""Every choice the abstract of Terjek (2025) does not fix, in one place (no JAX).

The paper's body was not available when this package was written: the nuP width rule, the update
normalisation, the learning-rate schedule and every constant below are a RECONSTRUCTION. Each is
one function or one default here (mirrored by the config schema), with the reason for it in its
docstring and in docs/terjek25.md, section "Reconstructed choices", so that it can be corrected in
one line once the paper's text is read.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

PARAMETERIZATIONS = ("standard", "mup", "nup")
SCHEDULES = ("constant", "geometric")
OPTIMIZERS = ("gd", "sgd")
DATASETS = ("digits", "teacher")
WIDTH_RULES = ("constant", "grow")
UPDATE_TARGETS = ("sqrt_fan_ratio", "one")
FIRST_LAYER = ("fixed_point", "eoc")


def grown_width(depth: int, base_width: int, base_depth: int, exponent: float) -> int:
    """nuP hidden width at total depth ``depth`` (reconstruction): base_width * (depth/base_depth)^p.

    Default p = 1 (width proportional to depth). Reason: at the EOC the finite-width corrections
    to the preactivation statistics grow with the depth-to-width ratio L/n (Roberts, Yaida & Hanin,
    *The Principles of Deep Learning Theory*, 2022), and with normalised updates of size eta each
    layer moves its variance map off the EOC by O(eta^2 / n) (docs/terjek25.md, section 2.3), so
    the drift accumulated over L layers is O(L eta^2 / n): a fixed L/n keeps both
    depth-independent.
    Every hidden layer of a net gets the same width (the abstract says "growing hidden layer sizes
    depthwise"; whether the width also varies within a net is not known).
    """
    return max(1, int(round(base_width * (depth / base_depth) ** exponent)))


def hidden_widths(depth: int, base_width: int, rule: str, base_depth: int = 4,
                  exponent: float = 1.0) -> tuple[int, ...]:
    """Widths of the depth-1 hidden layers: constant ``base_width`` or :func:`grown_width`."""
    if rule not in WIDTH_RULES:
        raise ValueError(f"width_rule={rule!r}: must be one of {WIDTH_RULES}")
    n = base_width if rule == "constant" else grown_width(depth, base_width, base_depth, exponent)
    return (n,) * (depth - 1)


def update_scale(fan_in: int, fan_out: int, target: str = "sqrt_fan_ratio") -> float:
    """Frobenius norm of one layer's nuP update per unit learning rate (reconstruction).

    nuP's update of layer l is -eta * update_scale * G_l / ||G_l||_F, G_l the gradient of the
    layer's (W_l, b_l) jointly. Default "sqrt_fan_ratio": sqrt(fan_out / fan_in), the spectral
    scaling of Yang, Simon & Bernstein (2023, "A spectral condition for feature learning") for a
    low-rank update (full-batch gradients have rank <= batch size, so Frobenius ~ spectral norm);
    "one": every layer moves by eta.
    """
    if target == "sqrt_fan_ratio":
        return math.sqrt(fan_out / fan_in)
    if target == "one":
        return 1.0
    raise ValueError(f"update_target={target!r}: must be one of {UPDATE_TARGETS}")


def geometric_eta(c: float, sharpness: float, eta_max: float) -> float:
    """The geometry-aware learning rate (reconstruction): eta_t = min(c / lambda_max(t), eta_max).

    It keeps eta_t * lambda_max(t) = c: with 2 < c < 4 that is inside the catapult window of
    Lewkowycz et al. (2020) (2 / lambda < eta < 4 / lambda for a wide two-layer net with MSE), so
    whenever the catapult lowers the sharpness the step grows again. The cap eta_max guards against
    a vanishing sharpness. (The JAX training loop uses the same formula, written with jnp.)
    """
    return min(c / sharpness, eta_max) if sharpness > 0 else eta_max


@dataclass(frozen=True)
class Setup:
    """One training run. Defaults are the reconstruction's defaults (docs/terjek25.md table)."""

    # data
    data: str = "digits"          # digits: sklearn's bundled 8x8 digits; teacher: random tanh MLP
    n_train: int = 512            # training samples (full batch for "gd")
    teacher_dim: int = 32         # teacher: input dimension
    # architecture and initialisation
    activation: str = "tanh"
    sigma_b2: float = 0.05        # EOC point (1.761, 0.570): q* well inside tanh's curved part
    depth: int = 8                # number of weight matrices
    width: int = 64               # base hidden width
    width_rule: str = "constant"  # "grow": nuP's grown_width; per parameterization in the configs
    base_depth: int = 4           # depth at which the grown width equals `width`
    width_exponent: float = 1.0   # p in grown_width
    layer_widths: tuple | None = None  # explicit n_1 .. n_{L-1}; overrides width_rule
    first_layer: str = "fixed_point"  # first preactivations start at q* (else sigma_w2 E[x^2])
    parameterization: str = "standard"
    update_target: str = "sqrt_fan_ratio"  # nuP update size per layer, see update_scale
    # optimisation
    optimizer: str = "gd"
    batch_size: int = 64          # sgd only
    steps: int = 200
    eta: float = 0.1
    schedule: str = "constant"
    c: float = 3.0                # geometric schedule: eta_t * sharpness_t target
    eta_max: float = 10.0         # geometric schedule: cap on eta_t
    # instrumentation
    sharpness_every: int = 5      # 0: never
    power_iters: int = 20
    layer_stats: bool = True
    probe: int = 256              # samples on which the per-layer statistics are measured
    divergence_factor: float = 1e3
    seed: int = 0

    def __post_init__(self):
        choices = {"data": DATASETS, "activation": ("tanh", "relu", "linear"),
                   "width_rule": WIDTH_RULES, "first_layer": FIRST_LAYER,
                   "parameterization": PARAMETERIZATIONS, "update_target": UPDATE_TARGETS,
                   "optimizer": OPTIMIZERS, "schedule": SCHEDULES}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name}={getattr(self, name)!r}: must be one of {allowed}")
        positive_ints = ("n_train", "teacher_dim", "depth", "width", "base_depth", "batch_size",
                         "steps", "power_iters", "probe")
        for name in positive_ints:
            v = getattr(self, name)
            if isinstance(v, bool) or int(v) != v or v < 1:
                raise ValueError(f"{name}={v!r}: must be an integer >= 1")
        if self.depth < 2:
            raise ValueError(f"depth={self.depth!r}: must be >= 2 (one hidden layer at least)")
        for name in ("eta", "c", "eta_max", "divergence_factor"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{name}={v!r}: must be a finite number > 0")
        if int(self.sharpness_every) != self.sharpness_every or self.sharpness_every < 0:
            raise ValueError(f"sharpness_every={self.sharpness_every!r}: must be an integer >= 0")
        if self.layer_widths is not None:
            ws = tuple(self.layer_widths)
            if len(ws) != self.depth - 1 or any(
                    isinstance(n, bool) or int(n) != n or n < 1 for n in ws):
                raise ValueError(f"layer_widths={self.layer_widths!r}: must be depth - 1 = "
                                 f"{self.depth - 1} integers >= 1")
            object.__setattr__(self, "layer_widths", tuple(int(n) for n in ws))
        if self.schedule == "geometric" and self.sharpness_every == 0:
            raise ValueError("schedule='geometric' needs sharpness_every >= 1")

    def widths(self) -> tuple[int, ...]:
        """Hidden widths n_1 .. n_{L-1}: ``layer_widths`` if given, else the width rule."""
        if self.layer_widths is not None:
            return self.layer_widths
        return hidden_widths(self.depth, self.width, self.width_rule, self.base_depth,
                             self.width_exponent)

    def replace(self, **changes) -> "Setup":
        return replace(self, **changes)

    def asdict(self) -> dict:
        return asdict(self)


SETUP_FIELDS = tuple(f.name for f in fields(Setup))
