import gzip
import hashlib
import os
import shutil

import pytest
import torch
from torch import nn

import cnnlib
from cnnlib import datafiles


@pytest.fixture(scope="module")
def splits(data_dir):
    return {train: cnnlib.data.read_fashion_mnist(train, root=data_dir, download=False)
            for train in (True, False)}


def test_reads_offline_data_without_network(no_network, data_dir, monkeypatch):
    monkeypatch.setenv("CNNLIB_DATA_DIR", str(data_dir))
    X, y = cnnlib.data.read_fashion_mnist(train=False)  # 数据目录取自环境变量
    assert X.shape == (10000, 28, 28) and X.dtype == torch.uint8
    assert y.shape == (10000,) and y.dtype == torch.int64
    assert torch.bincount(y).tolist() == [1000] * 10


def test_split_sizes(splits):
    X, y = splits[True]
    assert X.shape == (60000, 28, 28)
    assert torch.bincount(y).tolist() == [6000] * 10


def test_data_source_names_the_offline_mirror(data_dir, tmp_path):
    assert cnnlib.data_source(data_dir) == datafiles.SOURCE_MIRROR
    assert "非官方划分" in datafiles.SOURCE_MIRROR
    assert cnnlib.data_source(tmp_path) == datafiles.SOURCE_OFFICIAL


def test_root_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNLIB_DATA_DIR", str(tmp_path / "env"))
    assert datafiles.data_root() == tmp_path / "env"
    assert datafiles.data_root(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("CNNLIB_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert datafiles.data_root() == tmp_path / "cache" / "cnnlib"


def test_missing_data_without_download_explains_env_var(tmp_path):
    with pytest.raises(datafiles.DataNotFoundError) as err:
        cnnlib.load_fashion_mnist(32, root=tmp_path, download=False)
    message = str(err.value)
    assert message.startswith("找不到 Fashion-MNIST 数据")
    assert "CNNLIB_DATA_DIR" in message and str(tmp_path) in message


def test_missing_data_with_failed_download_explains_env_var(no_network, tmp_path):
    with pytest.raises(datafiles.DataNotFoundError) as err:
        cnnlib.load_fashion_mnist(32, root=tmp_path)
    message = str(err.value)
    assert message.startswith("找不到 Fashion-MNIST 数据")
    assert "下载也失败了" in message and "CNNLIB_DATA_DIR" in message
    assert isinstance(err.value, FileNotFoundError)


def _loader(splits, seed=0, **kw):
    X, y = splits[True]
    return cnnlib.TensorLoader(X[:1000], y[:1000], batch_size=64, shuffle=True, seed=seed,
                               device="cpu", **kw)


def test_loader_is_deterministic_for_a_seed(splits):
    a = [yb for _, yb in _loader(splits, seed=3)]
    b = [yb for _, yb in _loader(splits, seed=3)]
    c = [yb for _, yb in _loader(splits, seed=4)]
    assert all(torch.equal(p, q) for p, q in zip(a, b))
    assert not all(torch.equal(p, q) for p, q in zip(a, c))


def test_each_epoch_is_a_new_permutation(splits):
    loader = _loader(splits)
    X, y = splits[True]
    first = torch.cat([yb for _, yb in loader])
    second = torch.cat([yb for _, yb in loader])
    assert not torch.equal(first, second)
    for epoch in (first, second):  # 每轮恰好把每个样本用一次
        assert torch.equal(epoch.sort().values, y[:1000].sort().values)


def test_batches_len_dtype_and_range(splits):
    loader = _loader(splits)
    batches = list(loader)
    assert len(loader) == len(batches) == 16  # 1000 / 64 向上取整
    assert [len(yb) for _, yb in batches][-1] == 1000 - 15 * 64
    X, y = batches[0]
    assert X.shape == (64, 1, 28, 28) and X.dtype == torch.float32
    assert 0.0 <= X.min() and X.max() <= 1.0 and X.max() > 0.5


def test_unshuffled_loader_keeps_order_and_pixels(splits):
    X, y = splits[False]
    loader = cnnlib.TensorLoader(X[:100], y[:100], batch_size=30, device="cpu")
    Xb, yb = next(iter(loader))
    assert torch.equal(yb, y[:30])
    assert torch.equal((Xb[:, 0] * 255).round().to(torch.uint8), X[:30])


def test_resize_interpolates_on_the_fly(splits):
    Xb, _ = next(iter(_loader(splits, resize=224)))
    assert Xb.shape == (64, 1, 224, 224)
    assert 0.0 <= Xb.min() and Xb.max() <= 1.0


def test_limit_gives_balanced_deterministic_subsets(data_dir):
    tr, te = cnnlib.load_fashion_mnist(100, root=data_dir, limit=1000, test_limit=205, device="cpu")
    assert tr.num_examples == 1000 and te.num_examples == 205
    assert torch.bincount(tr.labels, minlength=10).tolist() == [100] * 10
    counts = torch.bincount(te.labels, minlength=10)
    assert counts.max() - counts.min() <= 1
    tr2, _ = cnnlib.load_fashion_mnist(100, root=data_dir, limit=1000, test_limit=205, device="cpu")
    assert torch.equal(tr.images, tr2.images)
    assert tr.source == datafiles.SOURCE_MIRROR


def test_bad_arguments_are_explained(splits):
    X, y = splits[False]
    with pytest.raises(ValueError, match="batch_size"):
        cnnlib.TensorLoader(X, y, batch_size=0)
    with pytest.raises(ValueError, match="标签"):
        cnnlib.TensorLoader(X, y[:10], batch_size=8)


def test_text_labels(monkeypatch):
    monkeypatch.setattr(cnnlib.plot, "HAS_CJK", True)  # 默认语言取决于是否装了中文字体
    assert cnnlib.get_text_labels(torch.tensor([0, 9])) == ["T恤", "短靴"]
    monkeypatch.setattr(cnnlib.plot, "HAS_CJK", False)
    assert cnnlib.get_text_labels(torch.tensor([0, 9])) == ["t-shirt", "ankle boot"]
    assert cnnlib.get_text_labels([1, 8], lang="en") == ["trouser", "bag"]
    assert cnnlib.get_text_labels([1, 8], lang="zh") == ["裤子", "包"]


# ---- 损坏的数据文件：报错说明哪个文件、哪里不对、怎么修复；不删除、不覆盖、不下载 ----

def _raw(root):
    return root / "FashionMNIST" / "raw"


def _mirror_copy(data_dir, dest, copy=(), skip=()):
    """把镜像的原始文件放进 ``dest``：要改动的文件（copy）复制一份，其余用硬链接（快、不占空间）。

    只能改动复制出来的文件：硬链接与镜像是同一个文件，写它就等于写共享的镜像。
    """
    _raw(dest).mkdir(parents=True)
    for name in datafiles._RAW_FILES:
        src, dst = _raw(data_dir) / name, _raw(dest) / name
        if name in skip:
            continue
        if name in copy:
            shutil.copyfile(src, dst)
            continue
        try:
            os.link(src, dst)
        except OSError:  # 跨文件系统或没有权限时退回复制
            shutil.copyfile(src, dst)
    return dest


def _write_at(path, offset, data_bytes):
    assert path.stat().st_nlink == 1, "只改动复制出来的文件，不改动镜像（硬链接）"
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data_bytes)


def _snapshot(root):
    """目录下每个路径的类型、大小、修改时间与 sha256，用来确认什么都没有被改动。"""
    snap = {}
    for p in sorted(root.rglob("*")):
        st = p.stat()
        digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None
        snap[str(p.relative_to(root))] = (p.is_file(), st.st_size, st.st_mtime_ns, digest)
    return snap


@pytest.fixture
def download_calls(monkeypatch):
    """记录对 torchvision 下载的调用（仍然真的去调用；配合 no_network 就是离线下载）。"""
    calls = []
    real = datafiles._download

    def spy(root):
        calls.append(root)
        return real(root)

    monkeypatch.setattr(datafiles, "_download", spy)
    return calls


def _corrupt_error(root, **kw):
    with pytest.raises(datafiles.DataCorruptError) as err:
        cnnlib.load_fashion_mnist(32, root=root, limit=100, test_limit=100, device="cpu", **kw)
    message = str(err.value)
    assert message.startswith("Fashion-MNIST 数据文件已损坏")
    assert "删除或移走" in message and "CNNLIB_DATA_DIR" in message  # 说明怎么修复
    assert isinstance(err.value, ValueError)
    return message


def test_mirror_passes_verification(data_dir):
    assert datafiles.verify_fashion_mnist(data_dir) == data_dir
    assert cnnlib.data.read_fashion_mnist(False, root=data_dir, download=False)[0].shape == (10000, 28, 28)


def test_truncated_file_is_reported_not_downloaded_over(no_network, download_calls, data_dir, tmp_path):
    root = _mirror_copy(data_dir, tmp_path, copy=["t10k-images-idx3-ubyte"])
    path = _raw(root) / "t10k-images-idx3-ubyte"
    os.truncate(path, 1234)
    before = _snapshot(root)
    for verify in (True, False):  # 大小不对时 verify=False 也不放行
        message = _corrupt_error(root, verify=verify)
        assert str(path) in message
        assert "大小为 1,234 字节，应为 7,840,016 字节" in message and "截断" in message
    assert download_calls == []
    assert _snapshot(root) == before


def test_bad_header_is_reported(data_dir, tmp_path):
    root = _mirror_copy(data_dir, tmp_path, copy=["train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"])
    labels = _raw(root) / "train-labels-idx1-ubyte"
    _write_at(labels, 0, (2051).to_bytes(4, "big"))  # 图像文件的魔数
    message = _corrupt_error(root)
    assert str(labels) in message and "魔数（magic number）为 2051，应为 2049" in message

    shutil.copyfile(_raw(data_dir) / labels.name, labels)
    _write_at(_raw(root) / "t10k-labels-idx1-ubyte", 4, (9999).to_bytes(4, "big"))
    message = _corrupt_error(root)
    assert str(_raw(root) / "t10k-labels-idx1-ubyte") in message
    assert "各维大小为 (9999,)，应为 (10000,)" in message


def test_label_out_of_range_is_reported(data_dir, tmp_path):
    root = _mirror_copy(data_dir, tmp_path, copy=["t10k-labels-idx1-ubyte"])
    path = _raw(root) / "t10k-labels-idx1-ubyte"
    _write_at(path, 8 + 123, bytes([10]))
    for verify in (True, False):
        message = _corrupt_error(root, verify=verify)
        assert str(path) in message and "超出 0..9" in message and "第 123 个位置，值为 10" in message


def test_changed_pixel_fails_checksum_unless_verify_false(data_dir, tmp_path):
    root = _mirror_copy(data_dir, tmp_path, copy=["t10k-images-idx3-ubyte"])
    path = _raw(root) / "t10k-images-idx3-ubyte"
    offset = 16 + 5000 * 784 + 400  # 第 5000 张图像的第 400 个像素
    original = path.read_bytes()[offset]
    _write_at(path, offset, bytes([original ^ 0xFF]))
    message = _corrupt_error(root)
    assert str(path) in message and "sha256" in message and "verify=False" in message
    assert "离线镜像" in message and "官方版本" in message

    X, y = cnnlib.data.read_fashion_mnist(False, root=root, verify=False)
    assert X.view(10000, 784)[5000, 400] == original ^ 0xFF
    train_iter, test_iter = cnnlib.load_fashion_mnist(32, root=root, limit=100, test_limit=100,
                                                      device="cpu", verify=False)
    assert test_iter.num_examples == 100


def test_partial_directory_is_not_downloaded_over(no_network, download_calls, data_dir, tmp_path):
    root = _mirror_copy(data_dir, tmp_path, skip=["t10k-labels-idx1-ubyte"])
    before = _snapshot(root)
    for download in (True, False):
        with pytest.raises(datafiles.DataNotFoundError) as err:
            cnnlib.load_fashion_mnist(32, root=root, download=download)
        message = str(err.value)
        assert message.startswith("Fashion-MNIST 数据不完整")
        assert "t10k-labels-idx1-ubyte" in message and str(_raw(root)) in message
        assert "train-images-idx3-ubyte" not in message  # 只列出缺少的文件
        assert "删除或移走" in message and "下载也失败了" not in message
    assert download_calls == []
    assert _snapshot(root) == before


def test_verification_is_cached_per_file_version(monkeypatch, data_dir, tmp_path):
    root = _mirror_copy(data_dir, tmp_path, copy=["t10k-labels-idx1-ubyte"])
    hashed = []
    real = datafiles._hash_file
    monkeypatch.setattr(datafiles, "_hash_file", lambda path, *a: hashed.append(path.name) or real(path, *a))
    cnnlib.load_fashion_mnist(32, root=root, limit=100, test_limit=100, device="cpu")
    assert sorted(hashed) == sorted(datafiles._RAW_FILES)  # 每个文件只读一遍，data_source 也复用
    assert cnnlib.data_source(root) == datafiles.SOURCE_MIRROR
    datafiles.ensure_fashion_mnist(root)
    assert len(hashed) == 4
    path = _raw(root) / "t10k-labels-idx1-ubyte"  # 文件变了（修改时间不同）就重新计算
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
    datafiles.ensure_fashion_mnist(root)
    assert hashed[4:] == ["t10k-labels-idx1-ubyte"]


def test_loading_and_a_training_step_work_offline(no_network, monkeypatch, data_dir):
    monkeypatch.setenv("CNNLIB_DATA_DIR", str(data_dir))
    train_iter, _ = cnnlib.load_fashion_mnist(64, limit=256, test_limit=64, device="cpu")
    assert train_iter.source == datafiles.SOURCE_MIRROR
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    before = [p.detach().clone() for p in net.parameters()]
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    X, y = next(iter(train_iter))
    loss = nn.functional.cross_entropy(net(X), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    assert X.shape == (64, 1, 28, 28) and torch.isfinite(loss)
    assert all(not torch.equal(p, q) for p, q in zip(before, net.parameters()))


# ---- 官方下载的目录（原始文件 + torchvision 留下的 .gz）：用小的合成文件与替换过的表来模拟 ----

def test_torchvision_knows_the_official_archives():
    md5 = datafiles._official_gz_md5()
    assert sorted(md5) == sorted(name + ".gz" for name in datafiles._RAW_FILES)
    # shared/data/README.md：镜像的标签文件就是官方的，其 .gz 的 md5 正是这两个值
    assert md5["train-labels-idx1-ubyte.gz"] == "25c81989df183df01b3e8a0aad5dffbe"
    assert md5["t10k-labels-idx1-ubyte.gz"] == "bb300cfdad3c16e7a12a480ee83cd310"


@pytest.fixture
def official_like(tmp_path, monkeypatch):
    """每个划分只有几张图像的"官方下载"目录：原始文件，加上内容相同、md5 登记在案的 .gz。"""
    sizes = {"train": 20, "t10k": 10}
    headers, md5 = {}, {}
    g = torch.Generator().manual_seed(0)
    _raw(tmp_path).mkdir(parents=True)
    for split, n in sizes.items():
        images = torch.randint(0, 256, (n * 784,), generator=g, dtype=torch.uint8)
        labels = torch.arange(n, dtype=torch.uint8) % 10
        for name, magic, dims, body in (
                (f"{split}-images-idx3-ubyte", 2051, (n, 28, 28), images),
                (f"{split}-labels-idx1-ubyte", 2049, (n,), labels)):
            raw = b"".join(v.to_bytes(4, "big") for v in (magic, *dims)) + bytes(body.tolist())
            gz = gzip.compress(raw, mtime=0)
            (_raw(tmp_path) / name).write_bytes(raw)
            (_raw(tmp_path) / (name + ".gz")).write_bytes(gz)
            headers[name] = (magic, dims)
            md5[name + ".gz"] = hashlib.md5(gz).hexdigest()
    monkeypatch.setattr(datafiles, "_IDX_HEADERS", headers)
    monkeypatch.setattr(datafiles, "_official_gz_md5", lambda: md5)
    return tmp_path


def test_official_download_layout_passes(no_network, download_calls, official_like):
    X, y = cnnlib.data.read_fashion_mnist(True, root=official_like)
    raw = (_raw(official_like) / "train-images-idx3-ubyte").read_bytes()
    assert torch.equal(X.flatten(), torch.tensor(list(raw[16:]), dtype=torch.uint8))
    assert y.tolist() == [i % 10 for i in range(20)]
    assert cnnlib.data_source(official_like) == datafiles.SOURCE_OFFICIAL
    assert download_calls == []


def test_raw_file_must_match_its_archive(official_like):
    path = _raw(official_like) / "t10k-images-idx3-ubyte"
    _write_at(path, 100, b"\x00\xff")
    with pytest.raises(datafiles.DataCorruptError) as err:
        datafiles.ensure_fashion_mnist(official_like)
    assert str(path) in str(err.value) and "t10k-images-idx3-ubyte.gz" in str(err.value)
    assert datafiles.ensure_fashion_mnist(official_like, verify=False) == official_like


def test_archive_must_have_the_official_md5(official_like):
    gz = _raw(official_like) / "train-images-idx3-ubyte.gz"
    with open(gz, "ab") as f:
        f.write(b"\0")
    with pytest.raises(datafiles.DataCorruptError) as err:
        datafiles.ensure_fashion_mnist(official_like)
    assert str(gz) in str(err.value) and "md5" in str(err.value)


def test_raw_file_without_archive_is_unknown(official_like):
    (_raw(official_like) / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(datafiles.DataCorruptError) as err:
        datafiles.ensure_fashion_mnist(official_like)
    message = str(err.value)
    assert str(_raw(official_like) / "train-labels-idx1-ubyte") in message
    assert "既不是官方版本" in message and "verify=False" in message
    assert datafiles.ensure_fashion_mnist(official_like, verify=False) == official_like


def test_bad_leftover_archive_blocks_download(no_network, download_calls, official_like):
    for name in datafiles._RAW_FILES:  # 只剩上次下载留下的压缩包，其中一个不完整
        (_raw(official_like) / name).unlink()
    gz = _raw(official_like) / "t10k-images-idx3-ubyte.gz"
    os.truncate(gz, 100)
    before = _snapshot(official_like)
    with pytest.raises(datafiles.DataCorruptError) as err:
        datafiles.ensure_fashion_mnist(official_like)
    assert str(gz) in str(err.value) and "md5" in str(err.value)
    assert download_calls == []
    assert _snapshot(official_like) == before


def test_set_epoch_replays_an_epochs_order(splits):
    loader = _loader(splits)
    epochs = [torch.cat([yb for _, yb in loader]) for _ in range(3)]
    loader.set_epoch(1)                       # 续训：第 2 轮（从 0 数为 1）的顺序与原来相同
    assert torch.equal(torch.cat([yb for _, yb in loader]), epochs[1])
    assert loader.epoch == 2


# ---- 训练集的批量增广（cnnlib.Augment） ----

def _reference_augment(X, p, flip, generator):
    # 逐张图像的参照实现：填充 p 个零像素后按偏移裁剪，再按需左右翻转；随机数的取法与 Augment 相同
    B, _, H, W = X.shape
    shift = torch.randint(0, 2 * p + 1, (2, B), generator=generator)
    flips = torch.rand(B, generator=generator) < 0.5
    out = []
    for i in range(B):
        img = torch.nn.functional.pad(X[i], (p, p, p, p))[:, shift[0, i]:shift[0, i] + H, shift[1, i]:shift[1, i] + W]
        out.append(img.flip(-1) if flip and flips[i] else img)
    return torch.stack(out)


@pytest.mark.parametrize("p, flip", [(2, True), (4, False), (0, True)])
def test_augment_equals_per_image_crop_and_flip(splits, p, flip):
    X = splits[True][0][:32].unsqueeze(1).float() / 255
    out = cnnlib.Augment(crop_padding=p, flip=flip)(X, torch.Generator().manual_seed(5))
    ref = _reference_augment(X, p, flip, torch.Generator().manual_seed(5))
    assert out.shape == X.shape and torch.equal(out, ref)
    if p:   # 确实平移了：不是每张都与原图相同
        assert not torch.equal(out, X)


def test_augment_that_does_nothing_is_the_identity(splits):
    X = splits[True][0][:16].unsqueeze(1).float() / 255
    assert torch.equal(cnnlib.Augment(crop_padding=0, flip=False)(X, torch.Generator()), X)


def test_augmented_loader_is_deterministic_and_keeps_the_order(splits):
    aug = cnnlib.Augment(crop_padding=2)
    a, b, plain = _loader(splits, augment=aug), _loader(splits, augment=aug), _loader(splits)
    first_a, first_b, first_plain = list(a), list(b), list(plain)
    assert all(torch.equal(x1, x2) and torch.equal(y1, y2) for (x1, y1), (x2, y2) in zip(first_a, first_b))
    assert all(torch.equal(y1, y2) for (_, y1), (_, y2) in zip(first_a, first_plain))   # 打乱顺序不受增广影响
    assert not all(torch.equal(x1, x2) for (x1, _), (x2, _) in zip(first_a, first_plain))
    second = list(a)                              # 下一轮：新的增广
    assert not torch.equal(second[0][0], first_a[0][0])
    c = _loader(splits, augment=aug)
    c.set_epoch(1)                                # 续训从第 2 轮开始：与不中断时的第 2 轮完全相同
    assert all(torch.equal(x1, x2) for (x1, _), (x2, _) in zip(c, second))
    other_seed = list(_loader(splits, seed=1, augment=aug))
    assert not torch.equal(other_seed[0][0], first_a[0][0])


def test_augmentation_applies_to_the_training_split_only(data_dir):
    kw = dict(root=data_dir, limit=300, test_limit=200, device="cpu")
    train_aug, test_aug = cnnlib.load_fashion_mnist(100, augment=cnnlib.Augment(crop_padding=3), **kw)
    train_plain, test_plain = cnnlib.load_fashion_mnist(100, **kw)
    assert train_aug.augment is not None and test_aug.augment is None
    assert all(torch.equal(a[0], b[0]) for a, b in zip(test_aug, test_plain))
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(train_aug, train_plain))
    assert "augment=Augment(crop_padding=3, flip=True)" in repr(train_aug)


def test_augment_after_crop_then_resize(splits):
    X, y = splits[True]
    loader = cnnlib.TensorLoader(X[:64], y[:64], batch_size=64, resize=40, device="cpu",
                                 augment=cnnlib.Augment(crop_padding=2))
    (Xb, _), = list(loader)
    assert Xb.shape == (64, 1, 40, 40) and 0 <= Xb.min() and Xb.max() <= 1


def test_bad_augment_arguments_are_explained(splits):
    X, y = splits[True]
    with pytest.raises(ValueError, match="crop_padding 必须是非负整数"):
        cnnlib.Augment(crop_padding=-1)
    with pytest.raises(TypeError, match="augment 应是"):
        cnnlib.TensorLoader(X[:10], y[:10], batch_size=5, augment="flip")
