"""nbgrader 作业：每章一份、由 nbgrader 自动评分的作业（make nbgrader）。

    python -m tools.nbgrader_course                      # → _build/nbgrader/：源课程 source/ 与发布版 release/
    python -m tools.nbgrader_course --out DIR            # 课程目录放在别处（make clean 会删掉 _build/）
    python -m tools.nbgrader_course --no-release         # 只写源课程，不运行 nbgrader generate_assignment
    python -m tools.nbgrader_course chapters/ch01_basics/pooling.ipynb …   # 只放这几节

做法与学生版（tools/student_edition.py）相同：删掉带 solution 标签的单元，在每道题目之后插入单元；
只是插入的单元带 nbgrader 的单元元数据（metadata.nbgrader），参考答案留在源课程里：
- 答案有代码：一个作答单元（nbgrader 的“解答”单元），内容是这道题参考答案的全部代码单元，放在
  ``### BEGIN SOLUTION`` / ``### END SOLUTION`` 之间，nbgrader generate_assignment 把它换成“# 在此作答”；
- checks/ 里有这道题的检查：一个锁定的自动评分单元（测试单元，POINTS["check"] 分），内容与学生版的检查单元
  相同；运行不报错即得分（没有检查时，作答单元本身手工评分，POINTS["code"] 分）；
- 答案有文字：一个手工评分的 Markdown 作答单元（POINTS["text"] 分），参考答案的文字同样在解答区域里；
- 题目单元锁定：学生改动了，自动评分前也会换回原样。

课程目录的布局是 nbgrader 的默认布局：source/<章>/<节>.ipynb（每章一份作业，名字就是章的目录名），
nbgrader_config.py（只在没有时写出，教师可以改它），gradebook.db 由 nbgrader 自己建立。
重复运行只重写 source/ 和 release/，不动 gradebook.db 与 submitted/、autograded/、feedback/。
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from tools.student_edition import ROOT, check_source, checks_for, code_cell, exercise_label, student_notebook

COURSE_ID = "cnn-book"
POINTS = {"check": 1, "code": 1, "text": 1}
CODE_STUB = "# 在此作答\nraise NotImplementedError()"
TEXT_STUB = "（在此写出你的解答）"
# 答案 Markdown 单元里指令本身的行：开头的 :::{solution…} 与选项行，以及关闭指令的 :::
DIRECTIVE_OPEN = re.compile(r"^:::\{solution(?:-start|-end)?\}")
OPTION = re.compile(r"^:[\w-]+:")

CONFIG = f'''\
# nbgrader 的课程配置（tools/nbgrader_course.py 写出；已存在时不覆盖，可以按需修改）。
# 在本目录中运行 nbgrader 命令；评分流程见书的“如何使用本书”。
c = get_config()
c.CourseDirectory.course_id = "{COURSE_ID}"
# 学生拿到的作答单元里的提示（代替 nbgrader 默认的 YOUR CODE HERE / YOUR ANSWER HERE）
c.ClearSolutions.code_stub = {{"python": {CODE_STUB!r}}}
c.ClearSolutions.text_stub = {TEXT_STUB!r}
# 自动评分会重新执行整个笔记本，其中有训练单元：每个单元最多等 30 分钟（nbgrader 默认只等 30 秒）。
# 训练的规模由 CNNLIB_BUDGET 决定，评分时可以用 CNNLIB_BUDGET=smoke，检查单元在 smoke 预算下也成立。
c.Execute.timeout = 1800
# 交换目录：nbgrader release_assignment / collect 经由它收发作业（JupyterHub 上的默认位置）
# c.Exchange.root = "/srv/nbgrader/exchange"
'''


def nbgrader_cell(cell, grade_id, *, grade=False, solution=False, locked=False, points=0):
    """给单元加上 nbgrader 的元数据（第 3 版格式）并返回它。"""
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3,
            "solution": solution, "task": False}
    if grade:
        meta["points"] = points
    cell["metadata"]["nbgrader"] = meta
    return cell


def solution_region(text):
    return f"### BEGIN SOLUTION\n{text.strip()}\n### END SOLUTION"


def solution_text(solution):
    """答案的文字：Markdown 单元去掉 {solution} / {solution-start} / {solution-end} 指令本身的行。"""
    parts = []
    for cell in solution:
        if cell["cell_type"] != "markdown":
            continue
        lines = cell["source"].strip().splitlines()
        if lines and DIRECTIVE_OPEN.match(lines[0]):
            lines = lines[1:]
            while lines and OPTION.match(lines[0]):
                lines = lines[1:]
            if lines and lines[0].strip() == ":::":      # {solution-start}、{solution-end}：指令立即关闭
                lines = lines[1:]
            elif lines and lines[-1].strip() == ":::":   # {solution}：指令包着全部文字
                lines = lines[:-1]
        if text := "\n".join(lines).strip():
            parts.append(text)
    return "\n\n".join(parts)


def assignment_cells(label, solution, check):
    """nbgrader 源笔记本插在题目之后的单元：文字作答（手工评分）、代码作答、检查（自动评分）。"""
    cells = []
    if text := solution_text(solution):
        cell = nbformat.v4.new_markdown_cell("**文字解答：**\n\n" + solution_region(text))
        cell["id"], cell["metadata"]["tags"] = f"{label}-text", ["answer"]
        cells.append(nbgrader_cell(cell, f"{label}-text", grade=True, solution=True, points=POINTS["text"]))
    code = "\n\n".join(c["source"].strip() for c in solution if c["cell_type"] == "code")
    if code:
        answer = code_cell(solution_region(code), f"{label}-answer", "answer")
        cells.append(nbgrader_cell(answer, f"{label}-answer", solution=True, grade=check is None,
                                   points=POINTS["code"]))
        if check:
            test = code_cell(check_source(*check), f"{label}-check", "check")
            cells.append(nbgrader_cell(test, f"{label}-check", grade=True, locked=True, points=POINTS["check"]))
    return cells


def assignment_notebook(nb, checks):
    """nbgrader 的源笔记本（nb 不被修改）：学生版的结构，参考答案在解答区域里，题目单元锁定。"""
    nb = student_notebook(nb, checks, exercise_cells=assignment_cells)
    for cell in nb.cells:
        if label := exercise_label(cell):
            nbgrader_cell(cell, label, locked=True)
    nbformat.validate(nb)
    return nb


def chapter_notebooks(src=ROOT):
    return sorted(p for p in (src / "chapters").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def write_course(out, notebooks=None, src=ROOT):
    """写出源课程：out/source/<章>/<节>.ipynb 与 out/nbgrader_config.py。返回作业名（章）的列表。"""
    out = Path(out)
    notebooks = [Path(p).resolve() for p in notebooks] if notebooks else chapter_notebooks(src)
    if (out / "source").exists():
        shutil.rmtree(out / "source")
    for original in notebooks:
        path = out / "source" / original.relative_to(src / "chapters")
        path.parent.mkdir(parents=True, exist_ok=True)
        nb = assignment_notebook(nbformat.read(original, as_version=4), checks_for(original, src))
        path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
    if not (out / "nbgrader_config.py").exists():
        (out / "nbgrader_config.py").write_text(CONFIG, encoding="utf-8")
    return sorted({p.parent.name for p in (out / "source").rglob("*.ipynb")})


def nbgrader(course, *args, env=None, check=True, **kwargs):
    """在课程目录中运行一条 nbgrader 命令，用当前虚拟环境里的 nbgrader。虚拟环境的 bin 目录放在 PATH 的最前面：
    nbgrader 建立 gradebook.db 时要运行同一环境里的 alembic 命令。"""
    env = dict(os.environ if env is None else env)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join([bin_dir, env.get("PATH", "")])
    return subprocess.run(["nbgrader", *map(str, args)], cwd=course, env=env, check=check, **kwargs)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", type=Path, help="只放这几节（默认全书的笔记本）")
    ap.add_argument("--out", type=Path, default=ROOT / "_build" / "nbgrader")
    ap.add_argument("--no-release", action="store_true", help="只写源课程，不生成发布版")
    args = ap.parse_args(argv)
    assignments = write_course(args.out, args.notebooks)
    print(f"nbgrader 源课程：{len(assignments)} 份作业（{'、'.join(assignments)}）→ {args.out / 'source'}")
    if not args.no_release:
        nbgrader(args.out, "generate_assignment", "*", "--force", "--log-level=WARN")   # 一条命令生成全部作业
        print(f"发布版（学生拿到的作业）：{args.out / 'release'}")


if __name__ == "__main__":
    main()
