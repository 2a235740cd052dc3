"""选择计算设备：有 CUDA 用 CUDA，其次 Apple 的 MPS，最后 CPU。

`try_gpu` / `try_all_gpus` 与《动手学深度学习》同名同义，方便读过那本书的读者。
"""
import contextlib
import os

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


# ---------------------------------------------------------------------------
# 数值精度：混合精度（autocast）按设备选择
# ---------------------------------------------------------------------------
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def cpu_has_native_bf16() -> bool:
    """CPU 是否有原生的 bfloat16 指令（x86 的 AVX512-BF16 或 AMX）。

    没有时 bf16 只能靠软件模拟，反而比 fp32 慢：多数笔记本电脑的 CPU 属于这种情况。
    """
    cpu = getattr(torch, "cpu", None)
    for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        check = getattr(cpu, name, None)  # PyTorch 的私有函数，新版本里可能改名
        if check is not None:
            try:
                if check():
                    return True
            except RuntimeError:
                pass
    try:  # 退而读 Linux 的 CPU 标志
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = f.read()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


PRECISION_ENV = "CNNLIB_PRECISION"


def check_precision(precision=None) -> str:
    """校验精度名称，返回规范化的名称；非法时报错并列出合法取值。``precision=None`` 时读环境变量
    ``CNNLIB_PRECISION``（不设时为 ``'auto'``），所以显式传入的值优先于环境变量。"""
    source = ""
    if precision is None:
        precision, source = os.environ.get(PRECISION_ENV, "").strip() or "auto", f"（环境变量 {PRECISION_ENV}）"
    value = str(precision).strip().lower()
    if value not in PRECISIONS:
        raise ValueError(f"未知的数值精度（precision）{precision!r}{source}：合法取值为 {', '.join(PRECISIONS)}。")
    return value


def resolve_precision(precision=None, device=None) -> str:
    """把 ``precision``（``None`` 时见 :func:`check_precision`）落实为 ``'fp32'``、``'bf16'`` 或 ``'fp16'``。

    ``'auto'`` 的规则：CUDA 上 GPU 支持 bf16 时用 bf16（Ampere 及以后），否则用 fp16 加梯度缩放
    （Colab 的 T4 属于这种）；CPU 上只在有原生 bf16 指令时用 bf16，否则 fp32；MPS 上用 fp32
    （autocast 在 MPS 上覆盖的算子还不全）。
    """
    precision = check_precision(precision)
    if precision != "auto":
        return precision
    device = torch.device(device) if device is not None else best_device()
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported(including_emulation=False) else "fp16"
    if device.type == "cpu":
        return "bf16" if cpu_has_native_bf16() else "fp32"
    return "fp32"


def autocast(device, precision: str):
    """``precision`` 为 bf16/fp16 时返回 ``torch.autocast`` 上下文，fp32 时什么也不做。"""
    device = torch.device(device)
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=_DTYPES[precision])
