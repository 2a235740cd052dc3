"""网络中的网络（NiN）:cite:`lin2014nin`。"""
from torch import nn

from .common import Classifier


def nin_block(in_channels: int, out_channels: int, kernel_size: int, stride: int, padding: int) -> nn.Sequential:
    """一个普通卷积，后接两个 1×1 卷积（相当于在每个像素上做两层全连接），各接 ReLU。"""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU())


def nin(in_channels: int = 1, num_classes: int = 10, dropout: float = 0.5, input_size: int = 224,
        final_relu: bool = True) -> Classifier:
    """NiN（默认 224×224 输入）：最后一个 NiN 块输出 ``num_classes`` 个通道，全局平均汇聚后直接作为 logits。

    有全局平均汇聚，参数量与输入大小无关；``input_size`` 只记录设计时的输入大小（用于检查与摘要）。
    ``final_relu=False`` 去掉最后一个 NiN 块末尾的 ReLU（参数不变）：logit 可以为负，某个类别的单元
    对所有输入都落在负半轴时也不会输出恒为 0、收不到梯度。默认与《动手学深度学习》相同，保留它。
    """
    blocks = [nin_block(c_i, c_o, k, s, p) for c_i, c_o, k, s, p in   # 按层的顺序建立：随机初始化不变
              ((in_channels, 96, 11, 4, 0), (96, 256, 5, 1, 2), (256, 384, 3, 1, 1), (384, num_classes, 3, 1, 1))]
    if not final_relu:
        blocks[-1] = blocks[-1][:-1]
    return Classifier(blocks[0], nn.MaxPool2d(3, stride=2), blocks[1], nn.MaxPool2d(3, stride=2),
                      blocks[2], nn.MaxPool2d(3, stride=2), nn.Dropout(dropout), blocks[3],
                      nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(),
                      in_channels=in_channels, input_size=input_size, name="NiN")
