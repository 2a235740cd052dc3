"""nbgrader 作业（make nbgrader，tools/nbgrader_course.py）：从头到尾走一遍教师的流程。

生成发布版（generate_assignment）→ 经交换目录发给学生（release_assignment、fetch_assignment）→ 学生交回
（submit）→ 收作业（collect）→ 自动评分（autograde）→ 反馈（generate_feedback）。三个“学生”：交参考答案的、
原样交回的、错了一题的。自动评分要执行整个笔记本，所以学生只交第 1 章执行最快、也不读数据集的一节
（多输入多输出通道），并以 smoke 预算评分；没交的各节记 0 分。其余各章只生成发布版并检查它的格式
（生成发布版不执行笔记本）。
"""
import os
import re

import nbformat
import pytest

from tools import nbgrader_course, student_edition
from tools.student_edition import ROOT

pytest.importorskip("nbgrader", reason="需要 nbgrader：pip install -e \".[test]\"（make test 会装）")
from nbgrader.api import Gradebook  # noqa: E402

NOTEBOOKS = nbgrader_course.chapter_notebooks()
ASSIGNMENT = "ch01_basics"
SUBMITTED = ("channels",)   # 学生交的节：每交一节，自动评分就多执行三遍笔记本（每个学生一遍）
# 错的一题：瓶颈结构的乘法次数漏算了 1×1 卷积那一层
WRONG = ("channels", "ex-channels-2", "\nm_bottleneck = conv_mults(16, 32, 5, 5, 28, 28)\n")
REGION = re.compile(r"^### (BEGIN|END) SOLUTION\n?", re.M)


def run(course, *args, env=None):
    proc = nbgrader_course.nbgrader(course, *args, env=env, check=False, capture_output=True, text=True)
    assert proc.returncode == 0, f"nbgrader {' '.join(map(str, args))} 失败：\n{proc.stdout}\n{proc.stderr}"
    return proc


def texts(cell):
    """单元的源码和文字输出。"""
    outputs = cell.get("outputs", [])
    return "\n".join([cell["source"], *("".join(o.get("text", "")) for o in outputs),
                      *("".join(v) for o in outputs for v in o.get("data", {}).values() if isinstance(v, (str, list)))])


def meta(cell):
    return cell["metadata"].get("nbgrader", {})


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """全书的源课程，以及一条命令生成的全部发布版。"""
    course = tmp_path_factory.mktemp("nbgrader") / "course"
    assignments = nbgrader_course.write_course(course)
    assert assignments == sorted({p.parent.name for p in NOTEBOOKS})
    run(course, "generate_assignment", "*", "--force")
    return course


def released(course, path):
    return nbformat.read(course / "release" / path.relative_to(ROOT / "chapters"), as_version=4)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_release_has_every_exercise_and_no_solution(course, path):
    nb, rel = nbformat.read(path, as_version=4), released(course, path)
    source = nbformat.read(course / "source" / path.relative_to(ROOT / "chapters"), as_version=4)
    # 源笔记本：每道题的参考答案（代码与文字）都在解答区域里
    solutions, checks = student_edition.solution_cells(nb), student_edition.checks_for(path)
    regions = {meta(c)["grade_id"]: c["source"] for c in source.cells if meta(c).get("solution")}
    for label, cells in solutions.items():
        for cell in cells:
            if cell["cell_type"] == "code":
                assert cell["source"].strip() in regions[f"{label}-answer"]
        assert REGION.match(regions[f"{label}-text"].split("\n\n", 1)[1])
    # 发布版：答案的任何一行都不在里面（与 tests/test_student.py 相同：正文的单元和输出里本来就有的行除外）。
    # 检查单元不算在内：它们与学生版的检查单元逐字相同（见下），tests/test_student.py 已核对过它们
    public = "\n".join(texts(c) for c in nb.cells if "solution" not in c["metadata"].get("tags", []))
    shipped = "\n".join(c["source"] for c in rel.cells if "check" not in c["metadata"].get("tags", []))
    assert not any("SOLUTION" in c["source"] for c in rel.cells)
    for label, cells in solutions.items():
        lines = {line.strip() for c in cells for line in c["source"].splitlines()}
        leaked = [line for line in lines if len(line) >= 6 and not line.startswith((":::", ":class:"))
                  and line not in public and line in shipped]
        assert not leaked, f"{label} 的答案出现在发布版里：{leaked[:3]}"
    assert not any(c.get("outputs") for c in rel.cells if c["cell_type"] == "code"), "发布版不带输出"
    # 每道题：锁定的题目、文字作答（手工评分）、代码作答，以及自动评分的检查单元（与学生版的检查单元相同）
    # （答案只有文字的题没有代码作答和检查）
    graded = {meta(c)["grade_id"]: c for c in rel.cells if meta(c)}
    with_code = student_edition.labels_with_code(nb)
    assert set(checks) == set(with_code), "每道有代码答案的练习都有检查"
    for label in solutions:
        assert graded[label]["metadata"]["nbgrader"]["locked"]
        text = meta(graded[f"{label}-text"])
        assert graded[f"{label}-text"]["cell_type"] == "markdown" and text["grade"] and text["solution"]
        assert nbgrader_course.TEXT_STUB in graded[f"{label}-text"]["source"]
        if label in with_code:
            assert graded[f"{label}-answer"]["source"] == nbgrader_course.CODE_STUB
            test = graded[f"{label}-check"]
            assert meta(test)["grade"] and meta(test)["locked"] and not meta(test)["solution"]
            assert test["source"] == student_edition.check_source(*checks[label])
        else:
            assert f"{label}-answer" not in graded and f"{label}-check" not in graded
    points = sum(meta(c)["points"] for c in rel.cells if meta(c).get("grade"))
    assert points == len(solutions) * nbgrader_course.POINTS["text"] + len(checks) * nbgrader_course.POINTS["check"]
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", nbgrader_course.COURSE_ID) as gb:
        assert gb.find_notebook(path.stem, path.parent.name).max_score == points


def fill(release, source, wrong=None):
    """学生作答：把发布版的每个作答单元换成源笔记本里的参考答案（去掉解答区域的标记）；wrong=(题目, 代码)
    时在这道题的答案后面加上错的代码。"""
    answers = {meta(c)["grade_id"]: REGION.sub("", c["source"]) for c in source.cells if meta(c).get("solution")}
    for cell in release.cells:
        if meta(cell).get("solution"):
            cell["source"] = answers[meta(cell)["grade_id"]]
            if wrong and meta(cell)["grade_id"] == f"{wrong[0]}-answer":
                cell["source"] += wrong[1]
    return release


def test_round_trip_autograde_gives_full_marks_zero_and_loses_one_exercise(course, tmp_path):
    exchange, students = tmp_path / "exchange", tmp_path / "students"
    exchange.mkdir()
    students.mkdir()
    # 交换目录和学生端的缓存（默认在 ~/.local/share/jupyter）都放在临时目录里
    ex = (f"--Exchange.root={exchange}", f"--Exchange.cache={tmp_path / 'cache'}")
    run(course, "release_assignment", ASSIGNMENT, *ex)
    run(students, "fetch_assignment", ASSIGNMENT, f"--course={nbgrader_course.COURSE_ID}", *ex)
    fetched = students / ASSIGNMENT
    for student in ("ref", "blank", "wrong"):
        work = students / student / ASSIGNMENT
        work.mkdir(parents=True)
        for name in SUBMITTED:
            nb = nbformat.read(fetched / f"{name}.ipynb", as_version=4)
            if student != "blank":
                source = nbformat.read(course / "source" / ASSIGNMENT / f"{name}.ipynb", as_version=4)
                nb = fill(nb, source, WRONG[1:] if student == "wrong" and name == WRONG[0] else None)
            nbformat.write(nb, work / f"{name}.ipynb")
        run(students / student, "submit", ASSIGNMENT, f"--course={nbgrader_course.COURSE_ID}",
            f"--student={student}", *ex)
    run(course, "collect", ASSIGNMENT, *ex)
    assert sorted(p.name for p in (course / "submitted").iterdir()) == ["blank", "ref", "wrong"]
    run(course, "autograde", ASSIGNMENT, env={**os.environ, "CNNLIB_BUDGET": "smoke"})
    run(course, "generate_feedback", ASSIGNMENT)

    scores = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", nbgrader_course.COURSE_ID) as gb:
        for student in ("ref", "blank", "wrong"):
            for name in SUBMITTED:
                sub = gb.find_submission_notebook(name, ASSIGNMENT, student)
                checks = {g.name: g.auto_score == g.max_score for g in sub.grades if g.name.endswith("-check")}
                written = [g for g in sub.grades if g.name.endswith("-text")]
                assert len(checks) == len(written) >= 4
                scores[student, name] = (sub.code_score, sub.max_code_score, checks, written)
        for name in SUBMITTED:
            code, most, checks, written = scores["ref", name]
            assert code == most > 0 and all(checks.values()), f"参考答案应得满分：{checks}"
            assert all(g.needs_manual_grade for g in written), "交了文字解答：等教师手工评分"
            code, most, checks, written = scores["blank", name]
            assert code == 0 and not any(g.needs_manual_grade or g.auto_score for g in written), "原样交回应得 0 分"
            code, most, checks, written = scores["wrong", name]
            lost = [label for label, full in checks.items() if not full]
            assert lost == ([f"{WRONG[1]}-check"] if name == WRONG[0] else []), f"只应错 {WRONG[1]}：{lost}"
            assert code == most - len(lost) * nbgrader_course.POINTS["check"]
        # 教师给文字解答打满分之后，参考答案交的节都是满分；没交的节是 0 分
        for name in SUBMITTED:
            for grade in gb.find_submission_notebook(name, ASSIGNMENT, "ref").grades:
                if grade.needs_manual_grade:
                    grade.manual_score, grade.needs_manual_grade = grade.max_score, False
        gb.db.commit()
        ref = gb.find_submission(ASSIGNMENT, "ref")
        submitted = [nb for nb in ref.notebooks if nb.name in SUBMITTED]
        assert all(nb.score == nb.max_score > 0 for nb in submitted)
        assert ref.score == sum(nb.max_score for nb in submitted) < ref.max_score
        assert gb.find_submission(ASSIGNMENT, "blank").score == 0
    for student in ("ref", "blank", "wrong"):
        for name in SUBMITTED:
            assert (course / "feedback" / student / ASSIGNMENT / f"{name}.html").exists()
