"""Fashion-MNIST：读取、整块驻留在设备上、按批切片。

数据目录的确定顺序：参数 ``root`` > 环境变量 ``CNNLIB_DATA_DIR`` > 用户缓存目录
（``~/.cache/cnnlib``，或 ``$XDG_CACHE_HOME/cnnlib``）。文件不在时通过 torchvision
下载；没有网络时给出说明如何设置 ``CNNLIB_DATA_DIR`` 的错误。

加载器不用 ``DataLoader``：整个划分（6 万张 28×28 的 uint8 图像只有 47 MB）一次放到
目标设备上，每个批量用一次索引切出来，再在设备上转成浮点、按需用 ``F.interpolate``
放大。这样没有进程间拷贝，GPU 上也不必等 CPU 解码。
"""
import hashlib
import os
from pathlib import Path

import torch
import torch.nn.functional as F

from .device import best_device

ENV_VAR = "CNNLIB_DATA_DIR"

# 类别名称：索引 i 对应标签 i。
TEXT_LABELS_EN = ("t-shirt", "trouser", "pullover", "dress", "coat",
                  "sandal", "shirt", "sneaker", "bag", "ankle boot")
TEXT_LABELS_ZH = ("T恤", "裤子", "套衫", "连衣裙", "外套",
                  "凉鞋", "衬衫", "运动鞋", "包", "短靴")

# 离线镜像（见 shared/data/README.md）的训练图像文件的 sha256，用于如实标注数据来源。
_MIRROR_TRAIN_IMAGES_SHA256 = "38f293c4a3881af2a3950da2d9954219bc9c3be886ca598c16807d354b06895e"
SOURCE_OFFICIAL = "Fashion-MNIST"
SOURCE_MIRROR = "Fashion-MNIST 离线镜像（非官方划分）"

_RAW_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
              "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


class DataNotFoundError(FileNotFoundError):
    """数据文件不存在，且无法下载。"""


def get_text_labels(labels, lang=None):
    """把数字标签（整数或张量）转换成类别名称。

    ``lang`` 为 ``'zh'`` 或 ``'en'``；默认在有中文字体时用中文，否则用英文（便于直接作图中标题）。
    """
    if lang is None:
        from .plot import HAS_CJK
        lang = "zh" if HAS_CJK else "en"
    names = {"zh": TEXT_LABELS_ZH, "en": TEXT_LABELS_EN}[lang]
    return [names[int(i)] for i in labels]


def data_root(root=None) -> Path:
    """数据根目录：参数 > ``CNNLIB_DATA_DIR`` > 用户缓存目录。"""
    if root is None:
        root = os.environ.get(ENV_VAR, "").strip() or None
    if root is None:
        cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(cache, "cnnlib")
    return Path(root).expanduser()


def _raw_dir(root: Path) -> Path:
    return root / "FashionMNIST" / "raw"


def _have_raw_files(root: Path) -> bool:
    return all((_raw_dir(root) / name).is_file() for name in _RAW_FILES)


def _download(root: Path):
    import torchvision

    for train in (True, False):
        torchvision.datasets.FashionMNIST(root=str(root), train=train, download=True)


def _missing_message(root: Path, reason: str) -> str:
    return (
        f"找不到 Fashion-MNIST 数据（data not found）：{_raw_dir(root)} 下缺少原始文件，{reason}。\n"
        f"解决办法：联网后重试（会自动下载）；或者把已下载好的数据目录告诉 cnnlib，例如\n"
        f"    export {ENV_VAR}=/path/to/data   # 该目录下应有 FashionMNIST/raw/{_RAW_FILES[0]} 等文件\n"
        f"也可以在代码里传入 root= 参数。"
    )


def ensure_fashion_mnist(root=None, download: bool = True) -> Path:
    """确认数据在 ``root`` 下，必要时下载；返回数据根目录。"""
    root = data_root(root)
    if _have_raw_files(root):
        return root
    if not download:
        raise DataNotFoundError(_missing_message(root, "且未允许下载（download=False）"))
    try:
        _download(root)
    except Exception as err:  # 网络错误的类型五花八门（URLError、socket 错误、校验失败……）
        raise DataNotFoundError(_missing_message(root, f"下载也失败了（download failed: {err}）")) from err
    if not _have_raw_files(root):
        raise DataNotFoundError(_missing_message(root, "下载后文件仍不完整"))
    return root


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def data_source(root=None) -> str:
    """数据来源的说明文字：官方 Fashion-MNIST，还是本项目的离线镜像（划分不同于官方）。"""
    path = _raw_dir(data_root(root)) / _RAW_FILES[0]
    if path.is_file() and _file_sha256(path) == _MIRROR_TRAIN_IMAGES_SHA256:
        return SOURCE_MIRROR
    return SOURCE_OFFICIAL


def read_fashion_mnist(train: bool = True, root=None, download: bool = True):
    """读取一个划分，返回 ``(images, labels)``：uint8 张量 (N, 28, 28) 与 int64 张量 (N,)。"""
    import torchvision

    root = ensure_fashion_mnist(root, download)
    ds = torchvision.datasets.FashionMNIST(root=str(root), train=train, download=False)
    return ds.data, ds.targets.long()


class TensorLoader:
    """从驻留在设备上的整块张量中按批切片，用法与 ``DataLoader`` 相同：``for X, y in loader``。

    - 图像以 uint8 保存，每个批量在设备上转成 [0, 1] 的 float32，形状 (B, 1, H, W)；
    - ``resize`` 非空时用双线性插值 ``F.interpolate`` 把每个批量放大到 ``resize×resize``；
    - ``shuffle=True`` 时每轮的顺序由 ``seed`` 和轮次决定：同一个种子，顺序完全相同；
    - ``len(loader)`` 是每轮的批量数（最后一个不满的批量也算）。
    """

    def __init__(self, images, labels, batch_size, shuffle=False, resize=None,
                 device=None, seed=0, source=SOURCE_OFFICIAL):
        if batch_size < 1:
            raise ValueError(f"批量大小（batch_size）必须 ≥ 1，得到 {batch_size}")
        if len(images) != len(labels):
            raise ValueError(f"图像 {len(images)} 张，标签却有 {len(labels)} 个")
        self.device = torch.device(device) if device is not None else best_device()
        self.images = images.to(self.device)
        self.labels = labels.to(self.device)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.resize = resize
        self.seed = seed
        self.source = source
        self.epoch = 0

    @property
    def num_examples(self) -> int:
        return len(self.labels)

    def __len__(self):
        return (self.num_examples + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        n = self.num_examples
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(n, generator=g).to(self.device)
        else:
            order = None
        self.epoch += 1
        for start in range(0, n, self.batch_size):
            if order is None:
                X = self.images[start:start + self.batch_size]
                y = self.labels[start:start + self.batch_size]
            else:
                idx = order[start:start + self.batch_size]
                X, y = self.images[idx], self.labels[idx]
            yield self.transform(X), y

    def transform(self, X):
        """uint8 (B, H, W) → float32 (B, 1, H', W')，取值 [0, 1]。"""
        X = X.unsqueeze(1).float().div_(255)
        if self.resize is not None:
            size = (self.resize, self.resize) if isinstance(self.resize, int) else tuple(self.resize)
            if size != tuple(X.shape[-2:]):
                X = F.interpolate(X, size=size, mode="bilinear", align_corners=False)
        return X

    def __repr__(self):
        return (f"TensorLoader({self.num_examples} 张图像, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, resize={self.resize}, device={self.device})")


def _subset(images, labels, limit, seed):
    """抽取 ``limit`` 个样本的确定子集，各类别数量尽量相等（按类别轮流挑选）。"""
    if limit is None or limit >= len(labels):
        return images, labels
    if limit < 1:
        raise ValueError(f"子集大小（limit）必须 ≥ 1，得到 {limit}")
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(labels), generator=g)
    shuffled = labels[order]
    rank = torch.empty_like(order)  # 每个样本在本类别中的名次
    for c in shuffled.unique():
        mask = shuffled == c
        rank[mask] = torch.arange(int(mask.sum()))
    # 先比名次、再比随机位置：取前 limit 个就是"每类轮流挑一个"
    key = rank * len(order) + torch.arange(len(order))
    picked = order[key.argsort()[:limit]].sort().values
    return images[picked], labels[picked]


def load_fashion_mnist(batch_size, resize=None, root=None, limit=None, test_limit=None,
                       device=None, seed=0, download=True):
    """返回 Fashion-MNIST 的 ``(train_iter, test_iter)``。

    参数
    ----
    batch_size : 批量大小。
    resize : 把图像放大到 ``resize×resize``（如 AlexNet 的 224）；``None`` 保持 28×28。
    root : 数据根目录，见 :func:`data_root`。
    limit, test_limit : 只用训练集/测试集中的这么多张（各类别均衡的确定子集），供小预算使用。
    device : 数据所在的设备，默认 :func:`cnnlib.best_device`。
    seed : 打乱顺序与抽取子集的随机种子。
    """
    root = ensure_fashion_mnist(root, download)
    source = data_source(root)
    loaders = []
    for train, n in ((True, limit), (False, test_limit)):
        images, labels = read_fashion_mnist(train, root, download=False)
        images, labels = _subset(images, labels, n, seed)
        loaders.append(TensorLoader(images, labels, batch_size, shuffle=train, resize=resize,
                                    device=device, seed=seed, source=source))
    return tuple(loaders)
