import os

import pytest
import torch
from torch import nn

import cnnlib


def small_cnn():
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(8 * 14 * 14, 10))


@pytest.fixture(scope="module")
def loaders(data_dir):
    return cnnlib.load_fashion_mnist(128, root=data_dir, limit=4000, test_limit=1000, device="cpu")


def test_training_beats_chance_by_a_wide_margin(loaders, capsys):
    torch.manual_seed(0)
    net = small_cnn()
    history = cnnlib.train(net, *loaders, num_epochs=2, lr=0.1, device="cpu", budget="small",
                           progress=False, plot=False)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "device=cpu | budget=small | 数据：Fashion-MNIST 离线镜像（非官方划分） | 4000 张图像 × 2 轮"
    assert "测试准确率 test acc" in out[-2] and "examples/sec" in out[-1]
    assert history.epoch == [1, 2] and not history.interrupted
    assert history.train_loss[1] < history.train_loss[0]
    assert history.test_acc[-1] > 0.6  # 随机猜测为 0.1
    assert history.test_acc[-1] == pytest.approx(cnnlib.evaluate_accuracy(net, loaders[1]))
    assert all(v > 0 for v in history.examples_per_sec + history.time)


def test_diverging_loss_stops_with_a_hint(loaders):
    calls = {"n": 0}

    def loss(y_hat, y):
        calls["n"] += 1
        l = nn.functional.cross_entropy(y_hat, y)
        return l * float("nan") if calls["n"] >= 3 else l

    with pytest.raises(cnnlib.TrainingDiverged) as err:
        cnnlib.train(small_cnn(), *loaders, num_epochs=2, lr=0.1, device="cpu", loss=loss,
                     progress=False, plot=False, updates_per_epoch=100)
    assert "学习率" in str(err.value) and "lr=0.1" in str(err.value)
    assert len(err.value.history) == 0 and calls["n"] == 3


class InterruptAfter:
    """包装一个加载器：在第 ``stop`` 个批量（从 1 数起、跨轮累计）时模拟 Ctrl-C。"""

    def __init__(self, loader, stop):
        self.loader, self.stop, self.seen = loader, stop, 0

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        for batch in self.loader:
            self.seen += 1
            if self.seen == self.stop:
                raise KeyboardInterrupt
            yield batch


def test_keyboard_interrupt_keeps_weights_history_and_checkpoint(loaders, tmp_path, capsys):
    train_iter, test_iter = loaders
    torch.manual_seed(0)
    net = small_cnn()
    before = [p.detach().clone() for p in net.parameters()]
    ckpt = tmp_path / "run" / "ckpt.pt"
    history = cnnlib.train(net, InterruptAfter(train_iter, len(train_iter) + 5), test_iter, num_epochs=3,
                           lr=0.1, device="cpu", progress=False, plot=False, checkpoint=ckpt)
    assert "KeyboardInterrupt" in capsys.readouterr().out
    assert history.interrupted and history.epoch == [1]
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters()))
    restored = small_cnn()
    saved = cnnlib.load_checkpoint(ckpt, restored)
    assert saved.epoch == [1] and saved.interrupted
    for a, b in zip(restored.parameters(), net.parameters()):
        assert torch.equal(a, b)


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    net = small_cnn()
    path = tmp_path / "ckpt.pt"
    cnnlib.save_checkpoint(path, net)
    good = path.read_bytes()

    def broken_save(obj, f, *args, **kwargs):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        cnnlib.save_checkpoint(path, net)
    assert path.read_bytes() == good
    assert os.listdir(tmp_path) == ["ckpt.pt"]  # 临时文件已清理


def test_bad_arguments_are_rejected(loaders):
    with pytest.raises(ValueError, match="num_epochs"):
        cnnlib.train(small_cnn(), *loaders, num_epochs=0, lr=0.1, progress=False, plot=False)
    with pytest.raises(ValueError, match="lr"):
        cnnlib.train(small_cnn(), *loaders, num_epochs=1, lr=-1, progress=False, plot=False)


def test_init_xavier_reinitialises_weights():
    torch.manual_seed(0)
    net = small_cnn()
    w = net[0].weight.detach().clone()
    cnnlib.init_xavier(net)
    assert not torch.equal(w, net[0].weight)
    bound = (6 / (1 * 9 + 8 * 9)) ** 0.5
    assert net[0].weight.abs().max() <= bound


def test_init_he_matches_relu_gain():
    # 标准差应为 sqrt(2 / fan_in)；用一个大层让样本标准差足够准
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(64, 256, 3), nn.ReLU(), nn.Linear(1000, 500))
    assert cnnlib.init_he(net) is net
    for layer, fan_in in ((net[0], 64 * 9), (net[2], 1000)):
        std = layer.weight.std().item()
        assert abs(std - (2 / fan_in) ** 0.5) < 0.02 * (2 / fan_in) ** 0.5
