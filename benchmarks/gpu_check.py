"""在 CUDA 设备上检查训练器的 GPU 路径（CI 没有 GPU，这个脚本在借到 GPU 时手动运行）。

检查：precision="auto" 选中的精度；bf16 / fp16（GradScaler）/ fp32 三条路径都能训练且主权重保持 fp32；
channels_last 生效；检查点中断后续训与一口气训练的结果一致；compile=True 能训练；
并打印每条路径的训练吞吐。用法：python benchmarks/gpu_check.py [--json out.json]
"""
import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import cnnlib  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--device", default="cuda", help="cpu 只用来试跑本脚本（跳过 fp16 与 compile）")
    args = parser.parse_args(argv)
    dev = args.device
    if dev == "cuda" and not torch.cuda.is_available():
        sys.exit("没有 CUDA 设备（no CUDA device）")
    report = {"gpu": torch.cuda.get_device_name() if dev == "cuda" else "cpu", "torch": torch.__version__,
              "auto_resolves_to": cnnlib.resolve_precision("auto", dev)}
    print(report, flush=True)
    limit = 20000 if dev == "cuda" else 2000
    loaders = cnnlib.load_fashion_mnist(256, limit=limit, test_limit=limit // 4, device=dev)

    def run(precision, epochs=2, seed=0, **kw):
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Flatten(), nn.Linear(64 * 7 * 7, 10))
        start = time.perf_counter()
        h = cnnlib.train(net, *loaders, num_epochs=epochs, lr=0.1, device=dev, progress=False,
                         plot=False, precision=precision, **kw)
        if dev == "cuda":
            torch.cuda.synchronize()
        return net, h, time.perf_counter() - start

    for precision in ("auto", "bf16", "fp16", "fp32") if dev == "cuda" else ("auto", "fp32"):
        net, h, secs = run(precision)
        dtypes = {str(p.dtype) for p in net.parameters()}
        conv = [m for m in net.modules() if isinstance(m, nn.Conv2d)][-1]
        cl = conv.weight.is_contiguous(memory_format=torch.channels_last)
        report[precision] = dict(test_acc=h.test_acc[-1], train_loss=h.train_loss, seconds=round(secs, 2),
                                 precision=h.precision, memory_format=h.memory_format,
                                 param_dtypes=sorted(dtypes), channels_last=cl)
        print(precision, report[precision], flush=True)
        assert dtypes == {"torch.float32"} and h.test_acc[-1] > (0.5 if dev == "cuda" else 0.3)
        assert cl == (h.precision != "fp32")

    # 检查点：先训 1 轮并保存，再续训 1 轮，应与一口气训 2 轮得到相同的历史（cuDNN 非确定时允许微小差异）
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "lenet.pt"
        torch.backends.cudnn.deterministic = True
        _, full, _ = run(report["auto_resolves_to"], epochs=2, checkpoint=ckpt)
        ckpt.unlink()
        run(report["auto_resolves_to"], epochs=1, checkpoint=ckpt)
        _, resumed, _ = run(report["auto_resolves_to"], epochs=2, checkpoint=ckpt, resume=True, seed=123)
        diff = max(abs(a - b) for a, b in zip(full.train_loss, resumed.train_loss))
        report["resume"] = dict(full=full.train_loss, resumed=resumed.train_loss, max_abs_diff=diff)
        print("resume", report["resume"], flush=True)
        assert len(resumed.train_loss) == 2 and diff < 1e-3
        torch.backends.cudnn.deterministic = False

    if dev == "cuda":
        net, h, secs = run("auto", compile=True)
        report["compile"] = dict(test_acc=h.test_acc[-1], seconds=round(secs, 2))
        print("compile", report["compile"], flush=True)
        assert h.test_acc[-1] > (0.5 if dev == "cuda" else 0.3)
    report["ok"] = True
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str))
    print("GPU 检查全部通过", flush=True)


if __name__ == "__main__":
    main()
