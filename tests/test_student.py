"""学生版（make student，tools/student_edition.py）：不含任何答案；检查单元对答案通过、对空白作答失败。"""
import contextlib
import io
import json
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
    assert (student / "_toc.yml").read_text(encoding="utf-8") == (ROOT / "_toc.yml").read_text(encoding="utf-8")
    assert sorted(p.relative_to(student) for p in (student / "chapters").rglob("*.ipynb")) == \
        sorted(p.relative_to(ROOT) for p in NOTEBOOKS)
    assert not (student / "tests").exists() and not (student / "checks").exists()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_student_edition_contains_no_solution_text_or_code(student, path):
    nb, stu = original(path), student_nb(student, path)
    public = "\n".join(texts(c) for c in nb.cells if "solution" not in tags(c))
    shipped = "\n".join(texts(c) for c in stu.cells)
    # 答案的每一行文字、代码和输出（正文里本来就有的行除外，例如 torch.manual_seed(0)）都不能出现在学生版里
    by_label = {}
    for label, cells in student_edition.solution_cells(nb).items():
        for line in "\n".join(texts(c) for c in cells).splitlines():
            line = line.strip()
            if len(line) >= 6 and not line.startswith((":::", ":class:")) and line not in public:
                by_label.setdefault(label, []).append(line)
    labels = [lb for c in nb.cells if (lb := student_edition.exercise_label(c))]
    assert len(labels) >= 3 and sorted(by_label) == sorted(labels), "每道练习的答案都应有可供检索的独有文字"
    for label, lines in by_label.items():
        leaked = [line for line in lines if line in shipped]
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


def run(code, ns, name):
    with contextlib.redirect_stdout(io.StringIO()) as out:
        exec(compile(code, name, "exec"), ns)
    return out.getvalue()


@pytest.mark.parametrize("path", CHECKED, ids=lambda p: p.stem)
def test_check_cells_pass_after_the_solution_and_fail_after_an_empty_answer(student, path, request, monkeypatch):
    # 在普通的 Python 命名空间里依次执行正文的代码单元（smoke 预算，几秒），然后对每道练习：
    # 空白的“在此作答”单元之后运行检查 → 必须抛出 AssertionError（名字没定义时给出中文提示）；
    # 接着执行提交的答案代码单元 → 同一个检查必须通过。
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    monkeypatch.setenv("CNNLIB_BUDGET", "smoke")
    nb, stu = original(path), student_nb(student, path)
    if "load_fashion_mnist" in json.dumps(nb["cells"], ensure_ascii=False):
        monkeypatch.setenv("CNNLIB_DATA_DIR", str(request.getfixturevalue("data_dir")))
    solutions = {label: [c["source"] for c in cells if c["cell_type"] == "code"]
                 for label, cells in student_edition.solution_cells(nb).items()}
    ns = {"__name__": "__main__"}
    checked = 0
    try:
        cells = stu.cells
        for i, cell in enumerate(cells):
            if cell["cell_type"] != "code" or "check" in tags(cell):
                continue
            if "answer" not in tags(cell):
                run(cell["source"], ns, f"{path.stem}[{i}]")
                continue
            label = student_edition.exercise_label(cells[i - 1])
            check = cells[i + 1] if i + 1 < len(cells) and "check" in tags(cells[i + 1]) else None
            if check is not None:
                empty = dict(ns)
                run(cell["source"], empty, f"{label}-answer")
                with pytest.raises(AssertionError) as failed:
                    run(check["source"], empty, f"{label}-check")
                assert re.search(r"[\u4e00-\u9fff]", str(failed.value)), f"{label}：检查失败时应给出中文说明"
            for code in solutions[label]:   # 后面的练习可能用到前面答案定义的名字
                run(code, ns, f"{label}-solution")
            if check is not None:
                assert "检查通过" in run(check["source"], dict(ns), f"{label}-check"), label
                checked += 1
    finally:
        plt.close("all")
    assert checked == len(student_edition.checks_for(path)) >= 3
