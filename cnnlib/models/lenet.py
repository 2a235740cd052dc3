"""LeNet：书中训练用的版本，以及用于逐层分析的原始 LeNet-5 :cite:`lecun1998gradient`。"""
import torch
import torch.nn.functional as F
from torch import nn

from .common import Classifier


def lenet(in_channels: int = 1, num_classes: int = 10) -> Classifier:
    """书中训练的 LeNet（与 d2l 相同）：28×28 输入，sigmoid 激活，平均汇聚。

    第一层卷积填充 2，使 28×28 的 Fashion-MNIST 图像与原文 32×32 输入得到同样大小的特征图。
    """
    return Classifier(
        nn.Conv2d(in_channels, 6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, num_classes),
        in_channels=in_channels, input_size=28, name="LeNet")


# 原文表 I：C3 的第 j 个特征图连接 S2 的哪些特征图。
C3_TABLE = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


def scaled_tanh(x):
    """原文的激活函数 f(a) = A·tanh(S·a)，A = 1.7159，S = 2/3。"""
    return 1.7159 * torch.tanh(x * (2.0 / 3.0))


class Subsampling(nn.Module):
    """原文的子采样层（S2、S4）：2×2 窗口内求和，乘一个可学习系数、加一个可学习偏置（每个特征图各一个）。"""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        summed = F.avg_pool2d(x, 2) * 4
        return scaled_tanh(summed * self.weight[:, None, None] + self.bias[:, None, None])


class PartialConv2d(nn.Module):
    """部分连接的卷积（C3）：第 j 个输出特征图只看 ``table[j]`` 列出的输入特征图。

    只为真实存在的连接存放权重，所以参数量就是原文的 Σ(输入数×k×k + 1)。
    """

    def __init__(self, in_channels: int, table, kernel_size: int = 5):
        super().__init__()
        self.in_channels, self.table, self.k = in_channels, tuple(map(tuple, table)), kernel_size
        n_links = sum(len(row) for row in self.table)
        self.weight = nn.Parameter(torch.randn(n_links, kernel_size, kernel_size) * 0.1)
        self.bias = nn.Parameter(torch.zeros(len(self.table)))
        out_idx = [j for j, row in enumerate(self.table) for _ in row]
        in_idx = [i for row in self.table for i in row]
        self.register_buffer("out_idx", torch.tensor(out_idx), persistent=False)
        self.register_buffer("in_idx", torch.tensor(in_idx), persistent=False)

    def full_weight(self):
        """把稀疏存放的权重摊成 (16, 6, k, k) 的普通卷积核，未连接处为 0。"""
        w = self.weight.new_zeros(len(self.table), self.in_channels, self.k, self.k)
        w[self.out_idx, self.in_idx] = self.weight
        return w

    def forward(self, x):
        return F.conv2d(x, self.full_weight(), self.bias)


class RBFOutput(nn.Module):
    """原文的输出层：第 i 类的输出是输入与中心 w_i 的欧氏距离平方；返回其相反数作为 logits。"""

    def __init__(self, in_features: int = 84, num_classes: int = 10):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        # 原文的中心是手工设计的 7×12 位图（取值 ±1）；这里用随机的 ±1 代替
        self.centers = nn.Parameter(torch.randint(0, 2, (num_classes, in_features), generator=g).float() * 2 - 1)

    def forward(self, x):
        return -torch.cdist(x, self.centers).pow(2)


class LeNet5(nn.Module):
    """原始 LeNet-5（32×32 输入），用于书中逐层的参数量与连接数分析。"""

    def __init__(self, in_channels: int = 1, num_classes: int = 10):
        super().__init__()
        self.c1 = nn.Conv2d(in_channels, 6, 5)
        self.s2 = Subsampling(6)
        self.c3 = PartialConv2d(6, C3_TABLE, 5)
        self.s4 = Subsampling(16)
        self.c5 = nn.Conv2d(16, 120, 5)
        self.f6 = nn.Linear(120, 84)
        self.output = RBFOutput(84, num_classes)

    def forward(self, x):
        if x.dim() != 4 or x.shape[1:] != (self.c1.in_channels, 32, 32):
            raise ValueError(f"LeNet5 期望输入形状 (批量大小, {self.c1.in_channels}, 32, 32)，实际得到 {tuple(x.shape)}")
        x = self.s2(scaled_tanh(self.c1(x)))
        x = self.s4(scaled_tanh(self.c3(x)))
        x = scaled_tanh(self.c5(x)).flatten(1)
        return self.output(scaled_tanh(self.f6(x)))

    @torch.no_grad()
    def layer_table(self):
        """逐层的输出形状、参数量和连接数（连接数 = 每个输出单元连到的输入数（含偏置）之和）。"""
        x = torch.zeros(1, self.c1.in_channels, 32, 32)
        rows = []
        for name in ("c1", "s2", "c3", "s4", "c5", "f6", "output"):
            layer = getattr(self, name)
            x = layer(x.flatten(1) if name == "f6" else x)  # 只关心形状，激活函数不影响
            params = sum(p.numel() for p in layer.parameters())
            units = x[0].numel()
            if isinstance(layer, Subsampling):
                connections = units * (4 + 1)  # 2×2 个输入 + 偏置
            elif isinstance(layer, (nn.Conv2d, PartialConv2d)):
                connections = params * x.shape[-1] * x.shape[-2]  # 权重共享：每个位置都用全部参数
            else:
                connections = params
            rows.append({"layer": name.upper(), "shape": tuple(x.shape[1:]), "params": params,
                         "connections": connections})
        return rows


def bn_lenet(in_channels: int = 1, num_classes: int = 10) -> Classifier:
    """批量规范化版 LeNet :cite:`ioffe2015batch`（与 d2l 相同）：每个卷积层、全连接层之后、sigmoid 之前
    加一个批量规范化层。第一层不填充，所以展平后是 16×4×4 = 256 维；共 44,878 个参数。"""
    return Classifier(
        nn.Conv2d(in_channels, 6, kernel_size=5), nn.BatchNorm2d(6), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.BatchNorm2d(16), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 120), nn.BatchNorm1d(120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.BatchNorm1d(84), nn.Sigmoid(),
        nn.Linear(84, num_classes),
        in_channels=in_channels, input_size=28, name="BN-LeNet")
