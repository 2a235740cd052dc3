"""“互相关运算与卷积层”一节练习的检查单元：只出现在学生版里（make student，见 tools/student_edition.py）。

每一段以 `# %% <练习标签>: <答案要定义的名字>` 开头；学生版在这一段前面自动加上“名字是否已定义”的检查。
"""

# %% ex-conv-layer-1: Y1 Y2
_X = torch.tril(torch.ones(6, 6))
assert Y1.shape == Y2.shape == (5, 5), "Y1、Y2 应是 2×2 的核作用在 6×6 的 X 上的结果"
assert torch.equal(Y1, cnnlib.ops.corr2d(_X, torch.tensor([[1.0, 0.0], [0.0, -1.0]]))), "Y1 应是 K1 作用在 X 上的结果"
assert torch.equal(Y2, cnnlib.ops.corr2d(_X, torch.tensor([[0.0, 1.0], [-1.0, 0.0]]))), "Y2 应是 K2 作用在 X 上的结果"

# %% ex-conv-layer-2: K_dd laplace
_j2 = torch.arange(8.0).repeat(4, 1) ** 2
assert torch.equal(cnnlib.ops.corr2d(_j2, K_dd.reshape(1, -1)), torch.full((4, 6), 2.0)), "二阶差分核作用在 X[i, j] = j² 上应处处等于 2"
_i, _j = torch.meshgrid(torch.arange(6.0), torch.arange(6.0), indexing="ij")
assert laplace.shape == (3, 3) and laplace.abs().sum() > 0, "拉普拉斯核是一个非零的 3×3 核"
assert (cnnlib.ops.corr2d(3 * _i - 2 * _j + 5, laplace) == 0).all(), "拉普拉斯核在线性变化的区域应输出 0"
assert (cnnlib.ops.corr2d(_i ** 2, laplace) == 2).all(), "拉普拉斯核作用在 i² 上应处处等于 2（二阶导数之和）"

# %% ex-conv-layer-3: corr2d_matrix
for _shape, _k in (((3, 3), torch.arange(4.0).reshape(2, 2)), ((4, 5), torch.arange(1.0, 7.0).reshape(2, 3))):
    _X = torch.arange(float(_shape[0] * _shape[1])).reshape(_shape)
    _W = corr2d_matrix(_k, _shape)
    assert torch.equal(_W @ _X.flatten(), cnnlib.ops.corr2d(_X, _k).flatten()), f"输入 {_shape}、核 {tuple(_k.shape)} 时，W @ x 与 corr2d 不一致"

# %% ex-conv-layer-4: padded
assert tuple(padded.shape[-2:]) == (2, 2), "四周各填 1 圈 0 后，3×3 的输入配 4×4 的核，输出应是 2×2"

# %% ex-conv-layer-5: H losses_by_lr
assert torch.allclose(H.double(), torch.tensor([[36.0, 24.0], [24.0, 36.0]], dtype=torch.float64)), "黑塞矩阵不对：损失是核的两个元素的二次函数"
_ls = losses_by_lr[0.04]
assert len(_ls) > 1 and all(b > a for a, b in zip(_ls, _ls[1:])), "学习率 0.04 超过了 2/λ_max：损失应每一步都上升"
