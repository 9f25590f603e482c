"""The value options: off by default, on in the experiment bundle, bad values refused, and a
clear error when the extra is missing."""

from __future__ import annotations

import builtins

import pytest
from omegaconf import OmegaConf

from src.config import compose_config
from src.config.schema import ValueConfig
from src.errors import SegmentationError


def test_value_is_off_in_the_main_job():
    assert OmegaConf.to_object(compose_config("config", "+experiment=lrfmc")).value.enabled is False


def test_value_is_on_in_its_experiment():
    pytest.importorskip("pymc_marketing")
    options = OmegaConf.to_object(compose_config("config", "+experiment=online_retail_value"))
    assert options.value.enabled is True
    assert options.dataset.name == "online_retail"
    assert options.value.holdout_months == 3


@pytest.mark.parametrize(
    ("key", "value"),
    [("discount_rate", 1.5), ("at_risk_p_alive", 1.0), ("holdout_months", -1), ("clv_months", 0)],
)
def test_out_of_range_options_name_the_key(key, value):
    with pytest.raises(SegmentationError, match=f"value.{key}"):
        ValueConfig(**{key: value})


def test_missing_library_names_the_extra(monkeypatch):
    real_import = builtins.__import__

    def no_pymc_marketing(name, *args, **kwargs):
        if name.startswith("pymc_marketing"):
            raise ImportError(f"No module named '{name}'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pymc_marketing)
    from src.value import require

    with pytest.raises(SegmentationError, match=r'pip install -e "\.\[value\]"'):
        require()


def test_switching_value_on_without_the_extra_fails_at_start_up(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "pymc_marketing" else real(name, *a),
    )
    with pytest.raises(SegmentationError, match=r"value=none"):
        ValueConfig(enabled=True)
