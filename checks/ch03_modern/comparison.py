"""“现代网络的比较”一节练习的检查单元：只出现在学生版里（make student，见 tools/student_edition.py）。

每一段以 `# %% <练习标签>: <答案要定义的名字>` 开头；学生版在这一段前面自动加上“名字是否已定义”的检查。
"""

# %% ex-comparison-1: bn_elements bn_ops train_flops
_bns = [_m for _m in models.bn_lenet().modules() if isinstance(_m, (nn.BatchNorm1d, nn.BatchNorm2d))]
assert len(bn_elements) == 4 and all(_n % _m.num_features == 0 for _n, _m in zip(bn_elements, _bns)), "bn_elements 应依次是四个批量规范化层对每张图像规范化的元素数"
assert list(bn_elements[2:]) == [120, 84], "后两个批量规范化层跟在全连接层之后：每张图像 120、84 个元素"
assert bn_ops == 24 * sum(bn_elements), "每个元素训练时约 8 × 3 = 24 次运算"
assert train_flops == 3 * by_name["BN-LeNet"]["flops_per_image"], "训练一步的 FLOPs 约是前向的 3 倍（反向约为前向的 2 倍）"
assert 0.05 < bn_ops / train_flops < 0.1, "批量规范化的运算应只占训练一步 FLOPs 的一小部分"

# %% ex-comparison-2: same differ
assert all(lenet[_k] == bn[_k] for _k in same) and all(lenet[_k] != bn[_k] for _k in differ), "same 应是 LeNet 与 BN-LeNet 记录中相同的字段，differ 是不同的字段"
assert {"data", "images", "epochs", "batch_size"} <= set(same), "数据、训练图像数、轮数和批量都应在相同的字段里"
assert "lr" in differ, "两者的学习率不同"

# %% ex-comparison-3: mine saved
assert mine["model"] == lenet_run["model"] and mine["epochs"] == 1, "mine 应是训练 LeNet 一轮写下的那一行记录"
assert mine["flops_per_image"] == lenet_run["flops_per_image"], "同一个网络，每张图像的 FLOPs 应与表中的 LeNet 相同"
assert saved == os.environ.get("CNNLIB_RECORD"), "用完之后应把环境变量 CNNLIB_RECORD 恢复原样"

# %% ex-comparison-4: batch_speed
assert set(batch_speed) == {16, 64, 256, 1024} and all(_v > 0 for _v in batch_speed.values()), "batch_speed 应以批量 16、64、256、1024 为键，值是每秒处理的图像数"
if cnnlib.get_budget() != "smoke":
    assert batch_speed[16] < batch_speed[256], "批量 256 的吞吐应高于批量 16"
