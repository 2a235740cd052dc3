"""“填充与步幅”一节练习的检查单元：只出现在学生版里（make student，见 tools/student_edition.py）。

每一段以 `# %% <练习标签>: <答案要定义的名字>` 开头；学生版在这一段前面自动加上“名字是否已定义”的检查。
"""

# %% ex-padding-stride-1: lenet_sizes torch_sizes
assert list(torch_sizes) == [28, 28, 14, 10, 5], "用 PyTorch 逐层得到的边长（含输入的 28）不对"
assert list(lenet_sizes) == list(torch_sizes), "用公式算出的边长应与 PyTorch 一致"

# %% ex-padding-stride-2: count
assert count == 64 * 4 * 4, "应验证 n = 1…64、k ∈ {1, 3, 5, 7}、s = 1…4 的全部 1024 种组合"

# %% ex-padding-stride-3: exact
assert isinstance(exact, (list, tuple)) and list(exact) == [223, 227], "在 220…230 中，(n − 11) 能被 4 整除的 n 不对"

# %% ex-padding-stride-4: outputs commutes
assert set(outputs) == {"zeros", "reflect", "replicate", "circular"}, "outputs 应有四种填充方式的输出"
assert abs(float(outputs["zeros"][0, 0]) - 4 / 9) < 1e-6 and abs(float(outputs["zeros"][0, 2]) - 6 / 9) < 1e-6, "零填充时角上是 4/9，边上是 6/9"
assert all(torch.allclose(outputs[m], torch.ones(6, 6)) for m in ("reflect", "replicate", "circular")), "另外三种填充在全 1 图像上处处输出 1"
assert commutes == {"zeros": False, "circular": True}, "只有循环填充能与 torch.roll 严格交换次序"
