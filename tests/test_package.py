"""cnnlib 这个包本身：公开的名字就是书用到的名字，模块不被同名函数遮住，书的工具不进核心的导入路径，
函数与核心的规模保持在学生读得完的范围内。"""
import ast
import importlib
import inspect
import json
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import cnnlib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cnnlib"
SUBMODULES = {m.name for m in pkgutil.iter_modules(cnnlib.__path__)}
TOOLING = {"figures", "results", "transfer", "cli"}    # 书的工具与第 4 章：import cnnlib 时不导入
# 核心的行数上限：2,200 行，加上第 3 章起用的 cosine_lr 与验证矩阵用的 get_seed（约 35 行）
CORE_LIMIT, FUNCTION_LIMIT = 2240, 60


def book_code():
    """书中每个笔记本的代码单元和学生版检查单元（checks/）的源码。"""
    for path in sorted((ROOT / "chapters").rglob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code":
                yield path, "".join(cell["source"])
    for path in sorted((ROOT / "checks").rglob("*.py")):
        yield path, path.read_text(encoding="utf-8")


def names_the_book_uses():
    used = set()
    for _, code in book_code():
        used |= set(re.findall(r"\bcnnlib\.([A-Za-z_]\w*)", code))
        for names in re.findall(r"^\s*from cnnlib import \(?([\w, ]+)", code, re.M):
            used |= {n.strip() for n in names.split(",") if n.strip()}
    return used


def test_all_is_exactly_what_the_book_calls_through_cnnlib():
    used = names_the_book_uses()
    exported = set(cnnlib.__all__)
    assert len(cnnlib.__all__) == len(exported) and 20 <= len(exported) <= 30
    # 书里用的名字：要么在 __all__ 里，要么是一个模块（如 cnnlib.ops.corr2d、cnnlib.figures）
    assert not used - exported - SUBMODULES, f"书中用到、却不在 __all__ 里的名字：{sorted(used - exported - SUBMODULES)}"
    # __all__ 里的函数和类，书里都用到了（子包 models 除外：书总是写 cnnlib.models.xxx）
    unused = exported - used - SUBMODULES
    assert not unused, f"__all__ 里有书中没用到的名字（应改为私有或通过模块使用）：{sorted(unused)}"
    for name in exported:
        assert getattr(cnnlib, name) is not None


def test_no_module_is_shadowed_by_a_function_of_the_same_name():
    for name in sorted(SUBMODULES):
        module = importlib.import_module(f"cnnlib.{name}")
        assert getattr(cnnlib, name) is module, f"cnnlib.{name} 不是模块 cnnlib/{name}.py（被同名的对象遮住了）"
    assert inspect.isfunction(cnnlib.train) and inspect.isfunction(cnnlib.summary)
    assert inspect.ismodule(cnnlib.models) and "models" in cnnlib.__all__


def test_import_cnnlib_leaves_the_book_tooling_unimported():
    code = ("import sys, cnnlib; lazy = %r; print(sorted(m for m in lazy if 'cnnlib.' + m in sys.modules)); "
            "print(all(getattr(cnnlib, m).__name__ == 'cnnlib.' + m for m in lazy))") % sorted(TOOLING)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]", f"import cnnlib 导入了书的工具：{out[0]}"
    assert out[1] == "True"   # 第一次用到时才导入
    try:
        cnnlib.no_such_name
    except AttributeError as err:
        assert "no_such_name" in str(err)
    else:
        raise AssertionError("未知的属性应抛出 AttributeError")


def test_tooling_modules_say_so_in_their_docstring():
    for name in ("figures", "results", "cli"):
        doc = importlib.import_module(f"cnnlib.{name}").__doc__
        assert "书的工具" in doc.split("\n\n")[0] + doc.splitlines()[0], f"cnnlib.{name} 的文档应说明它是书的工具"


def code_lines(function: ast.AST) -> int:
    """函数的行数，不算文档字符串。"""
    body = function.body
    start = body[1].lineno if (len(body) > 1 and isinstance(body[0], ast.Expr)
                               and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)) \
        else function.lineno
    return function.end_lineno - start + 1


def test_functions_stay_short_and_the_student_core_small():
    longest, core = [], 0
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if path.relative_to(PACKAGE).parts[0].removesuffix(".py") not in TOOLING | {"__main__"}:
            core += len(text.splitlines())
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                longest.append((code_lines(node), f"{path.relative_to(ROOT)}:{node.name}"))
    too_long = [item for item in longest if item[0] > FUNCTION_LIMIT]
    assert not too_long, f"超过 {FUNCTION_LIMIT} 行（不算文档字符串）的函数：{sorted(too_long, reverse=True)}"
    assert core <= CORE_LIMIT, f"学生读的核心（cnnlib 中除 {sorted(TOOLING)} 以外）有 {core} 行，超过 {CORE_LIMIT}"
