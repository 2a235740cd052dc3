"""训练循环：一个 ``train`` 函数，返回逐轮的历史记录。

设计要点：
- 数据整块驻留在设备上（见 :mod:`cnnlib.data`）；损失与正确数在设备上累加，每轮只同步少数几次
  （刷新进度条、曲线和检查 NaN 时），GPU 不会因为每个批量都 ``.item()`` 而停下来等待；
- 数值精度按设备自动选择（``precision="auto"``，见 :func:`cnnlib.device.resolve_precision`）：
  支持 bf16 的 GPU 和有原生 bf16 指令的 CPU 用 bf16 自动混合精度，其余 GPU 用 fp16 加梯度缩放；
  卷积网络改用 channels_last 内存布局；评估与训练用同样的设置；``precision="fp32"`` 全部关闭；
- 第一行打印设备、精度、内存布局、预算、数据来源和"图像数 × 轮数"，最后一行打印总结；
- 损失变成 NaN/inf 时停止并提示调低学习率；按 Ctrl-C（KeyboardInterrupt）时干净地停下，
  模型保留已训练的权重，函数返回到目前为止的历史记录；
- 给出 ``checkpoint`` 路径时，每轮结束后原子地写入检查点（先写临时文件再改名），其中有模型、
  优化器、梯度缩放器、随机数状态和历史（加载器每轮的顺序只由种子和轮次决定，每轮开始时用
  ``set_epoch`` 指定）；``resume=True`` 从最后完成的一轮继续，结果与不中断时完全相同（同一台机器上）；
- 由 ``torchrun`` 启动（``torch.distributed`` 已初始化）时用 ``DistributedDataParallel``：各进程训练自己那一份
  数据（``TensorLoader.shard``），损失、准确率和评估结果在进程间求和，只有 0 号进程打印、画图和写检查点。
"""
import json
import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields

import torch
from torch import nn

from .budget import get_budget
from .device import autocast, best_device, resolve_precision
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
    device: str = ""                                       # 以下三项记录训练时的设置
    precision: str = ""
    memory_format: str = ""

    def __len__(self):
        return len(self.epoch)

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


class CheckpointMismatchError(ValueError):
    """检查点与模型的结构不一致（参数名或形状对不上）。"""


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


@torch.no_grad()
def evaluate_accuracy(net: nn.Module, data_iter, device=None, precision="auto", channels_last=None) -> float:
    """在 ``data_iter`` 上的分类准确率。

    ``precision`` 与 :func:`train` 相同（默认按设备自动选择）；``channels_last`` 默认跟随模型
    卷积权重的内存布局。
    """
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
        correct += accuracy(y_hat, y)
        n += len(y)
    net.train(was_training)
    # 多进程时每个进程只评估自己的一份（TensorLoader.shard），正确数和样本数在各进程间求和
    total = _all_sum(torch.stack([correct.double(), torch.tensor(float(n), device=device, dtype=torch.float64)]))
    right, count = total.tolist()
    return right / max(count, 1)


def _dist():
    """(本进程的编号 rank, 进程数 world_size)；没有用 torch.distributed 时是 (0, 1)。"""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def _all_sum(values: torch.Tensor) -> torch.Tensor:
    """多进程时把各进程的 ``values`` 逐元素求和（all-reduce），单进程时原样返回。"""
    if _dist()[1] > 1:
        torch.distributed.all_reduce(values)
    return values


def _unwrap(net):
    """``torch.compile`` 返回的包装模块把参数名加上 ``_orig_mod.``：检查点总是存原模块。"""
    return getattr(net, "_orig_mod", net)


def _model_name(net):
    return getattr(net, "name", net.__class__.__name__)  # cnnlib 的模型有 name（如 "AlexNet"）


def save_checkpoint(path, net, optimizer=None, history=None, scaler=None):
    """原子地保存检查点：先写同目录下的临时文件，再 ``os.replace``，中途断电也不会留下半个文件。

    除模型与优化器外还保存梯度缩放器和随机数发生器的状态，供 ``train(resume=True)`` 精确地接着训练
    （加载器每轮的顺序只由种子和轮次决定，见 ``TensorLoader.set_epoch``，不需要保存）。
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    net = _unwrap(net)
    state = {
        "model": net.state_dict(),
        "model_name": _model_name(net),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scaler": scaler.state_dict() if scaler is not None and scaler.is_enabled() else None,
        "history": history.as_dict() if history is not None else None,
        "rng_cpu": torch.get_rng_state(),
        "rng_cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
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


def _show_keys(keys):
    return ", ".join(keys[:5]) + (f" …（共 {len(keys)} 个）" if len(keys) > 5 else "")


def _check_keys(path, net, saved, saved_name, ignore=None, subject=" ", verdict="",
                hint="请用创建检查点时的同一个模型构造函数和参数（如 input_size、num_classes）建立模型后再加载。"):
    """检查点 ``saved`` 与模型的参数名、形状逐一核对，不一致时抛出 :class:`CheckpointMismatchError`。

    ``ignore(key)`` 为真的参数不核对（如迁移学习时的输出层，见 :func:`cnnlib.transfer.load_backbone`）。
    """
    keep = (lambda k: True) if ignore is None else (lambda k: not ignore(k))
    own = {k: v for k, v in net.state_dict().items() if keep(k)}
    missing = [k for k in own if k not in saved]
    unexpected = [k for k in saved if k not in own and keep(k)]
    reshaped = [f"{k}: 检查点 {tuple(saved[k].shape)} ≠ 模型 {tuple(own[k].shape)}"
                for k in own if k in saved and tuple(saved[k].shape) != tuple(own[k].shape)]
    if not (missing or unexpected or reshaped):
        return
    lines = [f"检查点 {path}{subject}与模型的结构不一致（architecture mismatch）："
             f"检查点来自 {saved_name}，模型是 {_model_name(net)}{verdict}。"]
    if missing:
        lines.append(f"  模型有而检查点没有的参数（missing keys）：{_show_keys(missing)}")
    if unexpected:
        lines.append(f"  检查点有而模型没有的参数（unexpected keys）：{_show_keys(unexpected)}")
    if reshaped:
        lines.append(f"  形状不同的参数（size mismatch）：{_show_keys(reshaped)}")
    lines.append(hint)
    raise CheckpointMismatchError("\n".join(lines))


def _read_checkpoint(path, map_location="cpu") -> dict:
    """用 ``weights_only=True`` 读取 :func:`save_checkpoint` 写出的检查点；读不了时说明原因。"""
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as err:  # 截断、不是检查点、含不安全对象……
        raise ValueError(f"无法读取检查点 {path}（cannot load checkpoint）：文件可能已损坏，"
                         f"或不是 cnnlib.save_checkpoint 写出的检查点。原始错误：{err}") from err
    if not isinstance(state, dict) or "model" not in state:
        raise ValueError(f"{path} 不是 cnnlib 的检查点（缺少 'model' 项）。")
    return state


def load_checkpoint(path, net, optimizer=None, map_location="cpu", scaler=None,
                    restore_rng=False) -> History:
    """从检查点恢复模型（和优化器、梯度缩放器）的状态，返回其中保存的历史记录。

    检查点与模型结构不一致时抛出 :class:`CheckpointMismatchError`，列出对不上的参数名。
    ``restore_rng=True`` 时同时恢复随机数发生器（``train(resume=True)`` 用它保证结果可复现）。
    """
    state = _read_checkpoint(path, map_location)
    net = _unwrap(net)
    _check_keys(path, net, state["model"], state.get("model_name", "?"))
    net.load_state_dict(state["model"])
    if optimizer is not None and state.get("optimizer") is not None:
        optimizer.load_state_dict(state["optimizer"])
    if scaler is not None and state.get("scaler") is not None:
        scaler.load_state_dict(state["scaler"])
    if restore_rng:
        if state.get("rng_cpu") is not None:
            torch.set_rng_state(state["rng_cpu"].cpu())
        if state.get("rng_cuda") and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([s.cpu() for s in state["rng_cuda"]])
    return History.from_dict(state["history"]) if state.get("history") else History()


def _progress(total, enabled, initial=0):
    """tqdm 进度条：交互使用时是 ``tqdm.auto``（笔记本里是小部件）；环境变量
    ``CNNLIB_PROGRESS=text`` 时是纯文本进度条——为网页版执行笔记本时用它，静态网页里留下
    最后一行进度（小部件需要 JavaScript，离线网页里什么也不显示）。"""
    if not enabled:
        return None
    if os.environ.get("CNNLIB_PROGRESS", "").strip().lower() == "text":
        from tqdm.std import tqdm
    else:
        from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, unit="batch", leave=True, dynamic_ncols=True)


def train(net, train_iter, test_iter, num_epochs, lr, device=None, optimizer=None, loss=None,
          budget=None, plot=None, progress=True, updates_per_epoch=4, min_redraw_seconds=2.0,
          checkpoint=None, resume=False, precision="auto", channels_last=None, compile=False,
          on_epoch_end=None):
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
    checkpoint : 检查点路径；给出时每轮结束后保存一次（被中断时保留最后完成的那一轮）。
    resume : 为 True 且 ``checkpoint`` 已存在时，从其中最后完成的一轮之后继续训练。
    precision : ``'auto'``（默认，按设备选择）、``'fp32'``（关闭混合精度与 channels_last）、
        ``'bf16'`` 或 ``'fp16'``（自动混合精度；fp16 同时使用梯度缩放）。
    channels_last : 是否把卷积网络和输入改成 channels_last 内存布局；默认除 ``precision='fp32'`` 外
        对 CPU 和 CUDA 上的卷积网络开启。
    compile : 为 True（或一个传给 ``torch.compile`` 的参数字典）时用 ``torch.compile`` 编译模型。
    on_epoch_end : 每轮结束（写完检查点）后调用 ``on_epoch_end(history)``，如命令行在日志里逐轮打印。
    """
    if num_epochs < 1:
        raise ValueError(f"轮数（num_epochs）必须 ≥ 1，得到 {num_epochs}")
    if not (lr > 0 and math.isfinite(lr)):
        raise ValueError(f"学习率（lr）必须是正数，得到 {lr}")
    if resume and checkpoint is None:
        raise ValueError("resume=True 需要同时给出检查点路径 checkpoint=...")
    num_batches = len(train_iter)
    if num_batches == 0:
        raise ValueError("训练数据为空（train_iter 没有任何批量）")
    device = torch.device(device) if device is not None else best_device()
    requested, precision = precision, resolve_precision(precision, device)
    if channels_last is None:  # 在两核 CPU 上实测 fp32 与 bf16 的卷积网络都因此更快；MPS 上不开
        channels_last = requested != "fp32" and device.type in ("cpu", "cuda") and _has_conv(net)
    budget = get_budget(budget)
    rank, world = _dist()            # torchrun 启动的多进程训练：只有 0 号进程打印、画图、写检查点
    main = rank == 0
    say = print if main else (lambda *args, **kwargs: None)
    plot = (in_notebook() if plot is None else plot) and main
    progress = progress and main
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # 输入形状固定：让 cuDNN 为每层挑最快的算法
    net.to(device, memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    optimizer = optimizer or torch.optim.SGD(net.parameters(), lr=lr)
    loss = loss or nn.CrossEntropyLoss()
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    history = History()
    if resume and os.path.exists(checkpoint):   # 多进程时每个进程都从同一个检查点恢复
        history = load_checkpoint(checkpoint, net, optimizer, map_location="cpu", scaler=scaler,
                                  restore_rng=True)
        history.interrupted = False
    model = net
    if world > 1:                    # 梯度在反向传播中跨进程求平均；构造时从 0 号进程广播参数
        model = nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    if compile:
        model = torch.compile(model, **(compile if isinstance(compile, dict) else {}))
    eval_model = net if world > 1 else model   # 评估不经过 DDP：各进程的测试批量数可能不同
    history.device, history.precision = str(device), precision
    history.memory_format = "channels_last" if channels_last else "contiguous"
    done = len(history)

    num_examples = getattr(train_iter, "total_examples", getattr(train_iter, "num_examples", None))
    source = getattr(train_iter, "source", "?")
    images = f"{num_examples} 张图像" if num_examples is not None else f"{num_batches} 个批量"
    line = (f"device={device} | precision={precision} | {history.memory_format} | budget={budget} | "
            f"数据：{source} | {images} × {num_epochs} 轮")
    if world > 1:
        line += f" | {world} 个进程（DistributedDataParallel）"
    if done:
        line += f" | 从检查点的第 {done} 轮之后继续"
    say(line, flush=True)
    if done >= num_epochs:
        say(f"检查点里已完成 {done} 轮（≥ {num_epochs}），无需继续训练。", flush=True)
        return history

    sync_every = max(1, num_batches // max(1, updates_per_epoch))
    live = LivePlot([zh("训练损失", "train loss"), zh("训练准确率", "train acc"),
                     zh("测试准确率", "test acc")], xlabel=zh("轮次", "epoch"),
                    xlim=(0, num_epochs), ylim=None) if plot else None
    if live is not None:
        for e, l, a, t in zip(history.epoch, history.train_loss, history.train_acc, history.test_acc):
            live.add(e, (l, a, t))
    bar = _progress(num_epochs * num_batches, progress, initial=done * num_batches)
    train_time, train_seen, start = 0.0, 0, time.perf_counter()
    input_shape = None   # 一个训练样本的形状（不含批量维），写进 make results 的记录
    last_draw = start
    epoch = done
    try:
        for epoch in range(done + 1, num_epochs + 1):
            if bar is not None:
                bar.set_description(f"epoch {epoch}/{num_epochs}")
            if hasattr(train_iter, "set_epoch"):  # 第 epoch 轮的打乱顺序只取决于种子和轮次
                train_iter.set_epoch(epoch - 1)
            net.train()
            t0 = time.perf_counter()
            drawing = 0.0  # 画图耗时，不计入吞吐
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), device=device, dtype=torch.long)
            n = 0
            for i, (X, y) in enumerate(train_iter):
                X, y = _prepare(X, device, channels_last), y.to(device, non_blocking=True)
                input_shape = input_shape or tuple(X.shape[1:])
                with autocast(device, precision):
                    y_hat = model(X)
                    l = loss(y_hat, y)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(l).backward()
                scaler.step(optimizer)
                scaler.update()
                with torch.no_grad():
                    loss_sum += l.detach().float() * len(y)
                    correct += accuracy(y_hat, y)
                n += len(y)
                if bar is not None:
                    bar.update(1)
                if (i + 1) % sync_every == 0 or i + 1 == num_batches:
                    stats = _all_sum(torch.stack([loss_sum.double(), correct.double(),
                                                  torch.tensor(float(n), device=device, dtype=torch.float64)]))
                    loss_total, correct_total, seen = stats.tolist()    # 每次刷新只同步一次
                    cur_loss, cur_correct = loss_total / seen, correct_total / seen
                    seen = int(seen)                  # 所有进程这一轮到目前为止的样本数
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
            test_acc = evaluate_accuracy(eval_model, test_iter, device, precision, channels_last)
            train_time += epoch_train_time
            train_seen += seen
            history.epoch.append(epoch)
            history.train_loss.append(cur_loss)
            history.train_acc.append(cur_correct)
            history.test_acc.append(test_acc)
            history.time.append(time.perf_counter() - t0)
            history.examples_per_sec.append(seen / epoch_train_time)
            if live is not None:
                live.add(epoch, (None, None, test_acc))
                live.draw()
            if checkpoint is not None and main:
                save_checkpoint(checkpoint, net, optimizer, history, scaler)
            if on_epoch_end is not None and main:
                on_epoch_end(history)
    except KeyboardInterrupt:
        history.interrupted = True
        saved = (f"检查点 {checkpoint} 保存的是第 {len(history)} 轮结束时的状态，"
                 f"用 resume=True 可以从那里继续。" if checkpoint is not None and len(history) else "")
        say(f"\n训练在第 {epoch} 轮被中断（KeyboardInterrupt）：模型保留当前权重，"
            f"返回已完成的 {len(history)} 轮历史。{saved}", flush=True)
    finally:
        if bar is not None:
            bar.close()
    if len(history) > done:
        speed = train_seen / train_time if train_time > 0 else float("nan")
        say(f"训练损失 loss {history.train_loss[-1]:.3f}, 训练准确率 train acc "
            f"{history.train_acc[-1]:.3f}, 测试准确率 test acc {history.test_acc[-1]:.3f}")
        seconds = time.perf_counter() - start
        say(f"{speed:,.1f} 张/秒 (examples/sec) on {device}，共 {seconds:.1f} 秒")
        if main:
            _record(net, history, budget=budget, data=source, images=num_examples, epochs=num_epochs,
                    batch_size=getattr(train_iter, "batch_size", None), lr=lr, input_shape=input_shape,
                    examples_per_sec=speed, seconds=seconds)
    return history


RECORD_ENV = "CNNLIB_RECORD"


def _record(net, history, **info):
    """环境变量 ``CNNLIB_RECORD`` 指向一个文件时，把这次训练的结果追加为一行 JSON。

    ``make results`` 用它为每个笔记本留下机器可读的记录（模型、参数量、每张图像的 FLOPs、输入形状、
    预算、设备、精度、数据来源、批量大小、学习率、吞吐、最终指标），供全书的模型对比表和执行状态页
    读取，而不是从输出里手抄数字。
    """
    path = os.environ.get(RECORD_ENV, "").strip()
    if not path:
        return
    from .summary import count_flops
    net, shape = _unwrap(net), info.get("input_shape")
    info["input_shape"] = list(shape) if shape else None
    row = {"model": _model_name(net), "params": sum(p.numel() for p in net.parameters()),
           # 每张图像前向一次的 FLOPs（乘、加各算一次），按训练时的输入形状在 meta 设备上统计
           "flops_per_image": count_flops(net, shape) if shape else None,
           "device": history.device, "precision": history.precision, "memory_format": history.memory_format,
           **info, "final": {"train_loss": round(history.train_loss[-1], 4),
                             "train_acc": round(history.train_acc[-1], 4),
                             "test_acc": round(history.test_acc[-1], 4)},
           "completed_epochs": len(history), "interrupted": history.interrupted}
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row, ensure_ascii=False) + "\n")
