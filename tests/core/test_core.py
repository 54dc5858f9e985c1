"""The shared infrastructure: atomic tables, design expansion, config errors, plotting, data and
the precision and divergence handling of training."""

import os
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dlndyn.core import config, data, design, tables

SCHEMA = """
type: object
additionalProperties: false
properties:
  n: {type: integer, minimum: 1, default: 3}
  grid:
    oneOf:
      - {type: array, items: {type: number}}
      - {type: number, exclusiveMinimum: 0}
      - type: object
        additionalProperties: false
        required: [min, max, num]
        properties:
          min: {type: number, exclusiveMinimum: 0}
          max: {type: number, exclusiveMinimum: 0}
          num: {type: integer, minimum: 1}
"""


def test_validate_fills_defaults_and_names_keys(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(SCHEMA)
    assert config.validate({}, path) == {"n": 3}
    with pytest.raises(config.ConfigError, match="'paper.m' is not known"):
        config.validate({"m": 1}, path, prefix=("paper",))
    with pytest.raises(config.ConfigError, match="'n': 0 is less than the minimum of 1"):
        config.validate({"n": 0}, path)
    # a union reports the alternative that got furthest, naming the field and the rule
    with pytest.raises(config.ConfigError, match="'grid.num': 0 is less than the minimum"):
        config.validate({"grid": {"min": 1, "max": 2, "num": 0}}, path)
    # ... and, at equal depth, the alternative whose type matched (a number, not a list)
    with pytest.raises(config.ConfigError, match="'grid': -1 is less than or equal to the minimum"):
        config.validate({"grid": -1}, path)


def test_coerce_numbers_only_touches_numeric_strings():
    got = config.coerce_numbers({"a": {"D": "64", "x": "0.5", "p": "ntk", "l": ["1", "x"]}})
    assert got == {"a": {"D": 64, "x": 0.5, "p": "ntk", "l": [1, "x"]}}


def test_tables_are_atomic_readable_by_the_group_and_errors_name_the_file(tmp_path):
    path = tmp_path / "t.parquet"
    df = pd.DataFrame({"a": [1, 2]})
    tables.write_table(df, path)
    assert stat.S_IMODE(os.stat(path).st_mode) == tables.FILE_MODE
    pd.testing.assert_frame_equal(tables.read_table(path), df)
    damaged = path.read_bytes()[: len(path.read_bytes()) // 2]  # truncated
    path.write_bytes(damaged)
    with pytest.raises(tables.UnreadableTableError, match=str(path)):
        tables.read_table(path)
    # moved aside, nothing lost: a rerun finds the table missing and rebuilds it
    assert not path.exists() and (tmp_path / "t.parquet.corrupt").read_bytes() == damaged
    with pytest.raises(FileNotFoundError):
        tables.read_table(path)
    assert list(tables.read_tables([], columns=["x"]).columns) == ["x"]


def test_atomic_path_uses_unique_temporaries(tmp_path):
    out = tmp_path / "f.txt"
    with tables.atomic_path(out) as a, tables.atomic_path(out) as b:
        assert a != b
        a.write_text("a")
        b.write_text("b")
    assert out.read_text() in ("a", "b") and [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_design_grid_product_and_digest():
    g = design.grid({"min": 0.01, "max": 1.0, "num": 3})
    assert g == (0.01, 0.1, 1.0) and design.grid([1, 2]) == (1.0, 2.0)
    assert design.product({"a": [1, 2], "b": ["x"]}) == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]
    assert design.digest({"a": 1, "b": 2}) == design.digest({"b": 2, "a": 1})
    assert design.digest({"a": 1}) != design.digest({"a": 1.5})
    assert design.format_value(2.0) == "2" and design.format_value(0.5) == "0.5"


def test_low_rank_target_and_mask():
    phi = data.low_rank_target(20, 3, seed=1)
    s = np.linalg.svd(phi, compute_uv=False)
    assert np.allclose(s[:3], 1.0) and np.allclose(s[3:], 0.0, atol=1e-12)
    mask = data.observation_mask((200, 200), 0.3, seed=0)
    assert set(np.unique(mask)) <= {0.0, 1.0} and abs(mask.mean() - 0.3) < 0.01
    with pytest.raises(ValueError, match="observed"):
        data.observation_mask((2, 2), 1.5)
    lam, b = data.power_law_spectrum(1.5, 0.5, 100)
    assert np.isclose(lam.mean(), 1.0) and np.isclose((lam * b).mean(), 1.0)


def test_panel_grid_holds_3d_axes_and_refuses_a_small_layout(tmp_path):
    import matplotlib

    from dlndyn.core import plot

    before = matplotlib.get_backend()
    fig, axes = plot.panel_grid(3, (1, 3), projections=[None, "3d", None])
    assert len(axes) == 3 and axes[1].name == "3d" and axes[0].name == "rectilinear"
    plot.save_figure(fig, [tmp_path / "f.png", tmp_path / "f.pdf"])
    assert (tmp_path / "f.png").stat().st_size > 0 and (tmp_path / "f.pdf").stat().st_size > 0
    with pytest.raises(ValueError, match="layout"):
        plot.panel_grid(3, (1, 1))
    assert matplotlib.get_backend() == before


def test_precision_runs_the_dtype_asked_for_and_restores_it():
    import jax
    import jax.numpy as jnp

    from dlndyn.core.train import precision

    with precision("float64") as dt:
        assert dt == jnp.float64 and jnp.ones(2).dtype == jnp.float64
    assert jnp.ones(2).dtype == jnp.float32 and not jax.config.jax_enable_x64
    with pytest.raises(ValueError, match="dtype"):
        with precision("float16"):
            pass


def test_scan_frozen_freezes_a_diverging_run():
    import jax.numpy as jnp

    from dlndyn.core.train import scan_frozen

    def step(x, t):  # loss x doubles each step: crosses 1000 x max(1, x0) = 1000 at t = 10
        return 2.0 * x, (x, x + 1.0)

    state, (loss, other), diverged = scan_frozen(step, jnp.array(1.0), 15)
    assert np.allclose(loss[:10], 2.0 ** np.arange(10)) and np.isinf(loss[10:]).all()
    assert np.isinf(other[10:]).all() and list(np.flatnonzero(diverged)) == list(range(10, 15))
    assert float(state) == 2.0**10  # frozen at the last good update


def test_streams_are_independent_reproducible_and_checked():
    from dlndyn.core.data import streams

    a, b = streams(3, 1, ("x", "y")), streams(3, 1, ("x", "y", "z"))
    x = a["x"].standard_normal(1000)
    assert np.array_equal(x, b["x"].standard_normal(1000))  # adding a stream changes none
    assert abs(np.corrcoef(x, a["y"].standard_normal(1000))[0, 1]) < 0.15
    assert not np.array_equal(x, streams(3, 2, ("x",))["x"].standard_normal(1000))
    assert not np.array_equal(x, streams(4, 1, ("x",))["x"].standard_normal(1000))
    for bad in (2**64, -1, 1.5, True):
        with pytest.raises(ValueError, match="seed"):
            streams(bad, 0, ("x",))
