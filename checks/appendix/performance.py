"""“计算性能”附录练习的检查单元：只出现在学生版里（make student，见 tools/student_edition.py）。

每一段以 `# %% <练习标签>: <答案要定义的名字>` 开头；学生版在这一段前面自动加上“名字是否已定义”的检查。
练习 2 和 4 在你的机器上现场计时：这里只核对结果的形式，不核对快慢（繁忙的机器上计时会有起伏）。
"""

# %% ex-performance-1: flops224 rate hours
assert flops224 == cnnlib.count_flops(cnnlib.models.alexnet(), (1, 224, 224), backward=True), "flops224 应是 AlexNet 在 224×224 输入下训练一张图像（前向加反向）的 FLOPs"
_alex = next(_r for _r in bench["models"] if _r["name"] == "AlexNet")
assert 4 < flops224 / _alex["train_flops"] < 5.5, "224×224 是 112×112 的 4 倍像素，计算量应比 4 倍多一些"
_gflops = util["AlexNet"]["auto"] * peak["bf16"]   # 本页 112×112 时 AlexNet 达到的 GFLOP/s
assert abs(rate * flops224 / 1e9 - _gflops) < 1e-6 * _gflops, "rate（张/秒）应是与 112×112 时相同的 bf16 利用率下，每秒训练的图像数"
assert abs(hours * 3600 * rate - 60_000) < 1e-3, "hours 应是训练 6 万张图像一轮所需的小时数"
assert 0.1 < hours < 1 and 1 < 10 * hours < 10, "一轮应在 0.1 到 1 小时之间，10 轮要几个小时"

# %% ex-performance-2: bn_seconds bn_slowdown
assert sorted(bn_slowdown) == [6, 64], "bn_slowdown 应以通道数 6 和 64 为键"
assert all(isinstance(_v, float) and 0 < _v < float("inf") for _v in bn_slowdown.values()), "bn_slowdown 的值应是 channels_last 与 NCHW 耗时之比（正数）"
for _cl in (False, True):
    _t = bn_seconds((4, 6, 8, 8), _cl)
    assert isinstance(_t, float) and _t > 0, "bn_seconds(形状, channels_last) 应返回批量规范化前向加反向的耗时（秒，正数）"

# %% ex-performance-3: T L
assert T == 20_000, "T 应是题目假设的 GPU 训练速度：每秒 20,000 张"
assert L == d2l_rows["loader224"]["d2l"]["median"], "L 应是本页在 224×224 下测得的 d2l 加载器速度（张/秒）"
_wait = T / (T + L)
assert 0.7 < _wait < 1, "不重叠时，训练的大部分时间都花在等数据上"
assert 9 * T / L > 10, "要让等待不超过一成，加载器要快十倍以上"

# %% ex-performance-4: prof
_ops = {_e.key: _e for _e in prof.key_averages()}
assert {"aten::avg_pool2d", "aten::avg_pool2d_backward"} <= set(_ops), "prof 应分析 LeNet 的训练步：其中有平均汇聚的前向和反向"
assert any("backward" in _k and "conv" in _k for _k in _ops), "训练步里应有卷积的反向传播"
assert _ops["aten::avg_pool2d_backward"].count == _ops["aten::avg_pool2d"].count, "每一步里，平均汇聚的前向和反向次数相同"
assert all(_e.self_cpu_time_total >= 0 for _e in _ops.values()) and sum(_e.self_cpu_time_total for _e in _ops.values()) > 0, "self 时间应是非负数，合计为正"
