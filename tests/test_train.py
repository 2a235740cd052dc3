import math
import os

import pytest
import torch
from torch import nn

import cnnlib
from cnnlib import device as device_mod
from cnnlib.training import _is_channels_last, _progress


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
    precision = "bf16" if cnnlib.device.cpu_has_native_bf16() else "fp32"
    assert out[:2] == [f"device=cpu | precision={precision} | channels_last | budget=small",
                       "数据：Fashion-MNIST 离线镜像（非官方划分） | 4000 张图像 × 2 轮"]
    assert (history.device, history.precision, history.memory_format) == ("cpu", precision, "channels_last")
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

    def set_epoch(self, epoch):
        self.loader.set_epoch(epoch)

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
    ckpt = tmp_path / "run" / "ckpt.pt"
    history = cnnlib.train(net, InterruptAfter(train_iter, len(train_iter) + 5), test_iter, num_epochs=3,
                           lr=0.1, device="cpu", progress=False, plot=False, checkpoint=ckpt)
    out = capsys.readouterr().out
    assert "KeyboardInterrupt" in out and "resume=True" in out
    assert history.interrupted and history.epoch == [1]
    # 检查点保存第 1 轮结束时的状态；内存里的模型还多训练了第 2 轮的 4 个批量
    at_epoch_1 = small_cnn()
    saved = cnnlib.checkpoint.load_checkpoint(ckpt, at_epoch_1)
    assert saved.epoch == [1] and not saved.interrupted
    assert saved.test_acc == history.test_acc
    assert any(not torch.equal(a, b) for a, b in zip(at_epoch_1.parameters(), net.parameters()))


def dropout_cnn():
    # 带丢弃层：续训要精确复现，必须恢复随机数发生器的状态
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Dropout(0.3), nn.Linear(8 * 14 * 14, 10))


@pytest.fixture(scope="module")
def tiny(data_dir):
    return lambda **kw: cnnlib.load_fashion_mnist(100, root=data_dir, limit=1000, test_limit=300,
                                                  device="cpu", seed=1, **kw)


@pytest.mark.parametrize("precision, augment, lr", [("fp32", False, 0.1), ("auto", False, 0.1),
                                                  ("fp32", True, 0.1), ("fp32", False, cnnlib.cosine_lr(0.2, 0.1))])
def test_resume_after_interruption_reproduces_the_uninterrupted_run(tiny, tmp_path, precision, augment, lr, capsys):
    # 学习率曲线只取决于训练进度：续训时从检查点的轮次接着算，结果与不中断时逐位相同
    kw = dict(num_epochs=3, lr=lr, device="cpu", progress=False, plot=False, precision=precision)
    data = (lambda: tiny(augment=cnnlib.Augment(crop_padding=2))) if augment else tiny   # 增广也要精确复现
    torch.manual_seed(0)
    full_net = dropout_cnn()
    full = cnnlib.train(full_net, *data(), checkpoint=tmp_path / "full.pt", **kw)

    torch.manual_seed(0)
    train_iter, test_iter = data()
    ckpt = tmp_path / "resumed.pt"
    first = cnnlib.train(dropout_cnn(), InterruptAfter(train_iter, len(train_iter) + 3), test_iter,
                         checkpoint=ckpt, **kw)
    assert first.interrupted and len(first) == 1

    torch.manual_seed(123)             # 新的进程、不同的初始化、新的加载器：全部由检查点恢复
    net = dropout_cnn()
    capsys.readouterr()
    resumed = cnnlib.train(net, *data(), checkpoint=ckpt, resume=True, **kw)
    assert "从检查点的第 1 轮之后继续" in capsys.readouterr().out.splitlines()[1]
    assert resumed.epoch == [1, 2, 3] and not resumed.interrupted
    for key in ("train_loss", "train_acc", "test_acc"):
        assert getattr(resumed, key) == getattr(full, key), key
    for a, b in zip(net.parameters(), full_net.parameters()):
        assert torch.equal(a, b)

    # 已经训练完：再次 resume 什么也不做
    again = cnnlib.train(dropout_cnn(), *tiny(), checkpoint=ckpt, resume=True, **kw)
    assert again.epoch == [1, 2, 3] and "无需继续训练" in capsys.readouterr().out


def test_resume_requires_a_checkpoint_path(loaders):
    with pytest.raises(ValueError, match="checkpoint"):
        cnnlib.train(small_cnn(), *loaders, num_epochs=1, lr=0.1, resume=True, progress=False, plot=False)


def run_smoke(tiny, torch_seed, loader_seed):
    torch.manual_seed(torch_seed)
    train_iter, test_iter = tiny()
    train_iter.seed = loader_seed
    return cnnlib.train(dropout_cnn(), train_iter, test_iter, num_epochs=2, lr=0.1, device="cpu",
                        progress=False, plot=False)


def test_same_seed_same_metrics_different_seed_different_run(tiny):
    a, b = run_smoke(tiny, 0, 1), run_smoke(tiny, 0, 1)
    assert (a.train_loss, a.train_acc, a.test_acc) == (b.train_loss, b.train_acc, b.test_acc)
    c = run_smoke(tiny, 0, 2)                 # 只换打乱顺序的种子
    assert c.train_loss != a.train_loss


def test_checkpoint_of_another_architecture_names_the_keys(tmp_path):
    path = tmp_path / "lenet.pt"
    cnnlib.save_checkpoint(path, cnnlib.models.lenet())
    with pytest.raises(cnnlib.CheckpointMismatchError) as err:
        cnnlib.checkpoint.load_checkpoint(path, cnnlib.models.alexnet(input_size=112))
    message = str(err.value)
    assert message.startswith(f"检查点 {path} 与模型的结构不一致")
    assert "LeNet" in message and "AlexNet" in message
    assert "size mismatch" in message and "0.weight" in message       # 两者第 0 层形状不同
    assert "unexpected keys" in message or "missing keys" in message
    with pytest.raises(cnnlib.CheckpointMismatchError, match="missing keys"):
        cnnlib.checkpoint.load_checkpoint(path, nn.Sequential(*cnnlib.models.lenet(), nn.Linear(10, 2)))


def test_unreadable_checkpoint_is_explained(tmp_path):
    path = tmp_path / "broken.pt"
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="无法读取检查点"):
        cnnlib.checkpoint.load_checkpoint(path, small_cnn())


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


# ---------------------------------------------------------------------------
# 精度与内存布局
# ---------------------------------------------------------------------------


def test_auto_precision_follows_the_hardware(monkeypatch):
    monkeypatch.setattr(device_mod, "cpu_has_native_bf16", lambda: True)
    assert cnnlib.resolve_precision("auto", "cpu") == "bf16"
    monkeypatch.setattr(device_mod, "cpu_has_native_bf16", lambda: False)
    assert cnnlib.resolve_precision("auto", "cpu") == "fp32"         # 多数笔记本电脑
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)
    assert cnnlib.resolve_precision("auto", "cuda") == "bf16"        # A100、H100……
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: False)
    assert cnnlib.resolve_precision("auto", "cuda") == "fp16"        # Colab 的 T4
    assert cnnlib.resolve_precision("auto", "mps") == "fp32"
    assert cnnlib.resolve_precision(" FP32 ", "cuda") == "fp32"
    with pytest.raises(ValueError, match="precision.*auto, fp32, bf16, fp16"):
        cnnlib.resolve_precision("half", "cpu")


def test_precision_switch_from_the_environment(tiny, monkeypatch):
    # CNNLIB_PRECISION：不改代码就能在有 bf16 的机器上复现笔记本电脑的 fp32 运行；显式参数优先
    monkeypatch.setattr(device_mod, "cpu_has_native_bf16", lambda: True)
    monkeypatch.delenv("CNNLIB_PRECISION", raising=False)
    assert cnnlib.resolve_precision(device="cpu") == "bf16"
    monkeypatch.setenv("CNNLIB_PRECISION", " FP32 ")
    assert cnnlib.resolve_precision(device="cpu") == "fp32"
    assert cnnlib.resolve_precision("bf16", "cpu") == "bf16" and cnnlib.resolve_precision("auto", "cpu") == "bf16"
    h = cnnlib.train(small_cnn(), *tiny(), num_epochs=1, lr=0.1, device="cpu", progress=False, plot=False)
    assert (h.precision, h.memory_format) == ("fp32", "contiguous")   # 与 precision="fp32" 相同
    h = cnnlib.train(small_cnn(), *tiny(), num_epochs=1, lr=0.1, device="cpu", progress=False, plot=False,
                     precision="bf16")
    assert (h.precision, h.memory_format) == ("bf16", "channels_last")
    monkeypatch.setenv("CNNLIB_PRECISION", "fp64")
    with pytest.raises(ValueError, match="CNNLIB_PRECISION.*auto, fp32, bf16, fp16"):
        cnnlib.train(small_cnn(), *tiny(), num_epochs=1, lr=0.1, device="cpu", progress=False, plot=False)
    with pytest.raises(ValueError, match="CNNLIB_PRECISION"):
        cnnlib.evaluate_accuracy(small_cnn(), tiny()[1], device="cpu")


def test_cpu_bf16_detection_agrees_with_the_cpu_flags():
    flags = open("/proc/cpuinfo", encoding="utf-8").read() if os.path.exists("/proc/cpuinfo") else ""
    if not flags:
        pytest.skip("没有 /proc/cpuinfo")
    assert cnnlib.device.cpu_has_native_bf16() == (" avx512_bf16" in flags or " amx_bf16" in flags)


class Recorder(nn.Module):
    """记录前向时是否处于训练模式、第一个卷积输出的数据类型和内存布局。"""

    def __init__(self):
        super().__init__()
        self.net = small_cnn()
        self.seen = set()

    def forward(self, x):
        h = self.net[0](x)
        self.seen.add((self.training, h.dtype, h.is_contiguous(memory_format=torch.channels_last)
                       and not h.is_contiguous()))
        return self.net[1:](h)


@pytest.mark.parametrize("precision, dtype, cl", [("bf16", torch.bfloat16, True),
                                                   ("fp32", torch.float32, False)])
def test_training_and_evaluation_share_precision_and_layout(tiny, precision, dtype, cl):
    net = Recorder()
    h = cnnlib.train(net, *tiny(), num_epochs=1, lr=0.1, device="cpu", progress=False, plot=False,
                     precision=precision)
    assert net.seen == {(True, dtype, cl), (False, dtype, cl)}     # 训练和评估都一样
    assert (h.precision, h.memory_format) == (precision, "channels_last" if cl else "contiguous")
    w = net.net[4].weight                                           # 全连接层不受影响
    assert w.is_contiguous()
    assert net.net[0].weight.dtype == torch.float32                 # 主权重始终是 fp32


def test_fp16_uses_a_gradient_scaler_and_saves_it(tiny, tmp_path):
    ckpt = tmp_path / "fp16.pt"
    torch.manual_seed(0)
    h = cnnlib.train(small_cnn(), *tiny(), num_epochs=2, lr=0.1, device="cpu", progress=False,
                     plot=False, precision="fp16", checkpoint=ckpt)
    assert h.precision == "fp16" and all(math.isfinite(v) for v in h.train_loss)
    assert h.test_acc[-1] > 0.3
    state = torch.load(ckpt, weights_only=True)
    assert state["scaler"] and state["scaler"]["scale"] > 0


def test_host_syncs_only_at_progress_updates(tiny, monkeypatch):
    # GPU 上每次把数值取回主机（.item()、.tolist()）都要等设备算完：每轮只允许 updates_per_epoch 次
    # （损失、正确数、样本数一次取回）+ 评估的 1 次
    calls = {"n": 0}
    item, tolist = torch.Tensor.item, torch.Tensor.tolist

    def counting(original):
        def wrapper(self):
            calls["n"] += 1
            return original(self)
        return wrapper

    monkeypatch.setattr(torch.Tensor, "item", counting(item))
    monkeypatch.setattr(torch.Tensor, "tolist", counting(tolist))
    train_iter, test_iter = tiny()
    assert len(train_iter) == 10
    cnnlib.train(small_cnn(), train_iter, test_iter, num_epochs=2, lr=0.1, device="cpu",
                 progress=False, plot=False, updates_per_epoch=2)
    assert calls["n"] == 2 * (2 * 1 + 1)


def test_compiled_model_trains_and_checkpoints_plain_names(tiny, tmp_path):
    # backend="eager" 只检验接线（编译后的模块用于前向，检查点存原模块），不花时间真正编译
    ckpt = tmp_path / "compiled.pt"
    net = small_cnn()
    h = cnnlib.train(net, *tiny(), num_epochs=1, lr=0.1, device="cpu", progress=False, plot=False,
                     compile={"backend": "eager"}, checkpoint=ckpt)
    assert math.isfinite(h.train_loss[0])
    keys = torch.load(ckpt, weights_only=True)["model"].keys()
    assert set(keys) == set(net.state_dict().keys()) and not any("_orig_mod" in k for k in keys)


def test_evaluate_accuracy_follows_the_models_layout(tiny):
    _, test_iter = tiny()
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Conv2d(4, 8, 3), nn.Flatten(), nn.Linear(8 * 24 * 24, 10))
    fp32 = cnnlib.evaluate_accuracy(net, test_iter, precision="fp32")
    net.to(memory_format=torch.channels_last)
    assert _is_channels_last(net)
    assert cnnlib.evaluate_accuracy(net, test_iter, precision="fp32") == pytest.approx(fp32, abs=1 / 300)


def test_text_progress_bar_for_book_builds(tiny, monkeypatch, capsys):
    # 交互使用时是 tqdm.auto（笔记本里为小部件）；CNNLIB_PROGRESS=text 时是纯文本进度条
    import tqdm.auto
    import tqdm.std

    class Widget(tqdm.std.tqdm):
        pass

    monkeypatch.setattr(tqdm.auto, "tqdm", Widget)
    monkeypatch.delenv("CNNLIB_PROGRESS", raising=False)
    bar = _progress(10, True)
    assert type(bar) is Widget
    bar.close()
    monkeypatch.setenv("CNNLIB_PROGRESS", "text")
    bar = _progress(10, True)
    assert type(bar) is tqdm.std.tqdm
    bar.close()
    capsys.readouterr()
    cnnlib.train(small_cnn(), *tiny(), num_epochs=1, lr=0.1, device="cpu", plot=False)
    err = capsys.readouterr().err
    assert "epoch 1/1" in err and "100%" in err and "10/10" in err


def test_training_appends_a_record_when_asked(tiny, tmp_path, monkeypatch):
    # make results 通过 CNNLIB_RECORD 为每个笔记本留下机器可读的训练记录
    import json
    record = tmp_path / "runs.jsonl"
    monkeypatch.setenv("CNNLIB_RECORD", str(record))
    h1 = cnnlib.train(small_cnn(), *tiny(), num_epochs=1, lr=0.1, device="cpu", progress=False, plot=False)
    h2 = cnnlib.train(small_cnn(), *tiny(), num_epochs=2, lr=0.1, device="cpu", progress=False, plot=False,
                      precision="fp32")
    rows = [json.loads(line) for line in record.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 2
    assert rows[0]["final"]["test_acc"] == round(h1.test_acc[-1], 4) and rows[0]["epochs"] == 1
    assert rows[1]["precision"] == "fp32" and rows[1]["completed_epochs"] == 2
    assert rows[1]["final"]["train_loss"] == round(h2.train_loss[-1], 4)
    assert rows[0]["params"] == sum(p.numel() for p in small_cnn().parameters())
    assert rows[0]["budget"] in ("small", "smoke", "full") and rows[0]["device"] == "cpu"
    # 模型对比表要用的：输入形状、每张图像的 FLOPs、批量大小和学习率
    assert rows[0]["input_shape"] == [1, 28, 28] and rows[0]["batch_size"] == 100 and rows[0]["lr"] == 0.1
    conv, fc = 2 * 8 * 28 * 28 * 9, 2 * 8 * 14 * 14 * 10     # 乘、加各算一次
    assert rows[0]["flops_per_image"] == rows[1]["flops_per_image"] == conv + fc
    monkeypatch.delenv("CNNLIB_RECORD")
    cnnlib.train(small_cnn(), *tiny(), num_epochs=1, lr=0.1, device="cpu", progress=False, plot=False)
    assert len(record.read_text(encoding="utf-8").splitlines()) == 2      # 不设置就不写


def test_cosine_lr_warms_up_then_decays_to_zero():
    sched = cnnlib.cosine_lr(0.2, warmup=0.1)
    assert sched(0.0) == 0 and sched(0.05) == pytest.approx(0.1) and sched(0.1) == pytest.approx(0.2)
    assert sched(0.55) == pytest.approx(0.1) and sched(1.0) == pytest.approx(0.0, abs=1e-12)
    values = [sched(t / 100) for t in range(10, 101)]
    assert all(a >= b for a, b in zip(values, values[1:]))          # 预热之后单调下降
    assert repr(sched) == "cosine_lr(peak=0.2, warmup=0.1)"
    with pytest.raises(ValueError, match="cosine_lr"):
        cnnlib.cosine_lr(0.1, warmup=1.0)


def test_callable_lr_sets_every_batch_and_is_recorded(loaders):
    seen = []

    class Spy(torch.optim.SGD):
        def step(self, closure=None):
            seen.append(self.param_groups[0]["lr"])
            return super().step(closure)

    net = small_cnn()
    sched = cnnlib.cosine_lr(0.1)
    h = cnnlib.train(net, *loaders, num_epochs=2, lr=sched, device="cpu", progress=False, plot=False,
                     optimizer=Spy(net.parameters(), lr=1.0))
    n = 2 * len(loaders[0])
    assert seen == pytest.approx([sched((i + 0.5) / n) for i in range(n)])   # 每个批量取中点处的值
    assert h.test_acc[-1] > 0.6


def test_callable_lr_keeps_each_param_groups_multiple(loaders):
    """微调时输出层的学习率是主干的 10 倍：按计划变化时，每个批量仍是 10 倍。"""
    seen = []

    class Spy(torch.optim.SGD):
        def step(self, closure=None):
            seen.append([g["lr"] for g in self.param_groups])
            return super().step(closure)

    net = small_cnn()
    head = cnnlib.transfer.get_head(net)[1]
    sched = cnnlib.cosine_lr(0.05, warmup=0.2)
    cnnlib.train(net, *loaders, num_epochs=1, lr=sched, device="cpu", progress=False, plot=False,
                 optimizer=Spy(cnnlib.transfer.param_groups(net, head, lr=0.05, head_lr_mult=10), lr=0.05))
    n = len(loaders[0])
    assert [body for body, _ in seen] == pytest.approx([sched((i + 0.5) / n) for i in range(n)])
    assert all(top == pytest.approx(10 * body) for body, top in seen)
