"""VGG :cite:`simonyan2015vgg`：VGG 块与论文的配置 A–E。"""
from torch import nn

from .common import Classifier

# 每个元组是一个 VGG 块：(卷积层数, 输出通道数)。配置名与论文表 1 相同。
# 论文的配置 C 在后三个块中各有一个 1×1 卷积，用 "C" 表示（见 CONFIGS_1x1）。
CONFIGS = {
    "A": ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)),   # VGG-11
    "B": ((2, 64), (2, 128), (2, 256), (2, 512), (2, 512)),   # VGG-13
    "C": ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512)),   # VGG-16（最后一层为 1×1）
    "D": ((2, 64), (2, 128), (3, 256), (3, 512), (3, 512)),   # VGG-16
    "E": ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512)),   # VGG-19
}
# 配置 C 中，第 3–5 个块的最后一个卷积是 1×1。
CONFIGS_1x1 = {"C": (2, 3, 4)}
DEPTH = {"A": 11, "B": 13, "C": 16, "D": 16, "E": 19}


def vgg_block(num_convs: int, in_channels: int, out_channels: int, last_1x1: bool = False) -> nn.Sequential:
    """``num_convs`` 个 3×3、填充 1 的卷积（各接 ReLU），再接一个 2×2、步幅 2 的最大汇聚：高宽减半。"""
    layers = []
    for i in range(num_convs):
        k = 1 if last_1x1 and i == num_convs - 1 else 3
        layers += [nn.Conv2d(in_channels, out_channels, kernel_size=k, padding=k // 2), nn.ReLU()]
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def vgg(config="A", in_channels: int = 1, num_classes: int = 10, ratio: int = 1,
        dropout: float = 0.5, input_size: int = 224) -> Classifier:
    """VGG 网络。``config`` 取 'A'–'E'（11–19 层）或自定义的 ((卷积层数, 通道数), ...)；
    ``ratio`` 把所有卷积通道数除以它（书中训练用 ratio=4 以减少计算）。"""
    arch = CONFIGS[config] if isinstance(config, str) else tuple(config)
    one_by_one = CONFIGS_1x1.get(config, ()) if isinstance(config, str) else ()
    blocks, c = [], in_channels
    for b, (num_convs, out_channels) in enumerate(arch):
        out_channels //= ratio
        blocks.append(vgg_block(num_convs, c, out_channels, last_1x1=b in one_by_one))
        c = out_channels
    side = input_size // 2 ** len(arch)
    # 配置 C 与 D 都是 16 层：C 的名字带上配置名，免得与通常所说的 VGG-16（配置 D）混淆
    name = (f"VGG-{DEPTH[config]}" + (" (C)" if config == "C" else "")) if isinstance(config, str) else "VGG"
    return Classifier(
        *blocks, nn.Flatten(),
        nn.Linear(c * side * side, 4096), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(dropout),
        nn.Linear(4096, num_classes),
        in_channels=in_channels, input_size=input_size, name=name)
