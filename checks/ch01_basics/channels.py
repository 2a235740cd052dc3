"""“多输入多输出通道”一节练习的检查单元：只出现在学生版里（make student，见 tools/student_edition.py）。

每一段以 `# %% <练习标签>: <答案要定义的名字>` 开头；学生版在这一段前面自动加上“名字是否已定义”的检查。
"""

# %% ex-channels-1: shape params mults
assert tuple(shape) == (64, 112, 112), "输出形状（不含批量维）不对"
assert params == 3 * 64 * 7 * 7 + 64, "参数量：3 × 64 × 7 × 7 个权重，加 64 个偏置"
assert mults == 3 * 64 * 7 * 7 * 112 * 112, "乘法次数：每个输出元素 3 × 7 × 7 次乘法"

# %% ex-channels-2: w_direct w_bottleneck m_direct m_bottleneck
assert (w_direct, w_bottleneck) == (192 * 32 * 25, 192 * 16 + 16 * 32 * 25), "权重个数（不计偏置）不对"
assert (m_direct, m_bottleneck) == (w_direct * 28 * 28, w_bottleneck * 28 * 28), "乘法次数应是权重个数 × 28 × 28"

# %% ex-channels-3: K_eq
assert tuple(K_eq.shape) == (256, 128, 5, 5), "等价卷积的核张量形状应是 (256, 128, 5, 5)"
torch.manual_seed(1)
_X = torch.randn(2, 128, 7, 9)
with torch.no_grad():
    assert torch.allclose(bottleneck(_X), F.conv2d(_X, K_eq, padding=2), atol=1e-5), "K_eq 与瓶颈结构在随机输入上的输出不一致"

# %% ex-channels-4: fc conv
assert isinstance(conv, nn.Conv2d) and tuple(conv.weight.shape) == (10, 16, 6, 6), "conv 应是 16 → 10 通道、6×6 的卷积层"
torch.manual_seed(1)
_X = torch.randn(3, 16, 6, 6)
with torch.no_grad():
    assert torch.allclose(fc(_X.flatten(1)), conv(_X).flatten(1), atol=1e-5), "conv 与 fc 在随机输入上的输出不一致"
