"""把笔记本的练习从旧格式（`### 练习 N` + `<details class="solution">`）改写成 sphinx-exercise 的指令。

用法：
    python tests/convert_exercises.py chapters/ch01_basics/conv_layer.ipynb ...   # 只改这几个
    python tests/convert_exercises.py                                             # chapters/ 下全部
    python tests/convert_exercises.py --check ...                                 # 只报告，不写回

幂等：已经是新格式的笔记本原样保留（--check 时也算通过）。只改 Markdown 单元和单元的元数据，
代码单元的源码和输出一个字节也不动（写回前会核对）。

旧格式（CONTRIBUTING.md 以前的约定）：

    ### 练习 N
    题目……
    <details class="solution"><summary>参考答案</summary>
    答案正文……
    </details>
    （之后零个或多个带 solution、hide-cell 标签的代码单元）

新格式（标签 ex-<笔记本名>-N，下划线换成连字符）：

    :::{exercise}                       ← 题目单元，无标签
    :label: ex-conv-layer-1
    题目……
    :::

没有代码的答案是一个带 solution 标签的 Markdown 单元：

    :::{solution} ex-conv-layer-1
    :class: dropdown
    答案正文……
    :::

有代码的答案用“门控”（gated）的 solution-start / solution-end，把中间的代码单元一起收进折叠块：

    :::{solution-start} ex-conv-layer-1  ← Markdown 单元，标签 solution
    :class: dropdown
    :::
    答案正文……
    （代码单元，标签 solution、hide-cell，原样保留）
    :::{solution-end}                    ← Markdown 单元，标签 solution
    :::
"""
import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
OLD_HEADING = re.compile(r"^### 练习 (\d+)[ \t]*$", re.M)
DETAILS = re.compile(r'<details class="solution">\s*<summary>参考答案</summary>\s*(.*?)\s*</details>', re.S)
SECTION = re.compile(r"^## 练习[ \t]*$", re.M)
# 正文里手写的“练习 N”（本节的）或“{doc}`…` 一节的练习 N”（别的节的）：改成 {numref}`ex-…-N`，
# 这样显示的是与练习标题相同的全书编号（如“练习 2.8”），并链接到题目
REFERENCE = re.compile(r"(?P<doc>\{doc\}`(?:[^`<]*<)?(?P<target>[^`>]+)>?`\s*一节的?)?(?<!#)练习 ?(?P<n>\d+)")
WORD = re.compile(r"[\w\u4e00-\u9fff]")


def label_for(path, n):
    return f"ex-{Path(path).stem.replace('_', '-')}-{n}"


def source(cell):
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def md_cell(text, cell_id, tag_list=()):
    cell = nbformat.v4.new_markdown_cell(text)
    cell["id"] = cell_id
    if tag_list:
        cell["metadata"]["tags"] = list(tag_list)
    return cell


def rewrite_references(text, path):
    def rewrite_line(line):
        def repl(m):
            stem = Path(m["target"]).name if m["target"] else Path(path).stem
            role = f"{{numref}}`{label_for(stem, m['n'])}`"
            head = m["doc"] or ""
            before = head[-1:] if head else line[m.start() - 1:m.start()]
            after = line[m.end():m.end() + 1]
            # 与全书的写法一致：角色紧挨汉字或字母时隔一个空格，紧挨标点或空格时不加
            return (head + (" " if WORD.match(before or " ") else "") + role
                    + (" " if WORD.match(after or " ") else ""))
        return line if OLD_HEADING.match(line) else REFERENCE.sub(repl, line)
    return "\n".join(rewrite_line(line) for line in text.split("\n"))


def is_old_format(nb):
    return any(c["cell_type"] == "markdown" and OLD_HEADING.search(source(c)) for c in nb.cells)


def convert(nb, path):
    """返回改写后的单元列表；nb 不是旧格式时返回 None。"""
    if not is_old_format(nb):
        return None
    cells = nb.cells
    for cell in cells:
        if cell["cell_type"] == "markdown":
            cell["source"] = rewrite_references(source(cell), path)
    start = next(i for i, c in enumerate(cells) if c["cell_type"] == "markdown" and SECTION.search(source(c)))
    out = list(cells[:start])
    i = start
    while i < len(cells):
        cell = cells[i]
        if cell["cell_type"] != "markdown":
            raise ValueError(f"{path}：练习一节里有不属于任何练习的代码单元（第 {i} 个单元）：{source(cell)[:60]}")
        text = source(cell)
        # 一个 Markdown 单元可能含“## 练习”导语和一道或几道练习
        parts = OLD_HEADING.split(text)
        preamble, items = parts[0].rstrip(), list(zip(parts[1::2], parts[2::2]))
        if not items:
            raise ValueError(f"{path}：练习一节里有不以“### 练习 N”开头的 Markdown 单元：{text[:60]}")
        j = i + 1
        code = []
        while j < len(cells) and cells[j]["cell_type"] == "code":
            if "solution" not in tags(cells[j]):
                raise ValueError(f"{path}：练习的答案代码单元没有 solution 标签：{source(cells[j])[:60]}")
            code.append(cells[j])
            j += 1
        for k, (number, body) in enumerate(items):
            m = DETAILS.search(body)
            if not m:
                raise ValueError(f"{path}：练习 {number} 没有 <details class=\"solution\"> 参考答案")
            question, answer, rest = body[:m.start()].strip(), m.group(1).strip(), body[m.end():].strip()
            if rest:
                raise ValueError(f"{path}：练习 {number} 的 </details> 之后还有正文：{rest[:60]}")
            label = label_for(path, number)
            head = preamble + "\n\n" if (k == 0 and preamble) else ""
            ex = md_cell(f"{head}:::{{exercise}}\n:label: {label}\n\n{question}\n:::", label)
            if k == 0:   # 保留原单元的 id 和元数据（题目单元不是答案，不加标签）
                ex["id"], ex["metadata"] = cell["id"], cell["metadata"]
            out.append(ex)
            mine = code if k == len(items) - 1 else []   # 代码单元属于单元里的最后一道练习
            if mine:
                out.append(md_cell(f":::{{solution-start}} {label}\n:class: dropdown\n:::\n\n{answer}",
                                   f"{label}-solution-start", ["solution"]))
                out.extend(mine)
                out.append(md_cell(":::{solution-end}\n:::", f"{label}-solution-end", ["solution"]))
            else:
                out.append(md_cell(f":::{{solution}} {label}\n:class: dropdown\n\n{answer}\n:::",
                                   f"{label}-solution", ["solution"]))
        i = j
    return out


def code_fingerprint(cells):
    return [(source(c), c.get("outputs"), c.get("execution_count"), c["metadata"])
            for c in cells if c["cell_type"] == "code"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="*", type=Path)
    ap.add_argument("--check", action="store_true", help="只检查，发现旧格式时以状态 1 退出")
    args = ap.parse_args(argv)
    paths = args.notebooks or sorted(p for p in (ROOT / "chapters").rglob("*.ipynb")
                                     if ".ipynb_checkpoints" not in p.parts)
    stale = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        before = code_fingerprint(nb.cells)
        new = convert(nb, path)
        if new is None:
            continue
        stale.append(path)
        if args.check:
            print(f"旧格式：{path}")
            continue
        nb.cells = new
        assert code_fingerprint(nb.cells) == before, "代码单元被改动了"
        nbformat.validate(nb)
        path.write_text(nbformat.writes(nb) + "\n", encoding="utf-8")
        print(f"已改写：{path}")
    if args.check and stale:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
