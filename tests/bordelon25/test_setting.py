"""Setting: validation (errors name the offending field), parameterizations, finite sizes."""

import math

import pytest

from dlndyn import Setting


@pytest.mark.parametrize(
    "field, value",
    [
        ("nu", -1.0),
        ("nu", 0.0),
        ("nu", math.nan),
        ("L", 0),
        ("L", -2),
        ("L", 1.5),
        ("L", True),
        ("T", 10.5),
        ("T", 0),
        ("alpha", 0.0),
        ("alpha", -3.0),
        ("gamma0", 0.0),  # (the lazy limit gamma0 = 0 exists only at nu = inf)
        ("gamma0", -1.0),
        ("gamma0", math.inf),
        ("alpha_B", 0.0),
        ("alpha_B", -0.5),
        ("eta0", -0.1),
        ("eta0", math.nan),
        ("sigma", -0.2),
        ("beta0", -1.0),
        ("param", "standard"),
        ("param", "muP"),  # case matters: the names are "mup" and "ntk"
        ("branch_scale", "1/L"),
        ("residual", 1),
    ],
)
def test_invalid_setting_raises_and_names_the_field(field, value):
    with pytest.raises(ValueError) as err:
        Setting(**{field: value})
    # the message must point at the field that is wrong (and not at some other field)
    assert f"Setting.{field}=" in str(err.value)
    others = {"L", "nu", "alpha", "gamma0", "eta0", "T", "sigma", "alpha_B", "param", "beta0",
              "branch_scale", "residual"} - {field}
    assert not any(f"Setting.{o}=" in str(err.value) for o in others)


def test_valid_settings_accepted_and_integral_floats_normalised():
    s = Setting(L=3.0, T=20.0, nu=0.5, alpha=0.7, eta0=0.0, sigma=0.0, alpha_B=2)
    assert s.L == 3 and isinstance(s.L, int)
    assert s.T == 20 and isinstance(s.T, int)
    assert s.online
    assert not Setting().online


@pytest.mark.parametrize("nu", [0.25, 1.0, 2.0, 9.0])
@pytest.mark.parametrize("gamma0", [0.5, 1.0, 1.7])
def test_gamma_of_parameterizations(nu, gamma0):
    assert Setting(nu=nu, gamma0=gamma0, param="mup").gamma == pytest.approx(gamma0, rel=1e-15)
    assert Setting(nu=nu, gamma0=gamma0, param="ntk").gamma == pytest.approx(
        gamma0 / math.sqrt(nu), rel=1e-15
    )


def test_branch_multiplier():
    assert Setting(L=4, beta0=1.5).branch == pytest.approx(0.75)
    assert Setting(L=4, beta0=1.5, branch_scale="fixed").branch == pytest.approx(1.5)


@pytest.mark.parametrize(
    "kwargs, D, expected",
    [
        ({"nu": 1.0, "alpha": 2.0}, 100, {"D": 100, "N": 100, "P": 200}),
        ({"nu": 0.5, "alpha": 1.5}, 64, {"D": 64, "N": 32, "P": 96}),
        ({"nu": 2.0, "alpha": 0.7}, 300, {"D": 300, "N": 600, "P": 210}),
        # one-pass SGD: P is the batch size alpha_B * D and alpha is unused
        ({"nu": 1.0, "alpha": 2.0, "alpha_B": 0.25}, 128, {"D": 128, "N": 128, "P": 32}),
        # never an empty layer or batch
        ({"nu": 0.01, "alpha": 0.01}, 10, {"D": 10, "N": 1, "P": 1}),
    ],
)
def test_sizes(kwargs, D, expected):
    sizes = Setting(**kwargs).sizes(D)
    Ns = sizes.pop("Ns")  # one width per hidden layer, all N here
    assert sizes.pop("C") == 1  # one output unless kappa > 0 (tests/bordelon25/test_outputs.py)
    assert sizes == expected
    assert Ns == (expected["N"],) and all(isinstance(v, int) for v in (*sizes.values(), *Ns))


@pytest.mark.parametrize("field", ["nu", "alpha", "alpha_B"])
def test_a_finite_network_needs_finite_ratios(field):
    # infinite ratios are limits of the theory; a finite network cannot have them
    with pytest.raises(ValueError, match=rf"Setting\.{field}="):
        Setting(**{field: math.inf}).sizes(16)


@pytest.mark.parametrize("D", [0, -4, 2.5])
def test_sizes_rejects_bad_D(D):
    with pytest.raises(ValueError, match="D="):
        Setting().sizes(D)


def test_replace_revalidates():
    s = Setting(L=2)
    assert s.replace(eta0=0.3).eta0 == 0.3
    with pytest.raises(ValueError, match=r"Setting\.sigma="):
        s.replace(sigma=-1.0)



def test_numpy_scalars_are_numbers_and_strings_are_not():
    import numpy as np

    s = Setting(L=np.int64(3), T=np.int32(7), nu=np.float32(2.0), alpha=np.int64(2))
    assert (s.L, s.T, s.nu, s.alpha) == (3, 7, 2.0, 2.0)
    assert type(s.L) is int and type(s.nu) is float and type(s.alpha) is float
    for field, value in [("T", "5"), ("L", 2.5), ("nu", "2"), ("alpha", float("nan"))]:
        with pytest.raises(ValueError, match=f"Setting.{field}="):
            Setting(**{field: value})
