"""“汇聚层”一节练习的检查单元：只出现在学生版里（make student，见 tools/student_edition.py）。

每一段以 `# %% <练习标签>: <答案要定义的名字>` 开头；学生版在这一段前面自动加上“名字是否已定义”的检查。
"""

# %% ex-pooling-1: exercise_configs
assert len(exercise_configs) == 4, "exercise_configs 应列出题中的 4 个汇聚层"
for _layer, *_, _answer in exercise_configs:
    assert tuple(_layer(torch.zeros(1, 3, 32, 32)).shape) == tuple(_answer), f"{_layer} 的输出形状不是 {_answer}"

# %% ex-pooling-2: X Y_conv
assert X.dim() == 4 and X.shape[1] > 1, "X 应是一批多通道的输入，形状 (批量, c, 高, 宽)，c > 1"
assert Y_conv.shape == F.avg_pool2d(X, 2).shape, "Y_conv（F.conv2d 的结果）的形状应与 2×2 平均汇聚的输出相同"
assert torch.allclose(Y_conv, F.avg_pool2d(X, 2), atol=1e-6), "Y_conv 应与 F.avg_pool2d(X, 2) 逐元素相等"

# %% ex-pooling-3: relu_then_avg avg_then_relu ratio
assert relu_then_avg != avg_then_relu, "应给出一个先 ReLU 后平均与先平均后 ReLU 结果不同的例子"
_t = torch.zeros(1, 1, 24, 24)
assert ratio == F.max_pool2d(_t, 2).numel() / _t.numel(), "ratio 应是汇聚后与汇聚前的元素个数之比"

# %% ex-pooling-4: sizes padded ceiled
assert len(sizes) == 4 and sizes[0] == 28, "sizes 应是输入的 28 与三次汇聚后的边长，共 4 个数"
assert all(b == cnnlib.ops.conv_output_size(a, 2, 0, 2) for a, b in zip(sizes, sizes[1:])), "三次汇聚后的边长不对"
assert tuple(padded.shape[-2:]) == tuple(ceiled.shape[-2:]) == (4, 4), "加了填充的汇聚（padded）与 ceil_mode=True 的汇聚（ceiled）都应输出 4×4"
assert not torch.equal(padded, ceiled), "两种做法的窗口分组不同，数值也应不同"
