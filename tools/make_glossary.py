"""从 glossary_terms.yml 生成术语表页 glossary.md（MyST 的 glossary 指令）。

术语只在 glossary_terms.yml 里写一次：中文译名、英文术语、首次引入它的那一节。本脚本按书中的顺序把它们
分章写成 glossary.md；tests/test_glossary.py 核对提交的页面与本脚本的输出一致，并对照各节的正文检查来源。

用法：python -m tools.make_glossary          # 重写 glossary.md
      python -m tools.make_glossary --check  # 只检查，不一致时退出码为 1
"""
import argparse
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "glossary_terms.yml"
PAGE = ROOT / "glossary.md"

HEADER = """# 术语表

<!-- 本页由 tools/make_glossary.py 从 glossary_terms.yml 生成，请修改 glossary_terms.yml 后重新生成，不要直接编辑。 -->

全书统一使用下列译名。术语在书中第一次出现时写成“中文（English）”，此后只写中文。下面按术语第一次出现的先后分章排列，每个术语后面是它的英文和首次引入它的那一节；书中用到的数学记号见 {doc}`notation`。
"""


def load_terms(path=SOURCE):
    """glossary_terms.yml 中的术语：每项有 zh（中文）、en（英文）、doc（首次引入它的那一节）。"""
    terms = yaml.safe_load(path.read_text(encoding="utf-8"))
    for term in terms:
        if set(term) != {"zh", "en", "doc"} or not all(isinstance(v, str) and v.strip() for v in term.values()):
            raise ValueError(f"glossary_terms.yml 的条目应恰好有非空的 zh、en、doc 三项：{term}")
    return terms


def doc_text(doc):
    """一篇文档的正文：.md 文件的全文，或 .ipynb 中所有 Markdown 单元（用空行连接）。"""
    notebook, markdown = ROOT / f"{doc}.ipynb", ROOT / f"{doc}.md"
    if notebook.is_file():
        cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
        return "\n\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return markdown.read_text(encoding="utf-8")


def group_title(doc):
    """术语分组的标题：正文各章用该章 index.md 的一级标题，根目录下的页面归入“前言”。"""
    parts = doc.split("/")
    if len(parts) < 3:
        return "前言"
    index = ROOT / parts[0] / parts[1] / "index.md"
    if index.is_file():
        return index.read_text(encoding="utf-8").splitlines()[0].removeprefix("# ").strip()
    return {"appendix": "附录"}.get(parts[1], parts[1])


def render(terms):
    """glossary.md 的全文：每组一个二级标题和一个 glossary 指令，组与组、组内的术语都保持 glossary_terms.yml 的顺序。"""
    lines = [HEADER]
    current = None
    for term in terms:
        title = group_title(term["doc"])
        if title != current:
            if current is not None:
                lines[-1:] = ["```", ""]
            lines += [f"## {title}\n", "```{glossary}"]
            current = title
        lines += [term["zh"], f"  {term['en']}；首次出现：{{doc}}`{term['doc']}`", ""]
    if current is not None:
        lines[-1] = "```"
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="只检查 glossary.md 是否与 glossary_terms.yml 一致")
    args = parser.parse_args(argv)
    text = render(load_terms())
    if args.check:
        if PAGE.read_text(encoding="utf-8") != text:
            sys.exit("glossary.md 与 glossary_terms.yml 不一致：请运行 python -m tools.make_glossary")
        return
    PAGE.write_text(text, encoding="utf-8")
    print(f"已写入 {PAGE.relative_to(ROOT)}（{len(load_terms())} 个术语）")


if __name__ == "__main__":
    main()
