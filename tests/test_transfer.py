"""cnnlib.transfer：冻结、替换输出层、参数分组、主干的保存与载入、手写数字数据、离线时的下载路径。"""

import pytest
import torch
from torch import nn

import cnnlib
from cnnlib import transfer
from cnnlib.models import bn_lenet, lenet, resnet18


def small_torchvision_resnet():
    from torchvision.models import resnet18 as tv_resnet18
    return tv_resnet18(weights=None)


# ---------------------------------------------------------------- 参数分组

def test_param_groups_split_body_and_head_with_the_right_lr():
    torch.manual_seed(0)
    net = bn_lenet()
    head = transfer.replace_head(net, 7)
    groups = transfer.param_groups(net, head, lr=0.01, head_lr_mult=10)
    assert [g["name"] for g in groups] == ["body", "head"]
    body, top = groups
    assert body["lr"] == 0.01 and top["lr"] == pytest.approx(0.1)
    assert [id(p) for p in top["params"]] == [id(head.weight), id(head.bias)]
    # 每个可训练参数恰好出现一次
    ids = [id(p) for g in groups for p in g["params"]]
    assert len(ids) == len(set(ids))
    assert set(ids) == {id(p) for p in net.parameters()}
    # 优化器真的用这些学习率：梯度全为 1 时，一步之后主干的参数减少 0.01，输出层减少 0.1
    opt = torch.optim.SGD(groups, lr=0.01)
    before = [p.detach().clone() for p in net.parameters()]
    for p in net.parameters():
        p.grad = torch.ones_like(p)
    opt.step()
    head_ids = {id(head.weight), id(head.bias)}
    for p, b in zip(net.parameters(), before):
        assert torch.allclose(b - p.detach(), torch.full_like(b, 0.1 if id(p) in head_ids else 0.01))


def test_param_groups_on_torchvision_resnet_and_frozen_body():
    net = small_torchvision_resnet()
    transfer.freeze(net)
    head = transfer.replace_head(net, 2)
    groups = transfer.param_groups(net, head, lr=5e-5)
    assert [g["name"] for g in groups] == ["head"]              # 冻结的主干不进入任何一组
    assert groups[0]["lr"] == pytest.approx(5e-4)
    assert sum(p.numel() for p in groups[0]["params"]) == 512 * 2 + 2


def test_param_groups_reject_bad_input_with_clear_messages():
    net = bn_lenet()
    with pytest.raises(ValueError, match="不是模型 BN-LeNet 的子模块"):
        transfer.param_groups(net, nn.Linear(84, 10), lr=0.1)
    with pytest.raises(ValueError, match="学习率（lr）必须是正数"):
        transfer.param_groups(net, net[-1], lr=0)
    with pytest.raises(ValueError, match="head_lr_mult"):
        transfer.param_groups(net, net[-1], lr=0.1, head_lr_mult=-1)
    transfer.freeze(net)
    with pytest.raises(ValueError, match="输出层（head）没有可训练的参数"):
        transfer.param_groups(net, net[-1], lr=0.1)


# ---------------------------------------------------------------- 冻结

def test_frozen_parameters_get_no_grad_and_do_not_change():
    torch.manual_seed(0)
    net = bn_lenet()
    transfer.freeze(net)
    head = transfer.replace_head(net, 10)
    assert (cnnlib.num_params(net, trainable_only=True), cnnlib.num_params(net)) == (84 * 10 + 10, cnnlib.num_params(bn_lenet()))
    before = {k: v.clone() for k, v in net.named_parameters()}
    opt = torch.optim.SGD(transfer.param_groups(net, head, lr=0.1), lr=0.1)
    X, y = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
    nn.functional.cross_entropy(net(X), y).backward()
    opt.step()
    for name, p in net.named_parameters():
        if name.startswith("15."):                   # 新的输出层：有梯度，并且变了
            assert p.grad is not None and not torch.equal(p, before[name])
        else:                                        # 冻结的参数：没有梯度，一点也没变
            assert p.grad is None and torch.equal(p, before[name]), name


def test_frozen_batch_norm_stays_in_eval_mode_through_training():
    """冻结的批量规范化层：net.train() 之后仍用移动平均规范化，训练时移动平均一点也不变。"""
    torch.manual_seed(0)
    net = bn_lenet()
    net.train()(torch.rand(64, 1, 28, 28))                   # 先让移动平均离开初始值 0 和 1
    transfer.freeze(net)
    transfer.freeze(net)                                     # 冻结两次也只挂一个 hook
    head = transfer.replace_head(net, 5)
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert len(bns) == 4 and all(len(m._forward_pre_hooks) == 1 for m in bns)
    buffers = {k: v.clone() for k, v in net.state_dict().items() if "running" in k or "num_batches" in k}
    train_iter = cnnlib.TensorLoader(torch.randint(0, 256, (96, 28, 28), dtype=torch.uint8),
                                     torch.randint(0, 5, (96,)), 32, shuffle=True, device="cpu")
    cnnlib.train(net, train_iter, train_iter, 2, 0.5, device="cpu", precision="fp32", progress=False, plot=False,
                 optimizer=torch.optim.SGD(transfer.param_groups(net, head, lr=0.5), lr=0.5))
    assert all(torch.equal(net.state_dict()[k], v) for k, v in buffers.items())
    # 训练模式下，一张图像的输出也不随同一批量里的其他图像变化：冻结的主干是一个固定的函数
    X = torch.rand(8, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(net.train()(X)[:1], net(X[:1]), atol=1e-6)
        assert all(not m.training for m in bns) and head.training


def test_unfrozen_batch_norm_still_uses_batch_statistics():
    torch.manual_seed(0)
    net = bn_lenet()
    transfer.freeze(net[:8])                                 # 只冻结两个卷积块
    X = torch.rand(8, 1, 28, 28)
    before = net[10].running_mean.clone()                    # 全连接部分的 BatchNorm1d 没有冻结
    with torch.no_grad():
        net.train()(X)
    assert not net[1].training and net[10].training and not torch.equal(net[10].running_mean, before)


# ---------------------------------------------------------------- 替换输出层

@pytest.mark.parametrize("make, name, in_features", [(bn_lenet, "15", 84), (lambda: resnet18(input_size=28), "7", 512),
                                                    (small_torchvision_resnet, "fc", 512)])
def test_replace_head_shapes(make, name, in_features):
    torch.manual_seed(0)
    net = make()
    head = transfer.replace_head(net, 3)
    assert transfer.get_head(net) == (name, head)
    assert head.weight.shape == (3, in_features) and head.bias.shape == (3,)
    channels, size = (3, 64) if name == "fc" else (1, 28)
    assert net.eval()(torch.rand(2, channels, size, size)).shape == (2, 3)


def test_replace_head_rejects_models_without_a_linear_head():
    with pytest.raises(ValueError, match="找不到 .* 的输出层"):
        transfer.replace_head(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten()), 10)
    with pytest.raises(ValueError, match="类别数"):
        transfer.replace_head(bn_lenet(), 0)


# ---------------------------------------------------------------- 主干的保存与载入

def test_backbone_round_trip_with_weights_only(tmp_path, monkeypatch, capsys):
    torch.manual_seed(0)
    source = bn_lenet()
    source(torch.rand(4, 1, 28, 28))                 # 让批量规范化的移动平均离开初始值
    path = tmp_path / "pretrained.pt"
    cnnlib.save_checkpoint(path, source)

    calls = []
    real_load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    target = bn_lenet(num_classes=5)                 # 新任务：5 类
    head = transfer.replace_head(target, 5)
    head_before = head.weight.clone()
    skipped = transfer.load_backbone(path, target, head)
    assert calls == [True]
    assert skipped == ["15.weight", "15.bias"]
    for k, v in target.state_dict().items():
        if not k.startswith("15."):
            assert torch.equal(v, source.state_dict()[k]), k
    assert torch.equal(head.weight, head_before)     # 输出层保持新初始化的权重
    out = capsys.readouterr().out
    assert "跳过输出层 15：15.weight (10, 84), 15.bias (10,)" in out and "(5, 84)" in out


def test_backbone_of_another_architecture_gives_a_clear_error(tmp_path):
    path = tmp_path / "lenet.pt"
    cnnlib.save_checkpoint(path, lenet())
    with pytest.raises(cnnlib.CheckpointMismatchError,
                       match=r"(?s)的主干与模型的结构不一致（architecture mismatch）：检查点来自 LeNet，"
                             r"模型是 BN-LeNet.*形状不同的参数（size mismatch）"):
        transfer.load_backbone(path, bn_lenet())
    with pytest.raises(ValueError, match="不是 cnnlib.save_checkpoint 写出的检查点"):
        (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
        transfer.load_backbone(tmp_path / "junk.pt", bn_lenet())


# ---------------------------------------------------------------- 手写数字

def test_digits_loader_shapes_counts_and_determinism():
    train, test = transfer.load_digits(k=5, batch_size=16, seed=3, device="cpu")
    assert train.images.dtype == test.images.dtype == torch.uint8
    assert tuple(train.images.shape) == (50, 28, 28) and tuple(test.images.shape) == (800, 28, 28)
    assert torch.bincount(train.labels).tolist() == [5] * 10
    assert torch.bincount(test.labels).tolist() == [80] * 10
    assert train.source == test.source == transfer.DIGITS_SOURCE
    X, y = next(iter(train))
    assert X.shape == (16, 1, 28, 28) and X.dtype == torch.float32 and 0 <= X.min() and X.max() <= 1
    assert len(test) == 1 and next(iter(test))[0].shape == (800, 1, 28, 28)   # 测试集默认一批

    images, labels = transfer.digits_tensors()
    tr1, te1 = transfer.split_per_class(labels, 5, seed=3)
    tr2, te2 = transfer.split_per_class(labels, 5, seed=3)
    tr3, te3 = transfer.split_per_class(labels, 5, seed=4)
    assert torch.equal(tr1, tr2) and torch.equal(te1, te2)          # 同一个种子：同样的划分
    assert not torch.equal(tr1, tr3) and torch.equal(te1, te3)      # 换种子只换训练集，测试集固定
    for tr in (tr1, tr3, transfer.split_per_class(labels, 94, seed=0)[0]):
        assert not set(tr.tolist()) & set(te1.tolist())             # 训练集与测试集不相交
    assert len(set(tr1.tolist())) == 50
    with pytest.raises(ValueError, match="1–94 之间"):
        transfer.split_per_class(labels, 95)
    # repeat：同样的 10k 张图像，每张出现 repeat 次
    rep, _ = transfer.load_digits(k=2, batch_size=8, seed=0, repeat=3, device="cpu")
    once, _ = transfer.load_digits(k=2, batch_size=8, seed=0, device="cpu")
    assert rep.num_examples == 60 and torch.equal(rep.images, once.images.repeat(3, 1, 1))


def test_digits_are_the_real_sklearn_digits_upsampled():
    from sklearn.datasets import load_digits
    images, labels = transfer.digits_tensors()
    raw = load_digits()
    assert images.shape == (1797, 28, 28) and labels.tolist() == raw.target.tolist()
    # 缩小回 8×8 后与原图相近（双线性插值不改变整体的明暗分布）
    back = nn.functional.adaptive_avg_pool2d(images[:, None].float() / 255, 8)[:, 0] * 16
    assert (back - torch.tensor(raw.images, dtype=torch.float32)).abs().mean() < 1.5


# ---------------------------------------------------------------- 离线时的 ImageNet 路径

def test_pretrained_resnet18_offline_fails_with_one_clear_line(no_network, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(transfer.DownloadError) as info:
        transfer.pretrained_resnet18()
    msg = str(info.value)
    assert msg.startswith("下载 ResNet-18 的 ImageNet 预训练权重失败：无法连接 download.pytorch.org")
    assert "\n" not in msg
    assert not [p for p in (tmp_path / "torch").rglob("*") if p.is_file()]   # 没有留下半个权重文件


def test_download_hotdog_offline_leaves_nothing_behind(no_network, tmp_path):
    root = tmp_path / "data"
    with pytest.raises(transfer.DownloadError) as info:
        transfer.download_hotdog(root)
    msg = str(info.value)
    assert msg.startswith(f"下载热狗数据集失败（{transfer.HOTDOG_URL}）：无法连接 d2l-data.s3-accelerate.amazonaws.com")
    assert "\n" not in msg
    assert not root.exists() or not any(root.iterdir())


def test_download_hotdog_checks_sha1_and_cleans_up(tmp_path, monkeypatch):
    # 一个“服务器”送来内容不对的压缩包：校验和不符，临时文件被删掉，不会留下 hotdog/
    import io
    import urllib.request
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for split in ("train", "test"):
            for cls in ("hotdog", "not-hotdog"):
                z.writestr(f"hotdog/{split}/{cls}/0.png", b"x")
    payload = buf.getvalue()
    monkeypatch.setattr(transfer, "_check_reachable", lambda url, timeout=10.0: None)
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: io.BytesIO(payload))
    root = tmp_path / "data"
    with pytest.raises(transfer.DownloadError, match="校验和不符"):
        transfer.download_hotdog(root)
    assert list(root.iterdir()) == []
    # 校验和对得上时：解压并原子地改名为 root/hotdog；再次调用不联网
    import hashlib
    path = transfer.download_hotdog(root, sha1=hashlib.sha1(payload).hexdigest())
    assert path == root / "hotdog" and (path / "test" / "not-hotdog" / "0.png").is_file()
    assert sorted(p.name for p in root.iterdir()) == ["hotdog"]
    monkeypatch.setattr(transfer, "_check_reachable", lambda *a, **k: pytest.fail("不应联网"))
    assert transfer.download_hotdog(root) == path


def test_load_hotdog_reads_an_extracted_dataset_without_network(no_network, tmp_path):
    # 已解压的数据集（这里是几张假的小图）：不联网，训练集随机裁剪到 size，测试集用给定的预处理
    from PIL import Image
    from torchvision.models import ResNet18_Weights

    for split in ("train", "test"):
        for i, cls in enumerate(("hotdog", "not-hotdog")):
            folder = tmp_path / "hotdog" / split / cls
            folder.mkdir(parents=True)
            for j in range(2):
                Image.new("RGB", (40 + 8 * j, 32), color=(200 * i, 100, 50)).save(folder / f"{j}.png")
    train, test = transfer.load_hotdog(2, ResNet18_Weights.DEFAULT.transforms(), root=tmp_path, num_workers=0,
                                       size=32)
    assert (train.num_examples, test.num_examples, len(train)) == (4, 4, 2)
    X, y = next(iter(train))
    assert X.shape == (2, 3, 32, 32) and y.dtype == torch.int64
    X, y = next(iter(test))
    assert X.shape == (2, 3, 224, 224) and y.tolist() == [0, 0]      # 不打乱：先是 hotdog 类
    assert "热狗" in train.source
