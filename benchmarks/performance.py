"""本书的计算性能基准：结果写入 results/performance.json，附录“计算性能”一页由它生成。

用法：make bench（= .venv/bin/python benchmarks/performance.py，再重新执行附录那一页）
      .venv/bin/python benchmarks/performance.py --quick --out /tmp/p.json   # 几十秒的试跑（测试用）

四部分，都在同一次运行里测：
1. 与《动手学深度学习》（d2l 1.0.3，--no-deps 安装）并排：数据加载器（28×28 一整轮；放大到 224 的 40 个批量）
   和 LeNet 训练一轮（d2l.train_ch6 对 cnnlib.train，后者用默认设置和 fp32 各测一次）。
2. 机器的峰值：方阵乘法在各种边长下的 GFLOP/s 和一个大的 3×3 卷积的 GFLOP/s（fp32 与 precision="auto"
   落实的精度），其中最大者作为峰值。
3. 书中 8 个模型一个训练步（前向 + 反向 + SGD 更新）的吞吐：各用它在 small 预算下的输入大小和批量，
   fp32 / fp32+channels_last / 混合精度 / 混合精度+channels_last 四种，每次测量至少持续 1 秒；另记训练一步的 FLOPs。
4. 一个训练步的时间花在哪些算子上（torch.profiler，四个模型、上面四种设置），以及 cnnlib 加载器在各输入大小下的速度。

计时的规则：每一项先预热，再测 ``--repeats`` 次取中位数；同一部分里的几个对象在每次重复中轮流测
（d2l、cnnlib、d2l、cnnlib……），让机器负载的起伏对它们的影响相同。运行期间机器上不要有别的重负载：
两核的机器上多一个 PyTorch 进程就会让结果慢好几倍。
"""
import argparse
import contextlib
import datetime
import io
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
import cnnlib  # noqa: E402
from cnnlib.checkpoint import atomic_write  # noqa: E402
from cnnlib.device import autocast, resolve_precision  # noqa: E402

OUT = ROOT / "results" / "performance.json"
SCHEMA = 1

# 书中 8 个模型在各自一节 small 预算下的设置：(名称, 构造函数, 输入边长, 批量大小, 说明)
MODELS = [
    ("LeNet", lambda: cnnlib.models.lenet(), 28, 256, ""),
    ("AlexNet", lambda: cnnlib.models.alexnet(input_size=112), 112, 64, ""),
    ("VGG-11", lambda: cnnlib.models.vgg("A", ratio=4, input_size=64), 64, 128, "通道数 ÷ 4"),
    ("NiN", lambda: cnnlib.models.nin(input_size=80), 80, 128, ""),
    ("GoogLeNet", lambda: cnnlib.models.googlenet(input_size=48), 48, 128, ""),
    ("BN-LeNet", lambda: cnnlib.models.bn_lenet(), 28, 256, ""),
    ("ResNet-18", lambda: cnnlib.models.resnet18(input_size=28), 28, 256, ""),
    ("DenseNet", lambda: cnnlib.models.densenet(input_size=32), 32, 128, ""),
]
PROFILED = ("LeNet", "BN-LeNet", "AlexNet", "ResNet-18")

# 算子名（profiler 里的 aten::… 等）归入的类别：按顺序取第一个匹配的关键词（包含即可；以 $ 结尾的须完全相同）
CATEGORIES = [
    ("卷积", ("convolution", "conv2d")),
    ("矩阵乘法（全连接层）", ("addmm", "aten::mm$", "linear", "matmul", "bmm")),
    ("批量规范化", ("batch_norm",)),
    ("汇聚", ("pool",)),
    ("优化器更新", ("optimizer", "_foreach", "sgd")),
    ("损失", ("softmax", "nll_loss", "cross_entropy")),
    ("激活与逐元素运算", ("sigmoid", "tanh", "relu", "threshold", "clamp", "aten::add", "aten::mul", "aten::div",
                         "aten::sub", "aten::cat", "aten::sum", "aten::mean")),
    ("内存分配与格式转换", ("copy", "aten::to$", "empty", "resize", "fill", "zero", "strided", "clone",
                          "contiguous", "view", "reshape", "permute", "transpose", "aten::t$", "expand",
                          "slice", "select", "squeeze", "flatten", "detach", "alias")),
]
OTHER = "其他（自动微分引擎的调度等）"


def lenet():
    """d2l 第 6 章的 LeNet（与 cnnlib.models.lenet 结构相同；这里用普通 Sequential，两边公平）。"""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2, 2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(2, 2), nn.Flatten(),
        nn.Linear(400, 120), nn.Sigmoid(), nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))


@contextlib.contextmanager
def d2l_data_root(data_dir):
    """d2l 把数据根目录写死为 ../data：在临时目录里建 data -> data_dir，并切换到 tmp/work。"""
    old = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.symlink(Path(data_dir).resolve(), Path(tmp) / "data")
        (Path(tmp) / "work").mkdir()
        os.chdir(Path(tmp) / "work")
        try:
            yield
        finally:
            os.chdir(old)


def drain(loader, max_batches=None):
    """从头读加载器，直到读完或读到 ``max_batches`` 个批量，返回所用的秒数。

    计时包括创建迭代器（d2l 的 DataLoader 每一轮在这里启动工作进程），但不包括读到一半时关闭工作进程：
    那是只读一部分才有的代价，真正训练时每一轮都读完。关闭放在计时之后，保证下一项测量开始时它们已经退出。
    """
    start = time.perf_counter()
    iterator = iter(loader)
    for i, (X, y) in enumerate(iterator):
        if max_batches is not None and i + 1 == max_batches:
            break
    elapsed = time.perf_counter() - start
    shutdown = getattr(iterator, "_shutdown_workers", None)
    if shutdown is not None:
        shutdown()
    del iterator
    return elapsed


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def alternate(fns: dict, repeats: int) -> dict:
    """``fns`` 中每个无参函数返回一个数；按“每次重复里轮流各测一次”测 ``repeats`` 轮，返回 名称 → 全部样本。"""
    samples = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            samples[k].append(fn())
    return samples


def seconds(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def summarize(samples: list) -> dict:
    return {"median": statistics.median(samples), "samples": [round(s, 6) for s in samples]}


# ---------------------------------------------------------------------------
# 1. 与 d2l 并排
# ---------------------------------------------------------------------------
def bench_d2l(repeats, limit, device):
    # d2l 固定用 4 个工作进程；两核机器上 PyTorch 会为此警告，这正是读者照 d2l 运行时的设置
    warnings.filterwarnings("ignore", message="This DataLoader will create")
    from d2l import torch as d2l
    import d2l as d2l_package
    rows = []
    n224 = 40 if limit is None else 4
    with d2l_data_root(cnnlib.datafiles.data_root()):
        def d2l_loaders(batch, resize=None):
            train, test = d2l.load_data_fashion_mnist(batch, resize=resize)
            if limit is None:
                return train, test
            # 试跑：只取前 limit 张，其余设置（打乱、4 个工作进程）不变
            subset = lambda it, shuffle: torch.utils.data.DataLoader(  # noqa: E731
                torch.utils.data.Subset(it.dataset, range(limit)), batch, shuffle=shuffle, num_workers=it.num_workers)
            return subset(train, True), subset(test, False)

        def cnnlib_loaders(batch, resize=None, device="cpu"):
            return cnnlib.load_fashion_mnist(batch, resize=resize, device=device, limit=limit, test_limit=limit)

        d_train, _ = d2l_loaders(256)
        c_train, _ = cnnlib_loaders(256)
        n = c_train.num_examples
        s = alternate({"d2l": lambda: drain(d_train), "cnnlib": lambda: drain(c_train)}, repeats)
        rows.append({"key": "loader28", "what": f"加载器，28×28，一整轮 {n} 张", "unit": "张/秒", "images": n,
                     **{k: summarize([n / t for t in v]) for k, v in s.items()}})

        d_train, _ = d2l_loaders(128, resize=224)
        c_train, _ = cnnlib_loaders(128, resize=224)
        n = n224 * 128
        s = alternate({"d2l": lambda: drain(d_train, n224), "cnnlib": lambda: drain(c_train, n224)}, repeats)
        rows.append({"key": "loader224", "what": f"加载器，放大到 224×224，{n224} 个批量共 {n} 张", "unit": "张/秒",
                     "images": n, **{k: summarize([n / t for t in v]) for k, v in s.items()}})

        d_train, d_test = d2l_loaders(256)
        c_train, c_test = cnnlib_loaders(256, device=device)

        def run_d2l():
            torch.manual_seed(0)
            with contextlib.redirect_stdout(io.StringIO()):  # train_ch6 的 Animator 在脚本里会打印 <Figure ...>
                d2l.train_ch6(lenet(), d_train, d_test, 1, 0.9, device)
            sync(device)

        def run_cnnlib(precision):
            def run():
                torch.manual_seed(0)
                with contextlib.redirect_stdout(io.StringIO()):
                    cnnlib.train(cnnlib.init_xavier(lenet()), c_train, c_test, 1, 0.9, device=device, plot=False,
                                 progress=False, precision=precision)
                sync(device)
            return run

        s = alternate({"d2l": lambda: seconds(run_d2l), "cnnlib": lambda: seconds(run_cnnlib("auto")),
                       "cnnlib_fp32": lambda: seconds(run_cnnlib("fp32"))}, repeats)
        rows.append({"key": "lenet_epoch", "what": "LeNet 训练一轮并在测试集上评估（train_ch6 对 cnnlib.train）",
                     "unit": "秒", "images": c_train.num_examples,
                     **{k: summarize(v) for k, v in s.items()}})
    return {"version": d2l_package.__version__, "rows": rows}


# ---------------------------------------------------------------------------
# 2. 峰值：方阵乘法
# ---------------------------------------------------------------------------
def bench_peak(precisions, sizes, repeats, device, conv_shape=(32, 256, 28)):
    """各精度下这台机器的实用峰值：方阵乘法在各种边长下的 GFLOP/s，以及一个大的 3×3 卷积
    （批量、通道、边长为 ``conv_shape``，channels_last，只做前向）的 GFLOP/s，两者中较大的作为峰值。

    卷积也测，是因为在有的机器上卷积库（oneDNN、cuDNN）的实现比矩阵乘法库（如 MKL）更快：
    只拿矩阵乘法作尺子，卷积网络的“利用率”会超过 100%。
    """
    out = {}
    budget = 2e9 if device.type == "cpu" else 2e11      # 每次测量大约做这么多 FLOPs
    for precision in precisions:
        dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
        fns, flops = {}, {}
        for n in sizes:
            a = torch.randn(n, n, device=device).to(dtype)
            b = torch.randn(n, n, device=device).to(dtype)
            inner = max(1, int(budget // (2 * n ** 3)))
            flops[n] = 2 * n ** 3 * inner

            def run(a=a, b=b, inner=inner):
                for _ in range(inner):
                    a @ b
                sync(device)
            fns[n] = run
        batch, channels, side = conv_shape
        x = torch.randn(batch, channels, side, side, device=device).to(dtype).contiguous(memory_format=torch.channels_last)
        conv = nn.Conv2d(channels, channels, 3, padding=1, bias=False).to(device, dtype).to(memory_format=torch.channels_last)
        inner = max(1, int(budget // (2 * batch * channels * side * side * channels * 9)))
        flops["conv"] = 2 * batch * channels * side * side * channels * 9 * inner

        @torch.no_grad()
        def run_conv():
            for _ in range(inner):
                conv(x)
            sync(device)
        fns["conv"] = run_conv
        for fn in fns.values():  # 预热
            fn()
        # 各尺寸和卷积在每次重复里轮流测：机器负载短时的起伏不会只落在某一项上
        samples = alternate({k: (lambda fn=fn: seconds(fn)) for k, fn in fns.items()}, repeats)
        rate = {k: round(flops[k] / statistics.median(v) / 1e9, 2) for k, v in samples.items()}
        rates = [rate[n] for n in sizes]
        best = max(range(len(sizes)), key=rates.__getitem__)
        out[precision] = {"sizes": list(sizes), "gflops": rates, "matmul_peak_gflops": rates[best],
                          "matmul_peak_size": sizes[best], "conv_shape": list(conv_shape), "conv_gflops": rate["conv"],
                          "peak_gflops": max(rates[best], rate["conv"])}
        print(f"  {precision}：矩阵乘法 " + "  ".join(f"{n}:{r:.0f}" for n, r in zip(sizes, rates))
              + f"；3×3 卷积 {rate['conv']:.0f}（GFLOP/s）", flush=True)
    return out


# ---------------------------------------------------------------------------
# 3. 各模型一个训练步的吞吐
# ---------------------------------------------------------------------------
def make_step(make, side, batch, precision, channels_last, device):
    torch.manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    net = make().to(device, memory_format=fmt)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    X = torch.rand(batch, 1, side, side, device=device).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (batch,), device=device)
    loss = nn.CrossEntropyLoss()

    def step():
        with autocast(device, precision):
            l = loss(net(X), y)
        opt.zero_grad(set_to_none=True)
        l.backward()
        opt.step()

    step()  # 预热：分配内存、选择卷积算法
    step()
    sync(device)
    return step


def bench_models(models, variants, repeats, steps, device, min_seconds=1.0):
    """每个模型、每种设置连续训练若干步，取每秒图像数。步数至少 ``steps``，并且让每次测量至少持续
    ``min_seconds`` 秒（小模型一步只要十几毫秒，测得太短会被计时的抖动淹没）。"""
    rows = []
    for name, make, side, batch, note in models:
        net = make()
        steppers = {precision + ("+cl" if cl else ""): make_step(make, side, batch, precision, cl, device)
                    for precision, cl in variants}
        one = min(seconds(lambda: (step(), sync(device))) for step in steppers.values())
        n_steps = max(steps, round(min_seconds / one))
        fns = {}
        for key, step in steppers.items():
            def rate(step=step):
                start = time.perf_counter()
                for _ in range(n_steps):
                    step()
                sync(device)
                return n_steps * batch / (time.perf_counter() - start)
            fns[key] = rate
        s = alternate(fns, repeats)
        row = {"name": name, "note": note, "input": side, "batch": batch, "steps": n_steps,
               "params": cnnlib.num_params(net),
               "forward_flops": cnnlib.count_flops(net, (1, side, side)),
               "train_flops": cnnlib.count_flops(net, (1, side, side), backward=True),
               "img_per_s": {k: summarize(v) for k, v in s.items()}}
        rows.append(row)
        print(f"  {name}@{side}: " + "  ".join(f"{k} {v['median']:,.0f}" for k, v in row["img_per_s"].items())
              + " 张/秒", flush=True)
    return rows


# ---------------------------------------------------------------------------
# 4. 一个训练步的时间分布；加载器的速度
# ---------------------------------------------------------------------------
def category(op: str) -> str:
    """profiler 中一个事件（算子）的名字所属的类别，见 :data:`CATEGORIES`。"""
    low = op.lower()
    if low.startswith("autograd::") or low.endswith("backward0") or "accumulategrad" in low:
        return OTHER  # 自动微分引擎调用各层反向函数的外壳：它们自己的时间是调度开销，真正的计算在子算子里
    for cat, words in CATEGORIES:
        if any(low == w[:-1] if w.endswith("$") else w in low for w in words):
            return cat
    return OTHER


def bench_profile(models, variants, steps, device):
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    rows = []
    for (name, make, side, batch, note), (precision, cl) in ((m, v) for m in models for v in variants):
        step = make_step(make, side, batch, precision, cl, device)
        with contextlib.redirect_stderr(io.StringIO()), profile(activities=activities) as prof:
            start = time.perf_counter()
            for _ in range(steps):
                step()
            sync(device)
            wall = (time.perf_counter() - start) / steps * 1e3
        # CPU 上数每个算子的 self 时间（不含它调用的子算子）；GPU 上数每个算子启动的 kernel 在设备上的时间
        # （只取 CPU 一侧的算子事件，kernel 本身的事件不再重复计入）
        attr = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
        ops = {}
        for event in prof.key_averages():
            if event.device_type != DeviceType.CPU:
                continue
            ms = getattr(event, attr) / 1e3 / steps
            if ms > 0:
                ops[event.key] = ops.get(event.key, 0.0) + ms
        cats = {}
        for op, ms in ops.items():
            cats[category(op)] = cats.get(category(op), 0.0) + ms
        top = sorted(ops.items(), key=lambda kv: -kv[1])[:8]
        rows.append({"name": name, "input": side, "batch": batch, "precision": precision,
                     "memory_format": "channels_last" if cl else "contiguous",
                     "step_ms": round(wall, 3), "categories_ms": {k: round(v, 3) for k, v in sorted(cats.items(), key=lambda kv: -kv[1])},
                     "top_ops_ms": {k: round(v, 3) for k, v in top}})
        print(f"  {name} {precision}{'+cl' if cl else ''}: 一步 {wall:.1f} ms；" + "，".join(f"{k} {v:.1f}" for k, v in rows[-1]["categories_ms"].items()),
              flush=True)
    return rows


def bench_loader(sizes, repeats, device, batch=128, batches=100, limit=None):
    rows = []
    for size in sizes:
        train, _ = cnnlib.load_fashion_mnist(batch, resize=None if size == 28 else size, device=device,
                                             limit=limit, test_limit=limit)
        k = min(batches, len(train))

        def run():
            start = time.perf_counter()
            for i, (X, y) in enumerate(train):
                if i + 1 == k:
                    break
            sync(device)
            return time.perf_counter() - start
        run()
        s = alternate({"t": run}, repeats)["t"]
        rows.append({"size": size, "batch": batch, "img_per_s": summarize([k * batch / t for t in s])})
        print(f"  cnnlib 加载器 {size}×{size}：{rows[-1]['img_per_s']['median']:,.0f} 张/秒", flush=True)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="每项测几次取中位数（默认 5）")
    parser.add_argument("--steps", type=int, default=6, help="吞吐测量时每次至少连续训练几步（默认 6，且至少 0.5 秒）")
    parser.add_argument("--out", type=Path, default=OUT, help=f"结果 JSON（默认 {OUT.relative_to(ROOT)}）")
    parser.add_argument("--quick", action="store_true", help="几十秒的试跑：只测两个小模型、小数据、各 1 次")
    args = parser.parse_args(argv)
    device = cnnlib.best_device()
    mixed = resolve_precision("auto", device)
    variants = [("fp32", False), ("fp32", True)] + ([(mixed, False), (mixed, True)] if mixed != "fp32" else [])
    models, sizes, limit = MODELS, [64, 128, 256, 512, 1024, 2048, 4096], None
    if device.type == "cuda":
        sizes += [8192]
    if args.quick:
        args.repeats, args.steps, limit = 1, 1, 1280  # train_ch6 至少要 5 个批量
        models, sizes = [m for m in MODELS if m[0] in ("LeNet", "BN-LeNet")], [64, 128]
    started = datetime.datetime.now(datetime.timezone.utc)
    machine = {**cnnlib.results.machine(), "threads": torch.get_num_threads(), "device": str(device),
               "native_bf16": cnnlib.device.cpu_has_native_bf16(), "auto_precision": mixed}
    print(f"机器：{machine}\n数据：{cnnlib.data_source()}；每项 {args.repeats} 次交替测量取中位数", flush=True)

    print("1/4 与 d2l 并排", flush=True)
    d2l_part = bench_d2l(args.repeats, limit, device)
    for row in d2l_part["rows"]:
        print(f"  {row['what']}：d2l {row['d2l']['median']:,.2f}，cnnlib {row['cnnlib']['median']:,.2f} {row['unit']}",
              flush=True)
    print("2/4 峰值：方阵乘法与一个大卷积", flush=True)
    peak = bench_peak(dict.fromkeys(["fp32", mixed]), sizes, args.repeats, device)
    print("3/4 各模型一个训练步", flush=True)
    model_rows = bench_models(models, variants, args.repeats, args.steps, device, 0.02 if args.quick else 1.0)
    print("4/4 时间分布与加载器", flush=True)
    profiled = [m for m in models if m[0] in PROFILED]
    profile_rows = bench_profile(profiled, variants, max(2, args.steps // 2), device)
    loader_rows = bench_loader(sorted({28, 224, *(m[2] for m in models)}), args.repeats, device, limit=limit)

    result = {
        "schema": SCHEMA,
        "generated": started.isoformat(timespec="seconds"),
        "minutes": round((datetime.datetime.now(datetime.timezone.utc) - started).total_seconds() / 60, 1),
        "command": "make bench" if not args.quick else "performance.py --quick",
        "settings": {"repeats": args.repeats, "steps": args.steps, "quick": args.quick},
        "data": cnnlib.data_source(),
        "machine": machine,
        "d2l": d2l_part,
        "peak": peak,
        "models": model_rows,
        "profile": profile_rows,
        "loader": loader_rows,
    }
    with atomic_write(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"写入 {args.out}（{result['minutes']} 分钟）")


if __name__ == "__main__":
    main()
