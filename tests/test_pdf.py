"""PDF 版（make pdf，tools/make_pdf.py）：页数合理，目录与书签齐全，每章每节的标题都在，公式已排版（文字层里没有
TeX 分隔符），字体都已嵌入，图都在，代码行没有折断，参考答案在书末。

PDF 只生成一次：make pdf 写的 _build/pdf/cnn-book.pdf 比所有源文件新就直接用，否则在临时目录里生成（两核上约 2 分钟）。
"""
import json
import re
import sys
import unicodedata
from pathlib import Path

import pytest
import yaml

from tools import make_pdf

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("_config.yml", "_toc.yml", "*.md", "references.bib", "chapters/**/*.ipynb", "chapters/**/*.md",
           "tools/make_pdf.py")
# 不印的代码单元（网页上也收起或删去）
HIDDEN_CODE = {"hide-input", "remove-input", "remove-cell"}
HIDDEN_OUTPUT = {"hide-output", "remove-output", "remove-cell"}


def compact(text):
    return re.sub(r"\s+", "", text)


def fresh_pdf():
    """make pdf 写的 PDF；比任何源文件旧（或不存在）时返回 None。"""
    pdf = make_pdf.OUT / make_pdf.PDF_NAME
    if not pdf.is_file():
        return None
    newest = max(p.stat().st_mtime for pattern in SOURCES for p in ROOT.glob(pattern))
    return pdf if pdf.stat().st_mtime >= newest else None


@pytest.fixture(scope="module")
def pdf(tmp_path_factory):
    built = fresh_pdf()
    if built is not None:
        return built
    if make_pdf.find_chromium() is None:
        pytest.skip("没有 Chromium，不能打印 PDF：Debian 上 apt-get install chromium（make test / make pdf 以 root 运行时自动安装）")
    if not (Path(sys.executable).parent / "jupyter-book").exists():
        pytest.skip("没有新生成的 _build/pdf/cnn-book.pdf，也没有 jupyter-book：先运行 make pdf，或 pip install -e '.[book]'")
    out = tmp_path_factory.mktemp("pdf")
    assert make_pdf.main(["--out", str(out)]) == 0
    return out / make_pdf.PDF_NAME


@pytest.fixture(scope="module")
def reader(pdf):
    from pypdf import PdfReader

    return PdfReader(pdf)


@pytest.fixture(scope="module")
def pages(reader):
    """每一页的文字层。"""
    return [page.extract_text() for page in reader.pages]


@pytest.fixture(scope="module")
def outline(reader):
    """书签：[(标题, 页码（从 1 起）)]。"""
    found = []

    def walk(items):
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                found.append((item.title, reader.get_destination_page_number(item) + 1))

    walk(reader.outline)
    return found


def title_of(path):
    """一个源文件的标题：.md 的第一个一级标题，.ipynb 第一个 Markdown 单元的一级标题。"""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        text = "".join(next(c for c in cells if c["cell_type"] == "markdown")["source"])
    else:
        text = path.read_text(encoding="utf-8")
    return re.search(r"^# (.+)$", text, re.M)[1].strip()


def source_file(entry):
    return next(ROOT.glob(entry["file"] + ".*"))


def toc_titles():
    """_toc.yml 里除首页外每个文件的标题；“正文”部分带网页版的编号（“1. 卷积基础”“1.1. 为什么用卷积”）。"""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    titles = []
    for part in toc["parts"]:
        for i, chapter in enumerate(part["chapters"], 1):
            prefix = f"{i}. " if part.get("numbered") else ""
            titles.append(prefix + title_of(source_file(chapter)))
            for j, section in enumerate(chapter.get("sections", []), 1):
                titles.append((f"{i}.{j}. " if part.get("numbered") else "") + title_of(source_file(section)))
    return titles


def notebook_cells():
    for path in sorted((ROOT / "chapters").rglob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            yield path, cell, set(cell.get("metadata", {}).get("tags", []))


def width(line):
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


def test_page_count_is_sane(reader):
    # 今天约 420 页 A4：少一半说明丢了章节，多一倍说明印刷样式坏了（例如每个元素各占一页）
    assert 200 <= len(reader.pages) <= 800, len(reader.pages)


def test_every_chapter_and_section_is_in_the_toc_the_bookmarks_and_the_text(pages, outline):
    # 目录在书名页之后：每行是“标题 页码”
    toc = {}
    for line in "\n".join(pages[:4]).splitlines():
        m = re.fullmatch(r"(.+?)\s*(\d+)", line.strip())
        if m:
            toc.setdefault(compact(m[1]), int(m[2]))
    assert "目录" in compact(pages[1]) and "参考答案" in toc
    marks = {}
    for title, page in outline:
        marks.setdefault(compact(title), page)
    for title in toc_titles():
        page = toc.get(compact(title))
        assert page, f"目录里没有“{title}”或它的页码"
        assert compact(title) in compact(pages[page - 1]), f"目录说“{title}”在第 {page} 页，那一页上没有它"
        # 书签：同一个标题，指向同一页
        assert marks.get(compact(title)) == page, f"书签里没有“{title}”，或它不指向第 {page} 页"
    # 每章的标题（chapters/*/index.md）带着编号出现在目录里
    chapters = [title_of(p) for p in sorted((ROOT / "chapters").glob("*/index.md"))]
    assert len(chapters) >= 4
    for chapter in chapters:
        assert any(re.fullmatch(r"\d+\." + re.escape(compact(chapter)), key) for key in toc), chapter


def test_formulas_are_typeset_and_the_text_layer_is_clean(pages):
    text = "\n".join(pages)
    for raw in ("\\(", "\\)", "$$", "\\begin{"):
        assert raw not in text, f"文字层里有原始 TeX {raw!r}：MathJax 没有在打印前排完公式"
    # ToUnicode 指向康熙部首（“⽹”而不是“网”）时，PDF 里搜不到中文词
    assert not make_pdf.RADICALS.search(text), make_pdf.RADICALS.findall(text)[:10]
    for word in ("卷积神经网络", "互相关运算", "批量规范化", "图 1.1"):
        assert compact(word) in compact(text), word


def test_all_fonts_are_embedded(reader, pages):
    missing = set()
    for page in reader.pages:
        for font in make_pdf.fonts(page.get("/Resources")):
            if font["/Subtype"] == "/Type3":   # 字形以绘图指令内嵌在 /CharProcs 里
                if not font.get("/CharProcs"):
                    missing.add("Type3 字体没有字形")
                continue
            descriptor = (font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font)
            descriptor = descriptor.get("/FontDescriptor")
            files = ("/FontFile", "/FontFile2", "/FontFile3")
            if descriptor is None or not any(k in descriptor.get_object() for k in files):
                missing.add(str(font.get("/BaseFont")))
    assert not missing, f"没有嵌入的字体：{sorted(missing)}"
    # 所有字体都嵌入了，而文字层里大量是汉字：中文字体也就嵌入了
    assert sum(len(re.findall(r"[\u4e00-\u9fff]", p)) for p in pages) > 50_000


def test_every_figure_is_in_the_pdf(reader):
    images = set()
    for page in reader.pages:
        xobjects = page["/Resources"].get("/XObject", {})
        for ref in xobjects.values():
            if ref.get_object().get("/Subtype") == "/Image":
                images.add(ref.idnum)
    expected = sum(1 for _, cell, tags in notebook_cells() if cell["cell_type"] == "code" and not tags & HIDDEN_OUTPUT
                   for out in cell.get("outputs", []) if "image/png" in out.get("data", {}))
    assert expected > 30 and len(images) >= expected, f"笔记本里有 {expected} 张图，PDF 里只有 {len(images)} 张"


def test_the_widest_code_lines_are_not_broken(pages):
    # 代码单元至多 80 列（汉字算两列）；最宽的那些行在 PDF 里各自仍是完整的一行（make pdf 发现折行时也会报错）
    lines = "\n".join(compact(line) for page in pages for line in page.splitlines())
    widest = [line for _, cell, tags in notebook_cells() if cell["cell_type"] == "code" and not tags & HIDDEN_CODE
              for line in "".join(cell["source"]).splitlines() if width(line) >= 78]
    assert widest, "找不到接近 80 列的代码行：选错了阈值？"
    broken = [line for line in widest if compact(line) not in lines]
    assert not broken, f"{len(broken)}/{len(widest)} 行代码在 PDF 里断成了几行，例如 {broken[0]!r}"


def test_solutions_are_in_the_appendix(pages, outline):
    exercises = sum("".join(cell["source"]).count("{exercise}") for _, cell, _ in notebook_cells()
                    if cell["cell_type"] == "markdown")
    [start] = [page for title, page in outline if title == "参考答案"]
    body, appendix = compact("".join(pages[:start - 1])), compact("".join(pages[start - 1:]))
    assert "解答练习" not in body, "正文里还有展开的参考答案"
    assert appendix.count("解答练习") == exercises
    # 正文的练习按章编号（练习 1.6），附录里的不分章（练习 1）
    assert len(re.findall(r"练习\d+(?:\.\d+)?（答案）", body)) == exercises, "每道题旁应有一个指向答案的链接"


def test_how_to_use_links_the_pdf():
    # 网页版“如何使用本书”链接到 make pdf 复制进 _build/html/ 的文件
    page = (ROOT / "how_to_use.md").read_text(encoding="utf-8")
    assert f'<a href="{make_pdf.PDF_NAME}">' in page
    assert "make pdf" in page


def test_toc_page_numbers_follow_the_bookmarks_in_order():
    outline = [("前言", 3), ("练习", 5), ("1. 卷积基础", 10), ("练习", 20), ("2. 经典", 30)]
    assert make_pdf.toc_pages(["1. 卷积基础", "缺了的", "2. 经典"], outline) == [10, None, 30]
    assert make_pdf.undouble("练习练习") == "练习" and make_pdf.undouble("1.1. 卷积") == "1.1. 卷积"
