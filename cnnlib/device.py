"""选择计算设备：有 CUDA 用 CUDA，其次 Apple 的 MPS，最后 CPU。

`try_gpu` / `try_all_gpus` 与《动手学深度学习》同名同义，方便读过那本书的读者。
"""
import torch


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def best_device() -> torch.device:
    """返回当前机器上最快的设备：cuda:0 > mps > cpu。"""
    if torch.cuda.is_available():
        return torch.device("cuda:0")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def has_accelerator() -> bool:
    """是否有 GPU（CUDA 或 MPS）。预算的默认值取决于它。"""
    return best_device().type != "cpu"


def try_gpu(i: int = 0) -> torch.device:
    """若第 i 块 CUDA GPU 存在则返回它，否则返回 CPU（与 d2l 相同）。"""
    if torch.cuda.device_count() >= i + 1:
        return torch.device(f"cuda:{i}")
    return torch.device("cpu")


def try_all_gpus() -> list:
    """返回所有可用的 CUDA GPU；没有 GPU 时返回 ``[cpu]``。

    d2l 1.0 在没有 GPU 时返回空列表；这里返回 ``[cpu]``，让"在所有设备上训练"的代码
    在 CPU 上也能运行。
    """
    devices = [torch.device(f"cuda:{i}") for i in range(torch.cuda.device_count())]
    return devices if devices else [torch.device("cpu")]
