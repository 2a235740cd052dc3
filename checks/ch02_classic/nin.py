"""“网络中的网络（NiN）”一节练习的检查单元：只出现在学生版里（make student，见 tools/student_edition.py）。

每一段以 `# %% <练习标签>: <答案要定义的名字>` 开头；学生版在这一段前面自动加上“名字是否已定义”的检查。
"""

# %% ex-nin-1: counts
_blocks = [_b for _b in cnnlib.models.nin() if isinstance(_b, nn.Sequential)]
assert set(counts) >= {0, 1, 2}, "counts 应以每个块中 1×1 卷积层的个数 2、1、0 为键"
assert counts[2] == num_params(cnnlib.models.nin()), "两个 1×1 层时就是正文的 NiN，参数量应与 cnnlib.models.nin() 相同"
assert counts[2] - counts[1] == counts[1] - counts[0] == sum(num_params(_b[-2]) for _b in _blocks), "每个块每少一个 1×1 卷积层，就少这一层的权重和偏置"

# %% ex-nin-2: head score_maps same
assert isinstance(head, nn.Linear) and (head.in_features, head.out_features) == (384 * 5 * 5, 10), "head 应是把 384×5×5 展平后输出 10 类的全连接层"
assert tuple(score_maps.shape[-3:]) == (10, 1, 1), "80×80 输入时，最后一个 NiN 块输出的得分图应是 10×1×1"
assert same, "得分图只有 1×1 时，全局平均汇聚与直接展平的结果相同"

# %% ex-nin-3: acc_on acc_off
assert all(0 <= _a <= 1 for _a in (acc_on, acc_off)), "acc_on、acc_off 应是准确率（0 到 1 之间）"
assert not net.training, "算完准确率后应把 net 恢复为评估模式（net.eval()）"
if budget == "small":
    assert abs(acc_off - acc_on) < 0.03, "small 预算下，丢弃法开与关的准确率应相差不到 0.03"

# %% ex-nin-4: logits_no_relu dead_without
assert logits_no_relu.shape == logits.shape, "logits_no_relu 应是去掉 ReLU 的网络对 X_probe 的输出，形状与 logits 相同"
assert dead_without == int((logits_no_relu == 0).all(dim=0).sum()) and logits_no_relu.min() < 0, "dead_without 应是对所有图像恒为 0 的类别数"
assert torch.allclose(logits, logits_no_relu.clamp(min=0)), "应与正文相同的种子和 Xavier 初始化：有 ReLU 的输出应等于去掉后的输出截去负值"

# %% ex-nin-5: losses_big big_lr_net dead_big
assert len(losses_big) == steps and all(math.isfinite(_v) for _v in losses_big), "losses_big 应是 short_run 训练 steps 步的损失，且都是有限数"
with torch.no_grad():
    assert dead_big == int((big_lr_net.eval()(X_probe.to(device)) == 0).all(dim=0).sum()), "dead_big 应是训练后的网络对 X_probe 恒为 0 的类别数"
if budget != "smoke":
    assert sum(losses_big[-20:]) / 20 > math.log(10) - 0.03, "学习率 1.0 时，最后 20 步的平均损失应仍停在 ln 10 附近"
