"""第 1 章从零实现的运算：二维互相关、卷积、多通道互相关、汇聚与输出尺寸公式。

这些函数刻意写成直白的循环，便于对照书中的公式阅读；它们用于教学和测试，
真正训练模型时请用 ``torch.nn.Conv2d`` / ``torch.nn.MaxPool2d``。
"""
import torch


def corr2d(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """二维互相关（cross-correlation）：核 ``K`` 在 ``X`` 上滑动，逐元素相乘再求和。

    输出形状为 ``(n_h - k_h + 1, n_w - k_w + 1)``。
    """
    if X.dim() != 2 or K.dim() != 2:
        raise ValueError(f"corr2d 需要两个二维张量（2-D tensors），得到形状 {tuple(X.shape)} 和 {tuple(K.shape)}")
    h, w = K.shape
    if h > X.shape[0] or w > X.shape[1]:
        raise ValueError(f"卷积核（kernel）{tuple(K.shape)} 比输入（input）{tuple(X.shape)} 还大")
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=torch.result_type(X, K))
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y


def conv2d_true(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """数学意义上的二维卷积：把核上下、左右各翻转一次，再做互相关。"""
    return corr2d(X, torch.flip(K, dims=(0, 1)))


def corr2d_multi_in(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """多输入通道互相关：``X`` 形状 (c_i, h, w)，``K`` 形状 (c_i, k_h, k_w)，各通道结果相加。"""
    if X.shape[0] != K.shape[0]:
        raise ValueError(f"输入通道数（in_channels）不一致：X 有 {X.shape[0]} 个，K 有 {K.shape[0]} 个")
    return sum(corr2d(x, k) for x, k in zip(X, K))


def corr2d_multi_in_out(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """多输入多输出通道互相关：``K`` 形状 (c_o, c_i, k_h, k_w)，输出 (c_o, h', w')。"""
    return torch.stack([corr2d_multi_in(X, k) for k in K], 0)


def corr2d_multi_in_out_1x1(X: torch.Tensor, K: torch.Tensor) -> torch.Tensor:
    """1×1 卷积写成矩阵乘法：每个像素位置上做一次 (c_o×c_i) @ (c_i,) 的全连接。"""
    c_i, h, w = X.shape
    c_o = K.shape[0]
    Y = K.reshape(c_o, c_i) @ X.reshape(c_i, h * w)
    return Y.reshape(c_o, h, w)


def pool2d(X: torch.Tensor, pool_size, mode: str = "max") -> torch.Tensor:
    """二维汇聚（pooling），步幅为 1、无填充；``mode`` 为 ``'max'`` 或 ``'avg'``。"""
    if mode not in ("max", "avg"):
        raise ValueError(f"汇聚方式（mode）只能是 'max' 或 'avg'，得到 {mode!r}")
    p_h, p_w = (pool_size, pool_size) if isinstance(pool_size, int) else pool_size
    dtype = X.dtype if X.is_floating_point() else torch.float32
    Y = torch.zeros((X.shape[0] - p_h + 1, X.shape[1] - p_w + 1), dtype=dtype)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            window = X[i:i + p_h, j:j + p_w].to(dtype)
            Y[i, j] = window.max() if mode == "max" else window.mean()
    return Y


def conv_output_size(n: int, k: int, p: int = 0, s: int = 1) -> int:
    """卷积或汇聚一维上的输出尺寸：``floor((n - k + 2p) / s) + 1``。

    ``p`` 是每一侧的填充（PyTorch 的 ``padding`` 参数）。
    """
    if s < 1:
        raise ValueError(f"步幅（stride）必须 ≥ 1，得到 {s}")
    if n + 2 * p < k:
        raise ValueError(f"填充后的输入 {n}+2×{p} 小于核大小（kernel_size）{k}，无法放下一个窗口")
    return (n - k + 2 * p) // s + 1


def receptive_field(net, size: int = 15, in_channels: int = 1) -> torch.Tensor:
    """中心输出元素对输入的梯度图（``size×size``）：不为零的位置就是它的感受野（receptive field）。

    输入是全 1 的 ``(1, in_channels, size, size)`` 张量，取 ``net`` 输出第 0 个通道正中的元素做
    反向传播，返回各输入通道梯度绝对值之和。权重全取正数（例如 ``nn.init.ones_``）时不会出现正负
    抵消；最大汇聚只把梯度传给窗口里的一个元素，要看完整的窗口请换成平均汇聚。
    """
    X = torch.ones(1, in_channels, size, size, requires_grad=True)
    Y = net(X)
    Y[0, 0, Y.shape[-2] // 2, Y.shape[-1] // 2].backward()
    return X.grad[0].abs().sum(dim=0)


def field_size(grad: torch.Tensor) -> tuple:
    """梯度图中非零区域的外接矩形的高和宽，如 ``(5, 5)``。"""
    rows, cols = grad.nonzero(as_tuple=True)
    if rows.numel() == 0:
        return (0, 0)
    return (int(rows.max() - rows.min()) + 1, int(cols.max() - cols.min()) + 1)
