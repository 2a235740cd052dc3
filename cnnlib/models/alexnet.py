"""AlexNet :cite:`krizhevsky2012imagenet`：书中的单通道、十分类版本（与 d2l 相同）。"""
from torch import nn

from ..ops import conv_output_size
from .common import Classifier


def alexnet_feature_size(input_size: int = 224) -> int:
    """卷积部分输出的高（= 宽）：224 → 54 → 26 → 26 → 12 → 12 → 12 → 12 → 5。"""
    n = conv_output_size(input_size, 11, 1, 4)
    n = conv_output_size(n, 3, 0, 2)   # 汇聚 3×3，步幅 2
    n = conv_output_size(n, 3, 0, 2)   # 5×5 卷积（填充 2）不改变高宽，再汇聚
    return conv_output_size(n, 3, 0, 2)  # 三个 3×3 卷积（填充 1）不改变高宽，再汇聚


def alexnet(in_channels: int = 1, num_classes: int = 10, dropout: float = 0.5,
            input_size: int = 224) -> Classifier:
    """书中的 AlexNet，默认 224×224 输入。第一层用 padding=1，224 的输入得到 54×54
    （原文 227 输入、无填充得到 55×55）。

    与原文相比：不分两块 GPU，去掉了局部响应归一化（LRN），输出 10 类；
    因而最后一个汇聚层输出 256×5×5，第一个全连接层的输入是 6400。
    ``input_size`` 只改变第一个全连接层的输入维数（例如 112 时为 256×2×2 = 1024），
    供 CPU 上的小预算使用。
    """
    side = alexnet_feature_size(input_size)
    return Classifier(
        nn.Conv2d(in_channels, 96, kernel_size=11, stride=4, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Flatten(),
        nn.Linear(256 * side * side, 4096), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(4096, num_classes),
        in_channels=in_channels, input_size=input_size, name="AlexNet")
