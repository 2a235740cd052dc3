"""“残差网络（ResNet）”一节练习的检查单元：只出现在学生版里（make student，见 tools/student_edition.py）。

每一段以 `# %% <练习标签>: <答案要定义的名字>` 开头；学生版在这一段前面自动加上“名字是否已定义”的检查。
"""

# %% ex-resnet-1: r18 r34 extra
_blocks = [sum(isinstance(_m, cnnlib.models.Residual) for _m in _s.modules()) for _s in r34.children()]
assert [_n for _n in _blocks if _n] == [3, 4, 6, 3], "r34 的 4 个阶段应依次有 3、4、6、3 个残差块"
assert sum(1 for _m in r34.modules() if isinstance(_m, nn.Linear) or (isinstance(_m, nn.Conv2d) and _m.kernel_size != (1, 1))) == 34, "ResNet-34 应有 34 个带权重的层（不计 1×1 卷积捷径）"
assert num_params(r18) == num_params(cnnlib.models.resnet18()), "r18 的开头和结尾应与 cnnlib.models.resnet18() 相同"
with torch.no_grad():
    assert tuple(r34.eval()(torch.zeros(1, 1, 96, 96)).shape) == (1, 10), "r34 应接受单通道输入、输出 10 类得分"
assert len(extra) == 4 and sum(extra) == num_params(r34) - num_params(r18), "extra 应是 4 个阶段各自多出的参数量"

# %% ex-resnet-2: block out_any out_nonneg
assert isinstance(block, cnnlib.models.Residual) and block.shortcut is None and (block.bn2.weight == 0).all(), "block 应是恒等捷径的残差块，bn2.weight 全为 0"
torch.manual_seed(1)
_X = torch.randn(2, block.conv1.in_channels, 5, 5)
with torch.no_grad():
    assert torch.equal(block(_X), F.relu(_X)) and torch.equal(block(F.relu(_X)), F.relu(_X)), "γ = 0 时块的输出应是 ReLU(X)，对非负输入就是输入本身"
assert torch.equal(out_any, out_nonneg) and out_any.min() >= 0, "out_any 与 out_nonneg 应都等于 ReLU(X)"

# %% ex-resnet-3: PreActResidual pre
assert num_params(PreActResidual(8)) == num_params(cnnlib.models.Residual(8, 8)), "预激活块与原始残差块的层相同，参数量应相同"
torch.manual_seed(1)
_X = torch.randn(2, 8, 5, 5)
with torch.no_grad():
    assert not torch.allclose(PreActResidual(8)(_X), _X), "PreActResidual(8) 刚初始化时不应是恒等映射"
    assert torch.equal(pre(_X), _X), "最后一个卷积置零后，预激活块对任何输入（包括负数）都应输出输入本身"
