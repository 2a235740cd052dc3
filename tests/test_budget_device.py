import pytest
import torch

import cnnlib
from cnnlib import budget as budget_mod
from cnnlib import device as device_mod


def test_default_is_small_on_cpu_and_full_with_gpu(monkeypatch):
    monkeypatch.delenv("CNNLIB_BUDGET", raising=False)
    monkeypatch.setattr(budget_mod, "has_accelerator", lambda: False)
    assert cnnlib.get_budget() == "small"
    monkeypatch.setattr(budget_mod, "has_accelerator", lambda: True)
    assert cnnlib.get_budget() == "full"


@pytest.mark.parametrize("raw, expected", [("smoke", "smoke"), (" Small ", "small"), ("FULL", "full")])
def test_env_var_overrides_default(monkeypatch, raw, expected):
    monkeypatch.setenv("CNNLIB_BUDGET", raw)
    assert cnnlib.get_budget() == expected


def test_argument_beats_env_var(monkeypatch):
    monkeypatch.setenv("CNNLIB_BUDGET", "smoke")
    assert cnnlib.get_budget("full") == "full"


def test_invalid_budget_lists_valid_values(monkeypatch):
    monkeypatch.setenv("CNNLIB_BUDGET", "tiny")
    with pytest.raises(ValueError) as err:
        cnnlib.get_budget()
    message = str(err.value)
    assert message.startswith("未知的训练预算")
    for name in ("smoke", "small", "full", "CNNLIB_BUDGET", "tiny"):
        assert name in message


def test_pick_follows_budget(monkeypatch):
    monkeypatch.setenv("CNNLIB_BUDGET", "smoke")
    assert cnnlib.pick(smoke=1, small=2, full=3) == 1
    assert cnnlib.pick(smoke=1, small=2, full=3, budget="full") == 3


def test_devices_on_a_cpu_only_machine(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(device_mod, "_mps_available", lambda: False)
    assert cnnlib.best_device() == torch.device("cpu")
    assert cnnlib.device.try_gpu() == torch.device("cpu")
    assert cnnlib.device.try_all_gpus() == [torch.device("cpu")]


def test_devices_with_two_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert cnnlib.best_device() == torch.device("cuda:0")
    assert cnnlib.device.try_gpu(1) == torch.device("cuda:1")
    assert cnnlib.device.try_gpu(2) == torch.device("cpu")
    assert cnnlib.device.try_all_gpus() == [torch.device("cuda:0"), torch.device("cuda:1")]


def test_seed_defaults_to_zero_and_follows_env(monkeypatch):
    monkeypatch.delenv("CNNLIB_SEED", raising=False)
    assert cnnlib.get_seed() == 0
    monkeypatch.setenv("CNNLIB_SEED", " 2 ")
    assert cnnlib.get_seed() == 2
    assert cnnlib.get_seed(5) == 5               # 参数优先


@pytest.mark.parametrize("raw", ["-1", "1.5", "abc"])
def test_invalid_seed_is_refused_with_the_variable_named(monkeypatch, raw):
    monkeypatch.setenv("CNNLIB_SEED", raw)
    with pytest.raises(ValueError) as err:
        cnnlib.get_seed()
    assert str(err.value).startswith("随机种子") and "CNNLIB_SEED" in str(err.value) and raw in str(err.value)
