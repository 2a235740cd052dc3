"""“批量规范化”一节练习的检查单元：只出现在学生版里（make student，见 tools/student_edition.py）。

每一段以 `# %% <练习标签>: <答案要定义的名字>` 开头；学生版在这一段前面自动加上“名字是否已定义”的检查。
"""

# %% ex-batch-norm-1: Y2 Y1
assert tuple(Y2.shape) == (2, 3) and (Y2.abs() - 1).abs().max() < 1e-3, "Y2 应是 BatchNorm1d(3) 在训练模式下处理批量大小为 2 的输入的输出：每个值约为 ±1"
assert torch.allclose(Y2[0], -Y2[1], atol=1e-5), "批量大小为 2 时，每个特征的两个值应互为相反数"
assert tuple(Y1.shape) == (1, 3, 4, 4), "Y1 应是 BatchNorm2d(3) 处理批量大小为 1 的 4×4 特征图的输出"
assert Y1.mean(dim=(0, 2, 3)).abs().max() < 1e-4 and (Y1.var(dim=(0, 2, 3), unbiased=False) - 1).abs().max() < 1e-3, "BatchNorm2d 在 1×4×4 个值上统计：每个通道的输出应均值为 0、方差为 1"

# %% ex-batch-norm-2: bn_shift Y_eval Y_train
assert isinstance(bn_shift, nn.BatchNorm1d) and bn_shift.num_batches_tracked >= 100, "bn_shift 应是在训练模式下看过 100 个小批量的 nn.BatchNorm1d"
assert abs(float(Y_eval.mean()) - 2) < 0.3 and abs(float(Y_eval.std()) - 3) < 0.3, "预测模式用训练时的移动平均：3x + 2 的数据几乎原样通过，输出均值约 2、标准差约 3"
assert abs(float(Y_train.mean())) < 0.05 and abs(float(Y_train.std()) - 1) < 0.05, "训练模式用当前批量的统计量：输出均值约 0、标准差约 1"

# %% ex-batch-norm-3: with_bias no_bias same
_bn = (nn.BatchNorm1d, nn.BatchNorm2d)
_before = [(_a, _b) for _a, _b in zip(no_bias, list(no_bias)[1:]) if isinstance(_b, _bn)]
assert len(_before) == 4 and all(_a.bias is None for _a, _ in _before), "no_bias 中紧接着批量规范化层的四个层都不应带偏置"
assert num_params(with_bias) - num_params(no_bias) == sum(_b.num_features for _, _b in _before), "省下的参数应正好是这四个层的偏置"
assert same, "训练模式下，两个网络的输出应相同（只差舍入误差）"

# %% ex-batch-norm-4: changed_train changed_eval
assert not changed_eval and changed_train, "训练模式下同一张图像的输出会随同批的其他图像改变，预测模式下不会"
