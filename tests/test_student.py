"""学生版（make student，tools/student_edition.py）：不含任何答案；检查单元对答案通过、对空白作答失败。"""
import contextlib
import io
import re
from pathlib import Path

import nbformat
import pytest

from tools import student_edition

ROOT = Path(__file__).resolve().parents[1]

NOTEBOOKS = sorted(p for p in (ROOT / "chapters").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
# 有 checks/<章>/ 目录的章：其中每道有代码答案的练习都要有检查单元
CHECKED_CHAPTERS = sorted(p.name for p in (ROOT / "checks").iterdir() if p.is_dir() and any(p.glob("*.py")))
CHECKED = [p for p in NOTEBOOKS if p.parent.name in CHECKED_CHAPTERS]


def original(path):
    """提交的笔记本。"""
    return nbformat.read(path, as_version=4)


def tags(cell):
    return cell["metadata"].get("tags", [])


def texts(cell):
    """单元的源码和输出中的全部文字。"""
    parts = [cell["source"]]
    for out in cell.get("outputs", []):
        parts.append("".join(out.get("text", "")))
        parts += ["".join(v) for v in out.get("data", {}).values() if isinstance(v, (str, list))]
    return "\n".join(parts)


@pytest.fixture(scope="module")
def student(tmp_path_factory):
    out = tmp_path_factory.mktemp("student") / "book"
    student_edition.make_tree(out)
    return out


def student_nb(student, path):
    return nbformat.read(student / path.relative_to(ROOT), as_version=4)


def test_student_tree_is_a_book_of_its_own(student):
    config = (student / "_config.yml").read_text(encoding="utf-8")
    assert re.search(r"^title: .*（学生版）$", config, re.M)
    assert "colab_url" not in config   # Colab 按钮会打开仓库里带答案的笔记本
    assert "use_edit_page_button: false" in config   # 编辑按钮同样链接到带答案的源文件
    assert (student / "_toc.yml").read_text(encoding="utf-8") == (ROOT / "_toc.yml").read_text(encoding="utf-8")
    assert sorted(p.relative_to(student) for p in (student / "chapters").rglob("*.ipynb")) == \
        sorted(p.relative_to(ROOT) for p in NOTEBOOKS)
    assert not (student / "tests").exists() and not (student / "checks").exists()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_student_edition_contains_no_solution_text_or_code(student, path):
    nb, stu = original(path), student_nb(student, path)
    public = "\n".join(texts(c) for c in nb.cells if "solution" not in tags(c))
    shipped = "\n".join(texts(c) for c in stu.cells)
    # 答案的每一行文字、代码和输出（正文里本来就有的行除外，例如 torch.manual_seed(0)）都不能原样成为学生版的一行
    by_label = {}
    for label, cells in student_edition.solution_cells(nb).items():
        for line in "\n".join(texts(c) for c in cells).splitlines():
            line = line.strip()
            # 折行后单独成行的一个名字、字符串或数（如 "train_same,"）不算答案的文字
            fragment = re.fullmatch(r"[(\[{]*(\w[\w.]*|\"[^\"]*\"|'[^']*')[)\]}]*,?", line)
            if len(line) >= 6 and not fragment and not line.startswith((":::", ":class:")) \
                    and line not in public:
                by_label.setdefault(label, []).append(line)
    labels = [lb for c in nb.cells if (lb := student_edition.exercise_label(c))]
    assert len(labels) >= 3 and sorted(by_label) == sorted(labels), "每道练习的答案都应有可供检索的独有文字"
    shipped_lines = {line.strip() for line in shipped.splitlines()}
    for label, lines in by_label.items():
        leaked = [line for line in lines if line in shipped_lines]
        assert not leaked, f"{label} 的答案出现在学生版里：{leaked[:3]}"
    assert not any("solution" in tags(c) or ":::{solution" in c["source"] for c in stu.cells)
    assert [lb for c in stu.cells if (lb := student_edition.exercise_label(c))] == labels, "题目应原样保留"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_answer_cell_follows_every_exercise_whose_solution_has_code(student, path):
    nb, stu = original(path), student_nb(student, path)
    with_code = student_edition.labels_with_code(nb)
    answered = []
    for prev, cell in zip(stu.cells, stu.cells[1:]):
        if "answer" in tags(cell):
            assert cell["source"].strip() == student_edition.ANSWER_SOURCE and cell.get("outputs") == []
            answered.append(student_edition.exercise_label(prev))
    assert answered == with_code
    # 其余代码单元与提交的笔记本中不带 solution 标签的代码单元一一相同（输出也保留）
    kept = [c for c in nb.cells if c["cell_type"] == "code" and "solution" not in tags(c)]
    shipped = [c for c in stu.cells if c["cell_type"] == "code" and not {"answer", "check"} & set(tags(c))]
    assert [(c["source"], c["outputs"]) for c in shipped] == [(c["source"], c["outputs"]) for c in kept]


def test_check_files_name_existing_exercises_and_cover_their_chapters():
    for path in sorted((ROOT / "checks").rglob("*.py")):
        notebook = ROOT / "chapters" / path.relative_to(ROOT / "checks").with_suffix(".ipynb")
        assert notebook.exists(), f"{path} 没有对应的笔记本"
        checks = student_edition.load_checks(path)
        assert checks and set(checks) <= set(student_edition.labels_with_code(original(notebook)))
    assert {"ch01_basics", "ch02_classic", "ch03_modern", "ch04_practice", "appendix"} <= set(CHECKED_CHAPTERS)
    for notebook in CHECKED:   # 有 checks 目录的章：每道有代码答案的练习都有检查单元，顺序与笔记本相同
        checks = student_edition.checks_for(notebook)
        assert list(checks) == student_edition.labels_with_code(original(notebook)), notebook.name


def run_cells(nb):
    """在普通的 Python 命名空间里依次执行 nb 的代码单元（像内核那样），返回命名空间。"""
    ns = {"__name__": "__main__"}
    with contextlib.redirect_stdout(io.StringIO()):
        for i, cell in enumerate(nb.cells):
            if cell["cell_type"] == "code":
                exec(compile(cell["source"], f"cell[{i}]", "exec"), ns)
    return ns


@pytest.mark.parametrize("path", CHECKED, ids=lambda p: p.stem)
def test_verification_copy_keeps_every_cell_and_tests_every_check(path):
    # make test 用 nbval 执行的是这个副本（检查单元的测试就在那一次执行里，笔记本不用再执行第二遍）
    nb, checks = original(path), student_edition.checks_for(path)
    copy = student_edition.verification_notebook(nb, checks)
    kept = [c for c in copy.cells if "verify" not in tags(c)]
    assert [(c["source"], c.get("outputs")) for c in kept] == [(c["source"], c.get("outputs")) for c in nb.cells]
    ids = [c["id"] for c in copy.cells]
    solutions = student_edition.solution_cells(nb)
    assert len(checks) >= 3 and len(ids) == len(nb.cells) + 1 + 2 * len(checks) and ids[0] == "verify-helper"
    for label in checks:   # 空白作答的检查紧跟题目，通过的检查紧跟这道题答案的最后一个单元
        empty, passed = ids.index(f"{label}-empty"), ids.index(f"{label}-pass")
        assert student_edition.exercise_label(copy.cells[empty - 1]) == label
        assert copy.cells[passed - 1] is kept[[c["id"] for c in kept].index(solutions[label][-1]["id"])]
        assert copy.cells[empty]["outputs"] == copy.cells[passed]["outputs"] == []


def toy_notebook(solution, check, names=("x",)):
    nb = nbformat.v4.new_notebook()
    cells = [nbformat.v4.new_code_cell("y = 0"),
             nbformat.v4.new_markdown_cell(":::{exercise}\n:label: ex-toy-1\n\n求 x。\n:::"),
             nbformat.v4.new_markdown_cell(":::{solution-start} ex-toy-1\n:class: dropdown\n:::"),
             nbformat.v4.new_code_cell(solution),
             nbformat.v4.new_markdown_cell(":::{solution-end}\n:::"),
             nbformat.v4.new_code_cell("assert y == 0 and '_ns' not in globals()")]
    for cell in cells[2:5]:
        cell["metadata"]["tags"] = ["solution"]
    nb.cells = cells
    return student_edition.verification_notebook(nb, {"ex-toy-1": (list(names), check)})


def test_verification_cells_fail_when_the_check_or_the_answer_is_wrong():
    run_cells(toy_notebook("x = 3", "assert x == 3, \"x 应为 3\"\n"))   # 正确的答案与检查：通过，不影响后面的单元
    with pytest.raises(AssertionError, match="x 应为 3"):
        run_cells(toy_notebook("x = 4", "assert x == 3, \"x 应为 3\"\n"))
    with pytest.raises(AssertionError, match="空白作答时检查单元应该失败"):
        run_cells(toy_notebook("x = 3", "assert True\n", names=()))
    with pytest.raises(AssertionError, match="应给出中文说明"):
        run_cells(toy_notebook("x = 3", "assert 'x' in globals(), 'x is missing'\n", names=()))
