"""书的工具（不是学生读的核心）：全书的执行记录 ``results/notebooks.json``（``make results`` 写出，
模型对比一节和执行状态页读取）和计算性能基准的结果 ``results/performance.json``（``make bench`` 写出，
附录“计算性能”读取）。``import cnnlib`` 不导入本模块，第一次用到 ``cnnlib.results`` 时才导入。

记录按笔记本路径组织：每个笔记本有执行日期、预算、机器、总耗时，以及其中每次调用
:func:`cnnlib.train` 的一行（模型名、参数量、每张图像的 FLOPs、输入形状、设备、精度、吞吐、最终指标……）。
那一行由 :func:`record_run` 写：环境变量 ``CNNLIB_RECORD`` 指向一个文件时，训练结束后追加到那个文件里。
"""
import ast
import hashlib
import json
import os
import platform
import urllib.request
from pathlib import Path

import torch

from .checkpoint import model_name, unwrap
from .modelinfo import count_flops, num_params

RECORD_PATH = Path("results") / "notebooks.json"
# 在 Colab 上打开笔记本时本地没有仓库：从 GitHub 读取主分支上提交的记录
RECORD_URL = "https://raw.githubusercontent.com/cnn-book-zh/cnn-book/main/results/notebooks.json"
TOC_PATH = Path("_toc.yml")
BENCHMARK_PATH = Path("results") / "performance.json"
BENCHMARK_URL = RECORD_URL.replace("notebooks.json", "performance.json")
VERIFY_PATH = Path("results") / "verify.json"
VERIFY_URL = RECORD_URL.replace("notebooks.json", "verify.json")


def machine() -> dict:
    """当前机器：CPU 型号、核数、Python 与 PyTorch 版本、GPU（若有）。执行记录和基准结果都记下它。"""
    cpu = platform.processor()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "python": platform.python_version(),
            "torch": torch.__version__, "gpu": gpu}


def record_run(path, net, history, **info):
    """把一次训练的结果追加为 ``path`` 里的一行 JSON（:func:`cnnlib.train` 在设置了 ``CNNLIB_RECORD`` 时调用）。

    一行里有模型名、参数量（全部参数，与 :func:`cnnlib.num_params` 相同）、每张图像前向一次的 FLOPs
    （乘、加各算一次，按训练时的输入形状在 meta 设备上统计）、设备、精度、内存布局、最终指标，
    以及 ``info`` 中的设置（预算、数据来源、图像数、轮数、批量大小、学习率、输入形状、吞吐、耗时）。
    """
    net, shape = unwrap(net), info.get("input_shape")
    info["input_shape"] = list(shape) if shape else None
    row = {"model": model_name(net), "params": num_params(net),
           "flops_per_image": count_flops(net, shape) if shape else None,
           "device": history.device, "precision": history.precision, "memory_format": history.memory_format,
           **info, "final": {"train_loss": round(history.train_loss[-1], 4),
                             "train_acc": round(history.train_acc[-1], 4),
                             "test_acc": round(history.test_acc[-1], 4)},
           "completed_epochs": len(history), "interrupted": history.interrupted}
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row, ensure_ascii=False) + "\n")


class RecordNotFoundError(FileNotFoundError):
    """找不到执行记录，也下载不到。"""


def find_record(start=None, relative=RECORD_PATH):
    """从 ``start``（默认当前目录）向上逐级查找 ``results/notebooks.json``（或 ``relative``）；找不到时返回 None。"""
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / relative).is_file():
            return folder / relative
    return None


def book_order(start=None) -> list:
    """本地仓库的目录 ``_toc.yml`` 中的全部文档（不带扩展名，如 ``chapters/ch01_basics/why_conv``），按书中的顺序，
    首页在前。找不到本地仓库（如在 Colab 上）或没有 PyYAML 时返回空列表。"""
    path = find_record(start, relative=TOC_PATH)
    try:
        import yaml
    except ImportError:
        return []
    if path is None:
        return []
    toc = yaml.safe_load(path.read_text(encoding="utf-8"))
    found = [toc["root"]]

    def walk(entries):
        for entry in entries:
            if "file" in entry:
                found.append(entry["file"])
            walk(entry.get("sections", []))
            walk(entry.get("chapters", []))

    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    walk(toc.get("chapters", []))
    return found


def _read(path, relative, url, what, how, download):
    """读本地文件；没有时从 GitHub 下载；都不行时抛出 :class:`RecordNotFoundError`。"""
    path = path or find_record(relative=relative)
    if path is not None:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    if not download:
        raise RecordNotFoundError(f"找不到{what} {relative}（not found）：请在本书仓库里运行，或先执行 {how}。")
    try:
        with urllib.request.urlopen(url, timeout=15) as response:
            text = response.read().decode("utf-8")
    except OSError as err:
        raise RecordNotFoundError(f"本地没有{what} {relative}，从 {url} 下载也失败了（download failed: {err}）。"
                                  f"请在本书仓库里运行，或先执行 {how}。") from None
    print(f"本地没有 {relative}，读取的是仓库主分支上提交的版本：{url}")
    return json.loads(text)


def load_record(path=None, download=True) -> dict:
    """读取执行记录。

    ``path`` 省略时先在本地仓库里找（:func:`find_record`），找不到且 ``download=True`` 时
    从 :data:`RECORD_URL` 下载；都不行时抛出 :class:`RecordNotFoundError`，说明怎样得到记录。
    """
    record = _read(path, RECORD_PATH, RECORD_URL, "执行记录", "make results", download)
    if not isinstance(record, dict) or not all(isinstance(v, dict) and "runs" in v for v in record.values()):
        raise ValueError("执行记录的格式不对：应是“笔记本路径 → {executed, budget, machine, runs, …}”的字典")
    return record


def load_benchmark(path=None, download=True) -> dict:
    """读取 ``make bench`` 的结果（查找与下载的规则同 :func:`load_record`）。"""
    bench = _read(path, BENCHMARK_PATH, BENCHMARK_URL, "基准结果", "make bench", download)
    missing = [k for k in ("machine", "d2l", "peak", "models", "profile", "loader") if k not in bench]
    if missing:
        raise ValueError(f"基准结果的格式不对（invalid benchmark file）：缺少 {', '.join(missing)}；请重新运行 make bench。")
    return bench


def load_verification(path=None, download=True) -> dict:
    """读取 ``make verify`` 的验证矩阵：“笔记本|精度|种子”→ 那次执行的结果（规则同 :func:`load_record`）。"""
    matrix = _read(path, VERIFY_PATH, VERIFY_URL, "验证矩阵", "make verify", download)
    if not all({"notebook", "precision", "seed", "passed", "final"} <= set(v) for v in matrix.values()):
        raise ValueError("验证矩阵的格式不对（invalid verify.json）：请重新运行 make verify。")
    return matrix


def code_digest(path) -> str:
    """笔记本全部代码单元的摘要（SHA-256 的前 12 位）：代码的含义没变，摘要就不变。

    每个单元取语法树（``ast.dump``），去掉函数和类的文档字符串，所以改注释、文档字符串、
    换行和空格都不改变摘要；解析不了的单元（例如 IPython 的魔法命令）取原文。"""
    cells = json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
    parts = []
    for cell in cells:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"])
            try:
                tree = ast.parse(source)
            except SyntaxError:
                parts.append(source)
                continue
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and \
                        ast.get_docstring(node, clean=False) is not None:
                    node.body = node.body[1:] or [ast.Pass()]
            parts.append(ast.dump(tree))
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:12]


def trained_models(record: dict) -> list:
    """记录中训练过的每个有名字的模型（cnnlib.models 的模型）的一次训练，每个名字只取按路径
    排序第一次出现的那次（章、节的目录名带编号，所以就是书中第一次训练它的那一节）。

    没有名字的模型（笔记本里临时搭的 ``nn.Sequential`` 等，名字是 torch.nn 的类名）不算在内：
    它们是练习或对照实验里的变体。每一项是训练那一行，加上 ``notebook``、``executed``、``machine``。
    """
    seen, rows = set(), []
    for notebook in sorted(record):
        entry = record[notebook]
        for run in entry["runs"]:
            name = run["model"]
            if hasattr(torch.nn, name) or name in seen:
                continue
            seen.add(name)
            rows.append({**run, "notebook": notebook, "executed": entry["executed"], "machine": entry["machine"]})
    return rows
