"""全书能以 -W（警告即错误）构建，并且中文搜索、Colab 按钮、折叠答案都在。"""
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    out = tmp_path_factory.mktemp("book")
    jb = Path(sys.executable).parent / "jupyter-book"
    result = subprocess.run([str(jb), "build", str(ROOT), "--path-output", str(out), "-W", "--keep-going"],
                            capture_output=True, text=True)
    assert result.returncode == 0, f"构建失败或有警告：\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return out / "_build" / "html"


def test_index_and_chapters_exist(html):
    assert (html / "index.html").is_file()
    assert (html / "bibliography.html").is_file()
    for nb in (ROOT / "chapters").rglob("*.ipynb"):
        page = html / nb.relative_to(ROOT).with_suffix(".html")
        assert page.is_file(), f"缺少页面 {page}"


def test_chinese_words_are_in_the_search_index(html):
    text = (html / "searchindex.js").read_text(encoding="utf-8")
    payload = json.loads(text[text.index("(") + 1:text.rindex(")")])
    terms = payload["terms"]
    for word in ("卷积", "汇聚", "步幅"):
        assert word in terms, f"搜索索引里没有中文词 {word}（jieba 是否安装？）"


def test_colab_button_uses_the_configured_repository(html):
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    repo = config["repository"]["url"].removeprefix("https://github.com/")
    page = (html / "chapters" / "ch01_basics" / "conv_layer.html").read_text(encoding="utf-8")
    assert f"colab.research.google.com/github/{repo}/blob/main/chapters/ch01_basics/conv_layer.ipynb" in page


def test_solutions_are_collapsed_and_citations_resolve(html):
    page = (html / "chapters" / "ch01_basics" / "conv_layer.html").read_text(encoding="utf-8")
    assert '<details class="solution">' in page
    assert "<summary>参考答案</summary>" in page
    bib = (html / "bibliography.html").read_text(encoding="utf-8")
    assert re.search(r"LeCun|Krizhevsky|Zhang", bib)
