"""“稠密连接网络（DenseNet）”一节练习的检查单元：只出现在学生版里（make student，见 tools/student_edition.py）。

每一段以 `# %% <练习标签>: <答案要定义的名字>` 开头；学生版在这一段前面自动加上“名字是否已定义”的检查。
"""

# %% ex-densenet-1: same f_conv_first f_pool_first
assert bool(same), "1×1 卷积与平均汇聚都是线性运算：交换顺序，结果应相同"
assert f_pool_first > 0 and f_pool_first * 4 == f_conv_first, "先汇聚后卷积，1×1 卷积只在四分之一的像素上计算"

# %% ex-densenet-2: counts ratios
assert set(counts) == {8, 16, 32, 64}, "counts 应以增长率 8、16、32、64 为键"
assert all(counts[_k] == num_params(cnnlib.models.densenet(growth_rate=_k)) for _k in counts), "参数量应用 cnnlib.models.densenet(growth_rate=k) 数出"
assert list(ratios) == [counts[2 * _k] / counts[_k] for _k in (8, 16, 32)], "ratios 应是 k 翻倍（8→16、16→32、32→64）时参数量的倍数"
assert all(2 < _r < 4 for _r in ratios) and list(ratios) == sorted(ratios), "k 翻倍时参数量的倍数应在 2 到 4 之间，且 k 越大越接近 4"

# %% ex-densenet-3: BottleneckBlock widest
for _blk in dense_blocks:
    _b = BottleneckBlock(len(_blk.net), _blk.in_channels, 32)
    with torch.no_grad():
        assert _b(torch.zeros(2, _blk.in_channels, 3, 3)).shape[1] == _blk.out_channels, "BottleneckBlock(num_convs, in_channels, k) 的输出通道数应与同样大小的稠密块相同"
    assert num_params(_b) > num_params(_blk), "本节的稠密块输入通道不多，换上瓶颈层后参数量应变多"
assert any(isinstance(_m, nn.Conv2d) and _m.kernel_size == (1, 1) and _m.out_channels == 4 * 32 for _m in _b.modules()), "瓶颈层是输出 4k 个通道的 1×1 卷积"
assert num_params(BottleneckBlock(1, 512, 32)) < num_params(conv_block(512, 32)), "输入通道很多时，瓶颈卷积块应比普通卷积块省参数"
assert widest == max(_blk.in_channels + (len(_blk.net) - 1) * 32 for _blk in dense_blocks), "widest 应是本节稠密块中卷积块的最大输入通道数"

# %% ex-densenet-4: saved_L out_L
assert len(saved_L) == len(out_L) == 8, "saved_L、out_L 应各有 L = 1…8 的 8 个数"
_d1 = [_b - _a for _a, _b in zip(saved_L, saved_L[1:])]
assert len({_b - _a for _a, _b in zip(_d1, _d1[1:])}) == 1 and _d1[1] > _d1[0], "保存的激活应随 L 平方增长：二阶差分是正的常数"
assert len({_b - _a for _a, _b in zip(out_L, out_L[1:])}) == 1 and out_L[1] > out_L[0], "输出张量的大小应随 L 线性增长"
assert saved_L[0] == saved_activation_bytes(cnnlib.models.DenseBlock(1, 64, 32), torch.randn(8, 64, 24, 24)), "saved_L[0] 应是 L = 1、输入 8×64×24×24 时 saved_activation_bytes 的结果"
