"""迁移学习与微调（fine-tuning）：冻结参数、替换输出层、分组学习率、载入预训练的主干，以及两份数据。

- :func:`freeze` 冻结一个模块的全部参数，其中的批量规范化层固定在预测模式（可训练参数用
  ``cnnlib.num_params(net, trainable_only=True)`` 数）；
- :func:`get_head` / :func:`replace_head` 找到并替换输出层（cnnlib 的 ``nn.Sequential`` 模型的最后一个
  全连接层，torchvision ResNet 的 ``fc``）；
- :func:`param_groups` 给优化器分组：预训练的主干用 ``lr``，新的输出层用 ``lr * head_lr_mult``
  （《动手学深度学习》微调一节的做法：输出层的学习率是其余层的 10 倍）；
- :func:`load_backbone` 用 ``torch.load(..., weights_only=True)`` 读入 :func:`cnnlib.save_checkpoint`
  写出的检查点，载入除输出层以外的全部参数；结构不同时抛出 :class:`cnnlib.CheckpointMismatchError`；
- :func:`load_digits` 离线的迁移目标：scikit-learn 自带的 1,797 张 8×8 手写数字，放大到 28×28，
  每类取 k 张带标签的训练图像，测试集固定；
- :func:`pretrained_resnet18`、:func:`download_hotdog`、:func:`load_hotdog` 是联网（如 Colab）时的
  ImageNet 路径。下载失败时抛出 :class:`DownloadError`，它的消息只有一行，说明什么失败了。
"""
import functools
import hashlib
import math
import os
import shutil
import socket
import tempfile
import zipfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoint import CheckpointMismatchError, mismatches, model_name, read_checkpoint, unwrap
from .data import TensorLoader
from .datafiles import data_root

HOTDOG_URL = "http://d2l-data.s3-accelerate.amazonaws.com/hotdog.zip"
HOTDOG_SHA1 = "fba480ffa8aa7e0febbb511d181409f899b9baa5"
DIGITS_SOURCE = "scikit-learn digits（8×8 双线性放大到 28×28）"

# ImageNet 的逐通道均值与标准差（torchvision 预训练模型的输入规范化）
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class DownloadError(RuntimeError):
    """下载预训练权重或数据集失败（离线、网络中断、校验和不符）。消息只有一行。"""


# ---------------------------------------------------------------- 冻结、输出层、参数分组

def _run_in_eval_mode(bn, inputs):
    bn.training = False   # 前向计算之前改回预测模式：net.train() 也改不动被冻结的批量规范化层


def freeze(module: nn.Module) -> nn.Module:
    """冻结 ``module``：全部参数 ``requires_grad=False``，反向传播不再为它们计算梯度，优化器也就不会
    改变它们；其中的批量规范化层（BatchNorm）始终以预测模式运行，用移动平均规范化、不再更新移动平均，
    即使之后调用 ``net.train()``（每次前向计算之前由一个 forward pre-hook 把它设回预测模式）。
    这样冻结的部分就是一个固定的函数，它的输出不随批量里的其他图像变化。返回 ``module`` 本身。"""
    for p in module.parameters():
        p.requires_grad_(False)
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
            if _run_in_eval_mode not in m._forward_pre_hooks.values():
                m.register_forward_pre_hook(_run_in_eval_mode)
    return module


def get_head(net: nn.Module):
    """找到分类模型的输出层（classifier head），返回 ``(名字, 模块)``。

    torchvision 的 ResNet 是 ``fc``；cnnlib 的 ``nn.Sequential`` 模型（LeNet、BN-LeNet、ResNet-18……）
    是最后一个子模块，它必须是全连接层 ``nn.Linear``。
    """
    net = unwrap(net)
    if isinstance(getattr(net, "fc", None), nn.Linear):
        return "fc", net.fc
    if isinstance(net, nn.Sequential) and len(net) and isinstance(net[-1], nn.Linear):
        return str(len(net) - 1), net[-1]
    raise ValueError(f"找不到 {model_name(net)} 的输出层（classifier head）：只支持最后一层是 nn.Linear 的 "
                     f"nn.Sequential 模型和带 fc 属性的模型（如 torchvision 的 ResNet）。")


def replace_head(net: nn.Module, num_classes: int) -> nn.Linear:
    """把输出层换成一个新的 ``nn.Linear(输入特征数, num_classes)``（权重用 Xavier 均匀分布初始化，
    与《动手学深度学习》相同），原地修改 ``net``，返回新的输出层。"""
    if not (isinstance(num_classes, int) and num_classes >= 1):
        raise ValueError(f"类别数（num_classes）必须是正整数，得到 {num_classes!r}")
    name, old = get_head(net)
    new = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)
    nn.init.xavier_uniform_(new.weight)
    new.to(old.weight.device)
    setattr(unwrap(net), name, new)
    return new


def param_groups(net: nn.Module, head: nn.Module, lr: float, head_lr_mult: float = 10):
    """优化器的参数组：主干（``net`` 中除 ``head`` 以外的可训练参数）用学习率 ``lr``，
    输出层 ``head`` 用 ``lr * head_lr_mult``。冻结的参数不进入任何一组；主干全部冻结时只返回输出层一组。

    用法：``torch.optim.SGD(param_groups(net, net.fc, 5e-5), lr=5e-5)``。每个组另有一个 ``name``
    （``"body"`` 或 ``"head"``），便于打印。
    """
    if not (isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr)):
        raise ValueError(f"学习率（lr）必须是正数，得到 {lr!r}")
    if not (isinstance(head_lr_mult, (int, float)) and head_lr_mult > 0 and math.isfinite(head_lr_mult)):
        raise ValueError(f"输出层学习率的倍数（head_lr_mult）必须是正数，得到 {head_lr_mult!r}")
    if not isinstance(head, nn.Module) or not any(m is head for m in net.modules()):
        raise ValueError(f"head 不是模型 {model_name(unwrap(net))} 的子模块（submodule）：请传入模型里的"
                         f"那个输出层对象（例如 net.fc 或 replace_head 的返回值），而不是另建的层或它的副本。")
    head_ids = {id(p) for p in head.parameters()}
    head_params = [p for p in head.parameters() if p.requires_grad]
    body_params = [p for p in net.parameters() if p.requires_grad and id(p) not in head_ids]
    if not head_params:
        raise ValueError("输出层（head）没有可训练的参数：它被冻结了吗？新的输出层必须可训练。")
    groups = [{"params": body_params, "lr": lr, "name": "body"}] if body_params else []
    groups.append({"params": head_params, "lr": lr * head_lr_mult, "name": "head"})
    return groups


# ---------------------------------------------------------------- 预训练主干的保存与载入

def _module_name(net, module):
    for name, m in net.named_modules():
        if m is module:
            return name
    raise ValueError("head 不是模型的子模块（submodule）")


def load_backbone(path, net: nn.Module, head: nn.Module = None, map_location="cpu", verbose=True):
    """把 :func:`cnnlib.save_checkpoint` 保存的预训练模型载入 ``net``，输出层除外。

    用 ``torch.load(..., weights_only=True)`` 读取（只接受张量和基本类型，不执行检查点里的任意代码）。
    ``head`` 默认是 :func:`get_head` 找到的输出层：它属于新任务（类别数可以不同），保持新初始化的权重，
    检查点里对应的参数被跳过。其余参数的名字和形状必须与检查点完全一致，否则抛出
    :class:`cnnlib.CheckpointMismatchError`，列出对不上的参数。返回被跳过的参数名列表；
    ``verbose=True`` 时打印一行说明载入了什么、跳过了什么。
    """
    state = read_checkpoint(path, map_location)
    net = unwrap(net)
    head = get_head(net)[1] if head is None else head
    prefix = _module_name(net, head)
    is_head = lambda k: k.startswith(prefix + ".")  # noqa: E731
    saved = state["model"]
    problems = mismatches(net, saved, skip=is_head)
    if problems:
        raise CheckpointMismatchError("\n".join([
            f"检查点 {path} 的主干与模型的结构不一致（architecture mismatch）：检查点来自 "
            f"{state.get('model_name', '?')}，模型是 {model_name(net)}，不能作为它的预训练主干。", *problems,
            "请用预训练时的同一个模型构造函数建立模型（只有输出层可以不同）后再载入。"]))
    body = [k for k in net.state_dict() if not is_head(k)]
    net.load_state_dict({k: saved[k] for k in body}, strict=False)
    skipped = [k for k in saved if is_head(k)]
    if verbose:
        shapes = ", ".join(f"{k} {tuple(saved[k].shape)}" for k in skipped)
        print(f"从 {state.get('model_name', '?')} 的检查点载入了 {len(body)} 个张量（参数与缓冲区）；"
              f"跳过输出层 {prefix}：{shapes or '检查点里没有'}，保留新任务的输出层 {tuple(head.weight.shape)}。")
    return skipped


# ---------------------------------------------------------------- 离线的迁移目标：手写数字

@functools.lru_cache(maxsize=4)
def _digits_tensors(size: int):
    from sklearn.datasets import load_digits as sk_load_digits  # 只有这里需要 scikit-learn

    digits = sk_load_digits()
    X = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0      # (N, 1, 8, 8)，[0, 1]
    X = F.interpolate(X, size=(size, size), mode="bilinear", align_corners=False)
    images = (X.squeeze(1) * 255).round().clamp(0, 255).to(torch.uint8)
    return images, torch.tensor(digits.target, dtype=torch.int64)


def digits_tensors(size: int = 28):
    """scikit-learn 的 ``load_digits``：1,797 张 8×8 的真实手写数字（取值 0–16，笔画为亮、背景为 0，
    与 Fashion-MNIST 一样是亮物体、暗背景）。用双线性插值放大到 ``size×size``，换算成 0–255 的 uint8，
    返回 ``(images (N, size, size) uint8, labels (N,) int64)``。同一进程里只读取、放大一次（返回副本）。"""
    images, labels = _digits_tensors(size)
    return images.clone(), labels.clone()


def split_per_class(labels, k: int, seed: int = 0, test_per_class: int = 80, split_seed: int = 0):
    """类别均衡的确定划分：返回 ``(train_idx, test_idx)``。

    先用 ``split_seed`` 从每类中固定地取出 ``test_per_class`` 张作测试集（与 ``seed`` 无关，
    所以不同种子、不同 k 的实验用同一个测试集）；再用 ``seed`` 从每类其余的图像中取 ``k`` 张作训练集。
    """
    if not (isinstance(k, int) and k >= 1):
        raise ValueError(f"每类的训练图像数 k 必须是正整数，得到 {k!r}")
    labels = torch.as_tensor(labels)
    classes = labels.unique().tolist()
    g_test = torch.Generator().manual_seed(split_seed)
    g_train = torch.Generator().manual_seed(seed)
    train, test, pool_min = [], [], None
    for c in classes:
        idx = (labels == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=g_test)]
        test.append(idx[:test_per_class])
        pool = idx[test_per_class:]
        pool_min = len(pool) if pool_min is None else min(pool_min, len(pool))
        train.append(pool[torch.randperm(len(pool), generator=g_train)[:k]])
    if k > pool_min:
        raise ValueError(f"每类的训练图像数 k 必须在 1–{pool_min} 之间（每类先留出 {test_per_class} 张作测试集），"
                         f"得到 {k!r}")
    return torch.cat(train).sort().values, torch.cat(test).sort().values


def load_digits(k: int, batch_size: int, seed: int = 0, test_per_class: int = 80, repeat: int = 1,
                test_batch_size: int = 1000, device=None):
    """离线的迁移目标：每类 ``k`` 张带标签的训练图像（由 ``seed`` 抽取）和固定的测试集
    （每类 ``test_per_class`` 张），返回 ``(train_iter, test_iter)``，是与 Fashion-MNIST 相同的
    :class:`cnnlib.TensorLoader`（28×28，uint8 驻留在设备上）。

    ``repeat > 1`` 时训练集的每张图像在一轮中出现 ``repeat`` 次（仍是同样的 10k 张图像）：k 很小时，
    这样每轮有足够多的批量，不同 k 的实验可以用相同的参数更新步数，又不必每走几步就评估一次测试集。
    测试集用更大的批量 ``test_batch_size``（默认 1000，即整个测试集一批）：评估不更新参数，预测模式下
    每张图像的输出与批量大小无关，大批量只是更快。
    """
    if not (isinstance(repeat, int) and repeat >= 1):
        raise ValueError(f"重复次数（repeat）必须是正整数，得到 {repeat!r}")
    images, labels = digits_tensors()
    train_idx, test_idx = split_per_class(labels, k, seed, test_per_class)
    train_idx = train_idx.repeat(repeat)
    return (TensorLoader(images[train_idx], labels[train_idx], batch_size, shuffle=True, device=device,
                         seed=seed, source=DIGITS_SOURCE),
            TensorLoader(images[test_idx], labels[test_idx], test_batch_size, shuffle=False, device=device,
                         seed=seed, source=DIGITS_SOURCE))


# ---------------------------------------------------------------- ImageNet 路径（需要联网）

def _check_reachable(url: str, timeout: float = 10.0):
    """先试着连一下服务器：离线时立刻失败，而不是在下载中途卡住。"""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except OSError as err:
        raise DownloadError(f"无法连接 {parts.hostname}（没有网络？原始错误：{err}）") from None


def pretrained_resnet18(weights="DEFAULT"):
    """torchvision 的 ImageNet 预训练 ResNet-18：返回 ``(net, transforms)``。

    等价于 ``resnet18(weights=ResNet18_Weights.DEFAULT)`` 和 ``weights.transforms()``（缩放、中心裁剪到
    224、按 ImageNet 的均值和标准差规范化）。权重文件不在缓存（``$TORCH_HOME/hub/checkpoints``）里且
    无法下载时，抛出只有一行消息的 :class:`DownloadError`。
    """
    from torchvision.models import ResNet18_Weights, resnet18

    weights = ResNet18_Weights.verify(weights)
    cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)
    try:
        if not cached.is_file():
            _check_reachable(weights.url)
        net = resnet18(weights=weights)
    except DownloadError as err:
        raise DownloadError(f"下载 ResNet-18 的 ImageNet 预训练权重失败：{err}") from None
    except Exception as err:  # 下载中断、校验和不符……
        msg = str(err).replace("\n", " ")
        raise DownloadError(f"下载 ResNet-18 的 ImageNet 预训练权重失败：{type(err).__name__}: {msg}") from None
    return net, weights.transforms()


def _is_hotdog_dir(path: Path) -> bool:
    return all((path / split / cls).is_dir() for split in ("train", "test") for cls in ("hotdog", "not-hotdog"))


def download_hotdog(root=None, url: str = HOTDOG_URL, sha1: str = HOTDOG_SHA1) -> Path:
    """下载并解压《动手学深度学习》的热狗数据集，返回 ``root/hotdog``（其下有 train/、test/，
    各分 hotdog/、not-hotdog/ 两类）。已经解压好时直接返回，不联网。

    ``root`` 默认是 :func:`cnnlib.datafiles.data_root`。压缩包先下载到 ``root`` 里的临时文件，核对 SHA-1，
    再解压到临时目录，最后改名为 ``root/hotdog``；任何一步失败都删掉临时文件，抛出只有一行消息的
    :class:`DownloadError`：数据目录里不会留下下载了一半的文件。
    """
    root = data_root(root)
    target = root / "hotdog"
    if _is_hotdog_dir(target):
        return target
    if target.exists():
        raise DownloadError(f"{target} 已存在但不完整（缺少 train/、test/ 下的 hotdog/、not-hotdog/）："
                            f"请自己删除或移走它后重试（cnnlib 不会删除已有的数据）")
    tmp_zip = tmp_dir = None
    try:
        _check_reachable(url)
        import urllib.request

        root.mkdir(parents=True, exist_ok=True)
        fd, tmp_zip = tempfile.mkstemp(prefix=".hotdog-", suffix=".zip.part", dir=root)
        h = hashlib.sha1()
        with os.fdopen(fd, "wb") as f, urllib.request.urlopen(url, timeout=60) as response:
            for block in iter(lambda: response.read(1 << 20), b""):
                f.write(block)
                h.update(block)
        if h.hexdigest() != sha1:
            raise DownloadError(f"校验和不符（SHA-1 应为 {sha1}，得到 {h.hexdigest()}），文件可能不完整")
        tmp_dir = tempfile.mkdtemp(prefix=".hotdog-", dir=root)
        with zipfile.ZipFile(tmp_zip) as z:
            z.extractall(tmp_dir)
        extracted = Path(tmp_dir) / "hotdog"
        if not _is_hotdog_dir(extracted):
            raise DownloadError("压缩包里没有预期的 hotdog/train、hotdog/test 目录")
        os.replace(extracted, target)
        return target
    except Exception as err:
        msg = str(err).replace("\n", " ")
        reason = msg if isinstance(err, DownloadError) else f"{type(err).__name__}: {msg}"
        raise DownloadError(f"下载热狗数据集失败（{url}）：{reason}") from None
    finally:
        if tmp_zip is not None and os.path.exists(tmp_zip):
            os.remove(tmp_zip)
        if tmp_dir is not None and os.path.exists(tmp_dir):
            shutil.rmtree(tmp_dir, ignore_errors=True)


def load_hotdog(batch_size: int, test_transform, root=None, num_workers=None, size: int = 224):
    """热狗数据集的 ``(train_iter, test_iter)``（``torch.utils.data.DataLoader``）。

    训练集的增广与《动手学深度学习》相同：随机裁剪并缩放到 ``size``、随机水平翻转、按 ImageNet 的均值和
    标准差规范化；测试集用 ``test_transform``（通常是预训练权重的 ``weights.transforms()``）。
    两个加载器另有 ``num_examples`` 和 ``source`` 属性，供 :func:`cnnlib.train` 在第一行打印。
    ``num_workers`` 默认取 4 与 CPU 核数中较小的一个（Colab 只有 2 个核）。
    """
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms as T

    path = download_hotdog(root)
    if num_workers is None:
        num_workers = min(4, os.cpu_count() or 1)
    train_transform = T.Compose([T.RandomResizedCrop(size), T.RandomHorizontalFlip(), T.ToTensor(),
                                 T.Normalize(IMAGENET_MEAN, IMAGENET_STD)])
    loaders = []
    for split, transform, shuffle in (("train", train_transform, True), ("test", test_transform, False)):
        ds = datasets.ImageFolder(str(path / split), transform=transform)
        loader = DataLoader(ds, batch_size=batch_size, shuffle=shuffle, num_workers=num_workers,
                            pin_memory=torch.cuda.is_available(), persistent_workers=num_workers > 0)
        loader.num_examples, loader.source = len(ds), "热狗数据集（d2l hotdog）"
        loaders.append(loader)
    return tuple(loaders)
