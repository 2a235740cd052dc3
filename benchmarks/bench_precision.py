"""书中模型一个训练步（前向 + 反向 + SGD 更新）的吞吐：fp32 与混合精度、NCHW 与 channels_last 并排。

用法：.venv/bin/python benchmarks/bench_precision.py [--repeats 3] [--steps 5] [--json out.json]

每个模型用它在 ``small`` 预算下的输入大小和批量大小（见各节笔记本）。四种组合轮流测量
（同一轮里依次测 fp32、fp32+CL、混合精度、混合精度+CL，共 ``--repeats`` 轮），每项取中位数，
这样机器负载的起伏对四者的影响相同。打印图像/秒和相对 fp32 的倍数。
"""
import argparse
import json
import platform
import statistics
import time

import torch
from torch import nn

import cnnlib
from cnnlib.device import autocast, resolve_precision

# (名称, 构造函数, 输入边长, 批量大小)：与各笔记本的 small 预算一致
MODELS = [
    ("LeNet", lambda: cnnlib.models.lenet(), 28, 256),
    ("AlexNet", lambda: cnnlib.models.alexnet(input_size=112), 112, 64),
    ("VGG-11/4", lambda: cnnlib.models.vgg("A", ratio=4, input_size=64), 64, 128),
    ("NiN", lambda: cnnlib.models.nin(input_size=80), 80, 128),
    ("GoogLeNet", lambda: cnnlib.models.googlenet(input_size=48), 48, 128),
]


def step_rate(make, side, batch, precision, channels_last, steps, device):
    torch.manual_seed(0)
    net = make().to(device)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    net = net.to(memory_format=fmt)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    X = torch.rand(batch, 1, side, side, device=device).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (batch,), device=device)
    loss = nn.CrossEntropyLoss()

    def one():
        with autocast(device, precision):
            l = loss(net(X), y)
        opt.zero_grad(set_to_none=True)
        l.backward()
        opt.step()

    one()  # 预热（分配内存、选择卷积算法）
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        one()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * batch / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--models", nargs="*", default=[m[0] for m in MODELS])
    parser.add_argument("--json", help="把结果另存为 JSON")
    args = parser.parse_args()
    device = cnnlib.best_device()
    mixed = resolve_precision("auto", device)
    if mixed == "fp32":
        mixed = "bf16"  # 没有原生 bf16 时也测一下，看模拟的代价
    variants = [("fp32", False), ("fp32", True), (mixed, False), (mixed, True)]
    print(f"{platform.processor() or platform.machine()} | torch {torch.__version__} | "
          f"{torch.get_num_threads()} 线程 | device={device} | 中位数 of {args.repeats} × {args.steps} 步")
    head = " ".join(f"{p + ('+CL' if cl else ''):>12}" for p, cl in variants)
    print(f"{'模型':<10} {head}   （图像/秒；括号内为相对 fp32 的倍数）")
    results = {}
    for name, make, side, batch in MODELS:
        if name not in args.models:
            continue
        rates = {v: [] for v in variants}
        for _ in range(args.repeats):
            for v in variants:
                rates[v].append(step_rate(make, side, batch, v[0], v[1], args.steps, device))
        med = {v: statistics.median(r) for v, r in rates.items()}
        base = med[("fp32", False)]
        cells = " ".join(f"{med[v]:7.0f}({med[v] / base:3.1f}×)" for v in variants)
        print(f"{name + '@' + str(side):<10} {cells}", flush=True)
        results[name] = {"input": side, "batch": batch,
                         **{f"{p}{'+cl' if cl else ''}": round(med[(p, cl)], 1) for p, cl in variants}}
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"device": str(device), "torch": torch.__version__, "results": results}, f,
                      ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
