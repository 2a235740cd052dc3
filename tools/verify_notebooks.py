"""make verify：在读者的各种机器上，笔记本的断言是否都成立。

每个训练笔记本在 ``CNNLIB_PRECISION=fp32``（多数笔记本电脑）和 ``auto``（本机是 bf16）下各以 ``small`` 预算
重新执行一遍，一次只执行一个（两个 PyTorch 进程在两核上会互相拖慢许多倍）。提交的笔记本不会被改动：
执行的是内存里的副本，输出不写回文件。结果写进 ``results/verify.json``：每个（笔记本、精度、种子）一条，
有是否通过、失败时是哪个断言和它的消息、每次训练的最终指标、耗时、机器，以及笔记本代码的摘要
（``code``，见 :func:`cnnlib.results.code_digest`：代码（不算注释和排版）改过之后，附录“执行状态”把旧的结果标为过期）。

    python -m tools.verify_notebooks                       # 全部训练笔记本 × fp32、auto
    python -m tools.verify_notebooks chapters/ch02_classic/nin.ipynb --precisions fp32

种子：``--seeds 0 1 2`` 通过环境变量 ``CNNLIB_SEED`` 传给笔记本（``cnnlib.get_seed()`` 读它），只对这样读种子的笔记本有意义；
其余笔记本只接受种子 0（否则记下的种子与实际用的不符），遇到别的种子会直接报错。
"""
import argparse
import json
import re
import sys
import time
from pathlib import Path

import nbformat

from cnnlib.checkpoint import atomic_write
from cnnlib.device import PRECISIONS
from cnnlib.results import code_digest
from tools.execute_notebooks import ROOT, execute

VERIFY = ROOT / "results" / "verify.json"
RECORD = ROOT / "results" / "notebooks.json"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def training_notebooks() -> list:
    """执行记录里训练过网络的笔记本（按路径排序）。"""
    record = json.loads(RECORD.read_text(encoding="utf-8"))
    return [ROOT / nb for nb, entry in sorted(record.items()) if entry["runs"]]


def reads_seed(path: Path) -> bool:
    cells = nbformat.read(path, as_version=4).cells
    return any("CNNLIB_SEED" in c.source or "get_seed(" in c.source for c in cells if c.cell_type == "code")


def failure(err) -> dict:
    """出错的单元：异常名、消息，以及 IPython 回溯中箭头指着的那一行代码（通常就是失败的 assert）。"""
    trace = getattr(err, "traceback", None) or ""
    lines = ANSI.sub("", trace if isinstance(trace, str) else "\n".join(trace)).splitlines()
    # IPython 把箭头补齐到行号前：第 5 行是“----> 5”，第 11 行是“---> 11”
    marked = [m.group(1).strip() for line in lines if (m := re.match(r"\s*-+> ?\s*\d+ (.*)$", line))]
    return {"ename": getattr(err, "ename", type(err).__name__), "evalue": getattr(err, "evalue", str(err))[:500],
            "line": marked[-1] if marked else None}


def verify(path: Path, precision: str, seed: int, budget: str, timeout: int) -> dict:
    env = {"CNNLIB_PRECISION": precision, "CNNLIB_SEED": str(seed), "CNNLIB_BUDGET": budget,
           "CNNLIB_PROGRESS": "text"}
    try:
        _, entry = execute(path, timeout, env)
        return matrix_row(path, precision, seed, entry)
    except Exception as err:          # 断言失败或其他错误：记下来，继续下一个
        return matrix_row(path, precision, seed, err.entry, failure(err))


def notebook_name(path: Path) -> str:
    """记录里的笔记本名：仓库里的相对路径，仓库外的用绝对路径。"""
    where = path.resolve()
    return where.relative_to(ROOT).as_posix() if where.is_relative_to(ROOT) else str(where)


def matrix_row(path: Path, precision: str, seed: int, entry: dict, error=None) -> dict:
    """验证矩阵的一格：一次执行（execute 返回的记录条目 entry）的结果；``make results`` 也用它记下自己那一格。"""
    runs = entry["runs"]
    return {"notebook": notebook_name(path), "precision": precision, "seed": seed, "code": code_digest(path),
            "passed": error is None, "error": error, "budget": entry["budget"],
            "wall_seconds": entry["wall_seconds"], "resolved": sorted({r["precision"] for r in runs}),
            "final": [{"model": r["model"], **r["final"]} for r in runs], "machine": entry["machine"],
            "executed": entry["executed"]}


def save(rows, out=VERIFY):
    """并入 results/verify.json：键是（笔记本、精度、种子），同一个键以新的为准。"""
    data = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    for row in rows:
        data[f"{row['notebook']}|{row['precision']}|{row['seed']}"] = row
    with atomic_write(out, "w", encoding="utf-8") as f:
        f.write(json.dumps(dict(sorted(data.items())), ensure_ascii=False, indent=1) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="默认：执行记录里训练过网络的全部笔记本")
    parser.add_argument("--precisions", nargs="+", default=["fp32", "auto"], choices=PRECISIONS)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--budget", default="small", choices=("smoke", "small", "full"))
    parser.add_argument("--timeout", type=int, default=1800, help="单个单元的超时（秒）")
    parser.add_argument("--out", type=Path, default=VERIFY)
    args = parser.parse_args(argv)
    notebooks = args.notebooks or training_notebooks()
    for path in notebooks:
        if set(args.seeds) != {0} and not reads_seed(path):
            sys.exit(f"{path} 不从 CNNLIB_SEED 读种子：只能验证种子 0（not seed-aware）")
    start, failed = time.perf_counter(), 0
    for path in notebooks:
        for precision in args.precisions:
            for seed in args.seeds:
                row = verify(path, precision, seed, args.budget, args.timeout)
                save([row], args.out)      # 每完成一个就写下：中途停下也不丢结果
                failed += not row["passed"]
                tail = "" if row["passed"] else f"  失败：{row['error']['line'] or row['error']['evalue']}"
                accs = ", ".join(f"{r['test_acc']:.3f}" for r in row["final"][-3:])
                print(f"{row['wall_seconds'] or 0:7.1f} s  {'通过' if row['passed'] else '失败'}  {precision:<4} "
                      f"种子 {seed}  {row['notebook']}  测试准确率 {accs}{tail}", flush=True)
    print(f"{time.perf_counter() - start:7.1f} s  合计，{failed} 个失败 → {args.out}", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
