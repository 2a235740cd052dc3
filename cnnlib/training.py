"""训练循环：一个 ``train`` 函数，返回逐轮的历史记录 :class:`History`。

:func:`train` 的主体是一个短循环，每一步是一个有名字的函数：:func:`_setup`（设备、数值精度、内存布局）
与 :func:`_wrap`（DistributedDataParallel、``torch.compile``）→ 每一轮 :func:`_train_epoch`、
:func:`evaluate_accuracy`、:func:`cnnlib.checkpoint.save_checkpoint` → :func:`_report`（总结）。

- 数据整块驻留在设备上（见 :mod:`cnnlib.data`）；损失与正确数在设备上累加，每轮只同步少数几次
  （刷新进度条、曲线和检查 NaN 时，见 :class:`_Monitor`），GPU 不会因为每个批量都 ``.item()`` 而停下来等待；
- 数值精度默认按设备自动选择（``"auto"``；环境变量 ``CNNLIB_PRECISION`` 可改，见 :mod:`cnnlib.device`），卷积网络改用
  channels_last 内存布局，评估与训练用同样的设置；``precision="fp32"`` 全部关闭；
- 第一行打印设备、精度、内存布局、预算、数据来源和"图像数 × 轮数"，最后打印总结；损失变成 NaN/inf 时
  停止并提示调低学习率；按 Ctrl-C 时干净地停下，模型保留已训练的权重，返回已有的历史；
- 给出 ``checkpoint`` 时每轮结束后写入检查点，``resume=True`` 从最后完成的一轮继续，结果与不中断时相同；
- 由 ``torchrun`` 启动时用 ``DistributedDataParallel``：各进程训练自己那一份数据（``TensorLoader.shard``），
  指标在进程间求和，只有 0 号进程打印、画图和写检查点。
"""
import math
import os
import time
from dataclasses import asdict, dataclass, field, fields

import torch
from torch import nn

from .budget import get_budget
from .checkpoint import load_checkpoint, save_checkpoint
from .device import autocast, best_device, check_precision, resolve_precision
from .plot import LivePlot, in_notebook, zh

# 设置了这个环境变量时，每次训练结束都把结果追加到它指向的文件（make results 用，见 cnnlib.results.record_run）
RECORD_ENV = "CNNLIB_RECORD"


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
    device: str = ""                                       # 以下三项记录训练时的设置
    precision: str = ""
    memory_format: str = ""

    def __len__(self):
        return len(self.epoch)

    def append(self, *values):
        """追加一轮：epoch, train_loss, train_acc, test_acc, time, examples_per_sec（与上面各列表同序）。"""
        for name, value in zip(("epoch", "train_loss", "train_acc", "test_acc", "time", "examples_per_sec"), values):
            getattr(self, name).append(value)

    def as_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


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


class cosine_lr:
    """余弦学习率，作为 ``train(..., lr=cnnlib.cosine_lr(0.1))`` 的 ``lr``：前 ``warmup`` 比例的批量里从接近 0
    线性升到 ``peak``（预热），然后按余弦曲线降到接近 0。调用 ``cosine_lr(peak)(t)`` 得到训练进度
    ``t``（0 到 1，已训练批量占全部批量的比例）处的学习率。"""

    def __init__(self, peak: float, warmup: float = 0.0):
        if not (peak > 0 and math.isfinite(peak) and 0 <= warmup < 1):
            raise ValueError(f"cosine_lr 需要 peak > 0、0 ≤ warmup < 1，得到 peak={peak}、warmup={warmup}")
        self.peak, self.warmup = peak, warmup

    def __call__(self, t: float) -> float:
        if t < self.warmup:
            return self.peak * t / self.warmup
        return self.peak * (1 + math.cos(math.pi * (t - self.warmup) / (1 - self.warmup))) / 2

    def __repr__(self):
        return f"cosine_lr(peak={self.peak}, warmup={self.warmup})"


def num_correct(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """预测正确的样本数（仍在设备上的标量张量，不触发同步）。"""
    return (y_hat.argmax(dim=1) == y).sum()


def _has_conv(net: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in net.modules())


def _is_channels_last(net: nn.Module) -> bool:
    # 单通道的卷积核两种布局的步幅一样：找第一个能分辨两种布局的卷积核
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            w = m.weight
            cl = w.is_contiguous(memory_format=torch.channels_last)
            if cl != w.is_contiguous():
                return cl
    return False


def _prepare(X, device, channels_last):
    X = X.to(device, non_blocking=True)
    if channels_last and X.dim() == 4:
        X = X.contiguous(memory_format=torch.channels_last)
    return X


def _dist():
    """(本进程的编号 rank, 进程数 world_size)；没有用 torch.distributed 时是 (0, 1)。"""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def _all_sum(*values: torch.Tensor) -> list:
    """把几个设备上的标量合成一个张量，多进程时在各进程间求和（all-reduce），再一次取回主机。"""
    total = torch.stack([v.double() for v in values])
    if _dist()[1] > 1:
        torch.distributed.all_reduce(total)
    return total.tolist()


@torch.no_grad()
def evaluate_accuracy(net: nn.Module, data_iter, device=None, precision=None, channels_last=None) -> float:
    """在 ``data_iter`` 上的分类准确率。``precision`` 与 :func:`train` 相同（默认读 ``CNNLIB_PRECISION``，
    不设时按设备自动选择）；``channels_last`` 默认跟随模型卷积权重的内存布局。"""
    if device is None:
        device = next(net.parameters()).device
    device = torch.device(device)
    precision = resolve_precision(precision, device)
    if channels_last is None:
        channels_last = _is_channels_last(net)
    was_training = net.training
    net.eval()
    correct = torch.zeros((), device=device, dtype=torch.long)
    n = 0
    for X, y in data_iter:
        X, y = _prepare(X, device, channels_last), y.to(device, non_blocking=True)
        with autocast(device, precision):
            y_hat = net(X)
        correct += num_correct(y_hat, y)
        n += len(y)
    net.train(was_training)
    # 多进程时每个进程只评估自己的一份（TensorLoader.shard），正确数和样本数在各进程间求和
    right, count = _all_sum(correct, torch.tensor(n, device=device))
    return right / max(count, 1)


def _progress(total, enabled, initial=0):
    """tqdm 进度条：交互使用时是 ``tqdm.auto``（笔记本里是小部件）；环境变量
    ``CNNLIB_PROGRESS=text`` 时是纯文本进度条——为网页版执行笔记本时用它，静态网页里留下
    最后一行进度（小部件需要 JavaScript），排进 80 列的代码栏，不显示剩余时间。"""
    if not enabled:
        return None
    if os.environ.get("CNNLIB_PROGRESS", "").strip().lower() != "text":
        from tqdm.auto import tqdm
        return tqdm(total=total, initial=initial, unit="batch", leave=True, dynamic_ncols=True)
    from tqdm.std import tqdm
    return tqdm(total=total, initial=initial, unit="batch", leave=True, ncols=80, bar_format=(
        "{desc}{percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}, {rate_fmt}{postfix}]"))


@dataclass
class _Setup:
    """训练开始前定下的一切：设备、精度、内存布局，以及训练和评估实际调用的模块。"""

    device: torch.device
    precision: str
    channels_last: bool
    model: nn.Module        # 训练时调用的模块（_wrap 之后可能经过 DDP 包装和 torch.compile）
    eval_model: nn.Module   # 评估时调用的模块（不经过 DDP：各进程的测试批量数可能不同）
    optimizer: torch.optim.Optimizer
    loss: nn.Module
    scaler: torch.amp.GradScaler
    rank: int
    world: int


def _setup(net, device, precision, channels_last, optimizer, lr, loss) -> _Setup:
    device = torch.device(device) if device is not None else best_device()
    requested = check_precision(precision)
    precision = resolve_precision(requested, device)
    if channels_last is None:  # 在两核 CPU 上实测 fp32 与 bf16 的卷积网络都因此更快；MPS 上不开
        channels_last = requested != "fp32" and device.type in ("cpu", "cuda") and _has_conv(net)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # 输入形状固定：让 cuDNN 为每层挑最快的算法
    net.to(device, memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    rank, world = _dist()
    optimizer = optimizer or torch.optim.SGD(net.parameters(), lr=lr(0.0) if callable(lr) else lr)
    if callable(lr):   # 计划给出优化器默认的学习率；学习率不同的参数组（如微调时的输出层）保持各自的倍数
        base = optimizer.defaults["lr"]
        for group in optimizer.param_groups:
            group.setdefault("lr_scale", group["lr"] / base if base else 1.0)
    return _Setup(device, precision, channels_last, net, net, optimizer, loss or nn.CrossEntropyLoss(),
                  torch.amp.GradScaler(device.type, enabled=precision == "fp16"), rank, world)


def _wrap(s: _Setup, compile):
    """多进程时包上 DDP（梯度在反向传播中跨进程求平均；构造时从 0 号进程广播参数），按需编译。"""
    if s.world > 1:
        s.model = nn.parallel.DistributedDataParallel(
            s.model, device_ids=[s.device.index] if s.device.type == "cuda" else None)
    if compile:
        s.model = torch.compile(s.model, **(compile if isinstance(compile, dict) else {}))
    if s.world == 1:
        s.eval_model = s.model


def _num_examples(train_iter):   # 整个训练集的图像数（多进程时是所有进程合计）；DataLoader 可能没有
    return getattr(train_iter, "total_examples", getattr(train_iter, "num_examples", None))


def _first_line(s: _Setup, budget, train_iter, num_epochs, done) -> str:
    num_examples = _num_examples(train_iter)
    images = f"{num_examples} 张图像" if num_examples is not None else f"{len(train_iter)} 个批量"
    layout = "channels_last" if s.channels_last else "contiguous"
    line = (f"device={s.device} | precision={s.precision} | {layout} | budget={budget}\n"
            f"数据：{getattr(train_iter, 'source', '?')} | {images} × {num_epochs} 轮")
    if s.world > 1:
        line += f" | {s.world} 个进程（DistributedDataParallel）"
    if done:
        line += f" | 从检查点的第 {done} 轮之后继续"
    return line


class _Monitor:
    """训练时看得见的部分：进度条和实时曲线。每轮只在 ``updates_per_epoch`` 个时刻取回一次数值
    （一次设备同步），同时检查损失是否还是有限值。只有 0 号进程显示。"""

    def __init__(self, num_epochs, num_batches, history, progress, plot, updates_per_epoch, min_redraw_seconds):
        self.num_epochs, self.num_batches = num_epochs, num_batches
        self.sync_every = max(1, num_batches // max(1, updates_per_epoch))
        self.min_redraw_seconds, self.last_draw, self.drawing = min_redraw_seconds, time.perf_counter(), 0.0
        self.bar = _progress(num_epochs * num_batches, progress, initial=len(history) * num_batches)
        self.live = LivePlot([zh("训练损失", "train loss"), zh("训练准确率", "train acc"),
                              zh("测试准确率", "test acc")], xlabel=zh("轮次", "epoch"),
                             xlim=(0, num_epochs), ylim=None) if plot else None
        if self.live is not None:
            for e, l, a, t in zip(history.epoch, history.train_loss, history.train_acc, history.test_acc):
                self.live.add(e, (l, a, t))

    def start_epoch(self, epoch):
        self.drawing = 0.0  # 这一轮画图花的时间，不计入吞吐
        if self.bar is not None:
            self.bar.set_description(f"epoch {epoch}/{self.num_epochs}")

    def due(self, i) -> bool:
        """第 i 个批量（从 0 数起）之后是否该取回数值。"""
        return (i + 1) % self.sync_every == 0 or i + 1 == self.num_batches

    def batch_done(self):
        if self.bar is not None:
            self.bar.update(1)

    def update(self, epoch, i, loss, acc):
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{loss:.3f}", acc=f"{acc:.3f}", refresh=False)
        if self.live is None:
            return
        self.live.add(epoch - 1 + (i + 1) / self.num_batches, (loss, acc, None))
        if i + 1 < self.num_batches and time.perf_counter() - self.last_draw >= self.min_redraw_seconds:
            t = time.perf_counter()
            self.live.draw()
            self.last_draw = time.perf_counter()
            self.drawing += self.last_draw - t

    def end_epoch(self, epoch, test_acc):
        if self.live is not None:
            self.live.add(epoch, (None, None, test_acc))
            self.live.draw()

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _train_epoch(s: _Setup, train_iter, epoch, monitor: _Monitor, history, lr):
    """训练一轮，返回 ``(平均损失, 训练准确率, 样本数, 训练秒数, 一个样本的形状)``（多进程时是所有进程合计）。"""
    if hasattr(train_iter, "set_epoch"):  # 第 epoch 轮的打乱顺序只取决于种子和轮次
        train_iter.set_epoch(epoch - 1)
    s.model.train()
    monitor.start_epoch(epoch)
    t0 = time.perf_counter()
    loss_sum = torch.zeros((), device=s.device)
    correct = torch.zeros((), device=s.device, dtype=torch.long)
    n = 0
    for i, (X, y) in enumerate(train_iter):
        if callable(lr):   # 学习率随训练进度变化：取这个批量中点处的值，乘上各参数组的倍数
            now = lr((epoch - 1 + (i + 0.5) / monitor.num_batches) / monitor.num_epochs)
            for group in s.optimizer.param_groups:
                group["lr"] = now * group["lr_scale"]
        X, y = _prepare(X, s.device, s.channels_last), y.to(s.device, non_blocking=True)
        with autocast(s.device, s.precision):
            y_hat = s.model(X)
            l = s.loss(y_hat, y)
        s.optimizer.zero_grad(set_to_none=True)
        s.scaler.scale(l).backward()
        s.scaler.step(s.optimizer)
        s.scaler.update()
        with torch.no_grad():
            loss_sum += l.detach().float() * len(y)
            correct += num_correct(y_hat, y)
        n += len(y)
        monitor.batch_done()
        if monitor.due(i):
            loss_total, correct_total, seen = _all_sum(loss_sum, correct, torch.tensor(n, device=s.device))
            mean_loss, acc = loss_total / seen, correct_total / seen     # 每次刷新只同步一次
            if not math.isfinite(mean_loss):
                raise TrainingDiverged(
                    f"第 {epoch} 轮第 {i + 1} 个批量时损失变成了 {mean_loss}（loss is not finite）："
                    f"学习率 lr={lr!r} 可能太大，请调低学习率后重新初始化模型再训练。", history)
            monitor.update(epoch, i, mean_loss, acc)
    return mean_loss, acc, int(seen), time.perf_counter() - t0 - monitor.drawing, tuple(X.shape[1:])


def train(net, train_iter, test_iter, num_epochs, lr, device=None, optimizer=None, loss=None,
          budget=None, plot=None, progress=True, updates_per_epoch=4, min_redraw_seconds=2.0,
          checkpoint=None, resume=False, precision=None, channels_last=None, compile=False,
          on_epoch_end=None):
    """用小批量随机梯度下降训练分类模型，返回 :class:`History`。

    参数
    ----
    net : 待训练的模型，会被移动到 ``device`` 上并原地更新。
    train_iter, test_iter : 产生 ``(X, y)`` 的可迭代对象（如 :func:`cnnlib.load_fashion_mnist` 的返回值）。
    num_epochs, lr : 轮数与学习率；``lr`` 也可以是训练进度 t（0 到 1）的函数，每个批量按它设置学习率，
        如 :class:`cosine_lr`。这时它给出的是 ``optimizer`` 默认的学习率（``optimizer.defaults["lr"]``），
        学习率与默认值不同的参数组（如 :func:`cnnlib.transfer.param_groups` 的输出层）保持原来的倍数。
    device : 默认 :func:`cnnlib.best_device`。
    optimizer : 默认 ``torch.optim.SGD(net.parameters(), lr)``。
    loss : 默认交叉熵 ``nn.CrossEntropyLoss()``（对批量取平均）。
    budget : 只用于在第一行打印；默认读取当前预算。
    plot : 是否画实时曲线；默认在笔记本里画、在脚本里不画。
    progress : 是否显示 tqdm 进度条（含预计剩余时间）。
    updates_per_epoch : 每轮刷新进度、记录曲线并检查 NaN 的次数（每次需要一次设备同步）。
    min_redraw_seconds : 轮内两次重画曲线之间至少间隔的秒数（每轮结束时总会重画）。
    checkpoint : 检查点路径；给出时每轮结束后保存一次（被中断时保留最后完成的那一轮）。
    resume : 为 True 且 ``checkpoint`` 已存在时，从其中最后完成的一轮之后继续训练。
    precision : ``'auto'``（按设备选择）、``'fp32'``（关闭混合精度与 channels_last）、``'bf16'`` 或
        ``'fp16'``（自动混合精度；fp16 同时使用梯度缩放）。默认读环境变量 ``CNNLIB_PRECISION``，不设时为 ``'auto'``。
    channels_last : 是否把卷积网络和输入改成 channels_last 内存布局；默认除 ``precision='fp32'`` 外
        对 CPU 和 CUDA 上的卷积网络开启。
    compile : 为 True（或一个传给 ``torch.compile`` 的参数字典）时用 ``torch.compile`` 编译模型。
    on_epoch_end : 每轮结束（写完检查点）后调用 ``on_epoch_end(history)``，如命令行在日志里逐轮打印。
    """
    _check_arguments(train_iter, num_epochs, lr, checkpoint, resume)
    s = _setup(net, device, precision, channels_last, optimizer, lr, loss)
    budget, main = get_budget(budget), s.rank == 0   # 多进程时只有 0 号进程打印、画图、写检查点
    say = print if main else (lambda *args, **kwargs: None)
    history = History()
    if resume and os.path.exists(checkpoint):   # 多进程时每个进程都从同一个检查点恢复
        history = load_checkpoint(checkpoint, net, s.optimizer, scaler=s.scaler, restore_rng=True)
        history.interrupted = False
    _wrap(s, compile)
    history.device, history.precision = str(s.device), s.precision
    history.memory_format = "channels_last" if s.channels_last else "contiguous"
    done = len(history)
    say(_first_line(s, budget, train_iter, num_epochs, done), flush=True)
    if done >= num_epochs:
        say(f"检查点里已完成 {done} 轮（≥ {num_epochs}），无需继续训练。", flush=True)
        return history
    plot = (in_notebook() if plot is None else plot) and main
    monitor = _Monitor(num_epochs, len(train_iter), history, progress and main, plot, updates_per_epoch,
                       min_redraw_seconds)
    seen_total, train_seconds, start, epoch, input_shape = 0, 0.0, time.perf_counter(), done, None
    try:
        for epoch in range(done + 1, num_epochs + 1):
            t0 = time.perf_counter()
            train_loss, train_acc, seen, seconds, input_shape = _train_epoch(s, train_iter, epoch, monitor,
                                                                             history, lr)
            test_acc = evaluate_accuracy(s.eval_model, test_iter, s.device, s.precision, s.channels_last)
            seen_total, train_seconds = seen_total + seen, train_seconds + seconds
            history.append(epoch, train_loss, train_acc, test_acc, time.perf_counter() - t0, seen / seconds)
            monitor.end_epoch(epoch, test_acc)
            if checkpoint is not None and main:
                save_checkpoint(checkpoint, net, s.optimizer, history, s.scaler)
            if on_epoch_end is not None and main:
                on_epoch_end(history)
    except KeyboardInterrupt:
        history.interrupted = True
        say(_interrupted_message(epoch, history, checkpoint), flush=True)
    finally:
        monitor.close()
    if len(history) > done and main:
        _report(net, history, budget, train_iter, num_epochs, lr, input_shape,
                seen_total / train_seconds if train_seconds > 0 else float("nan"), time.perf_counter() - start)
    return history


def _interrupted_message(epoch, history, checkpoint) -> str:
    saved = (f"检查点 {checkpoint} 保存的是第 {len(history)} 轮结束时的状态，"
             f"用 resume=True 可以从那里继续。" if checkpoint is not None and len(history) else "")
    return (f"\n训练在第 {epoch} 轮被中断（KeyboardInterrupt）：模型保留当前权重，"
            f"返回已完成的 {len(history)} 轮历史。{saved}")


def _check_arguments(train_iter, num_epochs, lr, checkpoint, resume):
    if num_epochs < 1:
        raise ValueError(f"轮数（num_epochs）必须 ≥ 1，得到 {num_epochs}")
    if not (callable(lr) or (lr > 0 and math.isfinite(lr))):
        raise ValueError(f"学习率（lr）必须是正数或训练进度 t 的函数（如 cnnlib.cosine_lr(0.1)），得到 {lr}")
    if resume and checkpoint is None:
        raise ValueError("resume=True 需要同时给出检查点路径 checkpoint=...")
    if len(train_iter) == 0:
        raise ValueError("训练数据为空（train_iter 没有任何批量）")


def _report(net, history, budget, train_iter, num_epochs, lr, input_shape, speed, seconds):
    """最后两行总结；``make results`` 设置了 ``CNNLIB_RECORD`` 时，再把这次训练记进执行记录。"""
    print(f"训练损失 loss {history.train_loss[-1]:.3f}, 训练准确率 train acc "
          f"{history.train_acc[-1]:.3f}, 测试准确率 test acc {history.test_acc[-1]:.3f}")
    print(f"{speed:,.1f} 张/秒 (examples/sec) on {history.device}，共 {seconds:.1f} 秒")
    if os.environ.get(RECORD_ENV, "").strip():
        from .results import record_run   # 书的工具：只在记录时才导入

        record_run(os.environ[RECORD_ENV].strip(), net, history, budget=budget,
                   data=getattr(train_iter, "source", "?"),
                   images=_num_examples(train_iter),
                   epochs=num_epochs, batch_size=getattr(train_iter, "batch_size", None),
                   lr=repr(lr) if callable(lr) else lr,
                   input_shape=input_shape, examples_per_sec=speed, seconds=seconds)
