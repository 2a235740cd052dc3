"""精度对照：同一个 ``small`` 预算的训练，分别用 fp32 和 ``precision="auto"`` 跑，比较最终测试准确率与吞吐。

用法：.venv/bin/python benchmarks/precision_parity.py [--models LeNet AlexNet GoogLeNet] [--seeds 0 1]
      [--json out.json]

配置照抄各节笔记本的 ``small`` 预算（批量、学习率、分辨率、子集、轮数、初始化）。种子 0 与笔记本
相同；再换一个种子，给出"随机性本身带来的差别"作为噪声的尺度，判断精度带来的差别是否在噪声之内。
这是一次几十分钟的测量，不属于测试。
"""
import argparse
import json
import time

import torch

import cnnlib


INITS = {"xavier": cnnlib.init_xavier, "he": cnnlib.init_he}
# 名称: (构造函数, 初始化, 批量, 学习率, 输入边长, 训练子集, 测试子集, 轮数) —— 与笔记本的 small 相同
CONFIGS = {
    "LeNet": (lambda s: cnnlib.models.lenet(), "xavier", 256, 0.9, None, None, None, 10),
    "AlexNet": (lambda s: cnnlib.models.alexnet(input_size=s), "xavier", 64, 0.1, 112, 10240, 2000, 4),
    "VGG-11/4": (lambda s: cnnlib.models.vgg("A", ratio=4, input_size=s), "xavier", 128, 0.1, 64, 12000, 2000, 4),
    "NiN": (lambda s: cnnlib.models.nin(input_size=s), "he", 128, 0.05, 80, 20000, 2000, 4),
    "GoogLeNet": (lambda s: cnnlib.models.googlenet(input_size=s), "he", 128, 0.05, 48, 20000, 2000, 4),
}


def run(name, seed, precision):
    make, init, batch, lr, size, limit, test_limit, epochs = CONFIGS[name]
    torch.manual_seed(seed)
    train_iter, test_iter = cnnlib.load_fashion_mnist(batch, resize=size, limit=limit,
                                                      test_limit=test_limit, seed=seed)
    net = INITS[init](make(size))
    start = time.perf_counter()
    h = cnnlib.train(net, train_iter, test_iter, epochs, lr, budget="small", progress=False,
                     plot=False, precision=precision)
    return {"model": name, "seed": seed, "precision": h.precision, "memory_format": h.memory_format,
            "test_acc": h.test_acc[-1], "train_loss": h.train_loss[-1],
            # 总图像数 / 总训练时间（每轮图像数相同，所以是各轮吞吐的调和平均）
            "images_per_sec": len(h) / sum(1 / r for r in h.examples_per_sec),
            "wall_s": time.perf_counter() - start}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=["LeNet", "AlexNet", "GoogLeNet"])
    parser.add_argument("--seeds", nargs="*", type=int, default=[0, 1])
    parser.add_argument("--json")
    args = parser.parse_args()
    rows = []
    for name in args.models:
        for seed in args.seeds:
            for precision in ("fp32", "auto"):  # 交替进行，机器负载的起伏对两者相同
                rows.append(run(name, seed, precision))
                r = rows[-1]
                print(f"{name:<10} seed={seed} {r['precision']:<5} {r['memory_format']:<13} "
                      f"test acc {r['test_acc']:.3f}  loss {r['train_loss']:.3f}  "
                      f"{r['images_per_sec']:7.0f} 张/秒  {r['wall_s']:6.0f} 秒", flush=True)
                if args.json:
                    with open(args.json, "w", encoding="utf-8") as f:
                        json.dump(rows, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
