"""笔记本的卫生检查：提交的输出来自真实执行，结构符合 CONTRIBUTING.md 的约定。"""
import json
import re
from pathlib import Path

import pytest
import yaml

import cnnlib

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p for p in (ROOT / "chapters").rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
REPO_URL = CONFIG["repository"]["url"]
BIB_KEYS = set(re.findall(r"@\w+\{([^,\s]+),", (ROOT / "references.bib").read_text(encoding="utf-8")))


def load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def output_text(cell):
    parts = []
    for out in cell.get("outputs", []):
        parts.append("".join(out.get("text", "")))
        for value in out.get("data", {}).values():
            if isinstance(value, (str, list)):
                parts.append("".join(value))
    return "".join(parts)


def toc_files():
    return cnnlib.results.book_order(ROOT)


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 5


def test_every_notebook_is_in_the_toc_and_vice_versa():
    listed = set(toc_files())
    for nb in NOTEBOOKS:
        assert str(nb.relative_to(ROOT).with_suffix("")) in listed, f"{nb} 不在 _toc.yml 中"
    for entry in listed:
        matches = list(ROOT.glob(entry + ".*"))
        assert len(matches) == 1, f"_toc.yml 中的 {entry} 应恰好对应一个 .md 或 .ipynb 文件，找到 {matches}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_outputs_come_from_a_real_run(path):
    nb = load(path)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    counts = [c.get("execution_count") for c in code]
    assert None not in counts, f"有未执行的代码单元：{path.name}"
    assert counts == list(range(1, len(code) + 1)), f"代码单元未按顺序从头执行：{counts}"
    assert sum(len(c.get("outputs", [])) for c in code) >= len(code) // 3, "输出过少，像是没有真实执行"
    # 书中执行用纯文本进度条；小部件状态只能是过时的残留（网页上显示为空白或 "0%"）
    assert "widgets" not in nb["metadata"], "笔记本元数据里有小部件状态（widget state）：请用 make results 重新执行"
    for cell in code:
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"提交了错误输出：{source(cell)[:80]}"
            assert not (out["output_type"] == "stream" and out.get("name") == "stderr"
                        and "Warning" in "".join(out.get("text", ""))), f"提交了警告：{out}"
        assert not re.search(r"budget\s*[=:]\s*smoke", output_text(cell)), "提交的输出来自 smoke 预算"
        outs = cell.get("outputs", [])
        for a, b in zip(outs, outs[1:]):   # 输出流应已合并（coalesce_streams）：网页上才是一整块
            assert not (a["output_type"] == b["output_type"] == "stream" and a["name"] == b["name"]), \
                f"同一单元的 {a['name']} 输出被拆成了几段：请用 make results 重新执行：{source(cell)[:60]}"
        assert not re.search(r"(^|\r|\n)[^\n\r]*\b0%\|", output_text(cell)), "输出里留着停在 0% 的进度条"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_run_took_at_most_ten_minutes(path):
    # 正文说 small 预算下每个笔记本在两核 CPU 上 10 分钟以内跑完：用提交的那次执行的时间戳核对
    from datetime import datetime
    stamps = [c["metadata"].get("execution", {}) for c in load(path)["cells"] if c["cell_type"] == "code"]
    assert all("iopub.status.busy" in s and "iopub.status.idle" in s for s in stamps), "缺少执行时间戳"
    t = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    minutes = (t(stamps[-1]["iopub.status.idle"]) - t(stamps[0]["iopub.status.busy"])).total_seconds() / 60
    assert minutes <= 10, f"{path.name} 提交的那次执行用了 {minutes:.1f} 分钟"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_structure_title_colab_cell_and_exercises(path):
    nb = load(path)
    cells = nb["cells"]
    assert cells[0]["cell_type"] == "markdown" and source(cells[0]).startswith("# ")
    h1 = [c for c in cells if c["cell_type"] == "markdown" and re.search(r"^# ", source(c), re.M)]
    assert len(h1) == 1, "每个笔记本只能有一个一级标题"
    first_code = next(c for c in cells if c["cell_type"] == "code")
    src = source(first_code)
    assert '"google.colab" in sys.modules' in src, "第一个代码单元应是 Colab 安装单元"
    assert f"cnnlib @ git+{REPO_URL}@{CONFIG['repository']['branch']}" in src, \
        f"Colab 安装单元的地址应与 _config.yml 的 repository.url（{REPO_URL}）一致"
    assert first_code.get("outputs", []) == [], "Colab 安装单元在本地不应产生输出"

    # 练习（CONTRIBUTING.md）：sphinx-exercise 的 {exercise}，每题之后是带 solution 标签的折叠答案：
    # {solution}（只有文字），或 {solution-start} …答案代码单元… {solution-end}
    start = next((i for i, c in enumerate(cells)
                  if c["cell_type"] == "markdown" and re.search(r"^## 练习[ \t]*$", source(c), re.M)), None)
    assert start is not None, "缺少“## 练习”一节"
    section = cells[start:]
    section_md = "\n".join(source(c) for c in section if c["cell_type"] == "markdown")
    assert not re.search(r"^### 练习 \d+|<details", section_md, re.M), \
        "练习要用 sphinx-exercise 的 {exercise} / {solution}（见 CONTRIBUTING.md），不用旧的“### 练习 n”和 <details>"
    labels, solved, gated = [], [], None   # gated：[标签, 代码单元个数]，在 solution-start 与 solution-end 之间
    for cell in section:
        text, tags = source(cell), cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] == "code":
            assert gated, f"练习一节里的代码单元应在 solution-start 与 solution-end 之间：{text[:60]}"
            assert {"solution", "hide-cell"} <= set(tags), f"答案代码单元要有 solution、hide-cell 标签：{text[:60]}"
            gated[1] += 1
        elif "solution" not in tags:
            assert gated is None, f"solution-start 与 solution-end 之间的 Markdown 单元也要有 solution 标签：{text[:60]}"
            assert ":::{solution" not in text, f"答案单元要有 solution 标签（学生版靠它删除答案）：{text[:60]}"
            for label, question in re.findall(r"^:::\{exercise\}\n:label: (\S+)\n(.*?)\n:::$", text, re.M | re.S):
                assert question.strip(), f"{label} 没有题目"
                labels.append(label)
        elif m := re.match(r":::\{solution(-start)?\} (\S+)\n:class: dropdown\n", text):
            assert gated is None and labels and m[2] == labels[-1] and m[2] not in solved, \
                f"答案 {m[2]} 应紧跟在它的练习之后，且只有一份"
            solved.append(m[2])
            body = text[m.end():].strip()
            if m[1]:
                gated = [m[2], 0]
                assert body.startswith(":::") and body[3:].strip(), f"{m[2]} 的答案要有文字说明"
            else:
                assert body.endswith(":::") and body[:-3].strip(), f"{m[2]} 的答案要有文字说明"
        else:
            assert re.fullmatch(r":::\{solution-end\}\n:::\s*", text), f"无法识别的答案单元：{text[:60]}"
            assert gated and gated[1] >= 1, "solution-start 与 solution-end 之间至少要有一个代码单元（没有代码时用 {solution}）"
            gated = None
    assert gated is None, f"{gated and gated[0]} 的 solution-start 缺少对应的 solution-end"
    stem = path.stem.replace("_", "-")
    assert len(labels) >= 3 and labels == [f"ex-{stem}-{n}" for n in range(1, len(labels) + 1)], f"练习标签：{labels}"
    assert solved == labels, "每道练习都要有折叠的参考答案"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_solution_cells_are_hidden_and_citations_exist(path):
    nb = load(path)
    for cell in nb["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        if "solution" in tags:   # 答案代码单元在网页上折叠；带 solution 标签的 Markdown 单元只能是答案指令
            assert ("hide-cell" in tags) if cell["cell_type"] == "code" else source(cell).startswith(":::{solution")
        if cell["cell_type"] == "markdown":
            for keys in re.findall(r"\{cite(?::\w+)?\}`([^`]+)`", source(cell)):
                for key in keys.split(","):
                    assert key.strip() in BIB_KEYS, f"references.bib 中没有 {key}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_kernel_metadata(path):
    nb = load(path)
    assert nb["metadata"]["kernelspec"]["name"] == "python3"


CJK = "\u3000-\u303f\u4e00-\u9fff\uff00-\uffef"
# 另起一行也不会变成空格的行首：空行、列表、标题、表格、公式块、HTML、围栏、引用
STRUCTURAL = re.compile(r"^\s*([-*+] |\d+[.)] |#|\||\$\$|<|:::|```|>|\\\[|\\\]|\\begin|\\end|$)")


def soft_breaks_after_chinese(text):
    """以汉字或全角标点结尾、下一行接着写正文的位置：网页上这里会多出一个空格。"""
    found, lines, fence, math = [], text.split("\n"), False, False
    for i, line in enumerate(lines):
        s = line.strip()
        if s.startswith("```"):
            fence = not fence
        if s.startswith("$$") and not (len(s) > 2 and s.endswith("$$")):
            math = not math
        if fence or math or i + 1 == len(lines):
            continue
        if re.search(rf"[{CJK}]$", line) and not STRUCTURAL.match(lines[i + 1]):
            found.append(line[-12:] + "⏎" + lines[i + 1][:12])
    return found


def test_soft_break_detector():
    assert soft_breaks_after_chinese("第一句，\n第二句。") == ["第一句，⏎第二句。"]
    assert soft_breaks_after_chinese("公式如下：\n$x$ 是输入。")          # 下一行以公式开头也算
    assert soft_breaks_after_chinese("列表：\n\n- 一项\n- 两项") == []
    assert soft_breaks_after_chinese("```\n代码，\n注释\n```") == []


@pytest.mark.parametrize("path", [*NOTEBOOKS, *sorted((ROOT / "chapters").rglob("*.md")), ROOT / "intro.md"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_chinese_paragraphs_are_not_wrapped(path):
    # 段落内的换行在网页上变成空格：汉字或全角标点之后不能断行（列表、公式、表格另起一行不受影响）
    if path.suffix == ".ipynb":
        texts = [source(c) for c in load(path)["cells"] if c["cell_type"] == "markdown"]
    else:
        texts = [path.read_text(encoding="utf-8")]
    for text in texts:
        bad = soft_breaks_after_chinese(text)
        assert not bad, f"{path.name}：段落中间换行 {bad[:3]}"


RECORD = ROOT / "results" / "notebooks.json"
RECORDED = json.loads(RECORD.read_text(encoding="utf-8")) if RECORD.exists() else {}


@pytest.mark.parametrize("rel", sorted(RECORDED), ids=lambda r: Path(r).stem)
def test_execution_record_agrees_with_the_committed_notebook(rel):
    # make results 写下的记录（results/notebooks.json）必须与提交的输出一致：对比表、状态页读的是它
    entry, nb = RECORDED[rel], load(ROOT / rel)
    text = "\n".join(output_text(c) for c in nb["cells"] if c["cell_type"] == "code")
    first_lines = re.findall(r"device=(\S+) \| precision=(\w+) \| \w+ \| budget=(\w+)", text)
    finals = [float(x) for x in re.findall(r"测试准确率 test acc ([0-9.]+)", text)]
    runs = entry["runs"]
    assert len(first_lines) == len(runs), f"{rel}：输出里有 {len(first_lines)} 次训练，记录里有 {len(runs)} 次"
    for (device, precision, budget), run, acc in zip(first_lines, runs, finals):
        assert (run["device"], run["precision"], run["budget"]) == (device, precision, budget)
        assert f"{run['final']['test_acc']:.3f}" == f"{acc:.3f}"
    assert entry["budget"] != "smoke" and all(r["budget"] == entry["budget"] for r in runs)
    assert entry["title"] == source(nb["cells"][0]).splitlines()[0].removeprefix("# ").strip()
    for run in runs:   # 模型对比表要用的字段
        assert run["flops_per_image"] > 0 and len(run["input_shape"]) == 3 and run["examples_per_sec"] > 0
        assert run["batch_size"] >= 1 and run["images"] * run["epochs"] > 0
        # 学习率：常数，或学习率曲线的描述（如 "cosine_lr(peak=0.1, warmup=0.05)"）
        assert run["lr"] > 0 if isinstance(run["lr"], (int, float)) else re.fullmatch(r"\w+\(.*\)", run["lr"])
    from datetime import datetime
    stamps = [c["metadata"]["execution"] for c in nb["cells"] if c["cell_type"] == "code"]
    t0 = datetime.fromisoformat(stamps[0]["iopub.status.busy"].replace("Z", "+00:00"))
    assert abs((t0 - datetime.fromisoformat(entry["executed"])).total_seconds()) < 120, "记录与提交的输出不是同一次执行"


def test_every_notebook_has_an_execution_record():
    # 模型对比表与状态页读 results/notebooks.json：每个笔记本都要有 make results 留下的记录
    missing = {str(p.relative_to(ROOT)) for p in NOTEBOOKS} - set(RECORDED)
    assert not missing, f"results/notebooks.json 缺少这些笔记本的记录（请用 make results 执行）：{sorted(missing)}"


def test_notebooks_that_read_the_record_run_last_and_follow_any_other():
    # 模型对比一节读 results/notebooks.json：make results 执行了别的笔记本，就要跟着重新执行它
    from tools.execute_notebooks import execution_order, reads_record
    readers = [p for p in NOTEBOOKS if reads_record(p)]
    assert sorted(p.stem for p in readers) == ["comparison", "status"]
    lenet = ROOT / "chapters/ch02_classic/lenet.ipynb"
    cmp, status = ROOT / "chapters/ch03_modern/comparison.ipynb", ROOT / "chapters/appendix/status.ipynb"
    # 执行状态页列出模型对比一节的条目（reads_readers）：总在它之后执行
    assert execution_order([cmp, lenet]) == [lenet, cmp, status]
    assert execution_order([lenet]) == [lenet, cmp, status]
    assert execution_order([cmp]) == [cmp]
    assert execution_order([status, cmp]) == [cmp, status]
    assert execution_order([lenet, lenet]) == [lenet, cmp, status]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_code_fits_the_books_column(path):
    # 书的代码栏约 80 列（汉字算两列）：超宽的行在网页上要横向滚动，PDF 里会被截断。
    # python -m tools.format_code 可以自动折行（不改变语法树，验证矩阵不过期）。
    from tools.format_code import WIDTH, wide_lines
    wide = [f"单元 {i}：{line.strip()[:50]}" for i, line in wide_lines(path)]
    assert not wide, f"{len(wide)} 行代码超过 {WIDTH} 列（python -m tools.format_code {path.relative_to(ROOT)}）：{wide[:5]}"
