"""术语表：glossary.md 由 glossary_terms.yml 生成；glossary_terms.yml 说的“首次引入”与各节的正文一致。"""
import re

import pytest

import cnnlib
from tools import make_glossary as mg

TERMS = mg.load_terms()
ORDER = cnnlib.results.book_order(mg.ROOT)

# 已知与规则不符、正文待改的术语（xfail，strict：改好正文后会变成意外通过，提醒把它删掉）
LATE_ENGLISH = set()


def introduction(term):
    """“中文（English）”的写法：中文后可以有加粗的 **，括号里以英文术语开头（大小写不论），后接 ）、，或 ,。"""
    return re.compile(re.escape(term["zh"]) + r"\**（" + re.escape(term["en"]) + r"[），,]", re.I)


def prose_paragraphs(text):
    """正文段落：按空行分段，去掉标题行（标题里的术语不算“使用”）。"""
    paragraphs = ("\n".join(line for line in p.split("\n") if not line.lstrip().startswith("#"))
                  for p in re.split(r"\n\s*\n", text))
    return [p for p in paragraphs if p.strip()]


def test_committed_page_is_the_generated_one():
    assert mg.PAGE.read_text(encoding="utf-8") == mg.render(TERMS), \
        "glossary.md 与 glossary_terms.yml 不一致：请运行 python -m tools.make_glossary"


def test_render_groups_terms_by_chapter_in_order():
    fake = [{"zh": "甲", "en": "alpha", "doc": "intro"},
            {"zh": "乙", "en": "beta", "doc": "chapters/ch01_basics/conv_layer"},
            {"zh": "丙", "en": "gamma", "doc": "chapters/ch01_basics/pooling"}]
    page = mg.render(fake)
    assert page.count("```{glossary}") == 2 and page.count("\n```\n") == 2
    assert page.index("## 前言") < page.index("甲\n  alpha；") < page.index("## 卷积基础") < page.index("丙\n  gamma")
    assert "{doc}`chapters/ch01_basics/conv_layer`" in page


def test_terms_are_unique_and_in_reading_order():
    for key in ("zh", "en"):
        values = [t[key].lower() for t in TERMS]
        assert len(values) == len(set(values)), f"glossary_terms.yml 中有重复的 {key}"
    for term in TERMS:
        assert term["doc"] in ORDER, f"{term['zh']}：{term['doc']} 不在 _toc.yml 中"
    positions = [ORDER.index(t["doc"]) for t in TERMS]
    assert positions == sorted(positions), "glossary_terms.yml 应按首次引入的那一节在书中的先后排列"


def test_glossary_page_is_in_the_toc():
    assert "glossary" in ORDER and "notation" in ORDER


@pytest.mark.parametrize("term", TERMS, ids=lambda t: t["zh"])
def test_term_is_first_introduced_where_the_glossary_says(term, request):
    if term["zh"] in LATE_ENGLISH:
        request.applymarker(pytest.mark.xfail(strict=True, reason="正文在概述里先用了几次中文，后面才写英文"))
    pattern = introduction(term)
    text = mg.doc_text(term["doc"])
    assert term["zh"] in text, f"{term['doc']} 中没有“{term['zh']}”"
    # 书中更早的各节不应已经写出“中文（English）”：那样首次引入的就是那一节
    earlier = [d for d in ORDER[:ORDER.index(term["doc"])] if pattern.search(mg.doc_text(d))]
    assert not earlier, f"“{term['zh']}（{term['en']}）”在 {earlier[0]} 中就出现了"
    # 在这一节里，英文要紧跟在它第一次出现的地方：用到这个术语的前两个正文段落之一
    # （一节的导语常常先概述要讲的几个概念，到下一段才给出定义）
    using = [p for p in prose_paragraphs(text) if term["zh"] in p]
    assert any(pattern.search(p) for p in using[:2]), \
        f"{term['doc']}：“{term['zh']}”第一次出现时没有写成“{term['zh']}（{term['en']}）”"


def test_introduction_pattern_matches_how_the_chapters_write_it():
    cc = {"zh": "互相关", "en": "cross-correlation", "doc": ""}
    assert introduction(cc).search("上式在数学上叫互相关（cross-correlation）而不是卷积")
    assert introduction(cc).search("**互相关**（Cross-correlation，")
    assert not introduction(cc).search("互相关（correlation）")
    assert not introduction(cc).search("互相关运算")
    assert prose_paragraphs("# 标题 互相关\n\n第一段\n\n## 小节\n第二段") == ["第一段", "第二段"]
