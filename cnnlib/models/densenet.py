"""稠密连接网络（DenseNet）:cite:`huang2017densely`：稠密块、过渡层与书中训练的版本（与 d2l 相同）。"""
import torch
from torch import nn

from .common import Classifier


def conv_block(in_channels: int, num_channels: int) -> nn.Sequential:
    """DenseNet 的卷积块：批量规范化 → ReLU → 3×3 卷积（“BN-ReLU-Conv”的顺序）。"""
    return nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(),
                         nn.Conv2d(in_channels, num_channels, kernel_size=3, padding=1))


class DenseBlock(nn.Module):
    """稠密块：``num_convs`` 个卷积块，每个块的输出（``num_channels`` 个通道，即增长率）
    沿通道维与它的输入连结，作为下一个块的输入。输出通道数为
    ``in_channels + num_convs × num_channels``。"""

    def __init__(self, num_convs: int, in_channels: int, num_channels: int):
        super().__init__()
        self.in_channels = in_channels
        self.growth_rate = num_channels
        self.out_channels = in_channels + num_convs * num_channels
        self.net = nn.Sequential(*[conv_block(in_channels + i * num_channels, num_channels)
                                   for i in range(num_convs)])

    def forward(self, X):
        for blk in self.net:
            X = torch.cat((X, blk(X)), dim=1)   # 连结而不是相加
        return X


def transition_block(in_channels: int, num_channels: int) -> nn.Sequential:
    """过渡层：批量规范化 → ReLU → 1×1 卷积减少通道数 → 2×2 平均汇聚（步幅 2）把高宽减半。"""
    return nn.Sequential(nn.BatchNorm2d(in_channels), nn.ReLU(),
                         nn.Conv2d(in_channels, num_channels, kernel_size=1),
                         nn.AvgPool2d(kernel_size=2, stride=2))


def densenet(in_channels: int = 1, num_classes: int = 10, growth_rate: int = 32,
             num_convs_in_dense_blocks=(4, 4, 4, 4), input_size: int = 96) -> Classifier:
    """书中的 DenseNet：与 ResNet-18 相同的第一个模块，四个稠密块（每块 4 个卷积块、增长率 32），
    块之间的过渡层把通道数减半；最后批量规范化、ReLU、全局平均汇聚和全连接层。"""
    layers = [nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3),
              nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2, padding=1)]
    c = 64
    for i, num_convs in enumerate(num_convs_in_dense_blocks):
        block = DenseBlock(num_convs, c, growth_rate)
        layers.append(block)
        c = block.out_channels
        if i != len(num_convs_in_dense_blocks) - 1:
            layers.append(transition_block(c, c // 2))
            c //= 2
    layers += [nn.BatchNorm2d(c), nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
               nn.Linear(c, num_classes)]
    return Classifier(*layers, in_channels=in_channels, input_size=input_size, name="DenseNet")
