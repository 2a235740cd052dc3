"""cnnlib 与《动手学深度学习》（d2l 1.0.3）的加载器和训练循环的并排对比。

用法：make bench（或 .venv/bin/python benchmarks/bench_vs_d2l.py [--repeats 3]）
需要离线数据（CNNLIB_DATA_DIR）和以 --no-deps 安装的 d2l（make 会装好）。

测的是墙钟时间，每项重复 ``--repeats`` 次取中位数，打印 d2l / cnnlib 的比值（> 1 表示 cnnlib 更快）。
d2l 的加载器是 ``d2l.load_data_fashion_mnist`` 原样（torchvision 数据集 + ToTensor/Resize +
4 个工作进程的 DataLoader）；它把数据根目录写死为 ``../data``，这里在临时目录里建一个指向
CNNLIB_DATA_DIR 的链接，让它读到同一份文件。
"""
import argparse
import contextlib
import io
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

import cnnlib


def lenet():
    # d2l 第 6 章的 LeNet（与 cnnlib.models.lenet 结构相同，这里用普通 Sequential，两边公平）
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2, 2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(2, 2), nn.Flatten(),
        nn.Linear(400, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))


@contextlib.contextmanager
def d2l_data_root(data_dir):
    """d2l 读取 ../data：在临时目录里建 data -> CNNLIB_DATA_DIR，并切换到 tmp/work。"""
    old = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.symlink(Path(data_dir).resolve(), Path(tmp) / "data")
        (Path(tmp) / "work").mkdir()
        os.chdir(Path(tmp) / "work")
        try:
            yield
        finally:
            os.chdir(old)


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def drain(loader, max_batches=None):
    n = 0
    for i, (X, y) in enumerate(loader):
        n += len(y)
        if max_batches is not None and i + 1 == max_batches:
            break
    return n


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    from d2l import torch as d2l

    data_dir = cnnlib.data_root()
    cnnlib.load_fashion_mnist(256)  # 确认数据在（必要时报出清楚的错误）
    print(f"机器：{os.cpu_count()} 个 CPU 核，torch {torch.__version__}，{torch.get_num_threads()} 个线程；"
          f"数据：{cnnlib.data_source()}；每项重复 {args.repeats} 次取中位数")
    rows = []

    with d2l_data_root(data_dir):
        # 1. 加载器：28×28 完整一轮（6 万张）
        d_train, _ = d2l.load_data_fashion_mnist(256)
        c_train, _ = cnnlib.load_fashion_mnist(256, device="cpu")
        n = 60000
        rows.append(("加载器 28×28，一轮 60000 张（张/秒）", "rate",
                     n / timed(lambda: drain(d_train), args.repeats),
                     n / timed(lambda: drain(c_train), args.repeats)))
        # 2. 加载器：放大到 224×224，各取 40 个批量（128 张/批）
        d_train, _ = d2l.load_data_fashion_mnist(128, resize=224)
        c_train, _ = cnnlib.load_fashion_mnist(128, resize=224, device="cpu")
        n = 40 * 128
        rows.append(("加载器 resize=224，5120 张（张/秒）", "rate",
                     n / timed(lambda: drain(d_train, 40), args.repeats),
                     n / timed(lambda: drain(c_train, 40), args.repeats)))
        # 3. LeNet 训练一轮（批量 256，lr 0.9，含测试集评估），端到端墙钟时间
        d_train, d_test = d2l.load_data_fashion_mnist(256)
        c_train, c_test = cnnlib.load_fashion_mnist(256, device="cpu")

        def run_d2l():
            torch.manual_seed(0)
            with contextlib.redirect_stdout(io.StringIO()):  # d2l 的 Animator 在脚本里会打印 <Figure ...>
                d2l.train_ch6(lenet(), d_train, d_test, 1, 0.9, torch.device("cpu"))

        def run_cnnlib():
            torch.manual_seed(0)
            net = cnnlib.init_xavier(lenet())
            with contextlib.redirect_stdout(io.StringIO()):
                cnnlib.train(net, c_train, c_test, 1, 0.9, device="cpu", plot=False, progress=False)

        rows.append(("LeNet 训练一轮 + 评估（秒，越小越好）", "time",
                     timed(run_d2l, args.repeats), timed(run_cnnlib, args.repeats)))

    print()
    print(f"{'项目':<34}{'d2l':>12}{'cnnlib':>12}{'d2l/cnnlib 比值':>18}")
    for name, kind, d, c in rows:
        ratio = d / c if kind == "time" else c / d  # 统一成"cnnlib 快几倍"
        print(f"{name:<34}{d:>12,.1f}{c:>12,.1f}{ratio:>16.2f}×")
    print("\n比值 > 1 表示 cnnlib 更快（吞吐为 cnnlib/d2l，耗时为 d2l/cnnlib）。")


if __name__ == "__main__":
    main()
