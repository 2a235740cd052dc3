"""不用 Jupyter，把一个笔记本的代码单元当作脚本依次执行（输出直接打印，不写回文件）。

用于没有 Jupyter 的机器（例如只装了 PyTorch 的 GPU 服务器）上以 ``full`` 预算跑一遍笔记本，
检查其中的断言（例如 ``THRESHOLD_FULL``）。提交到仓库的输出仍只能由 ``make results`` 产生。

用法：CNNLIB_BUDGET=full python benchmarks/exec_notebook.py chapters/ch02_classic/lenet.ipynb [--json out.json]
``--json`` 把命名空间里的 ``history``（若有）与每个单元的耗时另存下来。
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    nb = json.loads(args.notebook.read_text(encoding="utf-8"))
    out = args.json.resolve() if args.json else None
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    os.chdir(args.notebook.parent)
    ns = {"__name__": "__main__", "display": print}
    timings, status = [], "ok"
    for i, cell in enumerate(c for c in nb["cells"] if c["cell_type"] == "code"):
        src = "".join(cell["source"])
        lines = [l for l in src.splitlines() if not l.lstrip().startswith(("%", "!"))]
        print(f"\n----- [{i + 1}] {lines[0][:70] if lines else ''}", flush=True)
        start = time.perf_counter()
        try:
            exec(compile("\n".join(lines), f"{args.notebook.name}[{i + 1}]", "exec"), ns)
        except Exception as err:  # noqa: BLE001 —— 报告并停止，和 Jupyter 里一样
            status = f"cell {i + 1}: {type(err).__name__}: {err}"
            print(f"!!! {status}", flush=True)
            break
        finally:
            timings.append(round(time.perf_counter() - start, 2))
            plt.close("all")
    print(f"\n===== {args.notebook.name}: {status}; {sum(timings):.1f} s", flush=True)
    if out:
        hist = ns.get("history")
        result = {"notebook": args.notebook.name, "status": status, "cell_seconds": timings,
                  "history": hist.as_dict() if hasattr(hist, "as_dict") else None}
        out.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0 if status == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())
