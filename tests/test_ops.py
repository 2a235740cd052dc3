import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import cnnlib


def test_corr2d_reference_example():
    X = torch.arange(9.0).reshape(3, 3)
    K = torch.arange(4.0).reshape(2, 2)
    assert cnnlib.ops.corr2d(X, K).tolist() == [[19.0, 25.0], [37.0, 43.0]]


@pytest.mark.parametrize("shape, kshape", [((6, 8), (1, 2)), ((5, 5), (3, 3)), ((7, 4), (2, 4)), ((3, 3), (3, 3))])
def test_corr2d_equals_d2l_and_conv2d(shape, kshape, d2l):
    g = torch.Generator().manual_seed(0)
    X, K = torch.randn(shape, generator=g), torch.randn(kshape, generator=g)
    ours = cnnlib.ops.corr2d(X, K)
    assert torch.allclose(ours, d2l.corr2d(X, K), atol=1e-6)
    assert torch.allclose(ours, F.conv2d(X[None, None], K[None, None])[0, 0], atol=1e-5)


def test_true_convolution_flips_the_kernel():
    X = torch.arange(16.0).reshape(4, 4)
    K = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    # 按定义计算 (X * K)[i, j] = sum_{a,b} X[i + 1 - a, j + 1 - b] K[a, b]
    expected = torch.tensor([[sum(X[i + 1 - a, j + 1 - b] * K[a, b] for a in range(2) for b in range(2))
                              for j in range(3)] for i in range(3)])
    assert torch.equal(cnnlib.ops.conv2d_true(X, K), expected)
    assert not torch.equal(cnnlib.ops.conv2d_true(X, K), cnnlib.ops.corr2d(X, K))


def test_multi_channel_versions_match_conv2d():
    g = torch.Generator().manual_seed(1)
    X = torch.randn(3, 6, 5, generator=g)
    K = torch.randn(4, 3, 2, 3, generator=g)
    expected = F.conv2d(X[None], K)[0]
    assert torch.allclose(cnnlib.ops.corr2d_multi_in_out(X, K), expected, atol=1e-5)
    assert torch.allclose(cnnlib.ops.corr2d_multi_in(X, K[0]), expected[0], atol=1e-5)


def test_one_by_one_convolution_is_a_matrix_product():
    g = torch.Generator().manual_seed(2)
    X = torch.randn(3, 4, 5, generator=g)
    K = torch.randn(2, 3, 1, 1, generator=g)
    assert torch.allclose(cnnlib.ops.corr2d_multi_in_out_1x1(X, K), cnnlib.ops.corr2d_multi_in_out(X, K), atol=1e-6)


def test_pool2d_matches_torch():
    X = torch.arange(9.0).reshape(3, 3)
    assert cnnlib.ops.pool2d(X, 2).tolist() == [[4.0, 5.0], [7.0, 8.0]]
    assert cnnlib.ops.pool2d(X, 2, "avg").tolist() == [[2.0, 3.0], [5.0, 6.0]]
    g = torch.Generator().manual_seed(3)
    Y = torch.randn(6, 7, generator=g)
    assert torch.allclose(cnnlib.ops.pool2d(Y, (2, 3)), nn.MaxPool2d((2, 3), stride=1)(Y[None, None])[0, 0])
    assert torch.allclose(cnnlib.ops.pool2d(Y, (3, 2), "avg"),
                          nn.AvgPool2d((3, 2), stride=1)(Y[None, None])[0, 0], atol=1e-6)
    with pytest.raises(ValueError, match="mode"):
        cnnlib.ops.pool2d(X, 2, "median")


def test_output_size_formula_matches_conv2d_on_a_grid():
    checked = 0
    for n, k, p, s in itertools.product(range(1, 14), range(1, 6), range(0, 3), range(1, 4)):
        if n + 2 * p < k:
            with pytest.raises(ValueError):
                cnnlib.ops.conv_output_size(n, k, p, s)
            continue
        out = nn.Conv2d(1, 1, k, padding=p, stride=s, bias=False)(torch.zeros(1, 1, n, n)).shape[-1]
        assert cnnlib.ops.conv_output_size(n, k, p, s) == out
        checked += 1
    assert checked > 500


def test_shape_errors_are_explained():
    with pytest.raises(ValueError, match="kernel"):
        cnnlib.ops.corr2d(torch.zeros(2, 2), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="2-D"):
        cnnlib.ops.corr2d(torch.zeros(1, 2, 2), torch.zeros(1, 1))
    with pytest.raises(ValueError, match="in_channels"):
        cnnlib.ops.corr2d_multi_in(torch.zeros(2, 3, 3), torch.zeros(3, 2, 2))


def ones_conv(k, padding=None):
    conv = nn.Conv2d(1, 1, k, padding=k // 2 if padding is None else padding, bias=False)
    nn.init.ones_(conv.weight)
    return conv


@pytest.mark.parametrize("layers", [1, 2, 3, 4])
def test_receptive_field_of_stacked_3x3_convolutions(layers):
    grad = cnnlib.ops.receptive_field(nn.Sequential(*[ones_conv(3) for _ in range(layers)]), size=15)
    assert cnnlib.ops.field_size(grad) == (2 * layers + 1, 2 * layers + 1)
    assert int((grad != 0).sum()) == (2 * layers + 1) ** 2        # 实心的正方形


def test_receptive_field_factorised_kernel_and_pooling():
    one_by_seven = nn.Conv2d(1, 1, (1, 7), padding=(0, 3), bias=False)
    seven_by_one = nn.Conv2d(1, 1, (7, 1), padding=(3, 0), bias=False)
    for conv in (one_by_seven, seven_by_one):
        nn.init.ones_(conv.weight)
    assert cnnlib.ops.field_size(cnnlib.ops.receptive_field(nn.Sequential(one_by_seven, seven_by_one))) == (7, 7)
    assert cnnlib.ops.field_size(cnnlib.ops.receptive_field(one_by_seven)) == (1, 7)
    # 2×2 平均汇聚（步幅 2）后接 3×3 卷积：3 个汇聚窗口宽，即 6 个像素
    net = nn.Sequential(nn.AvgPool2d(2), ones_conv(3))
    assert cnnlib.ops.field_size(cnnlib.ops.receptive_field(net, size=16)) == (6, 6)
    assert cnnlib.ops.field_size(torch.zeros(3, 3)) == (0, 0)
