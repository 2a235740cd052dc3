"""Fashion-MNIST：读取、整块驻留在设备上、按批切片。

数据目录的确定顺序：参数 ``root`` > 环境变量 ``CNNLIB_DATA_DIR`` > 用户缓存目录
（``~/.cache/cnnlib``，或 ``$XDG_CACHE_HOME/cnnlib``）。四个原始文件都不在时通过
torchvision 下载；没有网络时给出说明如何设置 ``CNNLIB_DATA_DIR`` 的错误。

读取之前先检查每个原始文件（torchvision 的读取函数遇到截断的文件只会给出费解的错误，
甚至读出一堆错乱的数据）：字节数、IDX 文件头、标签取值范围，以及与已知版本的校验和。
出了问题就抛出 :class:`DataCorruptError`，说明是哪个文件、哪里不对、怎么修复。
cnnlib 从不删除、移动或覆盖任何数据文件：只缺一部分文件时也不下载，而是报错。

加载器不用 ``DataLoader``：整个划分（6 万张 28×28 的 uint8 图像只有 47 MB）一次放到
目标设备上，每个批量用一次索引切出来，再在设备上转成浮点、按需用 ``F.interpolate``
放大。这样没有进程间拷贝，GPU 上也不必等 CPU 解码。
"""
import gzip
import hashlib
import math
import os
import struct
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

# 每个原始文件的 IDX 文件头：魔数（magic number）与各维大小。魔数 2051 = 0x0803 表示
# uint8 的 3 维数组（图像），2049 = 0x0801 表示 uint8 的 1 维数组（标签）。
_IDX_HEADERS = {
    "train-images-idx3-ubyte": (2051, (60000, 28, 28)),
    "train-labels-idx1-ubyte": (2049, (60000,)),
    "t10k-images-idx3-ubyte": (2051, (10000, 28, 28)),
    "t10k-labels-idx1-ubyte": (2049, (10000,)),
}
_NUM_CLASSES = 10

# 已知版本的 sha256（未压缩的原始文件）：两个图像文件是离线镜像的；两个标签文件既是镜像的，
# 也是官方的（镜像直接用了官方的标签文件）。官方图像文件的 sha256 不在这里，改用同目录下
# torchvision 下载时留下的 .gz 压缩包来核对（见 _check_checksum）。
_KNOWN_SHA256 = {
    "train-images-idx3-ubyte": {_MIRROR_TRAIN_IMAGES_SHA256},
    "train-labels-idx1-ubyte": {"bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9"},
    "t10k-images-idx3-ubyte": {"5f9736a4bcf7606c3eb59c072ae9c6b7d185a31d51df40d6fed6002c324cb812"},
    "t10k-labels-idx1-ubyte": {"0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34"},
}


class DataNotFoundError(FileNotFoundError):
    """数据文件不存在（或只有一部分），且无法下载。"""


class DataCorruptError(ValueError):
    """数据文件存在，但已损坏：大小、文件头、标签或校验和不对。"""


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


def _missing_files(root: Path):
    return [name for name in _RAW_FILES if not (_raw_dir(root) / name).is_file()]


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


def _fix_hint(raw: Path) -> str:
    return (
        f"解决办法：自己把目录 {raw} 删除或移走（cnnlib 不会删除或覆盖任何文件），"
        f"再重新运行，让数据下载到空目录中；或者设置 {ENV_VAR}（或传入 root= 参数）"
        f"指向一份完好的数据。"
    )


def _incomplete_message(root: Path, missing) -> str:
    raw = _raw_dir(root)
    return (
        f"Fashion-MNIST 数据不完整（incomplete data）：{raw} 下缺少 {len(missing)} 个原始文件："
        f"{', '.join(missing)}（上次下载中断了？）。为了不覆盖已有的文件，这种情况下不会自动下载。\n"
        + _fix_hint(raw)
    )


def _corrupt(path: Path, problem: str, extra: str = "") -> DataCorruptError:
    return DataCorruptError(
        f"Fashion-MNIST 数据文件已损坏（data corrupt）：{path}\n{problem}\n{extra}{_fix_hint(path.parent)}"
    )


# 摘要的缓存：(绝对路径, 字节数, 修改时间, 算法, 是否先解压) → 十六进制摘要。
# 文件一旦被改动，大小或修改时间随之变化，缓存自然失效；同一进程里反复加载不必重新计算。
_digest_cache = {}


def _hash_file(path: Path, algo: str, gunzip: bool) -> str:
    h = hashlib.new(algo)
    with (gzip.open if gunzip else open)(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _digest(path: Path, algo: str = "sha256", gunzip: bool = False) -> str:
    """文件（``gunzip=True`` 时是解压后的内容）的摘要，按路径、大小与修改时间缓存。"""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns, algo, gunzip)
    if key not in _digest_cache:
        _digest_cache[key] = _hash_file(path, algo, gunzip)
    return _digest_cache[key]


def _official_gz_md5() -> dict:
    """torchvision 记录的官方 ``.gz`` 压缩包的 md5：{文件名: md5}。"""
    import torchvision

    return dict(torchvision.datasets.FashionMNIST.resources)


def _check_archive(gz: Path):
    """已有的 ``.gz`` 压缩包必须与 torchvision 记录的官方 md5 一致。"""
    expected = _official_gz_md5()[gz.name]
    actual = _digest(gz, "md5")
    if actual != expected:
        raise _corrupt(gz, f"压缩包的 md5 为 {actual}，与 torchvision 记录的官方值 {expected} 不同"
                           f"（下载不完整或文件被改动？）。")


def _check_structure(path: Path):
    """字节数、IDX 文件头与标签范围；不对就抛出 DataCorruptError。"""
    magic, dims = _IDX_HEADERS[path.name]
    header_size = 4 + 4 * len(dims)  # 魔数与每一维的大小各占 4 字节（大端 big-endian）
    expected_size = header_size + math.prod(dims)  # 之后每个像素或标签 1 字节
    size = path.stat().st_size
    if size != expected_size:
        why = "文件被截断 truncated?" if size < expected_size else "文件比应有的长 too long?"
        raise _corrupt(path, f"大小为 {size:,} 字节，应为 {expected_size:,} 字节（{why}）。")
    with open(path, "rb") as f:
        header = struct.unpack(f">{1 + len(dims)}I", f.read(header_size))
        labels = f.read() if magic == 2049 else b""
    if header[0] != magic:
        raise _corrupt(path, f"文件头（IDX header）中的魔数（magic number）为 {header[0]}，"
                             f"应为 {magic}（不是 Fashion-MNIST 的{'图像' if magic == 2051 else '标签'}文件？）。")
    if tuple(header[1:]) != dims:
        raise _corrupt(path, f"文件头（IDX header）中的各维大小为 {tuple(header[1:])}，应为 {dims}。")
    if labels and max(labels) >= _NUM_CLASSES:
        bad = sum(b >= _NUM_CLASSES for b in labels)
        first = next(i for i, b in enumerate(labels) if b >= _NUM_CLASSES)
        raise _corrupt(path, f"有 {bad:,} 个标签（labels）超出 0..{_NUM_CLASSES - 1}，"
                             f"第一个在第 {first} 个位置，值为 {labels[first]}。")


def _check_checksum(path: Path):
    """与已知版本核对：sha256 认得出（离线镜像、官方标签），或者与官方 .gz 压缩包解压后的内容一致。"""
    sha = _digest(path)
    if sha in _KNOWN_SHA256[path.name]:
        return
    gz = path.with_name(path.name + ".gz")
    if gz.is_file():
        _check_archive(gz)
        try:
            gz_sha = _digest(gz, gunzip=True)
        except (OSError, EOFError) as err:
            raise _corrupt(gz, f"压缩包无法解压（gzip error: {err}）。") from err
        if gz_sha == sha:
            return
        raise _corrupt(path, f"内容与同目录下的官方压缩包 {gz.name}（md5 正确）解压后的内容不同"
                             f"（sha256 {sha} ≠ {gz_sha}）。")
    raise _corrupt(
        path,
        f"大小与文件头都对，但 sha256 为 {sha}，既不是官方版本（official release），也不是本项目的"
        f"离线镜像（offline mirror）；同目录下也没有可用来核对的 {gz.name}（checksum mismatch）。",
        "如果确信这份数据没有问题（例如自己解压、转换的官方文件），可以传入 verify=False 跳过"
        "校验和比对（大小、文件头与标签范围仍会检查）。\n",
    )


def verify_fashion_mnist(root=None, verify: bool = True) -> Path:
    """检查 ``root`` 下的四个原始文件，有问题就抛出 :class:`DataCorruptError`；返回数据根目录。

    总是检查字节数、IDX 文件头与标签范围；``verify=True`` 时还要求校验和与已知版本一致
    （本项目的离线镜像，或官方发布：torchvision 下载时留下的 ``.gz`` 与官方 md5 一致，
    且原始文件正是它解压后的内容）。结果按文件缓存，同一进程中重复调用很快。
    """
    root = data_root(root)
    for name in _RAW_FILES:
        path = _raw_dir(root) / name
        _check_structure(path)
        if verify:
            _check_checksum(path)
    return root


def ensure_fashion_mnist(root=None, download: bool = True, verify: bool = True) -> Path:
    """确认数据在 ``root`` 下且完好，必要时下载；返回数据根目录。

    只有四个原始文件一个都没有时才下载；只缺一部分时抛出 :class:`DataNotFoundError`，
    文件已损坏时抛出 :class:`DataCorruptError`，都不会去下载（下载会覆盖已有的文件）。
    """
    root = data_root(root)
    missing = _missing_files(root)
    if 0 < len(missing) < len(_RAW_FILES):
        raise DataNotFoundError(_incomplete_message(root, missing))
    if missing:
        if not download:
            raise DataNotFoundError(_missing_message(root, "且未允许下载（download=False）"))
        for name in _RAW_FILES:  # 上次留下的压缩包必须完好，否则 torchvision 会下载并覆盖它
            gz = _raw_dir(root) / (name + ".gz")
            if gz.is_file():
                _check_archive(gz)
        try:
            _download(root)
        except Exception as err:  # 网络错误的类型五花八门（URLError、socket 错误、校验失败……）
            reason = f"下载也失败了（download failed: {err}）"
            raise DataNotFoundError(_missing_message(root, reason)) from err
        if _missing_files(root):
            raise DataNotFoundError(_missing_message(root, "下载后文件仍不完整"))
    return verify_fashion_mnist(root, verify)


def data_source(root=None) -> str:
    """数据来源的说明文字：官方 Fashion-MNIST，还是本项目的离线镜像（划分不同于官方）。"""
    path = _raw_dir(data_root(root)) / _RAW_FILES[0]
    if path.is_file() and _digest(path) == _MIRROR_TRAIN_IMAGES_SHA256:
        return SOURCE_MIRROR
    return SOURCE_OFFICIAL


def read_fashion_mnist(train: bool = True, root=None, download: bool = True, verify: bool = True):
    """读取一个划分，返回 ``(images, labels)``：uint8 张量 (N, 28, 28) 与 int64 张量 (N,)。

    读取前先检查文件（见 :func:`verify_fashion_mnist`）；``verify=False`` 跳过校验和比对。
    """
    import torchvision

    root = ensure_fashion_mnist(root, download, verify)
    ds = torchvision.datasets.FashionMNIST(root=str(root), train=train, download=False)
    return ds.data, ds.targets.long()


class Augment:
    """在设备上对整个批量做随机增广（data augmentation），只用于训练集。

    - ``crop_padding``：随机裁剪。先在四周各填充 ``crop_padding`` 个零像素，再随机裁出原来的大小，
      相当于把图像随机平移至多 ``crop_padding`` 个像素；0 表示不裁剪；
    - ``flip``：以 1/2 的概率左右翻转（horizontal flip）。

    一次对整个批量操作，不逐张循环，所以放在 GPU 上几乎不花时间。随机数来自 :class:`TensorLoader`
    传入的生成器：同一个种子、同一轮，增广的结果完全相同（续训也能精确复现）。
    """

    def __init__(self, crop_padding: int = 2, flip: bool = True):
        if not (isinstance(crop_padding, int) and crop_padding >= 0):
            raise ValueError(f"crop_padding 必须是非负整数，得到 {crop_padding!r}")
        self.crop_padding, self.flip = crop_padding, bool(flip)

    def __call__(self, X: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """``X``：形状 (B, C, H, W) 的浮点批量；``generator``：CPU 上的 ``torch.Generator``。"""
        B, _, H, W = X.shape
        # 随机数总在 CPU 上用同一个生成器产生，再搬到数据所在的设备：各种设备上结果相同
        shift = torch.randint(0, 2 * self.crop_padding + 1, (2, B), generator=generator).to(X.device)
        flip = (torch.rand(B, generator=generator) < 0.5).to(X.device)
        if self.crop_padding:
            p = self.crop_padding
            padded = F.pad(X, (p, p, p, p))
            rows = shift[0, :, None] + torch.arange(H, device=X.device)       # (B, H)：每张图取哪些行
            cols = shift[1, :, None] + torch.arange(W, device=X.device)       # (B, W)：取哪些列
            batch = torch.arange(B, device=X.device)[:, None, None]
            X = padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)   # (B,H,W,C) → (B,C,H,W)
        if self.flip:
            X = torch.where(flip[:, None, None, None], X.flip(-1), X)
        return X

    def __repr__(self):
        return f"Augment(crop_padding={self.crop_padding}, flip={self.flip})"


class TensorLoader:
    """从驻留在设备上的整块张量中按批切片，用法与 ``DataLoader`` 相同：``for X, y in loader``。

    - 图像以 uint8 保存，每个批量在设备上转成 [0, 1] 的 float32，形状 (B, 1, H, W)；
    - ``augment`` 非空时（如 :class:`Augment`），对每个批量做随机增广，再缩放；
    - ``resize`` 非空时用双线性插值 ``F.interpolate`` 把每个批量放大到 ``resize×resize``；
    - ``shuffle=True`` 时每轮的顺序只由 ``seed`` 和轮次 ``epoch`` 决定：同一个种子，顺序完全相同；
      增广的随机数也一样。每次迭代后 ``epoch`` 加一，:meth:`set_epoch` 可以直接指定（续训时用）；
    - ``len(loader)`` 是每轮的批量数（最后一个不满的批量也算）。
    """

    def __init__(self, images, labels, batch_size, shuffle=False, resize=None,
                 device=None, seed=0, source=SOURCE_OFFICIAL, augment=None):
        if batch_size < 1:
            raise ValueError(f"批量大小（batch_size）必须 ≥ 1，得到 {batch_size}")
        if len(images) != len(labels):
            raise ValueError(f"图像 {len(images)} 张，标签却有 {len(labels)} 个")
        if augment is not None and not callable(augment):
            raise TypeError(f"augment 应是 cnnlib.Augment(...) 之类的可调用对象，得到 {type(augment).__name__}")
        self.device = torch.device(device) if device is not None else best_device()
        self.images = images.to(self.device)
        self.labels = labels.to(self.device)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.resize = resize
        self.seed = seed
        self.source = source
        self.augment = augment
        self.epoch = 0
        self.rank, self.world_size, self.pad = 0, 1, False

    def shard(self, rank: int, world_size: int, pad: bool = True):
        """多进程训练（DistributedDataParallel）时只取第 ``rank`` 份：各进程用同一个种子打乱，
        再按 ``order[rank::world_size]`` 分片，每轮合起来恰好是单进程的那一轮。

        ``pad=True``（训练集）时像 ``DistributedSampler`` 一样循环补齐，使各进程的批量数相同；
        测试集用 ``pad=False``，不重复任何样本。返回 ``self``。
        """
        if not (0 <= rank < world_size):
            raise ValueError(f"rank 应在 0…{world_size - 1} 之间，得到 {rank}")
        self.rank, self.world_size, self.pad = rank, world_size, pad
        return self

    @property
    def total_examples(self) -> int:
        """整个数据集（所有进程合起来）的样本数。"""
        return len(self.labels)

    @property
    def num_examples(self) -> int:
        """本进程每轮处理的样本数。"""
        n, w = len(self.labels), self.world_size
        if w == 1:
            return n
        return -(-n // w) if self.pad else len(range(self.rank, n, w))

    def __len__(self):
        return (self.num_examples + self.batch_size - 1) // self.batch_size

    def set_epoch(self, epoch: int):
        """指定下一次迭代是第几轮（从 0 数起），与 ``DistributedSampler.set_epoch`` 同义。"""
        self.epoch = epoch

    def __iter__(self):
        n = self.total_examples
        # 这一轮的随机数（打乱顺序、增广）都来自这个生成器，只由种子和轮次决定
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(n, generator=g).to(self.device) if self.shuffle else None
        self.epoch += 1
        if self.world_size > 1:       # 各进程的打乱顺序相同，各取自己的一份
            if order is None:
                order = torch.arange(n, device=self.device)
            if self.pad and n % self.world_size:
                order = torch.cat([order, order[:self.world_size - n % self.world_size]])
            order = order[self.rank::self.world_size]
            n = len(order)
            if self.rank:             # 各进程的增广随机数不同
                g = torch.Generator().manual_seed(g.initial_seed() + 7_919 * self.rank)
        for start in range(0, n, self.batch_size):
            if order is None:
                X = self.images[start:start + self.batch_size]
                y = self.labels[start:start + self.batch_size]
            else:
                idx = order[start:start + self.batch_size]
                X, y = self.images[idx], self.labels[idx]
            yield self.transform(X, g), y

    def transform(self, X, generator=None):
        """uint8 (B, H, W) → float32 (B, 1, H', W')，取值 [0, 1]；有 ``augment`` 时先增广再缩放。"""
        X = X.unsqueeze(1).float().div_(255)
        if self.augment is not None:
            X = self.augment(X, generator if generator is not None else torch.Generator().manual_seed(self.seed))
        if self.resize is not None:
            size = (self.resize, self.resize) if isinstance(self.resize, int) else tuple(self.resize)
            if size != tuple(X.shape[-2:]):
                X = F.interpolate(X, size=size, mode="bilinear", align_corners=False)
        return X

    def __repr__(self):
        aug = f", augment={self.augment}" if self.augment is not None else ""
        return (f"TensorLoader({self.num_examples} 张图像, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, resize={self.resize}{aug}, device={self.device})")


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
                       device=None, seed=0, download=True, verify=True, augment=None):
    """返回 Fashion-MNIST 的 ``(train_iter, test_iter)``。

    参数
    ----
    batch_size : 批量大小。
    resize : 把图像放大到 ``resize×resize``（如 AlexNet 的 224）；``None`` 保持 28×28。
    root : 数据根目录，见 :func:`data_root`。
    limit, test_limit : 只用训练集/测试集中的这么多张（各类别均衡的确定子集），供小预算使用。
    device : 数据所在的设备，默认 :func:`cnnlib.best_device`。
    seed : 打乱顺序与抽取子集的随机种子。
    download : 四个原始文件都不在时是否下载。
    verify : 是否要求文件的校验和与已知版本一致（见 :func:`verify_fashion_mnist`）。
    augment : 训练集的随机增广，如 ``cnnlib.Augment(crop_padding=2, flip=True)``；测试集从不增广。
    """
    root = ensure_fashion_mnist(root, download, verify)
    source = data_source(root)
    loaders = []
    for train, n in ((True, limit), (False, test_limit)):
        images, labels = read_fashion_mnist(train, root, download=False, verify=verify)
        images, labels = _subset(images, labels, n, seed)
        loaders.append(TensorLoader(images, labels, batch_size, shuffle=train, resize=resize,
                                    device=device, seed=seed, source=source,
                                    augment=augment if train else None))
    return tuple(loaders)
