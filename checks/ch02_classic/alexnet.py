"""“AlexNet”一节练习的检查单元：只出现在学生版里（make student，见 tools/student_edition.py）。

每一段以 `# %% <练习标签>: <答案要定义的名字>` 开头；学生版在这一段前面自动加上“名字是否已定义”的检查。
"""

# %% ex-alexnet-1: unused fields
assert set(unused) == {2, 3} and unused[3] == 0, "unused 应以窗口边长 3、2 为键；3×3、步幅 2 的窗口用上了全部输入"
assert unused[2] == 55 * 55 - 4 * cnnlib.ops.conv_output_size(55, 2, 0, 2) ** 2, "2×2 窗口互不重叠：没用到的元素数 = 输入元素数 − 4 × 输出元素数"
_r = {}
for _k in (3, 2):
    _size, _jump = 1, 1
    for _kk, _s in ((11, 4), (_k, 2), (5, 1), (_k, 2)):   # conv1、汇聚、conv2、汇聚
        _size, _jump = _size + (_kk - 1) * _jump, _jump * _s
    _r[_k] = (_size, _size)
assert {_k: tuple(_v) for _k, _v in fields.items()} == _r, "fields 应以窗口边长 3、2 为键，值是感受野的 (高, 宽)"

# %% ex-alexnet-2: train_same eval_same
assert eval_same and not train_same, "训练模式下两次输出应不同，评估模式下应相同"

# %% ex-alexnet-3: fits model_227
assert list(fits) == net_lib.accepted_sizes(), "fits 应是最后得到 5×5 特征图的全部输入边长，与报错里的范围一致"
with torch.no_grad():
    assert tuple(model_227.eval()(torch.zeros(1, 1, 227, 227)).shape) == (1, 10), "model_227 应接受 227×227 的单通道输入并输出 10 类得分"

# %% ex-alexnet-4: saved
assert saved == ungrouped_total - paper_total, "saved 应是不分组与分组（论文）版本的参数量之差"
