"""“LeNet”一节练习的检查单元：只出现在学生版里（make student，见 tools/student_edition.py）。

每一段以 `# %% <练习标签>: <答案要定义的名字>` 开头；学生版在这一段前面自动加上“名字是否已定义”的检查。
"""

# %% ex-lenet-1: side f6_params
_x, _sides = torch.zeros(1, 1, 64, 64), [64]
for _layer in (nn.Conv2d(1, 6, 5), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5), nn.AvgPool2d(2), nn.Conv2d(16, 120, 5)):
    _x = _layer(_x)
    _sides.append(_x.shape[-1])
assert list(side) == _sides, "side 应依次是输入与 C1、S2、C3、S4、C5 的输出边长（共 6 个数）"
assert f6_params == cnnlib.num_params(nn.Linear(120 * side[-1] ** 2, 84)), "F6 的参数量：C5 展平后的长度 × 84 个权重，加 84 个偏置"

# %% ex-lenet-2: ratios ablation_loss
_combos = ("sigmoid + 平均汇聚", "sigmoid + 最大汇聚", "ReLU + 平均汇聚", "ReLU + 最大汇聚")
assert {"sigmoid + 最大汇聚", "ReLU + 平均汇聚"} <= set(ratios), "ratios 应以组合的名字为键，写法与正文的 grad_norms 相同，如 \"sigmoid + 最大汇聚\""
assert set(_combos) <= set(ablation_loss), "ablation_loss 应有四种组合（正文的两个版本加上新的两种）的训练损失，键的写法与正文的 grad_norms 相同"
assert ratios["sigmoid + 最大汇聚"] < 0.01 and ratios["ReLU + 平均汇聚"] > 1, "梯度范数之比（第一个卷积层 / 输出层）不对：请用与正文相同的种子、初始化和 X_probe"
assert all(len(ablation_loss[_c]) == min(3, cfg["epochs"]) for _c in _combos), "ablation_loss 的每一项应是前 3 轮（不超过 cfg[\"epochs\"]）的训练损失"
assert all(math.isfinite(_v) for _c in _combos for _v in ablation_loss[_c]), "训练损失中出现了 NaN 或无穷大"
if budget in ("small", "full"):
    assert ablation_loss["ReLU + 平均汇聚"][-1] < ablation_loss["sigmoid + 最大汇聚"][-1] - 0.1, "ReLU + 平均汇聚的训练损失应明显低于 sigmoid + 最大汇聚"

# %% ex-lenet-3: slopes tanh_ratios
assert {"tanh", "缩放的 tanh"} <= set(slopes) and {"tanh", "缩放的 tanh"} <= set(tanh_ratios), "slopes 与 tanh_ratios 应以 \"tanh\" 和 \"缩放的 tanh\" 为键"
_h = torch.tensor(1e-4, dtype=torch.float64)
for _name, _f in (("tanh", torch.tanh), ("缩放的 tanh", scaled_tanh)):
    assert abs(slopes[_name] - ((_f(_h) - _f(-_h)) / (2 * _h)).item()) < 1e-3, f"{_name} 在 0 处的导数不对"
assert all(0.5 < tanh_ratios[_name] < 2 for _name in ("tanh", "缩放的 tanh")), "梯度范数之比（第一个卷积层 / 输出层）不对：请用与正文相同的种子、初始化和 X_probe"

# %% ex-lenet-4: h_sig h_relu
assert len(h_sig.train_loss) >= 1 and all(math.isfinite(_v) for _v in h_sig.train_loss), "h_sig 应是学习率 0.1 的 sigmoid 版用 cnnlib.train 训练几轮的结果"
assert h_relu is None or len(h_relu.train_loss) >= 1, "h_relu 应是学习率 0.9 的 ReLU 版的 cnnlib.train 结果（发散时为 None）"
if budget in ("small", "full") and len(h_sig.train_loss) <= 3:
    assert h_sig.train_loss[-1] > 2.2 and h_sig.test_acc[-1] < 0.2, "学习率 0.1 时，sigmoid 版训练 3 轮后应仍停在 ln 10 的平台上"
    assert h_relu is None or h_relu.train_loss[0] > 2.2, "学习率 0.9 时，ReLU 版第 1 轮应停滞或发散"
