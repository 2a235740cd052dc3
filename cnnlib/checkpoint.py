"""检查点：原子写入（:func:`atomic_write`，检查点、执行记录和指标文件都用它写）、:func:`save_checkpoint` /
:func:`load_checkpoint`（``train(checkpoint=..., resume=True)`` 用它们），以及 :func:`read_checkpoint`
（``weights_only=True``，不执行文件里的任意代码）和 :func:`mismatches`（与模型对不上的参数），
迁移学习的 :func:`cnnlib.transfer.load_backbone` 也用这两个。
"""
import contextlib
import os
import tempfile

import torch
from torch import nn


class CheckpointMismatchError(ValueError):
    """检查点与模型的结构不一致（参数名或形状对不上）。"""


@contextlib.contextmanager
def atomic_write(path, mode="wb", encoding=None):
    """``with atomic_write(path, "w", encoding="utf-8") as f: ...``：写完（并 ``fsync``）才换成 ``path``。"""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, mode, encoding=encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def unwrap(net: nn.Module) -> nn.Module:
    """``torch.compile`` 返回的包装模块把参数名加上 ``_orig_mod.``：检查点总是存、读原模块。"""
    return getattr(net, "_orig_mod", net)


def model_name(net: nn.Module) -> str:
    """cnnlib 的模型有 ``name``（如 ``"AlexNet"``），其余模型用类名。"""
    return getattr(net, "name", net.__class__.__name__)


def save_checkpoint(path, net, optimizer=None, history=None, scaler=None):
    """原子地保存检查点（见 :func:`atomic_write`）。

    除模型与优化器外还保存梯度缩放器和随机数发生器的状态，供 ``train(resume=True)`` 精确地接着训练
    （加载器每轮的顺序只由种子和轮次决定，见 ``TensorLoader.set_epoch``，不需要保存）。
    """
    net = unwrap(net)
    state = {
        "model": net.state_dict(),
        "model_name": model_name(net),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scaler": scaler.state_dict() if scaler is not None and scaler.is_enabled() else None,
        "history": history.as_dict() if history is not None else None,
        "rng_cpu": torch.get_rng_state(),
        "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    with atomic_write(os.fspath(path)) as f:
        torch.save(state, f)


def read_checkpoint(path, map_location="cpu") -> dict:
    """用 ``weights_only=True`` 读取 :func:`save_checkpoint` 写出的检查点；读不了时说明原因。"""
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as err:  # 截断、不是检查点、含不安全对象……
        raise ValueError(f"无法读取检查点 {path}（cannot load checkpoint）：文件可能已损坏，"
                         f"或不是 cnnlib.save_checkpoint 写出的检查点。原始错误：{err}") from err
    if not isinstance(state, dict) or "model" not in state:
        raise ValueError(f"{path} 不是 cnnlib 的检查点（缺少 'model' 项）。")
    return state


def _show(keys):
    return ", ".join(keys[:5]) + (f" …（共 {len(keys)} 个）" if len(keys) > 5 else "")


def mismatches(net: nn.Module, saved: dict, skip=lambda key: False) -> list:
    """检查点的参数 ``saved`` 与模型逐一核对参数名和形状，返回说明差异的各行（一致时为空列表）。

    ``skip(key)`` 为真的参数不核对（如迁移学习时的输出层）。
    """
    own = {k: v for k, v in net.state_dict().items() if not skip(k)}
    missing = [k for k in own if k not in saved]
    unexpected = [k for k in saved if k not in own and not skip(k)]
    reshaped = [f"{k}: 检查点 {tuple(saved[k].shape)} ≠ 模型 {tuple(own[k].shape)}"
                for k in own if k in saved and tuple(saved[k].shape) != tuple(own[k].shape)]
    lines = []
    if missing:
        lines.append(f"  模型有而检查点没有的参数（missing keys）：{_show(missing)}")
    if unexpected:
        lines.append(f"  检查点有而模型没有的参数（unexpected keys）：{_show(unexpected)}")
    if reshaped:
        lines.append(f"  形状不同的参数（size mismatch）：{_show(reshaped)}")
    return lines


def load_checkpoint(path, net, optimizer=None, map_location="cpu", scaler=None, restore_rng=False):
    """从检查点恢复模型（和优化器、梯度缩放器）的状态，返回其中保存的历史记录（:class:`cnnlib.training.History`）。

    检查点与模型结构不一致时抛出 :class:`CheckpointMismatchError`，列出对不上的参数名。
    ``restore_rng=True`` 时同时恢复随机数发生器（``train(resume=True)`` 用它保证结果可复现）。
    """
    from .training import History

    state = read_checkpoint(path, map_location)
    net = unwrap(net)
    problems = mismatches(net, state["model"])
    if problems:
        raise CheckpointMismatchError("\n".join([
            f"检查点 {path} 与模型的结构不一致（architecture mismatch）：检查点来自 "
            f"{state.get('model_name', '?')}，模型是 {model_name(net)}。", *problems,
            "请用创建检查点时的同一个模型构造函数和参数（如 input_size、num_classes）建立模型后再加载。"]))
    net.load_state_dict(state["model"])
    if optimizer is not None and state.get("optimizer") is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scaler is not None and state.get("scaler") is not None:
        scaler.load_state_dict(state["scaler"])
    if restore_rng:
        if state.get("rng_cpu") is not None:
            torch.set_rng_state(state["rng_cpu"].cpu())
        if state.get("rng_cuda") and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in state["rng_cuda"]])
    return History.from_dict(state["history"]) if state.get("history") else History()
