"""网络中的网络（NiN）:cite:`lin2014nin`。"""
from torch import nn

from .common import Classifier


def nin_block(in_channels: int, out_channels: int, kernel_size: int, stride: int, padding: int) -> nn.Sequential:
    """一个普通卷积，后接两个 1×1 卷积（相当于在每个像素上做两层全连接），各接 ReLU。"""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU())


def nin(in_channels: int = 1, num_classes: int = 10, dropout: float = 0.5, input_size: int = 224) -> Classifier:
    """NiN（默认 224×224 输入）：最后一个 NiN 块输出 ``num_classes`` 个通道，全局平均汇聚后直接作为 logits。

    有全局平均汇聚，参数量与输入大小无关；``input_size`` 只记录设计时的输入大小（用于检查与摘要）。
    """
    return Classifier(
        nin_block(in_channels, 96, kernel_size=11, stride=4, padding=0),
        nn.MaxPool2d(3, stride=2),
        nin_block(96, 256, kernel_size=5, stride=1, padding=2),
        nn.MaxPool2d(3, stride=2),
        nin_block(256, 384, kernel_size=3, stride=1, padding=1),
        nn.MaxPool2d(3, stride=2),
        nn.Dropout(dropout),
        nin_block(384, num_classes, kernel_size=3, stride=1, padding=1),
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten(),
        in_channels=in_channels, input_size=input_size, name="NiN")
