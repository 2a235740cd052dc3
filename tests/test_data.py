import pytest
import torch

import cnnlib
from cnnlib import data


@pytest.fixture(scope="module")
def splits(data_dir):
    return {train: cnnlib.read_fashion_mnist(train, root=data_dir, download=False)
            for train in (True, False)}


def test_reads_offline_data_without_network(no_network, data_dir, monkeypatch):
    monkeypatch.setenv("CNNLIB_DATA_DIR", str(data_dir))
    X, y = cnnlib.read_fashion_mnist(train=False)  # 数据目录取自环境变量
    assert X.shape == (10000, 28, 28) and X.dtype == torch.uint8
    assert y.shape == (10000,) and y.dtype == torch.int64
    assert torch.bincount(y).tolist() == [1000] * 10


def test_split_sizes(splits):
    X, y = splits[True]
    assert X.shape == (60000, 28, 28)
    assert torch.bincount(y).tolist() == [6000] * 10


def test_data_source_names_the_offline_mirror(data_dir, tmp_path):
    assert cnnlib.data_source(data_dir) == data.SOURCE_MIRROR
    assert "非官方划分" in data.SOURCE_MIRROR
    assert cnnlib.data_source(tmp_path) == data.SOURCE_OFFICIAL


def test_root_resolution(monkeypatch, tmp_path):
    monkeypatch.setenv("CNNLIB_DATA_DIR", str(tmp_path / "env"))
    assert cnnlib.data_root() == tmp_path / "env"
    assert cnnlib.data_root(tmp_path / "arg") == tmp_path / "arg"
    monkeypatch.delenv("CNNLIB_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert cnnlib.data_root() == tmp_path / "cache" / "cnnlib"


def test_missing_data_without_download_explains_env_var(tmp_path):
    with pytest.raises(cnnlib.DataNotFoundError) as err:
        cnnlib.load_fashion_mnist(32, root=tmp_path, download=False)
    message = str(err.value)
    assert message.startswith("找不到 Fashion-MNIST 数据")
    assert "CNNLIB_DATA_DIR" in message and str(tmp_path) in message


def test_missing_data_with_failed_download_explains_env_var(no_network, tmp_path):
    with pytest.raises(cnnlib.DataNotFoundError) as err:
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
    assert tr.source == data.SOURCE_MIRROR


def test_bad_arguments_are_explained(splits):
    X, y = splits[False]
    with pytest.raises(ValueError, match="batch_size"):
        cnnlib.TensorLoader(X, y, batch_size=0)
    with pytest.raises(ValueError, match="标签"):
        cnnlib.TensorLoader(X, y[:10], batch_size=8)


def test_text_labels():
    assert cnnlib.get_text_labels(torch.tensor([0, 9])) == ["T恤", "短靴"]
    assert cnnlib.get_text_labels([1, 8], lang="en") == ["trouser", "bag"]
