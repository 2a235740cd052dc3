"""GoogLeNet :cite:`szegedy2015going`：Inception 块与书中训练的 96×96 版本（与 d2l 相同）。"""
import torch
from torch import nn

from .common import Classifier


class Inception(nn.Module):
    """四条并行路径，输出沿通道维连结（concatenate）：

    1. 1×1 卷积，``c1`` 个通道；
    2. 1×1 卷积降到 ``c2[0]`` 个通道，再 3×3 卷积到 ``c2[1]``；
    3. 1×1 卷积降到 ``c3[0]`` 个通道，再 5×5 卷积到 ``c3[1]``；
    4. 3×3 最大汇聚（步幅 1），再 1×1 卷积到 ``c4``。

    各路都保持高宽不变，输出通道数为 ``c1 + c2[1] + c3[1] + c4``。
    """

    def __init__(self, in_channels: int, c1: int, c2, c3, c4: int, name: str = ""):
        super().__init__()
        self.name = name  # 论文表 1 中的名称，如 "3a"（只用于显示）
        self.in_channels = in_channels
        self.out_channels = c1 + c2[1] + c3[1] + c4
        self.p1 = nn.Sequential(nn.Conv2d(in_channels, c1, 1), nn.ReLU())
        self.p2 = nn.Sequential(nn.Conv2d(in_channels, c2[0], 1), nn.ReLU(),
                                nn.Conv2d(c2[0], c2[1], 3, padding=1), nn.ReLU())
        self.p3 = nn.Sequential(nn.Conv2d(in_channels, c3[0], 1), nn.ReLU(),
                                nn.Conv2d(c3[0], c3[1], 5, padding=2), nn.ReLU())
        self.p4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1),
                                nn.Conv2d(in_channels, c4, 1), nn.ReLU())

    def forward(self, x):
        return torch.cat([self.p1(x), self.p2(x), self.p3(x), self.p4(x)], dim=1)


# 各 Inception 块的通道配置：(c1, (c2 降维, c2), (c3 降维, c3), c4)，名称沿用论文表 1。
INCEPTION_CONFIGS = {
    "3a": (64, (96, 128), (16, 32), 32),
    "3b": (128, (128, 192), (32, 96), 64),
    "4a": (192, (96, 208), (16, 48), 64),
    "4b": (160, (112, 224), (24, 64), 64),
    "4c": (128, (128, 256), (24, 64), 64),
    "4d": (112, (144, 288), (32, 64), 64),
    "4e": (256, (160, 320), (32, 128), 128),
    "5a": (256, (160, 320), (32, 128), 128),
    "5b": (384, (192, 384), (48, 128), 128),
}


def _inceptions(names, in_channels):
    blocks = []
    for name in names:
        block = Inception(in_channels, *INCEPTION_CONFIGS[name], name=name)
        blocks.append(block)
        in_channels = block.out_channels
    return blocks, in_channels


def googlenet(in_channels: int = 1, num_classes: int = 10, input_size: int = 96) -> Classifier:
    """GoogLeNet 的五个模块（stage）；书中在 96×96 的 Fashion-MNIST 上训练。"""
    b1 = nn.Sequential(nn.Conv2d(in_channels, 64, 7, stride=2, padding=3), nn.ReLU(),
                       nn.MaxPool2d(3, stride=2, padding=1))
    b2 = nn.Sequential(nn.Conv2d(64, 64, 1), nn.ReLU(),
                       nn.Conv2d(64, 192, 3, padding=1), nn.ReLU(),
                       nn.MaxPool2d(3, stride=2, padding=1))
    b3_blocks, c = _inceptions(("3a", "3b"), 192)
    b3 = nn.Sequential(*b3_blocks, nn.MaxPool2d(3, stride=2, padding=1))
    b4_blocks, c = _inceptions(("4a", "4b", "4c", "4d", "4e"), c)
    b4 = nn.Sequential(*b4_blocks, nn.MaxPool2d(3, stride=2, padding=1))
    b5_blocks, c = _inceptions(("5a", "5b"), c)
    b5 = nn.Sequential(*b5_blocks, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())
    return Classifier(b1, b2, b3, b4, b5, nn.Linear(c, num_classes),
                      in_channels=in_channels, input_size=input_size, name="GoogLeNet")
