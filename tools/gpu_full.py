"""在借来的 GPU 机器上以 full 预算执行全部训练笔记本，再用 fp16 执行其中几个（issue 22）。

第一轮：执行记录 ``results/notebooks.json`` 里训练过网络的笔记本（按路径排序），``CNNLIB_PRECISION=auto``
（H100/H200 上是 bf16）；第二轮：``--fp16`` 列出的笔记本用 ``CNNLIB_PRECISION=fp16``（Colab 的 T4 走的路径：
fp16 加梯度缩放 GradScaler）。一次只执行一个笔记本，执行的是内存里的副本，输出不写回文件。

结果写进 ``results/notebooks-full.json``，每执行完一个就原子地写一次（中途崩溃也留下已完成的）：
顶层是这次运行的开始时间、预算、GPU 型号、PyTorch 与 CUDA 版本和机器；``results`` 里每个（笔记本、精度）一条，
有是否通过、失败的断言与消息、耗时、预算和每次训练的记录（字段同 ``results/notebooks.json``）；
同一个文件里已有的条目保留，同一个键以新的为准。

时间限制：``--deadline-minutes``（默认 8 分钟）。开始每个笔记本之前，按它上次的耗时（同一输出文件里的记录，
没有时按 90 秒）估计能否在截止时间前完成；不能时停下，其余的记进 ``skipped``。每个单元的超时是开始这个笔记本时
剩下的时间（它限制的是每个单元，几个单元加起来仍可能超过截止时间一些）。

    python -m tools.gpu_full                                  # GPU 机器上：全部训练笔记本 + 三个 fp16
    python -m tools.gpu_full chapters/ch02_classic/lenet.ipynb --fp16 --budget smoke --allow-cpu
"""
import argparse
import datetime
import json
import os
import sys
import time
from pathlib import Path

import torch

from cnnlib.checkpoint import atomic_write
from cnnlib.results import machine
from tools.execute_notebooks import ROOT, execute
from tools.verify_notebooks import failure, matrix_row, notebook_name, training_notebooks

OUT = ROOT / "results" / "notebooks-full.json"
FP16 = ["chapters/ch02_classic/lenet.ipynb", "chapters/ch03_modern/resnet.ipynb",
        "chapters/ch04_practice/transfer.ipynb"]
UNKNOWN_WALL = 90     # 没有上次耗时的笔记本按这么多秒估计（保守）


def estimate(results: dict, notebook: str, precision: str) -> float:
    """上次的耗时：优先同一精度的，其次这个笔记本任一精度的，都没有时 ``UNKNOWN_WALL``。"""
    prev = results.get(f"{notebook}|{precision}") or next(
        (r for r in results.values() if r["notebook"] == notebook), None)
    return prev["wall_seconds"] if prev else UNKNOWN_WALL


def run(path: Path, precision: str, budget: str, timeout: int) -> dict:
    """执行一个笔记本（内存里），返回结果条目；失败时记下出错的那一行和消息，不抛出。"""
    env = {"CNNLIB_BUDGET": budget, "CNNLIB_PRECISION": precision, "CNNLIB_PROGRESS": "text",
           "CNNLIB_SEED": "0",
           # 内核在笔记本所在的目录里启动：GPU 机器上 cnnlib 没有安装，靠 PYTHONPATH 找到仓库里的
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    try:
        _, entry = execute(path, timeout, env)
        error = None
    except Exception as err:          # 断言失败、单元超时等：记下来，继续下一个
        entry, error = err.entry, failure(err)
    # 与验证矩阵的一格相同的字段，再加上每次训练的完整记录
    return {**matrix_row(path, precision, 0, entry, error), "runs": entry["runs"]}


def save(data: dict, out: Path):
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(out, "w", encoding="utf-8") as f:
        f.write(json.dumps(data, ensure_ascii=False, indent=1) + "\n")


def report(row: dict):
    accs = ", ".join(f"{r['final']['test_acc']:.3f}" for r in row["runs"][-3:])
    tail = "" if row["passed"] else f"  失败：{row['error']['line'] or row['error']['evalue']}"
    print(f"{row['wall_seconds']:7.1f} s  {'通过' if row['passed'] else '失败'}  {row['precision']:<4}  "
          f"{row['notebook']}  测试准确率 {accs}{tail}", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="默认：执行记录里训练过网络的全部笔记本")
    parser.add_argument("--fp16", nargs="*", type=Path, default=[ROOT / p for p in FP16],
                        help="第二轮用 fp16 执行的笔记本（不跟笔记本则没有这一轮）")
    parser.add_argument("--budget", default="full", choices=("smoke", "small", "full"))
    parser.add_argument("--deadline-minutes", type=float, default=8.0)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--allow-cpu", action="store_true", help="没有 GPU 时也执行 full 预算（要好几个小时）")
    args = parser.parse_args(argv)
    cuda = torch.cuda.is_available()
    if args.budget == "full" and not cuda and not args.allow_cpu:
        sys.exit("拒绝执行：本机没有 CUDA GPU（no CUDA device），full 预算在两核 CPU 上要好几个小时。"
                 "请在 GPU 机器上运行；试跑用 --budget smoke；确实要在 CPU 上跑时加 --allow-cpu。")

    start, deadline = time.monotonic(), args.deadline_minutes * 60
    old = json.loads(args.out.read_text(encoding="utf-8")) if args.out.exists() else {}
    data = {"started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "budget": args.budget, "deadline_minutes": args.deadline_minutes,
            "gpu": torch.cuda.get_device_name() if cuda else None, "torch": torch.__version__,
            "cuda": torch.version.cuda, "machine": machine(), "skipped": [], "results": old.get("results", {})}
    print(f"GPU {data['gpu']}  torch {data['torch']}  CUDA {data['cuda']}  预算 budget: {args.budget}  "
          f"截止 deadline: {args.deadline_minutes:g} 分钟", flush=True)
    todo = [(p, "auto") for p in args.notebooks or training_notebooks()] + [(p, "fp16") for p in args.fp16]
    missing = sorted({str(p) for p, _ in todo if not p.is_file()})
    if missing:
        sys.exit(f"找不到这些笔记本（notebook not found）：{', '.join(missing)}")
    failed = 0
    for i, (path, precision) in enumerate(todo):
        left = deadline - (time.monotonic() - start)
        need = estimate(data["results"], notebook_name(path), precision)
        if need > left:
            data["skipped"] = [f"{notebook_name(p)}|{q}" for p, q in todo[i:]]
            print(f"时间不够：{notebook_name(path)}（{precision}）估计要 {need:.0f} 秒，只剩 {max(left, 0):.0f} 秒；"
                  f"跳过其余 {len(todo) - i} 个（skipped）", flush=True)
            break
        row = run(path, precision, args.budget, max(1, int(left)))
        data["results"][f"{row['notebook']}|{precision}"] = row
        save(data, args.out)          # 每完成一个就写下：中途停下也不丢结果
        failed += not row["passed"]
        report(row)
    save(data, args.out)
    print(f"{time.monotonic() - start:7.1f} s  合计，{failed} 个失败，{len(data['skipped'])} 个跳过 → {args.out}",
          flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
