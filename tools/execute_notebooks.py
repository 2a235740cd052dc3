"""重新执行笔记本并把输出写回文件（`make results` 调用它）。

提交到仓库的输出只能这样产生：以当前环境的预算（CPU 上默认 small，GPU 上默认 full）
真实执行每个单元。smoke 预算的输出不允许提交，这里直接拒绝。

每个笔记本执行完后，把这次执行的记录（日期、预算、机器、总耗时，以及笔记本里每次调用
``cnnlib.train`` 的设备、精度、数据来源、吞吐和最终指标）写进 ``results/notebooks.json``。
全书的模型对比表和执行状态页读的是它；测试会核对它与提交的笔记本输出一致。训练过网络的笔记本
在 ``small`` 预算下的这次执行，同时是验证矩阵（``make verify``，``results/verify.json``）里的一格：
精度取自 ``CNNLIB_PRECISION``（不设时为 auto），种子取自 ``CNNLIB_SEED``。

读这份记录的笔记本（元数据 ``"cnnlib": {"reads_record": true}``，如模型对比一节）依赖其他笔记本的
结果：它们总是排在最后执行，而且只要执行了别的笔记本，就会跟着重新执行，保证提交的表格与记录一致。

用法：python -m tools.execute_notebooks chapters/ch01_basics/why_conv.ipynb ...
"""
import argparse
import datetime
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from cnnlib.budget import get_budget, get_seed
from cnnlib.checkpoint import atomic_write
from cnnlib.device import PRECISION_ENV
from cnnlib.results import machine
from cnnlib.training import RECORD_ENV

ROOT = Path(__file__).resolve().parents[1]
RECORD = ROOT / "results" / "notebooks.json"


def title(path: Path) -> str:
    """笔记本的一级标题（第一个 Markdown 单元的第一行去掉“# ”）。"""
    first = nbformat.read(path, as_version=4).cells[0].source
    return first.splitlines()[0].removeprefix("# ").strip()


def save_record(path: Path, entry: dict):
    """把一个笔记本的记录并入 results/notebooks.json（按路径排序，原子写入）。

    标题属于笔记本本身而不是某次执行：每次保存都按当前的笔记本刷新所有条目的 ``title``，
    已删除的笔记本的条目也一并去掉。
    """
    data = json.loads(RECORD.read_text(encoding="utf-8")) if RECORD.exists() else {}
    data[path.resolve().relative_to(ROOT).as_posix()] = entry
    data = {nb: {"title": title(ROOT / nb), **{k: v for k, v in e.items() if k != "title"}}
            for nb, e in data.items() if (ROOT / nb).exists()}
    with atomic_write(RECORD, "w", encoding="utf-8") as f:
        f.write(json.dumps(dict(sorted(data.items())), ensure_ascii=False, indent=1) + "\n")


def reads_record(path: Path) -> bool:
    return bool(nbformat.read(path, as_version=4).metadata.get("cnnlib", {}).get("reads_record"))


def reads_readers(path: Path) -> bool:
    """元数据 ``"reads_readers": true``：还要读别的读记录笔记本的条目（如附录“执行状态”），排在它们之后执行。"""
    return bool(nbformat.read(path, as_version=4).metadata.get("cnnlib", {}).get("reads_readers"))


def execution_order(paths):
    """先执行产生记录的笔记本，再执行读记录的笔记本（后者在执行了任何别的笔记本时也一并执行）；
    读记录的笔记本之间，列出别的读者的那些（``reads_readers``）最后执行。"""
    paths = [Path(p) for p in dict.fromkeys(paths)]
    producers = [p for p in paths if not reads_record(p)]
    readers = [p for p in paths if reads_record(p)]
    if producers:
        known = {p.resolve() for p in paths}
        readers += [p for p in sorted(ROOT.glob("chapters/**/*.ipynb"))
                    if ".ipynb_checkpoints" not in p.parts and p.resolve() not in known and reads_record(p)]
    return producers + sorted(readers, key=reads_readers)   # 稳定排序：其余的相对顺序不变


def execute(path: Path, timeout: int, env=None):
    """在笔记本所在的目录里执行它（不写回文件），返回 ``(执行后的笔记本, 记录条目)``。

    ``env`` 中的环境变量在执行期间生效（内核继承本进程的环境），之后恢复。记录条目是执行日期、预算、
    机器、总耗时和每次 ``cnnlib.train`` 的一行（经 ``CNNLIB_RECORD`` 收集）。执行出错时抛出 nbclient 的
    ``CellExecutionError``，它的 ``entry`` 属性是同样的记录条目（只含出错之前的训练）。
    """
    nb = nbformat.read(path, as_version=4)
    nb.metadata.pop("widgets", None)  # 上次执行留下的小部件状态：这次执行若有小部件会重新写入
    fd, runs = tempfile.mkstemp(suffix=".jsonl")
    os.close(fd)
    saved = {k: os.environ.get(k) for k in (*(env or {}), RECORD_ENV)}
    os.environ.update({**(env or {}), RECORD_ENV: runs})  # cnnlib.train 每次训练往这个文件追加一行
    budget = get_budget()
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", coalesce_streams=True,
                            resources={"metadata": {"path": str(path.parent)}})
    executed = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    start, error = time.perf_counter(), None
    try:
        try:
            client.execute()
        except Exception as err:      # 出错时也留下出错之前的训练记录与耗时（make verify 要用）
            error = err
        entry = {"executed": executed, "budget": budget, "wall_seconds": round(time.perf_counter() - start, 1),
                 "machine": machine(), "runs": read_runs(runs)}
    finally:
        os.remove(runs)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if error is not None:
        error.entry = entry
        raise error
    return nb, entry


def read_runs(path) -> list:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--timeout", type=int, default=1800, help="单个单元的超时（秒）")
    args = parser.parse_args(argv)

    budget = get_budget()
    if budget == "smoke":
        sys.exit("拒绝执行：smoke 预算的输出不能提交（committed outputs must come from small or full）。"
                 "请取消 CNNLIB_BUDGET=smoke 后重试。")
    os.environ["CNNLIB_BUDGET"] = budget
    os.environ["CNNLIB_PROGRESS"] = "text"  # 纯文本进度条：合并输出流后网页上留下最后一行
    print(f"预算 budget: {budget}", flush=True)
    total = time.perf_counter()
    for path in execution_order(args.notebooks):
        nb, entry = execute(path, args.timeout)
        nbformat.write(nb, path)
        save_record(path, entry)
        if entry["runs"] and budget == "small":   # 这次执行也是验证矩阵里的一格（make verify 的结果）
            from tools import verify_notebooks
            precision = os.environ.get(PRECISION_ENV, "").strip() or "auto"
            verify_notebooks.save([verify_notebooks.matrix_row(path, precision, get_seed(), entry)])
        print(f"{entry['wall_seconds']:7.1f} s  {path}", flush=True)
    print(f"{time.perf_counter() - total:7.1f} s  合计", flush=True)


if __name__ == "__main__":
    main()
