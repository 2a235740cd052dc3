"""示意图：结构图的形状与真实前向传播一致，概念图上的数字来自计算，中文不缺字。"""
import io
import warnings

import matplotlib.pyplot as plt
import pytest
import torch
from torch import nn

import cnnlib
from cnnlib import figures
from cnnlib.models import Residual, alexnet, bn_lenet, densenet, googlenet, lenet, nin, resnet18, vgg

MODELS = [lambda: lenet(), lambda: alexnet(), lambda: vgg("A", ratio=4), lambda: nin(input_size=96),
          lambda: googlenet(), lambda: bn_lenet(), lambda: resnet18(), lambda: densenet()]


def texts(fig):
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [ax.get_title() for ax in fig.axes]


def render(fig):
    # 缺字时 Matplotlib 发出 UserWarning（"Glyph ... missing"）：在这里变成错误
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig.savefig(io.BytesIO(), format="png", dpi=60)
    plt.close(fig)


def real_shapes(net, layers, size):
    shapes = {}
    hooks = [m.register_forward_hook(lambda mod, i, o, k=id(m): shapes.__setitem__(k, tuple(o.shape[1:])))
             for m in layers]
    with torch.no_grad():
        net.eval()(torch.zeros(1, net.in_channels, size, size))
    for h in hooks:
        h.remove()
    return shapes


@pytest.mark.parametrize("build", MODELS, ids=["lenet", "alexnet", "vgg", "nin", "googlenet", "bn_lenet",
                                                "resnet18", "densenet"])
def test_architecture_boxes_follow_a_real_forward_pass(build):
    net = build()
    for expand in (False, True):
        boxes = figures.layer_boxes(net, expand=expand, fold=False)
        layers = [m for child in net for m in (child if expand and isinstance(child, nn.Sequential) else [child])]
        real = real_shapes(net, layers, net.input_size)   # 在评估模式下，批量为 1
        assert [b.shape for b in boxes[1:]] == [real[id(m)] for m in layers]
        assert boxes[0].shape == (net.in_channels, net.input_size, net.input_size)
    folded = figures.layer_boxes(net)
    assert folded[-1].shape == (10,) and len(folded) < len(boxes)


def test_lenet_boxes_name_kernels_channels_and_shapes():
    boxes = figures.layer_boxes(lenet())
    assert [b.shape for b in boxes] == [(1, 28, 28), (6, 28, 28), (6, 14, 14), (16, 10, 10), (400,),
                                        (120,), (84,), (10,)]
    if cnnlib.HAS_CJK:
        assert boxes[1].label == "5×5 卷积, 6, 填充 2 · Sigmoid"
        assert boxes[2].label == "2×2 平均汇聚, 步幅 2"


def test_block_labels_come_from_the_modules():
    boxes = figures.layer_boxes(vgg("A", ratio=4))
    assert boxes[3].shape == (64, 28, 28) and "3×3" in boxes[3].label and "64" in boxes[3].label
    assert boxes[3].label.count("\n") == 1                       # 卷积一行、汇聚一行
    names = [b.label.split(":")[0] for b in figures.layer_boxes(googlenet(), expand=True) if ":" in b.label]
    assert names == [f"Inception {n}" for n in ("3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b")]
    assert figures.layer_boxes(googlenet(), expand=True)[6].label.endswith("64+128+32+32")
    pool = figures.layer_boxes(googlenet()[2][0].p4, input_size=12, in_channels=192)[1]
    assert pool.shape == (192, 12, 12) and ("填充 1" in pool.label or "pad 1" in pool.label)


def test_architecture_and_inception_figures_render_without_missing_glyphs():
    render(figures.architecture_figure(("LeNet", lenet()), ("AlexNet", alexnet())))
    render(figures.architecture_figure(("GoogLeNet", googlenet(), dict(expand=True))))
    fig = figures.inception_figure(googlenet()[2][0])
    assert any("256" in t for t in texts(fig))                   # 64 + 128 + 32 + 32
    render(fig)


def test_corr2d_figure_shows_the_computed_output_and_the_sum():
    X, K = torch.arange(9.0).reshape(3, 3), torch.arange(4.0).reshape(2, 2)
    fig = figures.corr2d_figure(X, K, pos=(1, 1))
    t = texts(fig)
    assert all(str(int(v)) in t for v in cnnlib.ops.corr2d(X, K).flatten())      # 19, 25, 37, 43
    assert "4×0 + 5×1 + 7×2 + 8×3 = 43" in t
    render(fig)


def test_other_concept_figures_use_the_operations_they_illustrate():
    X, K = torch.arange(9.0).reshape(3, 3), torch.arange(4.0).reshape(2, 2)
    fig = figures.padding_figure(X, K, padding=1)
    assert "0×0 + 0×1 + 0×2 + 0×3 = 0" in texts(fig)
    render(fig)
    fig = figures.stride_figure(X, K, stride=(3, 2), padding=1)
    assert "0×0 + 0×1 + 1×2 + 2×3 = 8" in " ".join(texts(fig))           # d2l 的 8
    render(fig)
    Xm, Km = torch.stack([X, X + 1]), torch.stack([K, K + 1])
    fig = figures.multi_in_figure(Xm, Km)
    assert "19 + 37 = 56" in texts(fig) and int(cnnlib.ops.corr2d_multi_in(Xm, Km)[0, 0]) == 56
    render(fig)
    W = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, -1.0]])
    fig = figures.conv1x1_figure(torch.arange(27.0).reshape(3, 3, 3), W, pos=(0, 0))
    assert any("[0, 9, 18]" in s and "[18, -9]" in s for s in texts(fig))
    render(fig)
    fig = figures.pooling_figure(X, 2)
    assert "max(0, 1, 3, 4) = 4    mean(0, 1, 3, 4) = 2" in texts(fig)
    render(fig)


def test_numbers_in_squares_are_short():
    assert [figures._fmt(v) for v in (3.0, -0.04, 0.25, -1.26, 2.5)] == ["3", "0", "0.2", "-1.3", "2.5"]


def test_stride_figure_marks_the_vertical_step_too():
    X, K = torch.arange(9.0).reshape(3, 3), torch.arange(4.0).reshape(2, 2)
    t = texts(figures.stride_figure(X, K, stride=(3, 2), padding=1))
    assert "0×0 + 6×1 + 0×2 + 0×3 = 6" in t                        # 向下移 3 行的窗口
    plt.close("all")


def test_boxes_count_parameters_and_keep_the_shape_before_flatten():
    net = vgg("A", ratio=4)
    boxes = figures.layer_boxes(net)
    assert sum(b.params for b in boxes) == cnnlib.num_params(net)
    last_block = boxes[5]
    assert last_block.before == (128, 7, 7) and last_block.shape == (6272,)
    assert "128×7×7 → 6272" in figures.box_text(last_block)
    fig = figures.architecture_figure(("VGG", net), params=True)
    assert any("102.8M" in t or "25.7M" in t for t in texts(fig))       # 第一个全连接层 6272×4096
    render(fig)


def test_residual_figure_shows_both_shortcuts_with_computed_shapes():
    fig = figures.residual_figure(Residual(3, 6, use_1x1conv=True, strides=2), input_size=6)
    t = " ".join(texts(fig))
    assert "6×3×3" in t and ("1×1 卷积, 6, 步幅 2" in t or "1×1 conv, 6, stride 2" in t)
    render(fig)
    fig = figures.residual_figure(Residual(3, 3), input_size=6)
    assert any("恒等" in s or "identity" in s for s in texts(fig))
    render(fig)
    labels = [b.label for b in figures.layer_boxes(resnet18())]
    assert sum("1×1" in l for l in labels) == 3                      # 后三个阶段的第一个块


def test_dense_block_figure_counts_channels_from_the_block():
    from cnnlib.models import DenseBlock, transition_block
    fig = figures.dense_block_figure(DenseBlock(2, 3, 10), input_size=8, transition=transition_block(23, 10))
    t = " ".join(texts(fig))
    assert ("3 + 10 = 13" in t and "13 + 10 = 23" in t) or "23 channels" in t
    assert "10×4×4" in t                                            # 过渡层的输出形状
    render(fig)


def test_depthwise_and_grouped_convolutions_are_named():
    depthwise = nn.Conv2d(32, 32, 3, padding=1, groups=32)
    grouped = nn.Conv2d(96, 256, 5, padding=2, groups=2)
    assert figures.describe(depthwise)[0] in ("3×3 逐通道卷积, 32, 填充 1", "3×3 depthwise, 32, pad 1")
    assert "2 组" in figures.describe(grouped)[0] or "2 groups" in figures.describe(grouped)[0]


def test_grouped_conv_links_come_from_a_forward_pass():
    links = figures.channel_links(nn.Conv2d(96, 256, 5, padding=2, groups=2))
    assert links.shape == (256, 96) and int(links.sum()) == 256 * 48
    assert links[:128, :48].all() and not links[:128, 48:].any() and links[128:, 48:].all()
    assert figures.channel_links(nn.Conv2d(4, 6, 3)).all()
    fig = figures.grouped_conv_figure(nn.Conv2d(6, 4, 3, groups=2), group_names=["GPU 0", "GPU 1"])
    t = " ".join(texts(fig))
    assert "0–2" in t and "3–5" in t and "2×3\n×3×3" in t and "GPU 1" in t
    render(fig)


def test_flip_and_kernel_tensor_figures_use_the_computed_outputs():
    X, K = torch.arange(9.0).reshape(3, 3), torch.arange(4.0).reshape(2, 2)
    fig = figures.flip_figure(X, K)
    assert "0×3 + 1×2 + 3×1 + 4×0 = 5" in texts(fig)               # 与翻转后的核相乘
    render(fig)
    Xm = torch.stack([X, X + 1])
    K3 = torch.stack([torch.stack([K, K + 1]) + o for o in range(3)])
    fig = figures.kernel_tensor_figure(K3, Xm)
    t = texts(fig)
    Y = cnnlib.ops.corr2d_multi_in_out(Xm, K3)
    assert "K[2, 1]" in t and all(figures._fmt(v) in t for v in Y.flatten())
    assert any("3×2×2×2" in s for s in t)
    render(fig)


def test_parallel_figure_draws_any_paths_and_checks_they_concatenate():
    paths = [nn.Sequential(nn.Conv2d(8, 4, 3, stride=2), nn.ReLU()), nn.MaxPool2d(3, stride=2)]
    fig = figures.parallel_figure(paths, in_channels=8, input_size=9)
    t = " ".join(texts(fig))
    assert ("4 + 8 = 12" in t and "12×4×4" in t) or "12 channels" in t
    render(fig)
    with pytest.raises(AssertionError):
        figures.parallel_figure([nn.Conv2d(8, 4, 3), nn.Conv2d(8, 4, 1)], in_channels=8, input_size=9)
    plt.close("all")


def test_every_box_names_its_activation_and_fits_its_label():
    labels = [b.label for b in figures.layer_boxes(vgg("A", ratio=4)) + figures.layer_boxes(nin(input_size=96))]
    convs = [l for l in labels if "3×3" in l and ("卷积" in l or "conv" in l)]
    assert convs and all("ReLU" in l.split("\n")[0] for l in convs)             # VGG、NiN 与 AlexNet 一样写出 ReLU
    densenet_labels = [b.label for b in figures.layer_boxes(densenet())]
    assert sum(l.startswith("BN · ReLU · 1×1") for l in densenet_labels) == 3   # 三个过渡层
    fig = figures.architecture_figure(("ResNet-18", resnet18(), dict(expand=True)), params=True)
    ax = fig.axes[0]
    fig.canvas.draw()
    boxes = [p.get_window_extent() for p in ax.patches if isinstance(p, figures.FancyBboxPatch)]
    for text in ax.texts:
        if text.get_ha() == "center" and "\n" not in text.get_text():
            bb = text.get_window_extent()
            assert any(b.x0 <= bb.x0 and bb.x1 <= b.x1 for b in boxes if b.y0 <= bb.y0 <= b.y1) \
                or text.get_fontsize() > 8, text.get_text()                    # 标题除外
    plt.close(fig)


def test_feature_maps_are_drawn_to_scale():
    maps = figures.feature_maps(lenet())
    assert [m.shape for m in maps] == [(1, 28, 28), (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5),
                                       (400,), (120,), (84,), (10,)]
    px, per_channel = maps[0].height / 28, maps[3].depth / 16
    for m in maps[:5]:                                   # 高、宽、厚度分别与 h、w、c 成正比
        c, h, w = m.shape
        assert (m.height, m.width) == pytest.approx((h * px, w * px))
        assert m.depth == pytest.approx(max(c * per_channel, 0.02))
    for m in maps[5:7]:                                  # 竖条的高与向量长度成正比
        assert m.height == pytest.approx(m.shape[0] / 400 * maps[5].height) and m.depth == 0
    fig = figures.feature_map_figure(lenet())
    faces = {p.get_gid(): p for p in fig.axes[0].patches if p.get_gid()}
    assert [(faces[f"map {k}"].get_width(), faces[f"map {k}"].get_height()) for k in range(len(maps))] \
        == [(m.width, m.height) for m in maps]
    t = texts(fig)
    assert {"1×28×28", "6×28×28", "16×5×5", "400", "10"} <= set(t)
    assert sum("Sigmoid" in s for s in t) == 4           # 两个卷积层和两个隐藏的全连接层
    render(fig)
