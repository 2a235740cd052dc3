"""“执行状态”附录练习的检查单元：只出现在学生版里（make student，见 tools/student_edition.py）。

每一段以 `# %% <练习标签>: <答案要定义的名字>` 开头；学生版在这一段前面自动加上“名字是否已定义”的检查。
"""

# %% ex-status-1: g_run l_run flops_ratio speed_ratio
_googlenet = "chapters/ch02_classic/googlenet.ipynb"
_g = entries[_googlenet]
assert g_run in _g["runs"] and g_run["model"] == "GoogLeNet", "g_run 应是 GoogLeNet 一节中训练 GoogLeNet 的那一次"
assert g_run["seconds"] > 0.5 * _g["wall_seconds"], "GoogLeNet 一节的大部分时间花在这次训练上"
assert l_run["model"] == "LeNet" and l_run in entries["chapters/ch02_classic/lenet.ipynb"]["runs"], "l_run 应是 LeNet 一节中训练 LeNet 的那一次"
assert l_run["images"] * l_run["epochs"] > 2 * g_run["images"] * g_run["epochs"], "LeNet 训练的图像数 × 轮数应多得多"
assert abs(flops_ratio * l_run["flops_per_image"] - g_run["flops_per_image"]) < 1e-6 * g_run["flops_per_image"], "flops_ratio 应是每张图像的前向计算量之比（GoogLeNet 比 LeNet）"
assert abs(speed_ratio * g_run["examples_per_sec"] - l_run["examples_per_sec"]) < 1e-6 * l_run["examples_per_sec"], "speed_ratio 应是吞吐之比（LeNet 比 GoogLeNet）"
assert 1 < speed_ratio < flops_ratio, "计算量多了一百多倍，吞吐却只低了几十倍：大网络更充分地利用了 CPU"

# %% ex-status-2: estimate full_total
_first = {}
for _r in cnnlib.results.trained_models(record):
    _first.setdefault(_r["model"], _r)
assert sorted(estimate) == sorted(_first) and len(estimate) == 8, "estimate 应以记录中训练过的八个模型的名字为键"
import cnnlib.cli
_a = _first["AlexNet"]
_flops = cnnlib.count_flops(cnnlib.cli.RECIPES["alexnet"].build(224), (1, 224, 224))
_seconds = 60_000 * 10 * _flops / (_a["examples_per_sec"] * _a["flops_per_image"])   # 等效算力不变
assert abs(estimate["AlexNet"] / _seconds - 1) < 1e-6, "AlexNet：full 预算是 6 万张 × 10 轮、224×224 输入，按等效算力不变推算吞吐"
assert all(0.5 < estimate[_n] / _first[_n]["seconds"] < 1.5 for _n in ("LeNet", "BN-LeNet")), "LeNet、BN-LeNet 的 small 预算已是 full 的设置：估计应与记录的训练时间相当"
assert abs(full_total - sum(estimate.values())) < 1e-6 * full_total, "full_total 应是八个估计之和（秒）"
assert 10 * 3600 < full_total < 20 * 3600 and full_total > 10 * total, "合计应是十几个小时，是全书 small 预算执行时间的几十倍"

# %% ex-status-3: same differ
_lenet = [next(_r for _r in entries[_nb]["runs"] if _r["model"] == "LeNet")
          for _nb in ("chapters/ch02_classic/lenet.ipynb", "chapters/ch03_modern/batch_norm.ipynb")]
assert sorted([*same, *differ]) == sorted(_lenet[0]), "same 与 differ 合起来应是一次训练记录的全部字段，每个字段只出现一次"
assert all(_lenet[0][_k] == _lenet[1][_k] for _k in same) and all(_lenet[0][_k] != _lenet[1][_k] for _k in differ), "same 是两节 LeNet 训练记录中相同的字段，differ 是不同的字段"
assert sorted(differ) == ["examples_per_sec", "final", "lr", "seconds"], "两次训练只有学习率计划、最终指标和计时（吞吐与耗时）不同"
