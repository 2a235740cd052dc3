"""训练循环：一个 ``train`` 函数，返回逐轮的历史记录。

设计要点：
- 损失与正确数在设备上累加，每轮只同步少数几次（刷新进度条、曲线和检查 NaN 时），
  GPU 不会因为每个批量都 ``.item()`` 而停下来等待；
- 第一行打印设备、预算、数据来源和"图像数 × 轮数"，最后一行打印总结；
- 损失变成 NaN/inf 时停止并提示调低学习率；按 Ctrl-C（KeyboardInterrupt）时干净地停下，
  模型保留已训练的权重，函数返回到目前为止的历史记录；
- 给出 ``checkpoint`` 路径时，每轮结束后原子地写入检查点（先写临时文件再改名）。
"""
import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from .budget import get_budget
from .device import best_device
from .plot import LivePlot, in_notebook, zh


@dataclass
class History:
    """逐轮记录的训练历史；各列表的第 i 项对应第 ``epoch[i]`` 轮。"""

    epoch: list = field(default_factory=list)
    train_loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    test_acc: list = field(default_factory=list)
    time: list = field(default_factory=list)              # 每轮耗时（秒，含评估）
    examples_per_sec: list = field(default_factory=list)  # 每轮训练吞吐（不含评估）
    interrupted: bool = False                              # 是否被 Ctrl-C 中断

    def __len__(self):
        return len(self.epoch)

    def as_dict(self):
        return asdict(self)


class TrainingDiverged(FloatingPointError):
    """损失变成了 NaN 或无穷大。``history`` 属性保存出错前的历史。"""

    def __init__(self, message, history):
        super().__init__(message)
        self.history = history


def init_xavier(net: nn.Module) -> nn.Module:
    """用 Xavier 均匀分布重新初始化所有全连接层和卷积层的权重（与 d2l 的 train_ch6 相同）。"""
    for m in net.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(m.weight)
    return net


def init_he(net: nn.Module) -> nn.Module:
    """用 He（Kaiming）正态分布重新初始化所有全连接层和卷积层的权重：标准差 sqrt(2 / fan_in)，
    为 ReLU 网络设计（He et al., 2015）。"""
    for m in net.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    return net


def accuracy(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """预测正确的样本数（仍在设备上的标量张量，不触发同步）。"""
    return (y_hat.argmax(dim=1) == y).sum()


@torch.no_grad()
def evaluate_accuracy(net: nn.Module, data_iter, device=None) -> float:
    """在 ``data_iter`` 上的分类准确率。"""
    if device is None:
        device = next(net.parameters()).device
    was_training = net.training
    net.eval()
    correct = torch.zeros((), device=device, dtype=torch.long)
    n = 0
    for X, y in data_iter:
        X, y = X.to(device, non_blocking=True), y.to(device, non_blocking=True)
        correct += accuracy(net(X), y)
        n += len(y)
    net.train(was_training)
    return correct.item() / max(n, 1)


def save_checkpoint(path, net, optimizer=None, history=None):
    """原子地保存检查点：先写同目录下的临时文件，再 ``os.replace``，中途断电也不会留下半个文件。"""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    state = {
        "model": net.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "history": history.as_dict() if history is not None else None,
    }
    fd, tmp = tempfile.mkstemp(prefix=".ckpt-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load_checkpoint(path, net, optimizer=None, map_location="cpu") -> History:
    """从检查点恢复模型（和优化器）的状态，返回其中保存的历史记录。"""
    state = torch.load(path, map_location=map_location, weights_only=True)
    net.load_state_dict(state["model"])
    if optimizer is not None and state.get("optimizer") is not None:
        optimizer.load_state_dict(state["optimizer"])
    return History(**state["history"]) if state.get("history") else History()


def _progress(total, enabled):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="batch", leave=True, dynamic_ncols=True)


def train(net, train_iter, test_iter, num_epochs, lr, device=None, optimizer=None, loss=None,
          budget=None, plot=None, progress=True, updates_per_epoch=4, min_redraw_seconds=2.0,
          checkpoint=None):
    """用小批量随机梯度下降训练分类模型，返回 :class:`History`。

    参数
    ----
    net : 待训练的模型，会被移动到 ``device`` 上并原地更新。
    train_iter, test_iter : 产生 ``(X, y)`` 的可迭代对象（如 :func:`cnnlib.load_fashion_mnist` 的返回值）。
    num_epochs, lr : 轮数与学习率。
    device : 默认 :func:`cnnlib.best_device`。
    optimizer : 默认 ``torch.optim.SGD(net.parameters(), lr)``。
    loss : 默认交叉熵 ``nn.CrossEntropyLoss()``（对批量取平均）。
    budget : 只用于在第一行打印；默认读取当前预算。
    plot : 是否画实时曲线；默认在笔记本里画、在脚本里不画。
    progress : 是否显示 tqdm 进度条（含预计剩余时间）。
    updates_per_epoch : 每轮刷新进度、记录曲线并检查 NaN 的次数（每次需要一次设备同步）。
    min_redraw_seconds : 轮内两次重画曲线之间至少间隔的秒数（每轮结束时总会重画）。
    checkpoint : 检查点路径；给出时每轮结束（以及被中断时）保存一次。
    """
    if num_epochs < 1:
        raise ValueError(f"轮数（num_epochs）必须 ≥ 1，得到 {num_epochs}")
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"学习率（lr）必须是正数，得到 {lr}")
    num_batches = len(train_iter)
    if num_batches == 0:
        raise ValueError("训练数据为空（train_iter 没有任何批量）")
    device = torch.device(device) if device is not None else best_device()
    budget = get_budget(budget)
    plot = in_notebook() if plot is None else plot
    net.to(device)
    optimizer = optimizer or torch.optim.SGD(net.parameters(), lr=lr)
    loss = loss or nn.CrossEntropyLoss()
    num_examples = getattr(train_iter, "num_examples", None)
    source = getattr(train_iter, "source", "?")
    images = f"{num_examples} 张图像" if num_examples is not None else f"{num_batches} 个批量"
    print(f"device={device} | budget={budget} | 数据：{source} | {images} × {num_epochs} 轮",
          flush=True)

    history = History()
    sync_every = max(1, num_batches // max(1, updates_per_epoch))
    live = LivePlot([zh("训练损失", "train loss"), zh("训练准确率", "train acc"),
                     zh("测试准确率", "test acc")], xlabel=zh("轮次", "epoch"),
                    xlim=(0, num_epochs), ylim=None) if plot else None
    bar = _progress(num_epochs * num_batches, progress)
    train_time, train_seen, start = 0.0, 0, time.perf_counter()
    last_draw = start
    epoch = 0
    try:
        for epoch in range(1, num_epochs + 1):
            if bar is not None:
                bar.set_description(f"epoch {epoch}/{num_epochs}")
            net.train()
            t0 = time.perf_counter()
            drawing = 0.0  # 画图耗时，不计入吞吐
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), device=device, dtype=torch.long)
            n = 0
            for i, (X, y) in enumerate(train_iter):
                X, y = X.to(device, non_blocking=True), y.to(device, non_blocking=True)
                y_hat = net(X)
                l = loss(y_hat, y)
                optimizer.zero_grad(set_to_none=True)
                l.backward()
                optimizer.step()
                with torch.no_grad():
                    loss_sum += l.detach() * len(y)
                    correct += accuracy(y_hat, y)
                n += len(y)
                if bar is not None:
                    bar.update(1)
                if (i + 1) % sync_every == 0 or i + 1 == num_batches:
                    cur_loss, cur_correct = loss_sum.item() / n, correct.item() / n
                    if not math.isfinite(cur_loss):
                        raise TrainingDiverged(
                            f"第 {epoch} 轮第 {i + 1} 个批量时损失变成了 {cur_loss}（loss is not finite）："
                            f"学习率 lr={lr} 可能太大，请调低学习率后重新初始化模型再训练。",
                            history)
                    if bar is not None:
                        bar.set_postfix(loss=f"{cur_loss:.3f}", acc=f"{cur_correct:.3f}", refresh=False)
                    if live is not None:
                        live.add(epoch - 1 + (i + 1) / num_batches, (cur_loss, cur_correct, None))
                        if i + 1 < num_batches and time.perf_counter() - last_draw >= min_redraw_seconds:
                            t_draw = time.perf_counter()
                            live.draw()
                            last_draw = time.perf_counter()
                            drawing += last_draw - t_draw
            epoch_train_time = time.perf_counter() - t0 - drawing
            test_acc = evaluate_accuracy(net, test_iter, device)
            train_time += epoch_train_time
            train_seen += n
            history.epoch.append(epoch)
            history.train_loss.append(cur_loss)
            history.train_acc.append(cur_correct)
            history.test_acc.append(test_acc)
            history.time.append(time.perf_counter() - t0)
            history.examples_per_sec.append(n / epoch_train_time)
            if live is not None:
                live.add(epoch, (None, None, test_acc))
                live.draw()
            if checkpoint is not None:
                save_checkpoint(checkpoint, net, optimizer, history)
    except KeyboardInterrupt:
        history.interrupted = True
        if checkpoint is not None:
            save_checkpoint(checkpoint, net, optimizer, history)
        print(f"\n训练在第 {epoch} 轮被中断（KeyboardInterrupt）：模型保留当前权重，"
              f"返回已完成的 {len(history)} 轮历史。", flush=True)
    finally:
        if bar is not None:
            bar.close()
    if len(history):
        speed = train_seen / train_time if train_time > 0 else float("nan")
        print(f"训练损失 loss {history.train_loss[-1]:.3f}, 训练准确率 train acc "
              f"{history.train_acc[-1]:.3f}, 测试准确率 test acc {history.test_acc[-1]:.3f}")
        print(f"{speed:,.1f} 张/秒 (examples/sec) on {device}，共 {time.perf_counter() - start:.1f} 秒")
    return history
