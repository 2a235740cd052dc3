"""学生版：去掉参考答案的笔记本，加上作答单元和检查单元，并构建成 HTML（make student）。

    python -m tools.student_edition                 # → _build/student/（笔记本）与 _build/student/_build/html/
    python -m tools.student_edition --no-html       # 只生成笔记本
    python -m tools.student_edition --out DIR
    python -m tools.student_edition --verification DIR   # make test：nbval 执行的笔记本副本（见下）

做法：
1. 把书的源文件树（不含 _build、.venv、tests、tools、benchmarks、checks 等）复制到输出目录；真正的书不受影响。
2. 每个笔记本用 nbconvert 的 TagRemovePreprocessor 删掉带 `solution` 标签的单元：参考答案的 Markdown
   单元（{solution}、{solution-start}、{solution-end}）和答案代码单元都带这个标签。
3. 答案里有代码的练习，在题目之后插入一个“在此作答”的空代码单元（标签 `answer`）；
   checks/<章>/<节>.py 里有这道练习的检查时，再插入一个检查单元（标签 `check`）。
4. 复制出的 _config.yml 改书名、去掉 Colab 按钮（它会打开仓库里带答案的笔记本），
   然后用 jupyter-book 构建（不执行笔记本、不联网）。

检查单元只存在于学生版：提交的笔记本不加代码单元，它们的输出（由 make results 真实执行得到）保持不变。

检查单元本身也要测试：空白作答时必须失败（并给出中文说明），提交的答案之后必须通过。为了不把笔记本
执行两遍，``make test`` 让 nbval 执行的是 ``--verification`` 生成的副本：提交的单元和输出原样保留，
只在每道有检查的练习处插入两个没有输出的单元（标签 ``verify``）：题目之后“空白作答再检查，必须失败”，
答案之后“再检查，必须通过”。两者都在当时命名空间的副本里运行检查，不改变笔记本后面的单元看到的变量。
checks 文件的格式：每一段以 `# %% <练习标签>: <答案要定义的名字…>` 开头，下面是断言；生成的检查单元
先核对这些名字都已定义（否则给出中文提示），再运行断言，最后打印“检查通过”。

nbgrader 作业（make nbgrader，tools/nbgrader_course.py）用同一个 student_notebook，只换了插在题目之后的单元。
"""
import argparse
import copy
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from nbconvert.preprocessors import TagRemovePreprocessor

ROOT = Path(__file__).resolve().parents[1]
CHECKS = ROOT / "checks"
# 不属于书的源文件：不复制到学生版
SKIP = {"_build", ".venv", ".git", "_gpu", "tests", "tools", "benchmarks", "conftest.py", "checks", "cnnlib", "results",
        "__pycache__", ".ipynb_checkpoints", ".pytest_cache", "cnnlib.egg-info",
        "Makefile", "pyproject.toml", "requirements.txt", "README.md", "CONTRIBUTING.md"}
EXERCISE = re.compile(r"^:::\{exercise\}[^\n]*\n(?:[^\n]*\n)*?:label: (\S+)", re.M)
SOLUTION = re.compile(r"^:::\{solution(?:-start)?\} (\S+)", re.M)
CHECK_HEADER = re.compile(r"^# %% (ex-[\w-]+)(?::[ \t]*(.*))?$", re.M)
ANSWER_SOURCE = "# 在此作答"


def exercise_label(cell):
    m = cell["cell_type"] == "markdown" and EXERCISE.search(cell["source"])
    return m.group(1) if m else None


def solution_cells(nb):
    """练习标签 → 它的答案的全部单元（{solution} 或 {solution-start} … {solution-end}，都带 solution 标签），按出现顺序。"""
    found, current = {}, None
    for cell in nb.cells:
        if "solution" not in cell.get("metadata", {}).get("tags", []):
            continue
        if cell["cell_type"] == "markdown" and (m := SOLUTION.search(cell["source"])):
            current = m.group(1)
        found.setdefault(current, []).append(cell)
    return found


def labels_with_code(nb):
    """答案里有代码单元的练习标签，按出现顺序。"""
    return [label for label, cells in solution_cells(nb).items() if any(c["cell_type"] == "code" for c in cells)]


def load_checks(path):
    """checks 文件 → {练习标签: (要求的名字, 断言代码)}。"""
    if not path.exists():
        return {}
    text = path.read_text(encoding="utf-8")
    heads = list(CHECK_HEADER.finditer(text))
    checks = {}
    for m, nxt in zip(heads, heads[1:] + [None]):
        body = text[m.end():nxt.start() if nxt else len(text)].strip("\n")
        checks[m.group(1)] = ((m.group(2) or "").split(), body.rstrip() + "\n")
    return checks


def check_source(names, body):
    lines = []
    if names:
        shown = "、".join(names)
        lines += [f"# 检查：先在上面的“在此作答”单元中求出 {shown}（名字不要改），再运行本单元；不报错即通过。",
                  f"_missing = [_name for _name in {tuple(names)!r} if _name not in globals()]",
                  'assert not _missing, "还没有定义 " + "、".join(_missing) + "：请先在上面的“在此作答”单元中作答并运行它"']
    else:
        lines += ["# 检查：作答之后运行本单元；不报错即通过。"]
    return "\n".join(lines) + "\n" + body + 'print("检查通过")'


def code_cell(source, cell_id, tag):
    cell = nbformat.v4.new_code_cell(source)
    cell["id"], cell["metadata"]["tags"] = cell_id, [tag]
    return cell


def student_cells(label, solution, check):
    """学生版插在题目之后的单元：答案里有代码时是“在此作答”单元，checks 里有这道题时再加检查单元。
    solution：这道题答案的全部单元；check：(名字, 断言) 或 None。"""
    if not any(c["cell_type"] == "code" for c in solution):
        return []
    cells = [code_cell(ANSWER_SOURCE + "\n", f"{label}-answer", "answer")]
    if check:
        cells.append(code_cell(check_source(*check), f"{label}-check", "check"))
    return cells


def student_notebook(nb, checks, exercise_cells=student_cells):
    """返回学生版笔记本（nb 不被修改）。checks：{标签: (名字, 断言)}。
    exercise_cells(标签, 答案的单元, 检查) 给出插在每道题目之后的单元；nbgrader 作业换成自己的一种
    （tools/nbgrader_course.py：参考答案放进解答区域，检查单元变成评分单元）。"""
    with_code = labels_with_code(nb)
    labels = [label for c in nb.cells if (label := exercise_label(c))]
    for label in checks:
        if label not in with_code:
            raise ValueError(f"检查 {label} 对应的练习不存在，或它的答案里没有代码")
    solutions = solution_cells(nb)
    nb = copy.deepcopy(nb)
    nb, _ = TagRemovePreprocessor(remove_cell_tags={"solution"}).preprocess(nb, {})
    cells = []
    for cell in nb.cells:
        cells.append(cell)
        if label := exercise_label(cell):
            cells += exercise_cells(label, solutions.get(label, []), checks.get(label))
    nb.cells = cells
    assert len(labels) == len([c for c in cells if exercise_label(c)]), "题目单元不应被删掉"
    nbformat.validate(nb)
    return nb


# 插在副本最前面：在命名空间的副本里运行一段检查，返回它打印的文字（标准输出与标准错误都收起来）
VERIFY_HELPER = """\
def _cnnlib_run_check(source, namespace, answer=None):
    import contextlib, io
    ns = dict(namespace)
    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(out):
        if answer is not None:
            exec(answer, ns)
        exec(compile(source, "<check>", "exec"), ns)
    return out.getvalue()
"""


def _fails_on_empty(label, check):
    return (f"try:\n    _cnnlib_run_check({check!r}, globals(), answer={ANSWER_SOURCE!r})\n"
            f"except AssertionError as _err:\n"
            f"    assert any('\\u4e00' <= _c <= '\\u9fff' for _c in str(_err)), '{label}：检查失败时应给出中文说明'\n"
            f"else:\n    raise AssertionError('{label}：空白作答时检查单元应该失败')\n")


def verification_notebook(nb, checks):
    """make test 用 nbval 执行的副本（nb 不被修改）：提交的单元原样保留，每道有检查的练习在题目之后插入
    “空白作答时检查失败”、在答案之后插入“检查通过”两个单元（标签 verify，没有输出）。"""
    nb = copy.deepcopy(nb)
    last = {label: cells[-1]["id"] for label, cells in solution_cells(nb).items() if label in checks}
    cells = [code_cell(VERIFY_HELPER, "verify-helper", "verify")] if checks else []
    for cell in nb.cells:
        cells.append(cell)
        label = exercise_label(cell)
        if label in checks:
            cells.append(code_cell(_fails_on_empty(label, check_source(*checks[label])), f"{label}-empty", "verify"))
        for label in [lb for lb, cell_id in last.items() if cell_id == cell.get("id")]:
            check = check_source(*checks[label])
            cells.append(code_cell(f"assert '检查通过' in _cnnlib_run_check({check!r}, globals()), "
                                   f"'{label}：提交的答案没有通过检查单元'\n", f"{label}-pass", "verify"))
    for cell in cells:
        if "verify" in cell["metadata"].get("tags", []):
            cell["execution_count"], cell["outputs"] = None, []
    nb.cells = cells
    nbformat.validate(nb)
    return nb


def write_verification(out, src=ROOT):
    """把每个笔记本的 verification_notebook 写到 out 下的同一相对路径；返回写出的笔记本列表。"""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    written = []
    for original in sorted((src / "chapters").rglob("*.ipynb")):
        if ".ipynb_checkpoints" in original.parts:
            continue
        path = out / original.relative_to(src)
        path.parent.mkdir(parents=True, exist_ok=True)
        nb = verification_notebook(nbformat.read(original, as_version=4), checks_for(original, src))
        path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
        written.append(path)
    return written


def checks_for(notebook, root=ROOT):
    rel = notebook.relative_to(root / "chapters") if (root / "chapters") in notebook.parents else None
    return load_checks(CHECKS / rel.with_suffix(".py")) if rel else {}


def make_tree(out, src=ROOT):
    """把书的源文件树复制到 out，并把其中的笔记本换成学生版。返回生成的笔记本列表。"""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(src, out, ignore=lambda d, names: [n for n in names if n in SKIP])
    config = out / "_config.yml"
    text = config.read_text(encoding="utf-8")
    text = re.sub(r"^title: (.*)$", lambda m: f"title: {m.group(1)}（学生版）", text, count=1, flags=re.M)
    text = re.sub(r"^  colab_url: .*\n", "", text, flags=re.M)   # Colab 按钮会打开带答案的原笔记本
    text = re.sub(r"^  use_edit_page_button: true$", "  use_edit_page_button: false", text, flags=re.M)  # 同上
    config.write_text(text, encoding="utf-8")
    written = []
    for path in sorted((out / "chapters").rglob("*.ipynb")):
        original = src / path.relative_to(out)
        nb = student_notebook(nbformat.read(original, as_version=4), checks_for(original, src))
        path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
        written.append(path)
    return written


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "_build" / "student")
    ap.add_argument("--no-html", action="store_true", help="只生成笔记本，不构建 HTML")
    ap.add_argument("--verification", type=Path, metavar="DIR",
                    help="只写出 make test 用 nbval 执行的笔记本副本（插入了检查单元的测试）到 DIR")
    args = ap.parse_args(argv)
    if args.verification:
        written = write_verification(args.verification)
        print(f"nbval 用的笔记本副本：{len(written)} 个 → {args.verification}")
        return
    written = make_tree(args.out)
    n_answer = n_check = 0
    for path in written:
        for cell in nbformat.read(path, as_version=4).cells:
            n_answer += "answer" in cell["metadata"].get("tags", [])
            n_check += "check" in cell["metadata"].get("tags", [])
    print(f"学生版笔记本：{len(written)} 个，作答单元 {n_answer} 个，检查单元 {n_check} 个 → {args.out}")
    if not args.no_html:
        book = Path(sys.executable).parent / "jupyter-book"
        subprocess.run([str(book), "build", str(args.out), "-W", "--keep-going"], check=True)
        print(f"学生版网页：{args.out / '_build' / 'html' / 'index.html'}")


if __name__ == "__main__":
    main()
