"""残差网络（ResNet）:cite:`he2016deep`：残差块与书中训练的 ResNet-18（与 d2l 相同）。"""
import torch.nn.functional as F
from torch import nn

from .common import Classifier


class Residual(nn.Module):
    """残差块：两个 3×3 卷积（各接批量规范化），输出与输入相加后再过 ReLU。

    ``strides > 1`` 或通道数改变时，输入的形状与主路径的输出对不上，这时令 ``use_1x1conv=True``，
    在捷径（``shortcut``）上用一个步幅相同的 1×1 卷积把输入变成同样的形状；
    d2l 把这个卷积叫 ``conv3``。
    """

    def __init__(self, in_channels: int, num_channels: int, use_1x1conv: bool = False, strides: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, num_channels, kernel_size=3, padding=1, stride=strides)
        self.bn1 = nn.BatchNorm2d(num_channels)
        self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)
        self.bn2 = nn.BatchNorm2d(num_channels)
        self.shortcut = nn.Conv2d(in_channels, num_channels, kernel_size=1, stride=strides) if use_1x1conv else None

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        return F.relu(Y + (X if self.shortcut is None else self.shortcut(X)))


def resnet_stage(in_channels: int, num_channels: int, num_residuals: int, first_stage: bool = False) -> nn.Sequential:
    """一个阶段（stage）：``num_residuals`` 个残差块。除第一个阶段外，第一个块把高宽减半、通道数加倍。"""
    blocks = []
    for i in range(num_residuals):
        if i == 0 and not first_stage:
            blocks.append(Residual(in_channels, num_channels, use_1x1conv=True, strides=2))
        else:
            blocks.append(Residual(num_channels, num_channels))
    return nn.Sequential(*blocks)


def resnet18(in_channels: int = 1, num_classes: int = 10, input_size: int = 96) -> Classifier:
    """ResNet-18：7×7 卷积 + 最大汇聚，四个阶段各两个残差块（64、128、256、512 通道），
    全局平均汇聚后接一个全连接层。书中在 96×96 的 Fashion-MNIST 上训练（与 d2l 相同）。"""
    b1 = nn.Sequential(nn.Conv2d(in_channels, 64, kernel_size=7, stride=2, padding=3),
                       nn.BatchNorm2d(64), nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    return Classifier(
        b1,
        resnet_stage(64, 64, 2, first_stage=True),
        resnet_stage(64, 128, 2),
        resnet_stage(128, 256, 2),
        resnet_stage(256, 512, 2),
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
        nn.Linear(512, num_classes),
        in_channels=in_channels, input_size=input_size, name="ResNet-18")
