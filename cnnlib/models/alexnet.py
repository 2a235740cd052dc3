"""AlexNet :cite:`krizhevsky2012imagenet`：书中的单通道、十分类版本（与 d2l 相同）。"""
from torch import nn

from .common import Classifier


def alexnet(in_channels: int = 1, num_classes: int = 10, dropout: float = 0.5) -> Classifier:
    """224×224 输入。第一层用 padding=1，使 224 的输入得到 54×54（原文 227 输入、无填充得到 55×55）。

    与原文相比：不分两块 GPU，去掉了局部响应归一化（LRN），输出 10 类；
    因而最后一个汇聚层输出 256×5×5，第一个全连接层的输入是 6400。
    """
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
        nn.Linear(256 * 5 * 5, 4096), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(4096, num_classes),
        in_channels=in_channels, input_size=224, name="AlexNet")
