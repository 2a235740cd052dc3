"""cnnlib：《卷积神经网络：从互相关到迁移学习》配套的小型 PyTorch 工具包。

书中直接用 ``cnnlib.名字`` 调用的函数和类都列在 ``__all__`` 里（见下）。其余的通过所在的模块使用：

学生读的核心
- ``cnnlib.device``    ：设备与数值精度（best_device、try_gpu、resolve_precision、autocast）
- ``cnnlib.budget``    ：训练预算 smoke / small / full
- ``cnnlib.data``      ：Fashion-MNIST 的加载器与批量增广（数据文件的校验与下载在 ``cnnlib.datafiles``）
- ``cnnlib.ops``       ：第 1 章从零实现的互相关、汇聚与尺寸公式（如 ``cnnlib.ops.corr2d``）
- ``cnnlib.training``  ：训练循环 ``train`` 与评估；检查点在 ``cnnlib.checkpoint``
- ``cnnlib.modelinfo`` ：参数量、FLOPs、逐层摘要，以及它们共用的 meta 设备前向
- ``cnnlib.plot``      ：中文字体、图像网格、实时曲线
- ``cnnlib.models``    ：书中的模型（LeNet、AlexNet、VGG、NiN、GoogLeNet、BN-LeNet、ResNet、DenseNet）

第 4 章与书的工具（``import cnnlib`` 时不导入，第一次用到 ``cnnlib.figures`` 等时才导入）
- ``cnnlib.transfer``：迁移学习（冻结、替换输出层、参数分组、载入主干、离线的手写数字数据）
- ``cnnlib.figures`` ：书中的示意图（概念图与取自真实模型的结构图）
- ``cnnlib.results`` ：``make results`` 写出的执行记录与 ``make bench`` 的基准结果
- ``cnnlib.cli``     ：命令行 ``python -m cnnlib models | train MODEL ...``
"""
import importlib

from . import models, ops
from .budget import get_budget, get_seed, pick
from .checkpoint import CheckpointMismatchError, save_checkpoint
from .data import Augment, TensorLoader, data_source, get_text_labels, load_fashion_mnist
from .device import best_device, resolve_precision
from .modelinfo import count_flops, num_params, summary
from .plot import HAS_CJK, show_images, zh
from .training import TrainingDiverged, cosine_lr, evaluate_accuracy, init_he, init_xavier, train

__version__ = "0.1.0"

__all__ = [
    # 设备与预算
    "best_device", "resolve_precision", "get_budget", "get_seed", "pick",
    # 数据
    "load_fashion_mnist", "TensorLoader", "Augment", "get_text_labels", "data_source",
    # 训练与检查点
    "train", "cosine_lr", "evaluate_accuracy", "init_xavier", "init_he", "TrainingDiverged",
    "save_checkpoint", "CheckpointMismatchError",
    # 模型与它们的量
    "models", "num_params", "count_flops", "summary",
    # 绘图
    "zh", "show_images", "HAS_CJK",
]

_LAZY = ("transfer", "figures", "results", "cli")


def __getattr__(name):
    # PEP 562：cnnlib.figures 等到第一次用到时才导入（它们是书的工具，训练用不到）
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'cnnlib' has no attribute {name!r}")
