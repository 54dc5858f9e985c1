"""The terjek25 config blocks (default, CI, paper) validate, and bad values name their key."""

import copy
from pathlib import Path

import pytest
import yaml

from dlndyn.core.config import ConfigError, validate
from dlndyn.terjek25.pipeline import check_config, f1_setups, f2_setup

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "workflow" / "schemas" / "terjek25.schema.yaml"


def merged(name):
    """config/config.yaml with config/<name> merged over it (nested keys override, as Snakemake
    does)."""
    def merge(a, b):
        for k, v in b.items():
            a[k] = merge(a.get(k, {}), v) if isinstance(v, dict) and isinstance(a.get(k), dict) \
                else v
        return a

    base = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["terjek25"]
    if name is None:
        return base
    return merge(base, yaml.safe_load((ROOT / "config" / name).read_text()).get("terjek25", {}))


@pytest.mark.parametrize("name", [None, "ci.yaml", "paper.yaml"])
def test_config_blocks_validate_and_build_setups(name):
    cfg = validate(merged(name), SCHEMA, prefix=("terjek25",))
    check_config(cfg)
    for par in cfg["figures"]["f1"]["parameterizations"]:
        setups = f1_setups(cfg, par)
        assert [s.depth for s in setups] == cfg["figures"]["f1"]["depths"]
    assert f2_setup(cfg, "geometric").c == cfg["figures"]["f2"]["c"]


def test_default_nup_widths_grow_with_depth():
    cfg = merged(None)
    assert [s.widths()[0] for s in f1_setups(cfg, "nup")] == [16, 32, 64, 128]
    assert [s.widths()[0] for s in f1_setups(cfg, "standard")] == [16, 16, 16, 16]


def test_bad_values_name_their_key():
    cfg = merged(None)
    bad = copy.deepcopy(cfg)
    bad["figures"]["f2"]["c"] = -1
    with pytest.raises(ConfigError, match=r"terjek25\.figures\.f2\.c"):
        validate(bad, SCHEMA, prefix=("terjek25",))
    bad = copy.deepcopy(cfg)
    bad["nup"]["typo"] = 1
    with pytest.raises(ConfigError, match=r"terjek25\.nup\.typo"):
        validate(bad, SCHEMA, prefix=("terjek25",))
    bad = copy.deepcopy(cfg)
    bad["model"]["activation"] = "relu"  # no EOC fixed point with sigma_b2 = 0.05
    with pytest.raises(ConfigError, match=r"terjek25\.model.*sigma_b2"):
        check_config(bad)
