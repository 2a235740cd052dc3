"""书的工具（``import cnnlib`` 时不导入）：书中的示意图，全部由代码画出，所以图不会与代码脱节：

- 概念图（第 1 章）的每个数字都取自调用者传入的张量，输出由 :mod:`cnnlib.ops` 现场计算；
- 结构图（第 2 章起）的层、核大小、通道数和输出形状取自真实的 cnnlib 模型：在 meta 设备上
  跑一遍前向传播，记下每一层的输出形状（不分配内存，也不做计算）。

所有文字都经过 :func:`cnnlib.zh`：有中文字体时是中文，没有时是英文，绝不会出现缺字警告。
每个函数返回 ``matplotlib.figure.Figure``；在笔记本里接 ``plt.show()`` 即可。
"""
from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch
from matplotlib.colors import ListedColormap
from matplotlib.font_manager import FontProperties
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle
from matplotlib.textpath import TextPath
from torch import nn

from .modelinfo import meta_forward, num_params
from .ops import corr2d, corr2d_multi_in, pool2d
from .plot import zh

# 配色：输入/普通格子、高亮窗口、填充、输出高亮；结构图中各类层的底色。
CELL, WINDOW, PADDING, RESULT = "#ffffff", "#9ecae1", "#e5e5e5", "#fdae6b"
KIND_COLORS = {"conv": "#deebf7", "pool": "#fee6ce", "fc": "#e5f5e0", "block": "#efedf5",
               "norm": "#fff7bc", "input": "#f0f0f0", "other": "#f7f7f7"}


# ---------------------------------------------------------------- 概念图：格子与数字

STAR = r"$\star$"  # 互相关的运算符号（mathtext 自带字形，不依赖中文字体）

def _fmt(v, decimals=1) -> str:
    """整数照写；小数最多保留 ``decimals`` 位，去掉末尾的 0（-0 写成 0）。"""
    v = round(float(v), decimals)
    if v == int(v):
        return str(int(v))
    return f"{v:.{decimals}f}".rstrip("0").rstrip(".")


def draw_grid(ax, A, x0=0.0, y0=0.0, highlight=None, color=WINDOW, shade=None, title=None, fontsize=10):
    """把二维张量 ``A`` 画成带数字的方格，左上角在 ``(x0, y0)``（y 轴向下）。

    ``highlight`` 是 ``(行, 列, 高, 宽)``，用 ``color`` 标出这个窗口；``shade`` 是与 ``A`` 同形的
    布尔掩码，标为灰色（例如填充的 0）。返回方格的 ``(宽, 高)``。
    """
    A = torch.as_tensor(A)
    h, w = A.shape
    for i in range(h):
        for j in range(w):
            face, hatch = CELL, None
            shaded = shade is not None and bool(shade[i][j])
            if shaded:
                face = PADDING
            if highlight is not None:
                r, c, hh, ww = highlight
                if r <= i < r + hh and c <= j < c + ww:
                    face, hatch = color, ("//" if shaded else None)  # 窗口里的填充格加浅色斜线，仍看得出是填充
            ax.add_patch(Rectangle((x0 + j, y0 + i), 1, 1, facecolor=face, edgecolor="#555555", lw=0.8))
            if hatch:
                ax.add_patch(Rectangle((x0 + j, y0 + i), 1, 1, fill=False, hatch=hatch, edgecolor="#a0a0a0", lw=0))
            ax.text(x0 + j + 0.5, y0 + i + 0.5, _fmt(A[i, j]), ha="center", va="center", fontsize=fontsize)
    if title:
        ax.text(x0 + w / 2, y0 - 0.35, title, ha="center", va="bottom", fontsize=fontsize)
    return w, h


def _symbol(ax, x, y, text, fontsize=16):
    ax.text(x, y, text, ha="center", va="center", fontsize=fontsize * 1.5 if text == STAR else fontsize)


def _canvas(width, height, scale=0.42):
    fig, ax = plt.subplots(figsize=(max(width * scale, 2.0), max(height * scale, 1.2)))
    ax.set_xlim(-0.3, width + 0.3)
    ax.set_ylim(height + 0.3, -0.3)
    ax.set_aspect("equal")
    ax.axis("off")
    return fig, ax


def _row(ax, items, gap=1.6, y=1.0, x0=0.0):
    """从 ``x0`` 起从左到右排 ``[(张量, 高亮, 颜色, 遮罩, 标题) 或 运算符字符串]``，各方格竖直居中。"""
    tallest = max(torch.as_tensor(it[0]).shape[0] for it in items if not isinstance(it, str))
    x = x0
    for it in items:
        if isinstance(it, str):
            _symbol(ax, x + gap / 2, y + tallest / 2, it)
            x += gap
        else:
            A, hl, color, shade, title = it
            h = torch.as_tensor(A).shape[0]
            w, _ = draw_grid(ax, A, x, y + (tallest - h) / 2, hl, color, shade, title)
            x += w
    return x, tallest


def _sum_text(window, kernel) -> str:
    terms = [f"{_fmt(a)}×{_fmt(b)}" for a, b in zip(window.flatten().tolist(), kernel.flatten().tolist())]
    return " + ".join(terms) + f" = {_fmt((window * kernel).sum())}"


def _window_figure(P, K, pos, shade, title, kernel_window):
    """输入（可能已填充）⋆ 核 = 输出，标出 ``pos`` 处的窗口和输出元素，下方写出这一次乘加。"""
    Y = corr2d(P, K)
    i, j = pos
    kh, kw = K.shape
    width = P.shape[1] + K.shape[1] + Y.shape[1] + 2 * 1.6
    height = max(P.shape[0], K.shape[0], Y.shape[0]) + 2.6
    fig, ax = _canvas(width, height)
    _row(ax, [(P, (i, j, kh, kw), WINDOW, shade, title), STAR,
              (K, (0, 0, kh, kw) if kernel_window else None, WINDOW, None, zh("核", "kernel")), "=",
              (Y, (i, j, 1, 1), RESULT, None, zh("输出", "output"))])
    ax.text(width / 2, height - 0.6, _sum_text(P[i:i + kh, j:j + kw], K), ha="center", va="center", fontsize=10)
    return fig


def _padded(X, padding):
    """四周补 ``padding`` 圈 0，并返回标出填充位置的布尔掩码。"""
    P = torch.nn.functional.pad(X, (padding,) * 4)
    shade = torch.ones_like(P, dtype=torch.bool)
    shade[padding:padding + X.shape[0], padding:padding + X.shape[1]] = False
    return P, shade


def corr2d_figure(X, K, pos=(0, 0)):
    """互相关：输入 ⋆ 核 = 输出。标出 ``pos`` 处的窗口、对应的输出元素，并写出这一次乘加。"""
    X, K = torch.as_tensor(X), torch.as_tensor(K)
    return _window_figure(X, K, pos, None, zh("输入", "input"), kernel_window=True)


def padding_figure(X, K, padding=1, pos=(0, 0)):
    """填充：输入四周补 ``padding`` 圈 0（灰色），再做互相关；标出 ``pos`` 处越过原输入边界的窗口。"""
    X, K = torch.as_tensor(X), torch.as_tensor(K)
    P, shade = _padded(X, padding)
    return _window_figure(P, K, pos, shade, zh(f"填充 {padding} 圈 0 后的输入", f"input padded by {padding}"),
                          kernel_window=False)


TRACE = "#a1d99b"   # 翻转图中跟踪核的一个元素


def flip_figure(X, K, pos=(0, 0)):
    """卷积 = 翻转核后的互相关。上一行：核 ``K`` 上下翻转、再左右翻转得到 ``K′``，绿色格子跟踪
    ``K`` 左上角的元素；下一行：输入 ⋆ ``K′`` = 卷积的输出（由 :func:`cnnlib.ops.conv2d_true` 算出），
    标出 ``pos`` 处的窗口，并写出这一次乘加。"""
    from .ops import conv2d_true
    X, K = torch.as_tensor(X), torch.as_tensor(K)
    K_ud, K_flip = torch.flip(K, dims=(0,)), torch.flip(K, dims=(0, 1))
    Z = conv2d_true(X, K)
    assert torch.allclose(Z, corr2d(X, K_flip)), "卷积应等于翻转核后的互相关"
    i, j = pos
    kh, kw = K.shape
    width = X.shape[1] + kw + Z.shape[1] + 2 * 1.6
    top = 3 * kw + 2 * 1.6
    y2 = 1.0 + kh + 1.5
    height = y2 + max(X.shape[0], Z.shape[0]) + 1.6
    fig, ax = _canvas(max(width, top), height)
    _row(ax, [(K, (0, 0, 1, 1), TRACE, None, zh("核 K", "kernel K")), "→",
              (K_ud, (kh - 1, 0, 1, 1), TRACE, None, zh("上下翻转", "flip up-down")), "→",
              (K_flip, (kh - 1, kw - 1, 1, 1), TRACE, None, zh("再左右翻转：K′", "then left-right: K′"))],
         y=1.0, x0=(width - top) / 2 if width > top else 0.0)
    _row(ax, [(X, (i, j, kh, kw), WINDOW, None, zh("输入", "input")), STAR,
              (K_flip, (kh - 1, kw - 1, 1, 1), TRACE, None, "K′"), "=",
              (Z, (i, j, 1, 1), RESULT, None, zh("卷积的输出", "convolution output"))], y=y2)
    ax.text(max(width, top) / 2, height - 0.6, _sum_text(X[i:i + kh, j:j + kw], K_flip),
            ha="center", va="center", fontsize=10)
    return fig


def _outline(ax, x0, y0, r, c, h, w, color, inset=0.0):
    ax.add_patch(Rectangle((x0 + c + inset, y0 + r + inset), w - 2 * inset, h - 2 * inset, fill=False,
                           edgecolor=color, lw=2.4))


STRIDE_COLORS = ("#3182bd", "#31a354", "#e6550d")


def stride_figure(X, K, stride=(3, 2), padding=1):
    """步幅：高、宽方向的步幅为 ``stride``。在同一张填充后的输入上用三种颜色框出三个窗口：
    第一个输出、向右移一个步幅的输出、向下移一个步幅的输出，输出中对应的元素用同样的颜色框出。"""
    X, K = torch.as_tensor(X), torch.as_tensor(K)
    sh, sw = stride
    P, shade = _padded(X, padding)
    Y = corr2d(P, K)[::sh, ::sw]
    kh, kw = K.shape
    windows = [(0, 0), (0, 1), (1, 0)]
    windows = [(a, b) for a, b in windows if a < Y.shape[0] and b < Y.shape[1]]
    width = P.shape[1] + K.shape[1] + Y.shape[1] + 2 * 1.6
    height = max(P.shape[0], Y.shape[0]) + 1.6 + 0.55 * len(windows)
    fig, ax = _canvas(width, height)
    tallest = P.shape[0]
    draw_grid(ax, P, 0, 1.0, None, WINDOW, shade,
              zh(f"填充 {padding} 圈 0 的输入，高方向步幅 {sh}、宽方向步幅 {sw}",
                 f"padded input, stride {sh} down, {sw} across"))
    x = P.shape[1]
    _symbol(ax, x + 0.8, 1.0 + tallest / 2, STAR)
    x += 1.6
    draw_grid(ax, K, x, 1.0 + (tallest - kh) / 2, None, WINDOW, None, zh("核", "kernel"))
    x += kw
    _symbol(ax, x + 0.8, 1.0 + tallest / 2, "=")
    x += 1.6
    y0 = 1.0 + (tallest - Y.shape[0]) / 2
    draw_grid(ax, Y, x, y0, None, WINDOW, None, zh("输出", "output"))
    for k, ((a, b), color) in enumerate(zip(windows, STRIDE_COLORS)):
        _outline(ax, 0, 1.0, a * sh, b * sw, kh, kw, color, inset=0.06 * k)
        _outline(ax, x, y0, a, b, 1, 1, color, inset=0.06)
        r, c = a * sh, b * sw
        ax.text(width / 2, 1.0 + tallest + 0.7 + 0.55 * k, _sum_text(P[r:r + kh, c:c + kw], K),
                ha="center", va="center", fontsize=10, color=color)
    return fig


def multi_in_figure(X, K):
    """多输入通道：每个通道各做一次互相关，再把结果相加。``X`` 形状 (c, h, w)，``K`` 形状 (c, k_h, k_w)。"""
    X, K = torch.as_tensor(X), torch.as_tensor(K)
    c, kh, kw = K.shape
    Y = corr2d_multi_in(X, K)
    parts = [corr2d(x, k) for x, k in zip(X, K)]
    row_h = max(X.shape[1], kh) + 1.4
    width = X.shape[2] + kw + parts[0].shape[1] + Y.shape[1] + 3 * 1.6
    height = c * row_h + 1.2
    fig, ax = _canvas(width, height)
    for ch in range(c):
        y = 0.8 + ch * row_h
        x = 0.0
        draw_grid(ax, X[ch], x, y, (0, 0, kh, kw), WINDOW, None, zh(f"输入通道 {ch}", f"input channel {ch}"))
        x += X.shape[2]
        _symbol(ax, x + 0.8, y + X.shape[1] / 2, STAR)
        x += 1.6
        draw_grid(ax, K[ch], x, y + (X.shape[1] - kh) / 2, (0, 0, kh, kw), WINDOW, None,
                  zh(f"核通道 {ch}", f"kernel channel {ch}"))
        x += kw
        _symbol(ax, x + 0.8, y + X.shape[1] / 2, "=")
        x += 1.6
        draw_grid(ax, parts[ch], x, y + (X.shape[1] - parts[ch].shape[0]) / 2, (0, 0, 1, 1), RESULT)
        if ch < c - 1:
            _symbol(ax, x + parts[ch].shape[1] / 2, y + row_h - 0.55, "+")
    x += parts[0].shape[1]
    _symbol(ax, x + 0.8, 0.8 + (c * row_h - 1.4) / 2, "=")
    draw_grid(ax, Y, x + 1.6, 0.8 + (c * row_h - 1.4 - Y.shape[0]) / 2, (0, 0, 1, 1), RESULT,
              None, zh("输出（各通道相加）", "output (sum)"))
    total = " + ".join(_fmt((X[ch, :kh, :kw] * K[ch]).sum()) for ch in range(c))
    ax.text(width / 2, height - 0.35, f"{total} = {_fmt(Y[0, 0])}", ha="center", va="center", fontsize=10)
    return fig


def kernel_tensor_figure(K, X):
    """四维核张量 ``K``（形状 c_o × c_i × k_h × k_w）排成 c_o 行、c_i 列的核：第 o 行第 c 列是 K[o, c]。
    每一列上方是它作用的输入通道 ``X[c]``，每一行右边是它算出的输出通道
    （:func:`cnnlib.ops.corr2d_multi_in_out`）。"""
    from .ops import corr2d_multi_in_out
    K, X = torch.as_tensor(K), torch.as_tensor(X)
    c_o, c_i, kh, kw = K.shape
    Y = corr2d_multi_in_out(X, K)
    h, w = X.shape[1:]
    left, col_w, col_gap, row_gap = 3.0, max(w, kw), 0.9, 1.0
    y_k = 1.0 + h + 1.4                                  # 第一行核的上沿
    x_y = left + c_i * (col_w + col_gap) + 1.2           # 输出通道的左沿
    width = x_y + Y.shape[2] + 0.3
    height = y_k + c_o * (kh + row_gap) + 0.9
    fig, ax = _canvas(width, height)
    for c in range(c_i):
        x = left + c * (col_w + col_gap)
        draw_grid(ax, X[c], x + (col_w - w) / 2, 1.0, None, WINDOW, None, zh(f"输入通道 {c}", f"input {c}"))
    for o in range(c_o):
        y = y_k + o * (kh + row_gap)
        ax.text(left - 0.4, y + kh / 2, zh(f"输出通道 {o}", f"output {o}"), ha="right", va="center", fontsize=10)
        for c in range(c_i):
            x = left + c * (col_w + col_gap) + (col_w - kw) / 2
            draw_grid(ax, K[o, c], x, y, (0, 0, kh, kw), WINDOW, None, f"K[{o}, {c}]", fontsize=9)
        _symbol(ax, x_y - 0.6, y + kh / 2, "→", fontsize=12)
        draw_grid(ax, Y[o], x_y, y + (kh - Y.shape[1]) / 2, (0, 0, *Y.shape[1:]), RESULT, None,
                  zh("输出", "output") if o == 0 else None, fontsize=9)
    bottom = y_k + c_o * (kh + row_gap) - row_gap
    ax.add_patch(FancyBboxPatch((left - 0.25, y_k - 0.95), c_i * (col_w + col_gap) - col_gap + 0.5,
                                bottom - y_k + 1.15, boxstyle="round,pad=0,rounding_size=0.2", fill=False,
                                edgecolor="#636363", lw=1.0, linestyle="--"))
    ax.text(width / 2, height - 0.45, zh(f"核张量 K：{c_o}×{c_i}×{kh}×{kw}（输出通道 × 输入通道 × 高 × 宽）",
                                         f"kernel tensor K: {c_o}×{c_i}×{kh}×{kw} (out × in × height × width)"),
            ha="center", va="center", fontsize=10)
    return fig


def conv1x1_figure(X, K, pos=(0, 0)):
    """1×1 卷积：每个像素位置上，``c_i`` 个输入值经 ``c_o × c_i`` 的权重矩阵变成 ``c_o`` 个输出值。

    ``X`` 形状 (c_i, h, w)，``K`` 形状 (c_o, c_i, 1, 1) 或 (c_o, c_i)。标出 ``pos`` 处的像素。
    """
    X = torch.as_tensor(X)
    W = torch.as_tensor(K).reshape(K.shape[0], K.shape[1])
    c_o, c_i = W.shape
    Y = torch.einsum("oi,ihw->ohw", W, X)
    i, j = pos
    h, w = X.shape[1:]
    gap = 1.1
    width = w + W.shape[1] + w + 2 * 1.6 + 0.4
    height = max(c_i, c_o) * (h + gap) + 1.3
    fig, ax = _canvas(width, height)
    rows = max(c_i, c_o)
    for ch in range(c_i):
        draw_grid(ax, X[ch], 0, 1.0 + (rows - c_i) * (h + gap) / 2 + ch * (h + gap), (i, j, 1, 1), WINDOW, None,
                  zh(f"输入通道 {ch}", f"input {ch}"), fontsize=9)
    mid = 1.0 + max(c_i, c_o) * (h + gap) / 2 - gap / 2
    _symbol(ax, w + 0.8, mid, "→")
    draw_grid(ax, W, w + 1.6, mid - c_o / 2, None, WINDOW, None, zh(f"权重 {c_o}×{c_i}", f"weights {c_o}×{c_i}"), fontsize=9)
    _symbol(ax, w + 1.6 + c_i + 0.8, mid, "→")
    x = w + 1.6 + c_i + 1.6
    for ch in range(c_o):
        draw_grid(ax, Y[ch], x, 1.0 + (rows - c_o) * (h + gap) / 2 + ch * (h + gap), (i, j, 1, 1), RESULT, None,
                  zh(f"输出通道 {ch}", f"output {ch}"), fontsize=9)
    vec = ", ".join(_fmt(v) for v in X[:, i, j])
    out = ", ".join(_fmt(v) for v in Y[:, i, j])
    ax.text(width / 2, height - 0.45, zh(f"位置 ({i}, {j})：W · [{vec}] = [{out}]", f"pixel ({i}, {j}): W · [{vec}] = [{out}]"),
            ha="center", va="center", fontsize=10)
    return fig


def pooling_figure(X, pool_size=2, pos=(0, 0)):
    """最大汇聚与平均汇聚并排：同一个窗口，一个取最大值，一个取平均值。"""
    X = torch.as_tensor(X, dtype=torch.float32)
    p = pool_size if isinstance(pool_size, tuple) else (pool_size, pool_size)
    Ymax, Yavg = pool2d(X, p, "max"), pool2d(X, p, "avg")
    i, j = pos
    width = X.shape[1] + Ymax.shape[1] + Yavg.shape[1] + 2 * 1.6 + 1.0
    height = X.shape[0] + 3.0
    fig, ax = _canvas(width, height)
    draw_grid(ax, X, 0, 1.0, (i, j, *p), WINDOW, None, zh("输入", "input"))
    x = X.shape[1]
    _symbol(ax, x + 0.8, 1.0 + X.shape[0] / 2, "→")
    x += 1.6
    y0 = 1.0 + (X.shape[0] - Ymax.shape[0]) / 2
    draw_grid(ax, Ymax, x, y0, (i, j, 1, 1), RESULT, None, zh("最大汇聚", "max pooling"))
    x += Ymax.shape[1] + 1.0
    draw_grid(ax, Yavg, x, y0, (i, j, 1, 1), RESULT, None, zh("平均汇聚", "average pooling"))
    window = ", ".join(_fmt(v) for v in X[i:i + p[0], j:j + p[1]].flatten())
    ax.text(width / 2, height - 0.6, f"max({window}) = {_fmt(Ymax[i, j])}    mean({window}) = {_fmt(Yavg[i, j])}",
            ha="center", va="center", fontsize=10)
    return fig


# ---------------------------------------------------------------- 结构图：取自真实模型

ACTIVATIONS = (nn.ReLU, nn.Sigmoid, nn.Tanh)
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


@dataclass
class Box:
    """结构图中的一个方框：一层或一个块。"""
    label: str
    shape: tuple  # 输出形状（不含批量维）
    kind: str     # conv / pool / fc / block / input / other
    params: int = 0       # 方框内各层的参数个数之和
    before: tuple = None  # 并入了展平时，展平之前的形状（图上写成 “512×7×7 → 25088”）


def _pair(v):
    return v if isinstance(v, tuple) else (v, v)


def describe(layer: nn.Module) -> tuple:
    """一层的中文描述与类别，例如 ``("5×5 卷积, 6, 填充 2", "conv")``。"""
    if isinstance(layer, nn.Conv2d):
        (kh, kw), (sh, _), (ph, pw) = layer.kernel_size, layer.stride, _pair(layer.padding)
        if layer.groups > 1 and layer.groups == layer.in_channels:      # 深度可分离卷积的第一步
            text = zh(f"{kh}×{kw} 逐通道卷积, {layer.out_channels}", f"{kh}×{kw} depthwise, {layer.out_channels}")
        elif layer.groups > 1:
            text = zh(f"{kh}×{kw} 分组卷积({layer.groups} 组), {layer.out_channels}",
                      f"{kh}×{kw} conv ({layer.groups} groups), {layer.out_channels}")
        else:
            text = zh(f"{kh}×{kw} 卷积, {layer.out_channels}", f"{kh}×{kw} conv, {layer.out_channels}")
        if sh > 1:
            text += zh(f", 步幅 {sh}", f", stride {sh}")
        if ph or pw:
            text += zh(f", 填充 {ph}" if ph == pw else f", 填充 {ph}×{pw}", f", pad {ph}")
        return text, "conv"
    if isinstance(layer, (nn.MaxPool2d, nn.AvgPool2d)):
        k, s = _pair(layer.kernel_size)[0], _pair(layer.stride)[0]
        p = _pair(layer.padding)[0]
        name = zh("最大汇聚", "max pool") if isinstance(layer, nn.MaxPool2d) else zh("平均汇聚", "avg pool")
        text = f"{k}×{k} {name}" + (zh(f", 步幅 {s}", f", stride {s}") if s > 1 else "")
        return text + (zh(f", 填充 {p}", f", pad {p}") if p else ""), "pool"
    if isinstance(layer, (nn.AdaptiveAvgPool2d,)):
        return zh("全局平均汇聚", "global avg pool"), "pool"
    if isinstance(layer, nn.Linear):
        return zh(f"全连接, {layer.out_features}", f"dense, {layer.out_features}"), "fc"
    if isinstance(layer, nn.Flatten):
        return zh("展平", "flatten"), "other"
    if isinstance(layer, nn.Dropout):
        return zh(f"丢弃法 {layer.p:g}", f"dropout {layer.p:g}"), "other"
    if isinstance(layer, ACTIVATIONS):
        return layer.__class__.__name__, "other"
    if isinstance(layer, NORMS):
        return "BN", "norm"
    if hasattr(layer, "conv1") and hasattr(layer, "conv2") and hasattr(layer, "shortcut"):   # 残差块
        c, s = layer.conv1.out_channels, layer.conv1.stride[0]
        text = zh(f"残差块, {c}", f"residual, {c}") + (zh(f", 步幅 {s}", f", stride {s}") if s > 1 else "")
        return text + (zh(" (1×1 捷径)", " (1×1 shortcut)") if layer.shortcut is not None else ""), "block"
    if hasattr(layer, "growth_rate") and hasattr(layer, "net"):                             # 稠密块
        n, g = len(layer.net), layer.growth_rate
        return zh(f"稠密块: {n} 个卷积块, 增长率 {g}", f"dense block: {n} convs, growth {g}"), "block"
    if _is_inception(layer):
        return _inception_label(layer), "block"
    if isinstance(layer, nn.Sequential):
        return _sequence_label(layer), "block"
    return layer.__class__.__name__, "other"


def _is_inception(m) -> bool:
    return all(hasattr(m, p) for p in ("p1", "p2", "p3", "p4"))


def _inception_channels(m):
    return (m.p1[0].out_channels, m.p2[2].out_channels, m.p3[2].out_channels, m.p4[1].out_channels)


def _inception_label(m) -> str:
    name = f"Inception {getattr(m, 'name', '')}".rstrip()
    return f"{name}: " + "+".join(str(c) for c in _inception_channels(m))


def _sequence_label(seq: nn.Sequential) -> str:
    """把一个块里的层压成几行，每种层一行，相同的相邻行写成“n 个 …”。批量规范化和激活函数与结构图的
    其他方框一样用 “·” 接在前一层后面（如 “3×3 卷积, 64 · ReLU”）；出现在块的开头时接在后一层前面
    （如 DenseNet 的 “BN · ReLU · 1×1 卷积”）。"""
    lines, pending = [], []
    for layer in seq:
        text = describe(layer)[0]
        if isinstance(layer, (*ACTIVATIONS, *NORMS)):
            if lines:
                lines[-1] += f" · {text}"
            else:
                pending.append(text)
        else:
            lines.append(" · ".join(pending + [text]))
            pending = []
    if pending:
        lines.append(" · ".join(pending))
    parts = []
    for text in lines:
        if parts and parts[-1][0] == text:
            parts[-1][1] += 1
        else:
            parts.append([text, 1])
    return "\n".join(t if n == 1 else zh(f"{n} 个 {t}", f"{n} × {t}") for t, n in parts)


def _shapes(net, modules, in_channels, size):
    """在 meta 设备上前向一次，返回 ``modules`` 中每个模块的输出形状（不含批量维）；
    键 ``("in", id(m))`` 下另存输入形状。"""
    shapes = {}

    def hook(mod, inputs, output):
        shapes[id(mod)] = tuple(output.shape[1:])
        shapes["in", id(mod)] = tuple(inputs[0].shape[1:])

    hooks = [m.register_forward_hook(hook) for m in modules]
    try:
        meta_forward(net, (in_channels, size, size))
    finally:
        for h in hooks:
            h.remove()
    return shapes


def layer_boxes(net, input_size=None, in_channels=None, expand=False, fold=True):
    """按前向顺序列出 ``net`` 的方框（:class:`Box`）：第一项是输入。

    ``net`` 是一个 ``nn.Sequential``（cnnlib 的模型都是）。``expand=True`` 时把子块再展开一层
    （例如 GoogLeNet 的五个模块展开成各个卷积层与 Inception 块）。``fold=True`` 时把激活函数、
    丢弃法和展平并入前一个方框。
    """
    in_channels = in_channels or getattr(net, "in_channels", 1)
    size = input_size or getattr(net, "input_size", 224)
    layers = []
    for child in net:
        if expand and isinstance(child, nn.Sequential):
            layers.extend(child)
        else:
            layers.append(child)
    flattens = [m for layer in layers if isinstance(layer, nn.Sequential) for m in layer if isinstance(m, nn.Flatten)]
    shapes = _shapes(net, layers + flattens, in_channels, size)
    boxes = [Box(zh("输入", "input"), (in_channels, size, size), "input")]
    for layer in layers:
        text, kind = describe(layer)
        params = num_params(layer)
        if fold and boxes[-1].kind != "input" and isinstance(layer, (*ACTIVATIONS, *NORMS, nn.Dropout, nn.Flatten)):
            last = boxes[-1]
            before = last.shape if isinstance(layer, nn.Flatten) and len(last.shape) > 1 else last.before
            boxes[-1] = Box(f"{last.label} · {text}", shapes[id(layer)], last.kind, last.params + params, before)
        else:
            # 以展平结尾的块（如 GoogLeNet 的模块 5）：同样写出展平之前的形状
            inner = [m for m in layer if isinstance(m, nn.Flatten)] if isinstance(layer, nn.Sequential) else []
            before = shapes["in", id(inner[-1])] if inner else None
            boxes.append(Box(text, shapes[id(layer)], kind, params, before))
    return boxes


def _shape_text(shape) -> str:
    return "×".join(str(s) for s in shape)


def _params_text(n: int) -> str:
    if n >= 10 ** 6:
        return f"{n / 10 ** 6:.1f}M"
    if n >= 10 ** 3:
        return f"{n / 10 ** 3:.1f}K"
    return str(n)


def box_text(box, params=False) -> str:
    """方框右侧的文字：输出形状（并入展平时写成 “前 → 后”），可选参数个数。"""
    text = _shape_text(box.shape)
    if box.before:
        text = f"{_shape_text(box.before)} → {text}"
    if params and box.params:
        text += zh(f"（参数 {_params_text(box.params)}）", f" ({_params_text(box.params)} params)")
    return text


LINE_H, BOX_H, GAP = 0.17, 0.3, 0.14


def _box_height(box) -> float:
    return BOX_H + LINE_H * box.label.count("\n")


def _draw_column(ax, boxes, x, width, top, fontsize, params=False):
    y = top
    for k, box in enumerate(boxes):
        h = _box_height(box)
        ax.add_patch(FancyBboxPatch((x, y - h), width, h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                    facecolor=KIND_COLORS.get(box.kind, KIND_COLORS["other"]),
                                    edgecolor="#636363", lw=0.8))
        ax.text(x + width / 2, y - h / 2, box.label, ha="center", va="center", fontsize=fontsize,
                linespacing=1.25)
        ax.text(x + width + 0.08, y - h / 2, box_text(box, params), ha="left", va="center",
                fontsize=fontsize, color="#404040")
        if k:
            ax.add_patch(FancyArrowPatch((x + width / 2, y + GAP + 0.02), (x + width / 2, y + 0.02),
                                         arrowstyle="-|>", mutation_scale=7, color="#636363", lw=0.8))
        y -= h + GAP
    return top - y


SCALE = 0.8  # 结构图中一个长度单位合多少英寸


def _text_width(text, fontsize) -> float:
    """``text`` 以 ``fontsize`` 磅排出来的宽度（结构图的长度单位），多行取最宽的一行。"""
    prop = FontProperties(size=fontsize)
    widths = [TextPath((0, 0), line, size=fontsize, prop=prop).get_extents().width
              for line in text.split("\n") if line.strip()]
    return max(widths, default=0.0) / 72 / SCALE


def architecture_figure(*columns, box_width=2.6, fontsize=8, params=False, gutter=None):
    """画一个或几个网络的结构图，从上（输入）到下（输出），并排比较。

    每个参数是 ``(标题, 模型)`` 或 ``(标题, 模型, layer_boxes 的关键字参数字典)``，也可以直接是
    :func:`layer_boxes` 返回的方框列表 ``(标题, [Box, ...])``。方框右侧是该层的输出形状；
    ``params=True`` 时再写上参数个数（看参数集中在哪里）。方框至少宽 ``box_width``，放不下最长的
    标签时自动加宽；``gutter`` 是右侧文字占的宽度，默认按最长的文字量出来，与下一列留出间隔。
    """
    cols = []
    for col in columns:
        title, thing, *rest = col
        kwargs = rest[0] if rest else {}
        boxes = thing if isinstance(thing, list) else layer_boxes(thing, **kwargs)
        cols.append((title, boxes))
    height = max(sum(_box_height(b) + GAP for b in boxes) for _, boxes in cols)
    every = [b for _, boxes in cols for b in boxes]
    box_width = max(box_width, max(_text_width(b.label, fontsize) for b in every) + 0.25)
    side = max(_text_width(box_text(b, params), fontsize) for b in every)
    col_w = box_width + (gutter if gutter is not None else side + 0.5)
    fig = plt.figure(figsize=((col_w * len(cols) + 0.05) * SCALE, (height + 0.4) * SCALE))
    ax = fig.add_axes([0, 0, 1, 1])
    for c, (title, boxes) in enumerate(cols):
        x = c * col_w
        ax.text(x + box_width / 2, height + 0.08, title, ha="center", va="bottom", fontsize=fontsize + 2)
        _draw_column(ax, boxes, x, box_width, height, fontsize, params)
    ax.set_xlim(-0.05, col_w * len(cols))
    ax.set_ylim(0, height + 0.4)
    ax.axis("off")
    return fig


def _parallel_figure(paths, top_label, bottom_label, title="", fontsize=8, box_w=1.9):
    """几条并行路径：上方一个输入框，下方一个汇合框（连结或相加），每条路径是一列方框。"""
    depth = max(len(p) for p in paths)
    gap, step, box_h = 0.25, 0.5, 0.32
    total_w = len(paths) * box_w + (len(paths) - 1) * gap
    fig, ax = plt.subplots(figsize=(total_w + 0.6, (depth + 2) * step + 0.4))
    top = (depth + 1.5) * step

    def box(x, y, w, label, kind):
        ax.add_patch(FancyBboxPatch((x, y - box_h / 2), w, box_h, boxstyle="round,pad=0.02,rounding_size=0.08",
                                    facecolor=KIND_COLORS[kind], edgecolor="#636363", lw=0.8))
        ax.text(x + w / 2, y, label, ha="center", va="center", fontsize=fontsize)

    def arrow(x0, y0, x1, y1):
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=8,
                                     color="#636363", lw=0.8))

    box(0, top, total_w, top_label, "input")
    bottom = top - (depth + 1) * step
    box(0, bottom, total_w, bottom_label, "block")
    for k, boxes in enumerate(paths):
        x = k * (box_w + gap)
        cx = x + box_w / 2
        prev = top - box_h / 2
        for d, b in enumerate(boxes):
            y = top - (d + 1) * step
            box(x, y, box_w, b.label, b.kind)
            arrow(cx, prev, cx, y + box_h / 2)
            prev = y - box_h / 2
        arrow(cx, prev, cx, bottom + box_h / 2)
    ax.set_xlim(-0.1, total_w + 0.1)
    ax.set_ylim(bottom - step / 2, top + step / 2)
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=fontsize + 2)
    return fig


def _path_boxes(paths, in_channels, input_size):
    """每条路径（一个层或一个 ``nn.Sequential``）的方框，不含输入。"""
    return [layer_boxes(p if isinstance(p, nn.Sequential) else nn.Sequential(p), input_size=input_size,
                        in_channels=in_channels)[1:] for p in paths]


def _concat_label(paths) -> str:
    out = [p[-1].shape[0] for p in paths]
    return zh(f"沿通道维连结：{' + '.join(str(c) for c in out)} = {sum(out)} 通道",
              f"concatenate: {sum(out)} channels")


def parallel_figure(paths, in_channels, input_size, title="", fontsize=8, box_w=1.9):
    """任意几条并行路径（每条是一个层或 ``nn.Sequential``），输出沿通道维连结。每条路径的层与通道数
    取自模块本身；上方的输入框和下方的连结框写出在 ``input_size`` 的输入上前向得到的形状。"""
    boxes = _path_boxes(paths, in_channels, input_size)
    shapes = {b[-1].shape[1:] for b in boxes}
    assert len(shapes) == 1, f"各路径输出的高宽不同，不能连结：{shapes}"
    out = (sum(b[-1].shape[0] for b in boxes), *shapes.pop())
    size = _shape_text((in_channels, input_size, input_size))
    return _parallel_figure(boxes, zh(f"输入 {size}", f"input {size}"),
                            _concat_label(boxes) + zh(f"，输出 {_shape_text(out)}", f", output {_shape_text(out)}"),
                            title, fontsize, box_w)


def inception_figure(block, input_size=12, fontsize=8):
    """Inception 块的四条并行路径：每条路径的层与通道数取自 ``block`` 本身。"""
    c_in = block.p1[0].in_channels
    paths = _path_boxes((block.p1, block.p2, block.p3, block.p4), c_in, input_size)
    name = getattr(block, "name", "")
    return _parallel_figure(paths, zh(f"输入（{c_in} 通道）", f"input ({c_in} channels)"), _concat_label(paths),
                            f"Inception {name}".rstrip() if name else "", fontsize)


def residual_figure(block, input_size=6, fontsize=8):
    """残差块：左边是主路径（两个 3×3 卷积，各接批量规范化），右边是捷径（恒等映射或 1×1 卷积），
    两者相加后再过 ReLU。层的参数与输出形状取自 ``block``（:class:`cnnlib.models.Residual`）。"""
    c_in = block.conv1.in_channels
    main = nn.Sequential(block.conv1, block.bn1, nn.ReLU(), block.conv2, block.bn2)
    paths = [layer_boxes(main, input_size=input_size, in_channels=c_in)[1:]]
    if block.shortcut is not None:
        paths.append(layer_boxes(nn.Sequential(block.shortcut), input_size=input_size, in_channels=c_in)[1:])
    else:
        paths.append([Box(zh("恒等映射（不变）", "identity"), (c_in, input_size, input_size), "other")])
    out = paths[0][-1].shape
    title = zh("残差块（1×1 卷积捷径）", "residual block (1×1 shortcut)") if block.shortcut is not None \
        else zh("残差块", "residual block")
    return _parallel_figure(
        paths, zh(f"输入 {_shape_text((c_in, input_size, input_size))}", f"input {_shape_text((c_in, input_size, input_size))}"),
        zh(f"相加，再 ReLU → {_shape_text(out)}", f"add, then ReLU → {_shape_text(out)}"), title, fontsize, box_w=2.6)


def dense_block_figure(block, input_size=8, transition=None, fontsize=8, box_width=2.8):
    """稠密块：每个卷积块（BN → ReLU → 3×3 卷积）的输出与它的输入沿通道维连结。左侧的箭头表示
    输入原样绕过卷积块、进入连结。通道数取自 ``block``（:class:`cnnlib.models.DenseBlock`），
    可选的 ``transition``（过渡层）接在最后。"""
    c, g, s = block.in_channels, block.growth_rate, input_size
    boxes = [Box(zh(f"输入（{c} 通道）", f"input ({c} channels)"), (c, s, s), "input")]
    for k, blk in enumerate(block.net):
        conv = next(m for m in blk if isinstance(m, nn.Conv2d))
        kh = conv.kernel_size[0]
        boxes.append(Box(zh(f"卷积块 {k + 1}: BN · ReLU · {kh}×{kh} 卷积, {g}", f"conv block {k + 1}: BN·ReLU·{kh}×{kh} conv, {g}"),
                         (g, s, s), "conv", num_params(blk)))
        boxes.append(Box(zh(f"连结：{c} + {g} = {c + g} 通道", f"concatenate: {c + g} channels"), (c + g, s, s), "block"))
        c += g
    if transition is not None:
        conv = next(m for m in transition if isinstance(m, nn.Conv2d))
        shape = _shapes(transition, [transition], c, s)[id(transition)]
        boxes.append(Box(zh(f"过渡层: BN · ReLU · 1×1 卷积, {conv.out_channels}\n2×2 平均汇聚, 步幅 2",
                            f"transition: 1×1 conv, {conv.out_channels}\n2×2 avg pool"), shape, "pool",
                         num_params(transition)))
    height = sum(_box_height(b) + GAP for b in boxes)
    fig, ax = plt.subplots(figsize=(box_width + 2.2, height + 0.2))
    x = 0.45
    _draw_column(ax, boxes, x, box_width, height, fontsize)
    # 绕过每个卷积块的箭头：从卷积块上面的方框左侧，到它下面的连结框左侧
    ys, y = [], height
    for b in boxes:
        h = _box_height(b)
        ys.append(y - h / 2)
        y -= h + GAP
    for k in range(1, len(boxes) - (transition is not None), 2):
        y0, y1 = ys[k - 1], ys[k + 1]
        ax.add_patch(FancyArrowPatch((x, y0), (x, y1), connectionstyle="arc3,rad=0.6", arrowstyle="-|>",
                                     mutation_scale=8, color="#3182bd", lw=1.0))
    ax.set_xlim(-0.1, box_width + 2.1)
    ax.set_ylim(0, height + 0.1)
    ax.axis("off")
    return fig


# ---------------------------------------------------------------- 分组卷积：哪些输入通道连到哪些输出通道

GROUP_COLORS = ("#3182bd", "#e6550d", "#31a354", "#756bb1")


def channel_links(conv: nn.Conv2d) -> torch.Tensor:
    """``conv`` 的通道连接矩阵（形状 ``c_o × c_i`` 的布尔张量）：输出通道 o 是否用到输入通道 i。

    不读 ``groups`` 属性，而是做一次前向计算：把权重全换成 1、偏置换成 0，第 i 张输入图像只有
    通道 i 为 1，看哪些输出通道不为 0。
    """
    ones = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                     conv.dilation, conv.groups, bias=False)
    nn.init.ones_(ones.weight)
    c_i, (kh, kw) = conv.in_channels, conv.kernel_size
    X = torch.eye(c_i).reshape(c_i, c_i, 1, 1).expand(c_i, c_i, kh, kw)
    with torch.no_grad():
        Y = ones(X)                                  # (c_i, c_o, h, w)
    return (Y.sum(dim=(2, 3)) > 0).T


def _link_groups(links):
    """把连接矩阵的输出通道按“用到的输入通道集合”分组：[(输入下标, 输出下标), ...]。"""
    groups = {}
    for o, row in enumerate(links):
        groups.setdefault(tuple(row.nonzero().flatten().tolist()), []).append(o)
    return [(list(ins), outs) for ins, outs in groups.items()]


def _span(idx) -> str:
    return f"{idx[0]}–{idx[-1]}" if len(idx) > 1 else str(idx[0])


def grouped_conv_figure(conv, group_names=None, title=""):
    """分组卷积的通道连接：左边是输入通道（上）到输出通道（下）的连线，每组一种颜色；右边是
    :func:`channel_links` 算出的 ``c_o × c_i`` 连接矩阵，每个着色的块标出这一组的权重形状。
    ``group_names`` 给各组命名（例如 ``["GPU 0", "GPU 1"]``），默认“第 k 组”。"""
    links = channel_links(conv)
    groups = _link_groups(links)
    c_o, c_i = links.shape
    kh, kw = conv.kernel_size
    fig, (ax, mx) = plt.subplots(1, 2, figsize=(8.2, 3.2), gridspec_kw=dict(width_ratios=[1.35, 1]))
    W, y_in, y_out, bar = 10.0, 3.0, 0.0, 0.45        # 两排通道都画成宽 W 的条
    for y, n, name in ((y_in, c_i, zh(f"输入 {c_i} 个通道", f"{c_i} input channels")),
                       (y_out, c_o, zh(f"输出 {c_o} 个通道", f"{c_o} output channels"))):
        ax.add_patch(Rectangle((0, y), W, bar, facecolor="none", edgecolor="#555555", lw=0.8))
        ax.text(-0.2, y + bar / 2, name, ha="right", va="center", fontsize=9)
    for k, (ins, outs) in enumerate(groups):
        color = GROUP_COLORS[k % len(GROUP_COLORS)]
        a0, a1 = ins[0] * W / c_i, (ins[-1] + 1) * W / c_i
        b0, b1 = outs[0] * W / c_o, (outs[-1] + 1) * W / c_o
        ax.add_patch(Rectangle((a0, y_in), a1 - a0, bar, facecolor=color, alpha=0.8, lw=0))
        ax.add_patch(Rectangle((b0, y_out), b1 - b0, bar, facecolor=color, alpha=0.8, lw=0))
        ax.fill([a0, a1, b1, b0], [y_in, y_in, y_out + bar, y_out + bar], color=color, alpha=0.25, lw=0)
        ax.text((a0 + a1) / 2, y_in + bar + 0.15, _span(ins), ha="center", va="bottom", fontsize=9)
        ax.text((b0 + b1) / 2, y_out - 0.15, _span(outs), ha="center", va="top", fontsize=9)
        name = group_names[k] if group_names else zh(f"第 {k} 组", f"group {k}")
        ax.text((a0 + a1 + b0 + b1) / 4, (y_in + y_out + bar) / 2, name,
                ha="center", va="center", fontsize=9, color=color)
    ax.set_xlim(-4.2, W + 0.3)
    ax.set_ylim(-0.8, y_in + bar + 0.8)
    ax.axis("off")
    image = torch.zeros(c_o, c_i)
    for k, (ins, outs) in enumerate(groups):
        image[outs[0]:outs[-1] + 1, ins[0]:ins[-1] + 1] = k + 1
        mx.text((ins[0] + ins[-1]) / 2, (outs[0] + outs[-1]) / 2, f"{len(outs)}×{len(ins)}\n×{kh}×{kw}",
                ha="center", va="center", fontsize=8)
    cmap = ListedColormap(["#ffffff", *[GROUP_COLORS[k % len(GROUP_COLORS)] + "66" for k in range(len(groups))]])
    mx.imshow(image.numpy(), cmap=cmap, vmin=0, vmax=len(groups), aspect="auto", interpolation="nearest")
    mx.set_xlabel(zh("输入通道", "input channel"), fontsize=9)
    mx.set_ylabel(zh("输出通道", "output channel"), fontsize=9)
    mx.tick_params(labelsize=8)
    mx.set_title(zh("连接矩阵（着色：有权重）", "links (coloured: has weights)"), fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------- 学到的卷积核

def filters_figure(weight: torch.Tensor, ncols=16, title=""):
    """单输入通道卷积层的全部卷积核（``weight`` 形状 ``c_o × 1 × k_h × k_w``），每个画成一张灰度
    小图，各自把最小值映射为黑、最大值映射为白：看的是每个核的图案，不比较核与核的大小。"""
    if weight.dim() != 4 or weight.shape[1] != 1:
        raise ValueError(f"filters_figure 只画单输入通道的卷积核（weight 形状 c_o×1×k_h×k_w），"
                         f"得到 {tuple(weight.shape)}")
    W = weight.detach().float().cpu()[:, 0]
    nrows = -(-len(W) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * 0.45, nrows * 0.45 + (0.3 if title else 0)))
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < len(W):
            ax.imshow(W[k].numpy(), cmap="gray", interpolation="nearest")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(wspace=0.08, hspace=0.08, left=0.01, right=0.99, bottom=0.01,
                        top=0.9 if title else 0.99)
    return fig


# ---------------------------------------------------------------- 按比例画出的特征图

@dataclass
class FeatureMap:
    """:func:`feature_map_figure` 中的一个特征图（或展平后的向量）及它画出来的大小（英寸）。"""
    shape: tuple   # c×h×w，或全连接层的 (n,)
    kind: str      # input / conv / pool / fc / other，决定颜色
    label: str     # 产生它的层（可有多行）
    width: float   # 正面的宽：与 w 成正比；向量是一根固定宽度的条
    height: float  # 正面的高：与 h 成正比；向量与 n 成正比
    depth: float   # 通道方向的厚度：与 c 成正比；向量为 0


FOLDED = (*ACTIVATIONS, *NORMS, nn.Dropout)


def _stage_lines(layer) -> list:
    """产生一个特征图的层的简短描述，按逗号分行；输出通道数不写（形状里已经有了）。"""
    if isinstance(layer, nn.Linear):
        return [zh("全连接", "dense")]
    text, _ = describe(layer)
    if isinstance(layer, nn.Conv2d):
        text = text.replace(f", {layer.out_channels}", "", 1)
    return text.split(", ")


def feature_maps(net, input_size=None, in_channels=None, height=1.0, depth=0.35, bar=0.08):
    """``net`` 的输入和每个卷积层、汇聚层、展平层、全连接层的输出（激活函数、批量规范化和丢弃法
    并入前一层），以及它们按比例画出的大小（英寸）。形状取自 meta 设备上的一次前向传播
    （:func:`layer_boxes`）。

    c×h×w 的特征图画成一块板：正面的高、宽与 h、w 成正比，最大的一边为 ``height``；厚度与 c
    成正比，最多的通道数画成 ``depth``。向量画成宽 ``bar`` 的竖条，高与长度 n 成正比，最长的
    为 ``height``。太薄、太短的至少画 0.02 英寸，免得看不见。
    """
    boxes = layer_boxes(net, input_size, in_channels, fold=False)
    stages = [[boxes[0].shape, "input", [zh("输入", "input")], []]]
    for layer, box in zip(net, boxes[1:]):
        if isinstance(layer, FOLDED) and len(stages) > 1:
            stages[-1][0] = box.shape
            stages[-1][3].append(describe(layer)[0])
        else:
            stages.append([box.shape, box.kind, _stage_lines(layer), []])
    grids = [s[0] for s in stages if len(s[0]) == 3]
    px = height / max(max(h, w) for _, h, w in grids)       # 每个像素画多大
    per_channel = depth / max(c for c, _, _ in grids)
    longest = max((s[0][0] for s in stages if len(s[0]) == 1), default=1)
    maps = []
    for shape, kind, lines, extras in stages:
        label = "\n".join(lines + ([" · ".join(extras)] if extras else []))
        if len(shape) == 3:
            c, h, w = shape
            maps.append(FeatureMap(shape, kind, label, w * px, h * px, max(c * per_channel, 0.02)))
        else:
            maps.append(FeatureMap(shape, kind, label, bar, max(shape[0] / longest * height, 0.02), 0.0))
    return maps


OBLIQUE = 0.7071   # 斜投影：厚度方向与水平成 45°，画出的厚度沿两个方向各移 depth × cos 45°


def _shade(color, factor):
    from matplotlib.colors import to_rgb
    return tuple(v * factor for v in to_rgb(color))


def _slab(ax, x, m, gid):
    """在 ``x`` 处画一块板（特征图）或一根竖条（向量），正面竖直居中于 y = 0。"""
    from matplotlib.patches import Polygon
    face = KIND_COLORS.get(m.kind, KIND_COLORS["other"])
    w, h, y = m.width, m.height, -m.height / 2
    d = m.depth * OBLIQUE
    style = dict(edgecolor="#636363", lw=0.7, zorder=2, joinstyle="round")
    if d:
        ax.add_patch(Polygon([(x, y + h), (x + w, y + h), (x + w + d, y + h + d), (x + d, y + h + d)],
                             facecolor=_shade(face, 0.93), **style))
        ax.add_patch(Polygon([(x + w, y), (x + w + d, y + d), (x + w + d, y + h + d), (x + w, y + h)],
                             facecolor=_shade(face, 0.85), **style))
        c = m.shape[0]
        if 1 < c <= 32:                      # 通道不多时，画出每个通道的分界：一摞 c 张特征图
            for k in range(1, c):
                t = d * k / c
                ax.plot([x + t, x + w + t, x + w + t], [y + h + t, y + h + t, y + t],
                        color="#636363", lw=0.3, zorder=2.5)
    ax.add_patch(Rectangle((x, y), w, h, facecolor=face, gid=gid, **style))


def feature_map_figure(net, input_size=None, in_channels=None, fontsize=8, **sizes):
    """把 ``net`` 的特征图按比例画出来（大小由 :func:`feature_maps` 算出，``sizes`` 传给它）：
    从左到右是输入和每一层的输出，上方写产生它的层，下方写形状 c×h×w（向量写长度）。
    看得出高和宽逐层变小，通道（板的厚度）逐层变多；全连接层的竖条高低与宽度成正比。
    每个正面的 ``Rectangle`` 的 gid 是 ``"map k"``（第 k 个特征图），供测试核对画出的大小。"""
    maps = feature_maps(net, input_size, in_channels, **sizes)
    shapes = [_shape_text(m.shape) for m in maps]
    gap, pad, line = 0.3, 0.08, fontsize * 1.3 / 72
    slots = [max(m.width + m.depth * OBLIQUE, _text_width(m.label, fontsize) * SCALE,
                 _text_width(s, fontsize) * SCALE) for m, s in zip(maps, shapes)]
    top = max(m.height / 2 + m.depth * OBLIQUE for m in maps) + pad
    bottom = max(m.height / 2 for m in maps) + pad
    title_h = max(m.label.count("\n") + 1 for m in maps) * line
    width = sum(slots) + gap * (len(maps) - 1) + 0.2
    fig = plt.figure(figsize=(width, top + title_h + bottom + line + 0.1))
    ax = fig.add_axes([0, 0, 1, 1])
    x, prev = 0.1, None
    for k, (m, s, slot) in enumerate(zip(maps, shapes, slots)):
        left = x + (slot - m.width - m.depth * OBLIQUE) / 2
        _slab(ax, left, m, f"map {k}")
        if prev is not None:                 # 箭头从上一个正面的右边出发，被它的侧面挡住一截
            ax.add_patch(FancyArrowPatch((prev, 0), (left - 0.03, 0), arrowstyle="-|>", mutation_scale=7,
                                         color="#636363", lw=0.8, zorder=1, shrinkA=0, shrinkB=0))
        ax.text(x + slot / 2, top, m.label, ha="center", va="bottom", fontsize=fontsize, linespacing=1.15)
        ax.text(x + slot / 2, -bottom, s, ha="center", va="top", fontsize=fontsize, color="#404040")
        prev, x = left + m.width, x + slot + gap
    ax.set_xlim(0, width)
    ax.set_ylim(-bottom - line - 0.05, top + title_h + 0.05)
    ax.axis("off")
    return fig
