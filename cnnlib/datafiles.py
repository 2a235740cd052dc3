"""Fashion-MNIST 的数据文件：在哪里、是否完好、必要时下载。:mod:`cnnlib.data` 读取之前先调用这里。

数据目录的确定顺序：参数 ``root`` > 环境变量 ``CNNLIB_DATA_DIR`` > 用户缓存目录
（``~/.cache/cnnlib``，或 ``$XDG_CACHE_HOME/cnnlib``）。四个原始文件都不在时通过
torchvision 下载；没有网络时给出说明如何设置 ``CNNLIB_DATA_DIR`` 的错误。

读取之前先检查每个原始文件（torchvision 的读取函数遇到截断的文件只会给出费解的错误，
甚至读出一堆错乱的数据）：字节数、IDX 文件头、标签取值范围，以及与已知版本的校验和。
出了问题就抛出 :class:`DataCorruptError`，说明是哪个文件、哪里不对、怎么修复。
cnnlib 从不删除、移动或覆盖任何数据文件：只缺一部分文件时也不下载，而是报错。
"""
import gzip
import hashlib
import math
import os
import struct
from pathlib import Path

ENV_VAR = "CNNLIB_DATA_DIR"

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
