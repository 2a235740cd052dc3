"""模型的形状、参数量与错误输入的报错（参考值见 BRIEF §6，与 d2l-zh 一致）。"""
import pytest
import torch
from torch import nn

import cnnlib
from cnnlib import models
from cnnlib.modelinfo import count_flops, summary


def shapes(net, size=None):
    return [shape[1:] for _, shape in net.shapes(size=size)]


@pytest.mark.parametrize("build, params", [
    (models.lenet, 61_706),
    (models.alexnet, 46_764_746),
    (models.vgg, 128_806_154),
    (lambda: models.vgg(ratio=4), 43_093_322),
    (models.nin, 1_992_166),
    (models.googlenet, 5_977_530),
])
def test_parameter_counts(build, params):
    assert cnnlib.num_params(build()) == params


def test_lenet_shapes():
    s = shapes(models.lenet())
    assert [s[i] for i in (0, 2, 3, 5, 6, 7, 9, 11)] == [
        (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (400,), (120,), (84,), (10,)]


def test_alexnet_shapes():
    s = shapes(models.alexnet())
    assert s[0] == (96, 54, 54) and s[2] == (96, 26, 26) and s[12] == (256, 5, 5)
    assert s[13] == (6400,) and s[-1] == (10,)


def test_vgg_blocks_end_at_7x7():
    s = shapes(models.vgg())
    assert s[:5] == [(64, 112, 112), (128, 56, 56), (256, 28, 28), (512, 14, 14), (512, 7, 7)]


@pytest.mark.parametrize("config, millions", [("A", 133), ("B", 133), ("C", 134), ("D", 138), ("E", 144)])
def test_vgg_configurations_match_the_paper(config, millions):
    net = models.vgg(config, in_channels=3, num_classes=1000)
    assert round(cnnlib.num_params(net) / 1e6) == millions


def test_nin_shapes():
    s = shapes(models.nin())
    assert s == [(96, 54, 54), (96, 26, 26), (256, 26, 26), (256, 12, 12), (384, 12, 12), (384, 5, 5),
                 (384, 5, 5), (10, 5, 5), (10, 1, 1), (10,)]


def test_nin_without_final_relu_gives_signed_logits_with_the_same_parameters():
    torch.manual_seed(0)
    with_relu = cnnlib.init_xavier(models.nin(input_size=80)).eval()
    torch.manual_seed(0)
    without = cnnlib.init_xavier(models.nin(input_size=80, final_relu=False)).eval()
    assert isinstance(with_relu[7][-1], nn.ReLU) and isinstance(without[7][-1], nn.Conv2d)
    assert cnnlib.num_params(without) == cnnlib.num_params(with_relu)
    X = torch.rand(8, 1, 80, 80)
    with torch.no_grad():
        a, b = with_relu(X), without(X)
    assert b.min() < 0 and torch.allclose(a, b.clamp(min=0))   # 有 ReLU 的输出 = 去掉后截去负值


def test_googlenet_shapes_and_inception_channels():
    assert shapes(models.googlenet()) == [(64, 24, 24), (192, 12, 12), (480, 6, 6), (832, 3, 3), (1024,), (10,)]
    a3 = models.Inception(192, *models.INCEPTION_CONFIGS["3a"])
    b3 = models.Inception(256, *models.INCEPTION_CONFIGS["3b"])
    assert a3(torch.zeros(1, 192, 28, 28)).shape == (1, 256, 28, 28)
    assert b3(torch.zeros(1, 256, 28, 28)).shape == (1, 480, 28, 28)


def test_lenet5_layer_table_matches_the_paper():
    table = {r["layer"]: (r["params"], r["connections"]) for r in models.LeNet5().layer_table()}
    assert table == {"C1": (156, 122_304), "S2": (12, 5_880), "C3": (1_516, 151_600), "S4": (32, 2_000),
                     "C5": (48_120, 48_120), "F6": (10_164, 10_164), "OUTPUT": (840, 840)}


@pytest.mark.parametrize("build", [models.lenet, models.alexnet, models.vgg, models.nin, models.googlenet,
                                   models.bn_lenet, models.resnet18, models.densenet])
def test_in_channels_and_num_classes(build):
    net = build(in_channels=3, num_classes=7)
    x = torch.zeros(2, 3, net.input_size, net.input_size)
    assert net.eval()(x).shape == (2, 7)


def test_wrong_size_names_the_layer_and_expected_input():
    with pytest.raises(ValueError) as err:
        models.alexnet()(torch.zeros(1, 1, 227, 227))
    message = str(err.value)
    assert "AlexNet" in message and "Linear(in_features=6400" in message
    assert "(1, 9216)" in message and "193–224" in message and "224×224" in message


def test_wrong_channels_fail_before_the_first_layer():
    with pytest.raises(ValueError, match=r"通道数（in_channels）应为 1"):
        models.lenet()(torch.zeros(2, 3, 28, 28))
    with pytest.raises(ValueError, match="维数不是 4"):
        models.googlenet()(torch.zeros(1, 96, 96))


def test_too_small_input_is_explained():
    # NiN 以全局平均汇聚结尾：报错说它接受任何 ≥ 67 的输入，而不是只报设计尺寸 224
    net = models.nin().eval()
    with pytest.raises(ValueError, match="NiN 中下标为 3 的层 MaxPool2d") as err:
        net(torch.zeros(1, 1, 32, 32))
    assert "不小于 67" in str(err.value) and "只接受" not in str(err.value)
    assert net(torch.zeros(1, 1, 67, 67)).shape == (1, 10)
    with pytest.raises(ValueError):
        net(torch.zeros(1, 1, 66, 66))


def test_accepted_sizes_agree_with_a_real_forward_pass():
    net = models.lenet().eval()
    real = []
    for size in range(1, 57):
        try:
            net(torch.zeros(1, 1, size, size))
            real.append(size)
        except ValueError:
            pass
    assert net.accepted_sizes() == real == [28, 29, 30, 31]


def test_summary_totals_agree_with_the_model():
    net = models.lenet()
    s = summary(net)
    assert s.total_params == sum(r.params for r in s) == 61_706
    assert [r.output_shape for r in s][-1] == (10,)
    # 第一层卷积：6 个输出通道 × 28×28 个位置 × 25 次乘加 × 2
    assert s.rows[0].flops == 2 * 6 * 28 * 28 * 25
    assert "61,706" in repr(s) and "<table>" in s._repr_html_()


@pytest.mark.parametrize("build, size", [(models.lenet, 28), (models.bn_lenet, 28), (models.resnet18, 96),
                                         (models.densenet, 96), (models.googlenet, 96)])
def test_count_flops_equals_a_real_forward_pass_and_leaves_the_model_alone(build, size):
    from torch.utils.flop_counter import FlopCounterMode
    torch.manual_seed(0)
    net = build()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    flops = count_flops(net, (1, size, size))
    net.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(torch.zeros(3, 1, size, size))
    assert counter.get_total_flops() == 3 * flops > 0
    assert count_flops(net, (1, size, size), batch_size=3) == 3 * flops
    net.train()
    count_flops(net, (1, size, size))
    assert net.training and all(m.training for m in net.modules())       # 模式不变
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())   # BN 的滑动统计量也不变
    assert next(net.parameters()).device.type == "cpu"


@pytest.mark.parametrize("frozen_first", [False, True])
@pytest.mark.parametrize("build, size", [(models.lenet, 28), (models.bn_lenet, 28), (models.resnet18, 32)])
def test_count_flops_backward_equals_a_real_training_step(build, size, frozen_first):
    from torch.utils.flop_counter import FlopCounterMode
    torch.manual_seed(0)
    net = build()
    if frozen_first:                     # 冻结的参数不求梯度：计数随之变少
        next(net.parameters()).requires_grad_(False)
    flags = [p.requires_grad for p in net.parameters()]
    step = count_flops(net, (1, size, size), backward=True)
    forward = count_flops(net, (1, size, size))
    net.eval()
    with FlopCounterMode(display=False) as counter:
        net(torch.zeros(2, 1, size, size)).sum().backward()
    assert counter.get_total_flops() == 2 * step
    assert 2 * forward < step < 3 * forward                     # 训练一步约为前向的 3 倍（输入不求梯度）
    assert [p.requires_grad for p in net.parameters()] == flags  # count_flops 不改动 requires_grad
    assert all(p.grad is None for p in net.parameters() if not p.requires_grad)


def test_count_flops_agrees_with_summary():
    net = models.vgg(ratio=4)
    assert count_flops(net, (1, 224, 224)) == summary(net).total_flops


def test_summary_depth_expands_blocks():
    net = models.vgg(ratio=4)
    assert len(summary(net, depth=1)) == 13
    assert len(summary(net, depth=2)) > 13


def test_summary_rejects_non_sequential():
    with pytest.raises(TypeError):
        summary(models.LeNet5())
    with pytest.raises(ValueError, match="input_size"):
        summary(nn.Sequential(nn.Linear(2, 2)))


def test_slicing_a_model_gives_its_first_layers():
    net = models.vgg(ratio=4)
    features = net[:5]
    assert isinstance(features, nn.Sequential) and len(features) == 5
    assert features(torch.zeros(1, 1, 224, 224)).shape == (1, 128, 7, 7)
    assert isinstance(net[0], nn.Sequential)


def test_alexnet_input_size_changes_only_the_first_linear():
    small = models.alexnet(input_size=112)
    assert small[14].in_features == 256 * 2 * 2
    assert small.eval()(torch.zeros(1, 1, 112, 112)).shape == (1, 10)


# ---------------------------------------------------------------- 第 3 章：批量规范化、ResNet、DenseNet

def test_chapter3_parameter_counts_match_d2l():
    assert cnnlib.num_params(models.bn_lenet()) == 44_878
    assert cnnlib.num_params(models.resnet18()) == 11_178_378
    assert cnnlib.num_params(models.densenet()) == 758_226


def test_residual_block_shapes():
    X = torch.rand(4, 3, 6, 6)
    assert models.Residual(3, 3)(X).shape == (4, 3, 6, 6)
    assert models.Residual(3, 6, use_1x1conv=True, strides=2)(X).shape == (4, 6, 3, 3)
    with pytest.raises(RuntimeError):          # 通道数变了却没有 1×1 捷径：相加时形状对不上
        models.Residual(3, 6)(X)


def test_residual_block_is_identity_plus_main_path():
    blk = models.Residual(3, 3).eval()
    X = torch.rand(2, 3, 6, 6)
    main = blk.bn2(blk.conv2(torch.relu(blk.bn1(blk.conv1(X)))))
    torch.testing.assert_close(blk(X), torch.relu(main + X))


def test_dense_block_and_transition_shapes():
    blk = models.DenseBlock(2, 3, 10)
    Y = blk(torch.rand(4, 3, 8, 8))
    assert Y.shape == (4, 23, 8, 8) and blk.out_channels == 23
    assert models.transition_block(23, 10)(Y).shape == (4, 10, 4, 4)


def test_dense_block_keeps_its_input_channels_unchanged():
    X = torch.rand(2, 3, 8, 8)
    Y = models.DenseBlock(2, 3, 10)(X)
    assert torch.equal(Y[:, :3], X)            # 连结：输入原样保留在前 3 个通道


def test_resnet18_stage_shapes_at_224():
    net = models.resnet18().eval()
    x, shapes = torch.zeros(1, 1, 224, 224), []
    with torch.no_grad():
        for layer in net[:5]:
            x = layer(x)
            shapes.append(tuple(x.shape[1:]))
    assert shapes == [(64, 56, 56), (64, 56, 56), (128, 28, 28), (256, 14, 14), (512, 7, 7)]


def test_bn_lenet_wrong_input_is_explained():
    net = models.bn_lenet()
    with pytest.raises(ValueError, match="28–31"):
        net(torch.zeros(2, 1, 32, 32))
    with pytest.raises(ValueError, match="通道数"):
        net(torch.zeros(2, 3, 28, 28))


def test_densenet_accepts_any_input_it_can_pool():
    net = models.densenet().eval()
    ok = net.accepted_sizes(limit=40)
    assert ok[0] > 1 and ok == list(range(ok[0], 41))
    assert net(torch.zeros(1, 1, ok[0], ok[0])).shape == (1, 10)
