"""“迁移学习”一节练习的检查单元：只出现在学生版里（make student，见 tools/student_edition.py）。

每一段以 `# %% <练习标签>: <答案要定义的名字>` 开头；学生版在这一段前面自动加上“名字是否已定义”的检查。
"""

# %% ex-transfer-1: make_conv_frozen conv_frozen acc_conv_frozen
_net, _opt = make_conv_frozen("finetune", 0)
assert not any(_p.requires_grad for _p in _net[:8].parameters()), "make_conv_frozen 建立的网络应冻结两个卷积块（下标 0–7）的全部参数"
assert all(_p.requires_grad for _p in _net[8:].parameters()), "三个全连接层（下标 8 以后）应继续训练"
assert cnnlib.num_params(_net, trainable_only=True) == cnnlib.num_params(_net[8:]), "可训练的参数应正好是三个全连接层的参数"
assert sorted(_g["lr"] for _g in _opt.param_groups) == [BODY_LR, HEAD_LR], "优化器应有两组：主干（全连接层）学习率 BODY_LR = 0.1，输出层 HEAD_LR = 1.0"
assert len(conv_frozen) == len(cfg["seeds"]) and all(0 <= _a <= 1 for _a in conv_frozen), "conv_frozen 应是每个种子最后的测试准确率"
assert abs(acc_conv_frozen * len(conv_frozen) - sum(conv_frozen)) < 1e-9, "acc_conv_frozen 应是 conv_frozen 的平均值"
if budget == "small":   # 准确率的比较只在 small 预算（3 个种子、10 轮）下成立
    assert acc_conv_frozen - mean_acc("frozen", 10, -1) > 0.05, "只冻结卷积层时，准确率应明显高于冻结全部主干"
    assert abs(mean_acc("finetune", 10, -1) - acc_conv_frozen) < 0.02, "只冻结卷积层时，准确率应与微调全部参数相差无几"

# %% ex-transfer-2: make_same_lr same_lr same_first same_last
_net, _opt = make_same_lr("finetune", 0)
assert all(_g["lr"] == HEAD_LR for _g in _opt.param_groups), "make_same_lr 的优化器中，主干和输出层的学习率都应是 HEAD_LR = 1.0"
assert sum(len(_g["params"]) for _g in _opt.param_groups) == len(list(_net.parameters())), "微调全部参数：网络的每个参数都应在优化器里"
assert len(same_lr) == len(cfg["seeds"]) and all(len(_a) == cfg["epochs"] for _a in same_lr), "same_lr 应是每个种子逐轮的测试准确率"
assert abs(same_first * len(same_lr) - sum(_a[0] for _a in same_lr)) < 1e-9, "same_first 应是第 1 轮后准确率的平均值"
assert abs(same_last * len(same_lr) - sum(_a[-1] for _a in same_lr)) < 1e-9, "same_last 应是最后一轮准确率的平均值"
if budget == "small":   # 这个结论只在 small 预算（3 个种子、10 轮）下成立
    assert abs(mean_acc("finetune", 10, -1) - same_last) < 0.03, "主干也用 1.0 时，最后的准确率应与主干用 0.1 时相差无几"

# %% ex-transfer-3: k
assert k == ks[-1], "应对 cfg[\"ks\"] 中的每个 k（循环变量就叫 k）给出第 1 轮后和最后的两个差值"
assert sorted(head_start) == sorted(gap_end) == sorted(ks), "head_start、gap_end 是正文按每个 k 算好的差值（微调减从零训练），直接用它们"
if budget == "small":   # 正文与答案的结论只在 small 预算下成立
    assert all(head_start[_k] > 0 for _k in ks), "第 1 轮后，微调在每个 k 上都领先从零训练"
    assert gap_end[min(ks)] == min(gap_end.values()), "训练结束时，k 最小时从零训练领先微调最多"

# %% ex-transfer-4: naive frozen_net
_X = next(iter(transfer.load_digits(10, 64, seed=0, device="cpu")[0]))[0]


def _changed(_net):
    _bn = _net[1]
    _before = {_k: _v.clone() for _k, _v in _bn.state_dict().items()}
    with torch.set_grad_enabled(False):
        _net.train()(_X)
    return sorted(_k for _k, _v in _bn.state_dict().items() if not torch.equal(_v, _before[_k]))


assert not any(_p.requires_grad for _p in naive.parameters()), "naive 应是只把全部参数的 requires_grad 设为 False 的模型"
assert not any(_p.requires_grad for _p in frozen_net[1].parameters()), "frozen_net 应是用 transfer.freeze 冻结主干的模型"
assert _changed(naive) == ["num_batches_tracked", "running_mean", "running_var"], "只设 requires_grad 时，训练模式下移动平均（缓冲区）照常更新"
assert _changed(frozen_net) == [], "transfer.freeze 把批量规范化层固定在预测模式：训练模式下也什么都不变"
