"""命令行（书的工具，``import cnnlib`` 时不导入）：在笔记本之外用书中的模型训练 Fashion-MNIST。

    python -m cnnlib models                      # 列出模型、参数量和默认超参数
    python -m cnnlib train lenet                 # 按《动手学深度学习》的超参数训练（full 预算）
    python -m cnnlib train resnet18 --budget small --metrics out.json --checkpoint r18.pt

训练用的就是书中的 :func:`cnnlib.train`：同样的第一行、进度条和总结。标准错误不是终端时（如重定向到
日志文件），不显示进度条，改为每轮结束时打印一行。

用 ``torchrun --nproc_per_node=N -m cnnlib train ...`` 启动时按 DistributedDataParallel 训练：``--batch-size``
是 N 个进程合计的批量，各进程取数据的一份（:meth:`cnnlib.TensorLoader.shard`），只有 0 号进程输出和写文件。
"""
import argparse
import json
import os
import sys
from dataclasses import dataclass

from . import models
from .budget import BUDGETS, DATA_SIZES
from .checkpoint import atomic_write
from .data import load_fashion_mnist
from .device import PRECISIONS, best_device, check_precision
from .modelinfo import count_flops, num_params
from .training import init_xavier, train


@dataclass(frozen=True)
class Recipe:
    """一个模型的构造函数和 ``full`` 预算的超参数（《动手学深度学习》PyTorch 版的设置）。"""

    build: object
    batch_size: int
    lr: float
    resize: int
    description: str


# 构造函数接受 input_size 时按训练的输入大小建立模型；LeNet 两种只接受 28 左右的输入
RECIPES = {
    "lenet": Recipe(lambda size: models.lenet(), 256, 0.9, 28, "LeNet（第 2 章）"),
    "alexnet": Recipe(lambda size: models.alexnet(input_size=size), 128, 0.01, 224, "AlexNet（第 2 章）"),
    "vgg": Recipe(lambda size: models.vgg(ratio=4, input_size=size), 128, 0.05, 224, "VGG-11，通道数 ÷ 4（第 2 章）"),
    "nin": Recipe(lambda size: models.nin(input_size=size), 128, 0.1, 224, "NiN（第 2 章）"),
    "googlenet": Recipe(lambda size: models.googlenet(input_size=size), 128, 0.1, 96, "GoogLeNet（第 2 章）"),
    "bn_lenet": Recipe(lambda size: models.bn_lenet(), 256, 1.0, 28, "BN-LeNet（第 3 章）"),
    "resnet18": Recipe(lambda size: models.resnet18(input_size=size), 256, 0.05, 96, "ResNet-18（第 3 章）"),
    "densenet": Recipe(lambda size: models.densenet(input_size=size), 256, 0.1, 96, "DenseNet（第 3 章）"),
}
EPOCHS = DATA_SIZES["full"]["epochs"]


class ChineseArgumentParser(argparse.ArgumentParser):
    """出错时先用中文说明，再附上 argparse 的原文（English），退出码 2。"""

    def error(self, message):
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}：参数错误（invalid arguments）：{message}\n"
                     f"用 {self.prog} --help 查看全部选项。\n")


def _model_name(value):
    key = value.strip().lower().replace("-", "_")
    if key not in RECIPES:
        raise argparse.ArgumentTypeError(f"未知的模型（unknown model）{value!r}，可选：{', '.join(RECIPES)}")
    return key


def _positive(kind):
    def check(value):
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} 不是{'整数' if kind is int else '数'}（not a number）")
        if not number > 0:
            raise argparse.ArgumentTypeError(f"必须是正数（must be positive），得到 {value}")
        return number
    return check


def build_parser():
    parser = ChineseArgumentParser(
        prog="python -m cnnlib",
        description="《卷积神经网络：从互相关到迁移学习》的命令行：用书中的模型训练 Fashion-MNIST。")
    sub = parser.add_subparsers(dest="command", required=True, metavar="命令（command）",
                                parser_class=ChineseArgumentParser)
    sub.add_parser("models", help="列出书中的模型、参数量和默认超参数（models）")
    t = sub.add_parser("train", help="训练一个模型（train）",
                       description="在 Fashion-MNIST 上训练书中的一个模型。未给出的超参数取《动手学深度学习》"
                                   "的设置（full 预算）；--budget small / smoke 缩小训练集和轮数。")
    t.add_argument("model", type=_model_name, metavar="MODEL", help=f"模型名（model），可选：{', '.join(RECIPES)}")
    t.add_argument("--epochs", type=_positive(int), help="轮数（epochs），默认按预算：full 10，small 2，smoke 1")
    t.add_argument("--lr", type=_positive(float), help="学习率（learning rate），默认见 models 命令")
    t.add_argument("--batch-size", type=_positive(int),
                   help="批量大小（batch size），默认见 models 命令；用 torchrun 多进程训练时是所有进程合计的批量")
    t.add_argument("--resize", type=_positive(int), help="输入的高和宽（input size），默认见 models 命令")
    t.add_argument("--limit", type=_positive(int), help="只用这么多张训练图像（各类均衡的确定子集）")
    t.add_argument("--test-limit", type=_positive(int), help="只用这么多张测试图像")
    t.add_argument("--budget", choices=BUDGETS, default="full",
                   help="预算（budget）：决定默认的训练集大小和轮数，默认 full")
    t.add_argument("--precision", choices=PRECISIONS,
                   help="数值精度（precision），默认读环境变量 CNNLIB_PRECISION，不设时为 auto：按设备选择")
    t.add_argument("--device", help="设备（device），如 cpu、cuda、cuda:1；默认自动选择")
    t.add_argument("--checkpoint", help="检查点路径（checkpoint）：每轮结束后原子地写入")
    t.add_argument("--resume", action="store_true", help="从 --checkpoint 中最后完成的一轮继续（resume）")
    t.add_argument("--seed", type=int, default=0, help="随机种子（seed）：初始化、抽子集和打乱顺序，默认 0")
    t.add_argument("--data-dir", help="Fashion-MNIST 的数据根目录（默认环境变量 CNNLIB_DATA_DIR 或下载）")
    t.add_argument("--metrics", help="把逐轮指标和设置写进这个 JSON 文件（metrics）")
    return parser


def list_models(out=None):
    """打印模型表：名称、参数量、默认输入、批量大小、学习率。"""
    out = out or sys.stdout
    print(f"{'名称':<10}{'参数量':>12}  {'输入':>7}  {'批量':>4}  {'学习率':>6}  说明", file=out)
    for name, r in RECIPES.items():
        params = num_params(r.build(r.resize))
        print(f"{name:<10}{params:>14,}  {r.resize:>4}×{r.resize:<4}{r.batch_size:>4}  {r.lr:>8g}  {r.description}",
              file=out)
    print(f"默认训练 {EPOCHS} 轮，小批量随机梯度下降，Xavier 初始化（与书中 full 预算相同）。", file=out)


def run_train(args):
    recipe = RECIPES[args.model]
    sizes = DATA_SIZES[args.budget]
    resize = args.resize or recipe.resize
    epochs = args.epochs or sizes["epochs"]
    batch_size = args.batch_size or recipe.batch_size
    lr = args.lr or recipe.lr
    if args.resume and not args.checkpoint:
        raise SystemExit("--resume 需要同时给出 --checkpoint PATH（resume needs a checkpoint）")
    try:
        check_precision(args.precision)          # 不给 --precision 时校验环境变量 CNNLIB_PRECISION
    except ValueError as err:
        raise SystemExit(str(err))
    import torch
    torch.manual_seed(args.seed)
    net = init_xavier(recipe.build(resize))
    if hasattr(net, "accepted_sizes"):
        accepted = net.accepted_sizes(limit=max(2 * resize, 2 * recipe.resize))
        if resize not in accepted:
            raise SystemExit(f"{args.model} 不接受 {resize}×{resize} 的输入（input size）：可用的边长为 "
                             f"{accepted[0]}–{accepted[-1]}" + ("（不连续）" if len(accepted) != accepted[-1] - accepted[0] + 1
                                                              else "") + "。")
    device = torch.device(args.device) if args.device else best_device()
    rank, world = 0, int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:                     # 由 torchrun 启动：每个进程一份数据、一个设备
        if batch_size % world:
            raise SystemExit(f"--batch-size {batch_size} 是所有进程合计的批量，必须能被进程数 {world} 整除")
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
        rank = torch.distributed.get_rank()
    try:
        return _train_and_report(args, recipe, net, device, resize, epochs, batch_size, lr, sizes, rank, world)
    finally:
        if world > 1:
            torch.distributed.destroy_process_group()


def _train_and_report(args, recipe, net, device, resize, epochs, batch_size, lr, sizes, rank, world):
    train_iter, test_iter = load_fashion_mnist(
        batch_size // world, resize=None if resize == 28 else resize, root=args.data_dir,
        limit=args.limit or sizes["limit"], test_limit=args.test_limit or sizes["test_limit"],
        device=device, seed=args.seed)
    if world > 1:     # 各进程同样地打乱，各取一份：合起来每个全局批量与单进程的批量相同
        train_iter.shard(rank, world, pad=True)
        test_iter.shard(rank, world, pad=False)
    interactive = sys.stderr.isatty()

    def report(history):          # 不是终端时（日志文件）每轮打印一行，代替进度条
        print(f"epoch {history.epoch[-1]}/{epochs}: loss {history.train_loss[-1]:.3f}, "
              f"train acc {history.train_acc[-1]:.3f}, test acc {history.test_acc[-1]:.3f}, "
              f"{history.examples_per_sec[-1]:,.0f} 张/秒", flush=True)

    history = train(net, train_iter, test_iter, epochs, lr, device=device, budget=args.budget, plot=False,
                    progress=interactive, checkpoint=args.checkpoint, resume=args.resume,
                    precision=args.precision, on_epoch_end=None if interactive else report)
    if args.metrics and rank == 0:
        metrics = {
            "model": args.model, "params": num_params(net),
            "flops_per_image": count_flops(net, (1, resize, resize)),
            "config": {"epochs": epochs, "lr": lr, "batch_size": batch_size, "resize": resize,
                       "limit": train_iter.total_examples, "test_limit": test_iter.total_examples,
                       "budget": args.budget, "seed": args.seed, "data": train_iter.source,
                       "world_size": world, "precision": history.precision, "device": history.device},
            "history": history.as_dict()}
        with atomic_write(args.metrics, "w", encoding="utf-8") as f:
            json.dump(metrics, f, ensure_ascii=False, indent=1)
        print(f"指标已写入 {args.metrics}")
    return 130 if history.interrupted else 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "models":
        list_models()
        return 0
    return run_train(args)
