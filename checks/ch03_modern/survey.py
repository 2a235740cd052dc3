"""“更多的现代网络”一节练习的检查单元：只出现在学生版里（make student，见 tools/student_edition.py）。

每一段以 `# %% <练习标签>: <答案要定义的名字>` 开头；学生版在这一段前面自动加上“名字是否已定义”的检查。
"""

# %% ex-survey-1: f_std f_sep
assert Fraction(f_sep, f_std) == Fraction(1, 256) + Fraction(1, 3 * 3), "k = 3、c_o = 256 时，深度可分离卷积与标准卷积的 FLOPs 之比不对"

# %% ex-survey-2: mobilenet_v2_cost p1 f1
assert (p1, f1) == tuple(mobilenet_v2_cost(1.0)[:2]), "p1、f1 应是 α = 1 时整个网络的参数量和 FLOPs"
for _a in (0.5, 0.75):
    _p, _f = mobilenet_v2_cost(_a)[:2]
    assert _p < p1 and _f / f1 > _a * _a, f"α = {_a}：FLOPs 之比应略大于 α²"
    assert _p / p1 > _f / f1, f"α = {_a}：参数量之比应比 FLOPs 之比大得多（最后的 1×1 卷积和分类器不缩小）"

# %% ex-survey-3: timing flops_ratio
assert {"标准卷积", "深度可分离卷积"} <= set(timing) and all(_t > 0 for _t in timing.values()), "timing 应以“标准卷积”“深度可分离卷积”等为键，值是计时（秒）"
assert abs((1 / 128 + 1 / 9) - flops_ratio) < 1e-6, "flops_ratio 应是深度可分离卷积与标准卷积的 FLOPs 之比（128 → 128 通道、3×3）"
