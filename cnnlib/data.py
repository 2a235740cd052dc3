"""Fashion-MNIST：读取、整块驻留在设备上、按批切片。

数据文件的位置、校验与下载见 :mod:`cnnlib.datafiles`。加载器不用 ``DataLoader``：整个划分
（6 万张 28×28 的 uint8 图像只有 47 MB）一次放到目标设备上，每个批量用一次索引切出来，
再在设备上转成浮点、按需用 ``F.interpolate`` 放大。这样没有进程间拷贝，GPU 上也不必等 CPU 解码。
"""
import torch
import torch.nn.functional as F

from .datafiles import SOURCE_OFFICIAL, data_source, ensure_fashion_mnist
from .device import best_device

# 类别名称：索引 i 对应标签 i。
TEXT_LABELS_EN = ("t-shirt", "trouser", "pullover", "dress", "coat",
                  "sandal", "shirt", "sneaker", "bag", "ankle boot")
TEXT_LABELS_ZH = ("T恤", "裤子", "套衫", "连衣裙", "外套",
                  "凉鞋", "衬衫", "运动鞋", "包", "短靴")


def get_text_labels(labels, lang=None):
    """把数字标签（整数或张量）转换成类别名称。

    ``lang`` 为 ``'zh'`` 或 ``'en'``；默认在有中文字体时用中文，否则用英文（便于直接作图中标题）。
    """
    if lang is None:
        from .plot import HAS_CJK
        lang = "zh" if HAS_CJK else "en"
    names = {"zh": TEXT_LABELS_ZH, "en": TEXT_LABELS_EN}[lang]
    return [names[int(i)] for i in labels]


def read_fashion_mnist(train: bool = True, root=None, download: bool = True, verify: bool = True):
    """读取一个划分，返回 ``(images, labels)``：uint8 张量 (N, 28, 28) 与 int64 张量 (N,)。

    读取前先检查文件（见 :func:`cnnlib.datafiles.verify_fashion_mnist`）；``verify=False`` 跳过校验和比对。
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
    root : 数据根目录，见 :func:`cnnlib.datafiles.data_root`。
    limit, test_limit : 只用训练集/测试集中的这么多张（各类别均衡的确定子集），供小预算使用。
    device : 数据所在的设备，默认 :func:`cnnlib.best_device`。
    seed : 打乱顺序与抽取子集的随机种子。
    download : 四个原始文件都不在时是否下载。
    verify : 是否要求文件的校验和与已知版本一致（见 :func:`cnnlib.datafiles.verify_fashion_mnist`）。
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
