"""重新执行笔记本并把输出写回文件（`make results` 调用它）。

提交到仓库的输出只能这样产生：以当前环境的预算（CPU 上默认 small，GPU 上默认 full）
真实执行每个单元。smoke 预算的输出不允许提交，这里直接拒绝。

用法：python tests/execute_notebooks.py chapters/ch01_basics/why_conv.ipynb ...
"""
import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cnnlib.budget import get_budget  # noqa: E402


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
    for path in args.notebooks:
        nb = nbformat.read(path, as_version=4)
        nb.metadata.pop("widgets", None)  # 上次执行留下的小部件状态：这次执行若有小部件会重新写入
        client = NotebookClient(nb, timeout=args.timeout, kernel_name="python3", coalesce_streams=True,
                                resources={"metadata": {"path": str(path.parent)}})
        start = time.perf_counter()
        client.execute()
        elapsed = time.perf_counter() - start
        nbformat.write(nb, path)
        print(f"{elapsed:7.1f} s  {path}", flush=True)
    print(f"{time.perf_counter() - total:7.1f} s  合计", flush=True)


if __name__ == "__main__":
    main()
