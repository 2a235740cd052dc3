"""全书能以 -W（警告即错误）构建，并且中文搜索、Colab 按钮、折叠答案都在；在断网的无头 Chromium 里公式、图、训练输出、搜索和答案都显示正确。"""
import json
import re
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


SOURCES = ("_config.yml", "_toc.yml", "*.md", "references.bib", "chapters/**/*.ipynb", "chapters/**/*.md")


def fresh_build():
    """make book 构建的 _build/html；比任何源文件旧（或不存在）时返回 None。"""
    index = ROOT / "_build" / "html" / "index.html"
    if not index.is_file():
        return None
    newest = max(p.stat().st_mtime for pattern in SOURCES for p in ROOT.glob(pattern))
    return index.parent if index.stat().st_mtime >= newest else None


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    # make test 先运行 make book：这里直接检查那次构建，不再构建第二遍
    built = fresh_build()
    if built is not None:
        return built
    jb = Path(sys.executable).parent / "jupyter-book"
    if not jb.exists():
        pytest.skip("没有新构建的 _build/html，也没有 jupyter-book：先运行 make book，或 pip install -e '.[book]'")
    out = tmp_path_factory.mktemp("book")
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
    # sphinx-exercise：题目是编号的 {exercise}，答案是 :class: dropdown 的 {solution}（togglebutton 折叠，按钮为中文）
    assert re.search(r'<div class="exercise admonition" id="ex-conv-layer-1">\s*<p class="admonition-title">'
                     r'<span class="caption-number">练习 1\.\d+ </span>', page)
    assert page.count('<div class="solution dropdown admonition"') >= 3
    assert '<p class="admonition-title">解答<a class="reference internal" href="#ex-conv-layer-1">' in page
    assert "let toggleHintShow = '显示答案';" in page
    bib = (html / "bibliography.html").read_text(encoding="utf-8")
    assert re.search(r"LeCun|Krizhevsky|Zhang", bib)


# ---- 在断网的无头 Chromium 里看真实页面（tools/check_html.py；make check-html 也运行它）----

from tools import check_html  # noqa: E402


@pytest.fixture(scope="module")
def browser():
    exe = check_html.find_chromium()
    if exe is None:
        pytest.skip("没有 Chromium：make check-html / make test 会在 Debian 上以 root 安装（apt-get install chromium）")
    return check_html.Browser(exe)


@contextmanager
def probe_page(html, page, edit):
    """在 page 旁边放一个改动过的副本（相对链接照样有效），用完删除，返回它相对 html 的路径。"""
    src = html / page
    probe = src.with_name("_probe_" + src.name)
    text = src.read_text(encoding="utf-8")
    changed = edit(text)
    assert changed != text, "探针没有改动页面：页面结构变了？"
    probe.write_text(changed, encoding="utf-8")
    try:
        yield str(probe.relative_to(html))
    finally:
        probe.unlink()


def test_book_renders_offline_in_headless_chromium(html, browser, tmp_path):
    results = check_html.run(html, tmp_path, browser, log=lambda *args: None)
    failed = {name: failures for name, failures in results.items() if failures}
    assert not failed, "\n".join(f"{name}: {failures}" for name, failures in failed.items())
    shots = sorted(p.name for p in tmp_path.glob("*.png"))
    assert shots == ["figure.png", "math.png", "search.png", "solution.png", "training.png"]
    assert not list(tmp_path.glob(".*")), "截图用的临时页面没有删掉"


def test_math_check_fails_when_mathjax_comes_from_a_cdn(html, browser):
    # 同一页改为从 CDN 加载 MathJax：断网的浏览器里公式停留在原始 TeX，检查必须失败
    page = check_html.MATH_PAGES[0]
    cdn = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js"
    with probe_page(html, page, lambda t: re.sub(r'src="[^"]*_static/mathjax/[^"]*"', f'src="{cdn}"', t)) as probe:
        failures = check_html.check_math(browser, html, probe)
    assert any("被 MathJax 排版" in f for f in failures), failures
    assert any("原始 TeX" in f for f in failures), failures


def test_training_check_rejects_an_unfinished_progress_line(html, browser):
    def stall(text):
        return re.sub(r"100%\|█+\| (\d+)/\1", lambda m: f" 30%|███       | 7/{m[1]}", text, count=1)

    with probe_page(html, check_html.TRAIN_PAGE, stall) as probe:
        failures = check_html.check_training(browser, html, probe)
    assert any("不是完成状态" in f and "30%" in f for f in failures), failures


SOLUTION_VARIANTS = {
    # <details> 写法，但默认展开
    "open-details": ('<details class="solution" open=""><summary>参考答案</summary>{body}</details>', False),
    # sphinx-exercise 的 :class: dropdown 答案：togglebutton 的 JavaScript 把它折叠
    "dropdown": ('<div class="solution dropdown admonition"><p class="admonition-title">参考答案</p>{body}</div>', True),
    # 没有 dropdown 的 sphinx-exercise 答案：一直展开
    "plain-admonition": ('<div class="solution admonition"><p class="admonition-title">参考答案</p>{body}</div>', False),
}


def rewrite_solutions(template):
    """把页面上每个答案（不论今天是 <details> 还是 sphinx-exercise 的 div）改写成 template 的形式。"""
    def edit(text):
        page = check_html.soup(text)
        for el in page.find_all(["details", "div"], class_="solution"):
            body = "".join(str(child) for child in el.children
                           if getattr(child, "name", None) != "summary"
                           and "admonition-title" not in (child.get("class") or [] if hasattr(child, "get") else []))
            el.replace_with(check_html.soup(template.format(body=body)))
        return str(page)
    return edit


@pytest.mark.parametrize("variant", sorted(SOLUTION_VARIANTS))
def test_solution_check_accepts_only_collapsed_solutions(html, browser, variant):
    template, collapsed = SOLUTION_VARIANTS[variant]
    with probe_page(html, check_html.SOLUTION_PAGE, rewrite_solutions(template)) as probe:
        failures = check_html.check_solutions(browser, html, probe)
    assert (failures == []) == collapsed, failures
