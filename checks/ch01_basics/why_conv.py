"""“为什么用卷积”一节练习的检查单元：只出现在学生版里（make student，见 tools/student_edition.py）。

每一段以 `# %% <练习标签>: <答案要定义的名字>` 开头；学生版在这一段前面自动加上“名字是否已定义”的检查。
"""

# %% ex-why-conv-1: stage_a stage_b stage_c
assert stage_a == linear_params(28 * 28, 28 * 28), "(a) 全连接层的参数量不对：权重 (hw)² 个，偏置 hw 个"
assert stage_b == (2 * 28 - 1) * (2 * 28 - 1) + 1, "(b) 平移不变之后，权重只依赖偏移量 (a, b)，偏置只剩 1 个"
assert stage_c == conv_params(1, 1, 2 * 2 + 1), "(c) 再加局部性：偏移量限制在 |a|, |b| ≤ Δ 之内"

# %% ex-why-conv-2: L_min
# 用本节的 receptive_field 实测感受野，不把答案写在这里
assert isinstance(L_min, int) and 1 <= L_min <= 40, "L_min 应是一个不太大的正整数"
_side = lambda L: int((receptive_field(ones_convs(L, k=3), size=2 * 40 + 1) != 0).any(dim=1).sum())  # noqa: E731
assert _side(L_min) >= 28, f"{L_min} 层 3×3 卷积的感受野只有 {_side(L_min)}×{_side(L_min)}，盖不住 28×28"
assert L_min == 1 or _side(L_min - 1) < 28, f"{L_min - 1} 层就已经够了：L_min 应是最少的层数"

# %% ex-why-conv-3: net_a net_b
assert net_a[1].weight.grad is not None and net_b[1].weight.grad is not None, "两个 MLP 都要先做一步随机梯度下降"
assert not torch.equal(net_a[1].weight, net_b[1].weight), "net_b 的第一层权重应是 net_a 的列重排，而不是同一个矩阵"
assert torch.allclose(net_b[1].weight, net_a[1].weight[:, perm], atol=1e-6), "一步之后，第一层权重应仍只差列重排 perm"

# %% ex-why-conv-4: fc_1000 conv64
assert fc_1000 == 3 * 224 * 224 * 1000 + 1000, "全连接层的参数量：输入个数 × 1000 个权重，加 1000 个偏置"
assert count_params(conv64) == 3 * 64 * 3 * 3 + 64, "卷积层的参数量：3 × 64 × 3 × 3 个权重，加 64 个偏置"
assert conv64(torch.zeros(1, 3, 224, 224)).shape == (1, 64, 224, 224), "卷积层应保持高宽不变（padding=1）"
