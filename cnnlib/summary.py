"""逐层摘要：每层的输出形状、参数量和浮点运算数（FLOPs）。

FLOPs 由 PyTorch 自带的 ``torch.utils.flop_counter.FlopCounterMode`` 统计（乘和加各算一次，
即 2 × 乘加数）；它只统计卷积、矩阵乘法等主要算子，激活函数和汇聚记为 0。
逐层的形状直接沿着 ``nn.Sequential`` 的子模块前向计算得到，和书中"形状走一遍"的写法一致。
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


class Summary:
    """:func:`summary` 的结果：``rows`` 为各层的 :class:`LayerInfo`，另有总参数量与总 FLOPs。"""

    def __init__(self, model_name, input_shape, rows, total_params):
        self.model_name, self.input_shape, self.rows = model_name, input_shape, rows
        self.total_params = total_params
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
    params = {n: torch.empty_like(p, device="meta").requires_grad_(backward and p.requires_grad)
              for n, p in net.named_parameters()}
    params.update({n: torch.empty_like(b, device="meta") for n, b in net.named_buffers()})
    x = torch.empty(batch_size, *input_shape, device="meta")
    was_training = net.training
    net.eval()
    try:
        with torch.enable_grad() if backward else torch.no_grad(), FlopCounterMode(display=False) as counter:
            out = torch.func.functional_call(net, params, (x,))
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
                                  sum(p.numel() for p in layer.parameters()), counter.get_total_flops()))
    finally:
        net.train(was_training)
    total = sum(p.numel() for p in net.parameters())
    return Summary(getattr(net, "name", type(net).__name__), (in_channels, *size), rows, total)
