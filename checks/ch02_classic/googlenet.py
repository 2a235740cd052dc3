"""“含并行连结的网络（GoogLeNet）”一节练习的检查单元：只出现在学生版里（make student，见 tools/student_edition.py）。

每一段以 `# %% <练习标签>: <答案要定义的名字>` 开头；学生版在这一段前面自动加上“名字是否已定义”的检查。
"""

# %% ex-googlenet-1: block_params largest share
_net = cnnlib.models.googlenet()
_blocks = [_m for _m in _net.modules() if isinstance(_m, cnnlib.models.Inception)]
assert list(block_params) == list(cnnlib.models.INCEPTION_CONFIGS), "block_params 应以 9 个 Inception 块的名字（3a、3b、…、5b）为键，按网络中的顺序"
assert list(block_params.values()) == [num_params(_b) for _b in _blocks], "各块的参数量不对"
assert largest == max(block_params, key=block_params.get), "largest 应是参数最多的块的名字"
_share = sum(_p for _name, _p in block_params.items() if _name[0] in "45") / num_params(_net)
assert abs(share - _share) < 1e-6, "share 应是模块 4、5 的 Inception 块的参数之和除以全网参数量"

# %% ex-googlenet-2: block1 paths
assert isinstance(block1, cnnlib.models.Inception) and block1(torch.ones(1, 1, 11, 11)).shape == (1, 4, 11, 11), "block1 应是单通道输入、每条路径只输出 1 个通道的 Inception 块"
assert all((_m.weight == 1).all() and (_m.bias == 0).all() for _m in block1.modules() if isinstance(_m, nn.Conv2d)), "block1 的卷积核权重应全为 1、偏置全为 0"
_paths = list(paths.values())
assert len(_paths) == 5 and all(_p is _q for _p, _q in zip(_paths, (block1.p1, block1.p2, block1.p3, block1.p4))), "paths 的前四项应依次是 block1 的 p1、p2、p3、p4，第五项是把路径 4 的最大汇聚换成平均汇聚的版本"
for _p in _paths[:3]:
    _k = max(_m.kernel_size[0] for _m in _p.modules() if isinstance(_m, nn.Conv2d))
    assert cnnlib.ops.field_size(cnnlib.ops.receptive_field(_p, size=11)) == (_k, _k)
_pool = [_m for _m in _paths[4].modules() if isinstance(_m, nn.AvgPool2d)]
assert _pool and cnnlib.ops.field_size(cnnlib.ops.receptive_field(_paths[4], size=11)) == (_pool[0].kernel_size,) * 2, "换成平均汇聚后，应能看到整个汇聚窗口"

# %% ex-googlenet-3: totals
assert {"5x5", "3x3, 3x3 (r→c→c)"} <= set(totals), "totals 应以 \"5x5\" 和 \"3x3, 3x3 (r→c→c)\" 为键，值是 9 个块的路径 3 的参数量之和"
_change = sum(_r * 9 * _c + _c * 9 * _c + _c - _r * 25 * _c for _, _, (_r, _c), _ in cnnlib.models.INCEPTION_CONFIGS.values())
assert totals["3x3, 3x3 (r→c→c)"] - totals["5x5"] == _change, "替换后路径 3 的参数量变化不对：第二个 3×3 卷积多一个偏置向量，第一个与 5×5 卷积的偏置相同"
assert totals["5x5"] == sum(num_params(_b.p3) for _b in cnnlib.models.googlenet().modules() if isinstance(_b, cnnlib.models.Inception)), "totals[\"5x5\"] 应等于原网络 9 个路径 3 的参数量之和"

# %% ex-googlenet-4: eval_batches base drops
assert set(drops) == {(_name, _k) for _name in ("3a", "5b") for _k in range(1, 5)}, "drops 应以 (\"3a\", 1) … (\"5b\", 4) 这 8 个 (块, 路径) 为键"
assert all(-1 <= _v <= 1 for _v in drops.values()), "drops 的值应是准确率的下降量"
assert not any(_m._forward_hooks for _m in net.modules()), "评估完后应移除所有前向钩子"
assert abs(cnnlib.evaluate_accuracy(net, eval_batches) - base) < 0.01, "base 应是未关掉任何路径时 net 在 eval_batches 上的准确率"
if budget in ("small", "full"):
    assert max(drops["3a", _k] for _k in range(1, 5)) > max(drops["5b", _k] for _k in range(1, 5)), "关掉 3a 的路径，准确率应比关掉 5b 的任何一条路径掉得更多"
