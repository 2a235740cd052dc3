"""模型的量：参数量、浮点运算数（FLOPs）、逐层摘要，以及它们共用的 meta 设备前向。

- :func:`num_params` 数参数：默认是全部参数，``trainable_only=True`` 时只数可训练的（冻结了一部分层时
  两者不同，见第 4 章）。执行记录、:func:`summary` 和书中说的“参数量”都是全部参数；
- :func:`meta_forward` 在 meta 设备上前向一次：只推算形状，不分配内存也不计算。:func:`count_flops`、
  ``Classifier.accepted_sizes`` 和 :mod:`cnnlib.figures` 的结构图都用它；
- FLOPs 由 PyTorch 自带的 ``torch.utils.flop_counter.FlopCounterMode`` 统计（乘和加各算一次，
  即 2 × 乘加数）；它只统计卷积、矩阵乘法等主要算子，激活函数和汇聚记为 0；
- :func:`summary` 的逐层形状直接沿着 ``nn.Sequential`` 的子模块前向计算得到，和书中"形状走一遍"的写法一致。
"""
import html
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


@dataclass
class LayerInfo:
    name: str
    kind: str
    output_shape: tuple
    params: int
    flops: int


def num_params(net: nn.Module, trainable_only: bool = False) -> int:
    """参数的总数；``trainable_only=True`` 时只数可训练的（``requires_grad``）参数。"""
    return sum(p.numel() for p in net.parameters() if p.requires_grad or not trainable_only)


def meta_forward(net: nn.Module, input_shape, batch_size: int = 2, requires_grad: bool = False):
    """在 meta 设备上让 ``batch_size`` 个形状为 ``input_shape``（不含批量维）的样本前向通过 ``net``，
    返回（meta 设备上的）输出。``net`` 本身不变：参数和缓冲区换成同形状的 meta 张量后再调用。

    批量默认为 2：训练模式的批量规范化不接受 1 个样本。``requires_grad=True`` 时可训练参数需要梯度，
    可以接着 ``.backward()``。形状不合时抛出与真实前向相同的 ``RuntimeError``。
    """
    params = {n: torch.empty_like(p, device="meta").requires_grad_(requires_grad and p.requires_grad)
              for n, p in net.named_parameters()}
    params.update({n: torch.empty_like(b, device="meta") for n, b in net.named_buffers()})
    x = torch.empty(batch_size, *input_shape, device="meta")
    return torch.func.functional_call(net, params, (x,))


class Summary:
    """:func:`summary` 的结果：``rows`` 为各层的 :class:`LayerInfo`，另有总参数量与总 FLOPs。"""

    def __init__(self, model_name, input_shape, rows, total_params, trainable_params):
        self.model_name, self.input_shape, self.rows = model_name, input_shape, rows
        self.total_params, self.trainable_params = total_params, trainable_params
        self.total_flops = sum(r.flops for r in rows)

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)

    def _table(self):
        head = ("layer", "type", "output shape", "params", "FLOPs")
        body = [(r.name, r.kind, "×".join(map(str, r.output_shape)), f"{r.params:,}", _fmt_flops(r.flops))
                for r in self.rows]
        foot = ("total", "", "", f"{self.total_params:,}", _fmt_flops(self.total_flops))
        if self.trainable_params != self.total_params:      # 冻结了一部分层（第 4 章）
            foot = (*foot[:3], f"{self.total_params:,}（可训练 {self.trainable_params:,}）", foot[4])
        return head, body, foot

    def __repr__(self):
        head, body, foot = self._table()
        widths = [max(len(row[i]) for row in (head, *body, foot)) for i in range(len(head))]
        line = lambda row: "  ".join(c.ljust(w) if i < 3 else c.rjust(w)  # noqa: E731
                                      for i, (c, w) in enumerate(zip(row, widths))).rstrip()
        rule = "-" * len(line(head))
        shape = "×".join(map(str, self.input_shape))
        return "\n".join([f"{self.model_name}  input {shape}", line(head), rule,
                          *map(line, body), rule, line(foot)])

    def _repr_html_(self):
        head, body, foot = self._table()
        cell = lambda tag, row: "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in row)  # noqa: E731
        rows = "".join(f"<tr>{cell('td', r)}</tr>" for r in body)
        shape = "×".join(map(str, self.input_shape))
        return (f"<p><b>{html.escape(self.model_name)}</b>，输入 {shape}</p><table>"
                f"<thead><tr>{cell('th', head)}</tr></thead><tbody>{rows}</tbody>"
                f"<tfoot><tr>{cell('th', foot)}</tr></tfoot></table>")


def count_flops(net: nn.Module, input_shape, batch_size: int = 1, backward: bool = False) -> int:
    """``net`` 对 ``batch_size`` 个形状为 ``input_shape``（不含批量维，如 ``(1, 28, 28)``）的样本
    前向一次的 FLOPs（乘和加各算一次）；``backward=True`` 时数的是训练一步的前向加反向。

    在 meta 设备上计算：只推算形状、不分配内存也不真正计算，所以对任何大小的模型都很快，
    也不改动 ``net`` 本身（参数、缓冲区和训练/评估模式都保持原样）。按评估模式统计。
    反向只对需要梯度的参数求梯度，输入不需要梯度（与训练时相同）。
    """
    was_training = net.training
    net.eval()
    try:
        with torch.enable_grad() if backward else torch.no_grad(), FlopCounterMode(display=False) as counter:
            out = meta_forward(net, input_shape, batch_size, requires_grad=backward)
            if backward:
                out.sum().backward()
    finally:
        net.train(was_training)
    return counter.get_total_flops()


def _fmt_flops(n: int) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= scale:
            return f"{n / scale:.2f}{unit}"
    return str(n)


def _layers(module: nn.Module, prefix: str, depth: int):
    """按深度展开 ``nn.Sequential``：depth=1 只看顶层子模块。"""
    for name, child in module.named_children():
        full = f"{prefix}{name}"
        if depth > 1 and isinstance(child, nn.Sequential):
            yield from _layers(child, full + ".", depth - 1)
        else:
            yield full, child


@torch.no_grad()
def summary(net: nn.Sequential, input_size=None, in_channels=None, batch_size: int = 1, depth: int = 1) -> Summary:
    """``net`` 的逐层摘要（``net`` 须是 ``nn.Sequential``，如 cnnlib 的所有模型）。

    ``input_size`` 为输入高宽，默认取模型的 ``input_size`` 属性；``depth`` 控制展开嵌套 Sequential 的层数。
    FLOPs 按 ``batch_size`` 个样本统计。
    """
    if not isinstance(net, nn.Sequential):
        raise TypeError(f"summary 需要 nn.Sequential 模型，得到 {type(net).__name__}")
    input_size = input_size or getattr(net, "input_size", None)
    in_channels = in_channels or getattr(net, "in_channels", None)
    if input_size is None or in_channels is None:
        raise ValueError("请给出 input_size 和 in_channels（模型本身没有记录它们）")
    size = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
    param = next(net.parameters())
    x = torch.zeros(batch_size, in_channels, *size, device=param.device, dtype=param.dtype)
    was_training = net.training
    net.eval()
    rows = []
    try:
        for name, layer in _layers(net, "", depth):
            with FlopCounterMode(display=False) as counter:
                x = layer(x)
            rows.append(LayerInfo(name, type(layer).__name__, tuple(x.shape[1:]),
                                  num_params(layer), counter.get_total_flops()))
    finally:
        net.train(was_training)
    return Summary(getattr(net, "name", type(net).__name__), (in_channels, *size), rows, num_params(net),
                   num_params(net, trainable_only=True))
