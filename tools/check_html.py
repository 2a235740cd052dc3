#!/usr/bin/env python3
"""在断网的无头 Chromium 里检查构建好的 HTML 书：离线读者看到的是否就是我们想让他看到的。

用法：python -m tools.check_html [HTML 目录，默认 _build/html] [--out 截图目录]

检查（每一项都在关闭网络的浏览器里、以 file:// 打开真实页面，执行页面自己的 JavaScript 之后再看 DOM）：

1. 离线资源：没有哪一页在加载时从网络取脚本或样式；MathJax 是 _static 里的本地副本。
2. 公式：含公式的页面里，每个公式都被 MathJax 排版成 ``mjx-container``，没有残留的 ``\\(``…``\\)`` 文本，也没有 TeX 错误。
3. 图：画图的环境有中文字体（``cnnlib.plot.HAS_CJK``），页面上有带中文图题的图，图文件是有效的 PNG，全书没有缺字警告。
4. 训练输出：LeNet 一节的训练单元留下一行读得懂的最终进度（100%、n/n），它与训练器的总结行一致；页面上没有空白的小部件。
5. 搜索：``search.html?q=卷积`` 由 Sphinx 的 JavaScript 搜出结果，结果链接指向存在的页面。
6. 练习答案：默认折叠（``<details>`` 没有 ``open``；sphinx-exercise 的 ``dropdown`` 答案被 togglebutton 隐藏）。

截图写到 HTML 目录旁边的 check-html/（默认 _build/check-html/*.png），供人眼查看。
全部通过时退出码为 0，有检查失败为 1，找不到 HTML 目录为 2，找不到 Chromium 为 2（加 --skip-without-browser 时为 0）。
"""
import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

from bs4 import BeautifulSoup

MATH_PAGES = ("chapters/ch01_basics/padding_stride.html", "chapters/ch01_basics/conv_layer.html")
FIGURE_PAGE = "chapters/ch01_basics/conv_layer.html"
TRAIN_PAGE = "chapters/ch02_classic/lenet.html"
SOLUTION_PAGE = "chapters/ch01_basics/conv_layer.html"
SEARCH_WORD = "卷积"

# 断网：所有主机名解析失败，所有请求走一个不存在的代理；file:// 不受影响。
OFFLINE_FLAGS = ("--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
                 "--proxy-bypass-list=<-loopback>")
# 以 root 运行（容器、CI）时 Chromium 的沙箱起不来；这里只打开本地文件且没有网络。
BASE_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
              "--disable-extensions", "--disable-background-networking", "--disable-component-update",
              "--disable-sync", "--mute-audio")
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")

CJK = re.compile(r"[\u4e00-\u9fff]")
TEX_DELIMITERS = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$")
PROGRESS_LINE = re.compile(r"^(?P<desc>[^|]*?):?\s*(?P<pct>\d+)%\|(?P<bar>[^|]*)\|\s*(?P<n>\d+)/(?P<total>\d+)\s*"
                           r"\[(?P<info>[^\]]*)\]\s*$")
SUMMARY_LINE = re.compile(r"训练损失 loss (?P<loss>[\d.]+), 训练准确率 train acc (?P<acc>[\d.]+), "
                          r"测试准确率 test acc (?P<test>[\d.]+)")


def find_chromium():
    """环境变量 CHROMIUM 指定的程序，或 PATH 里的 chromium / google-chrome。"""
    for name in filter(None, (os.environ.get("CHROMIUM"), *CHROMIUM_NAMES)):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """无头 Chromium 的命令行（--dump-dom、--screenshot），每次调用一个全新的临时配置目录、断网。"""

    def __init__(self, exe, budget_ms=10000, timeout=120):
        self.exe, self.budget_ms, self.timeout = exe, budget_ms, timeout

    def _run(self, *args):
        with tempfile.TemporaryDirectory(prefix="check-html-") as profile:
            cmd = [self.exe, *BASE_FLAGS, *OFFLINE_FLAGS, f"--user-data-dir={profile}",
                   f"--virtual-time-budget={self.budget_ms}", *args]
            result = subprocess.run(cmd, capture_output=True, timeout=self.timeout)
        if result.returncode != 0:
            raise RuntimeError(f"Chromium 退出码 {result.returncode}：{' '.join(cmd)}\n"
                               f"{result.stderr.decode(errors='replace')[-2000:]}")
        return result.stdout.decode("utf-8", errors="replace")

    def dump_dom(self, url):
        """执行页面的 JavaScript（虚拟时间 budget_ms）之后的 DOM。"""
        return self._run("--dump-dom", url)

    def screenshot(self, url, path, selector=None, contains="", width=1280, height=1000):
        """给 url 截图；给了 CSS 选择器 selector 时，先把第一个（文字含 contains 的）匹配元素滚动到窗口中央。

        无头 Chromium 直接打开带 #锚点 的地址截出的是一片空白，所以把页面放进一个同样大小的 iframe，
        由外层页面的脚本滚动它（为此只在截图时加 --allow-file-access-from-files，让外层页面能读 iframe 的 DOM）。
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        frame = path.with_name(f".{path.stem}-frame.html")
        scroll = "" if selector is None else (
            "<script>const f = document.querySelector('iframe');"
            "f.addEventListener('load', () => {"
            f"const el = [...f.contentDocument.querySelectorAll({json.dumps(selector)})]"
            f".find(e => e.textContent.includes({json.dumps(contains)}));"
            "if (el) el.scrollIntoView({block: 'center'});});</script>")
        frame.write_text(
            '<!DOCTYPE html><html><head><meta charset="utf-8"><style>html,body{margin:0;overflow:hidden}'
            f'iframe{{border:0;width:{width}px;height:{height}px}}</style></head>'
            f'<body><iframe src="{url}"></iframe>{scroll}</body></html>', encoding="utf-8")
        try:
            if path.exists():
                path.unlink()
            self._run("--allow-file-access-from-files", f"--window-size={width},{height}",
                      f"--screenshot={path}", frame.as_uri())
        finally:
            frame.unlink(missing_ok=True)
        if not path.is_file() or path.stat().st_size < 1000:
            raise RuntimeError(f"截图 {path} 没有生成或是空的")
        return path


def page_url(html, page, query=""):
    url = (html / page).resolve().as_uri()
    return url + "?" + query if query else url


def soup(text):
    return BeautifulSoup(text, "html.parser")


def read_page(html, page):
    path = html / page
    if not path.is_file():
        raise FileNotFoundError(f"没有页面 {path}")
    return soup(path.read_text(encoding="utf-8"))


def visible_text(node, skip=("script", "style", "pre", "code", "textarea", "mjx-container")):
    """node 中读者看得到的正文文字（不含代码、脚本和已排版的公式）。"""
    node = soup(str(node))
    for tag in node.find_all(skip):
        tag.decompose()
    return node.get_text(" ")


def png_size(path):
    data = Path(path).read_bytes()[:24]
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return struct.unpack(">II", data[16:24])


# ---------------------------------------------------------------- 检查：每个函数返回失败说明的列表

def check_offline_assets(html):
    """没有页面在加载时从网络取脚本或样式；MathJax 指向 _static 里存在的本地文件。"""
    failures, remote, pages = [], [], sorted(html.rglob("*.html"))
    mathjax = set()
    for path in pages:
        page = soup(path.read_text(encoding="utf-8"))
        rel = path.relative_to(html)
        for tag in page.find_all("script", src=True) + page.find_all("link", rel="stylesheet", href=True):
            src = tag.get("src") or tag.get("href")
            if re.match(r"^(https?:)?//", src):
                remote.append(f"{rel} 从网络加载 {src}")
            elif "mathjax" in src.lower():
                mathjax.add((path.parent / src.split("?")[0]).resolve())
    failures += remote[:5] + ([f"……共 {len(remote)} 处"] if len(remote) > 5 else [])
    if not pages:
        failures.append(f"{html} 里没有 HTML 页面")
    elif not mathjax:
        failures.append("没有页面引用本地的 MathJax（_static/mathjax/…）")
    failures += [f"MathJax 文件不存在：{p}" for p in sorted(mathjax) if not p.is_file()]
    return failures


def check_math(browser, html, page):
    """每个公式元素都被排版成 mjx-container，页面上没有残留的 TeX 分隔符，也没有 TeX 错误。"""
    raw = read_page(html, page)
    expected = len(raw.select("span.math, div.math"))
    if expected == 0:
        return [f"{page} 里没有公式（span.math / div.math），选错了页面？"]
    dom = soup(browser.dump_dom(page_url(html, page)))
    maths = dom.select("span.math, div.math")
    typeset = [m for m in maths if m.find("mjx-container")]
    failures = []
    if len(typeset) != expected:
        failures.append(f"{page}：{expected} 个公式中只有 {len(typeset)} 个被 MathJax 排版（mjx-container）")
    leftovers = [visible_text(m).strip() for m in maths if TEX_DELIMITERS.search(visible_text(m))]
    article = dom.find("article") or dom
    if TEX_DELIMITERS.search(visible_text(article)) and not leftovers:
        leftovers.append(TEX_DELIMITERS.search(visible_text(article)).group())
    if leftovers:
        failures.append(f"{page}：{len(leftovers)} 处公式仍是原始 TeX，例如 {leftovers[0][:80]!r}")
    errors = dom.find_all("mjx-merror")
    if errors:
        failures.append(f"{page}：{len(errors)} 处 TeX 错误，例如 {errors[0].get('data-mjx-error', errors[0].get_text())!r}")
    return failures


def check_figure(html, page, has_cjk):
    """画图环境有中文字体；页面上有带中文图题、PNG 有效的图；全书的输出里没有缺字警告。"""
    failures = []
    if not has_cjk:
        failures.append("cnnlib.plot.HAS_CJK 为 False：执行笔记本的环境没有中文字体，图中会是英文标签"
                        "（make fonts / apt-get install fonts-noto-cjk）")
    figures = [f for f in read_page(html, page).select("figure[id]")
               if f.find("img") and CJK.search(f.figcaption.get_text() if f.figcaption else "")]
    if not figures:
        return failures + [f"{page} 里没有带中文图题的图"]
    for figure in figures:
        src = figure.find("img")["src"]
        size = png_size((html / page).parent / src) if ((html / page).parent / src).is_file() else None
        if size is None or min(size) < 50:
            failures.append(f"{page} 的图 {figure['id']} 的图片 {src} 缺失或不是有效的 PNG（尺寸 {size}）")
    for path in sorted(html.rglob("*.html")):
        text = path.read_text(encoding="utf-8")
        if re.search(r"missing from (current )?font", text):
            failures.append(f"{path.relative_to(html)} 的输出里有 Matplotlib 的缺字警告（图中是方框）")
    return failures


def training_cells(dom):
    """含 tqdm 进度行的代码单元：[(单元, 进度行列表, 标准输出文字)]。"""
    cells = []
    for cell in dom.select("div.cell"):
        streams = [(out.get("class", []), out.get_text()) for out in cell.select("div.output")]
        progress = [line.strip() for cls, text in streams for line in text.splitlines() if "%|" in line]
        if progress:
            stdout = "\n".join(text for cls, text in streams if "stderr" not in cls)
            cells.append((cell, progress, stdout))
    return cells


def check_training(browser, html, page):
    """训练单元只留下一行最终进度（100%、n/n、每轮都跑完），与训练器的总结行一致；没有小部件。"""
    dom = soup(browser.dump_dom(page_url(html, page)))
    failures = []
    cells = training_cells(dom)
    if not cells:
        return [f"{page} 里没有训练进度行（“100%|”）"]
    for cell, progress, stdout in cells:
        for line in progress:
            m = PROGRESS_LINE.match(line)
            epoch = re.fullmatch(r".*?(\d+)/(\d+)", m["desc"]) if m else None
            if (m is None or m["pct"] != "100" or m["n"] != m["total"] or set(m["bar"]) - {"█"}
                    or (epoch and epoch[1] != epoch[2]) or "\x1b" in line):
                failures.append(f"{page}：进度行不是完成状态或不可读：{line!r}")
        summary = SUMMARY_LINE.search(stdout)
        if summary is None or "张/秒" not in stdout:
            failures.append(f"{page}：训练单元没有训练器的总结行（训练损失… / 张/秒）：{stdout[-200:]!r}")
            continue
        postfix = re.search(r"acc=([\d.]+), loss=([\d.]+)", progress[-1])
        if postfix and (postfix[1], postfix[2]) != (summary["acc"], summary["loss"]):
            failures.append(f"{page}：最终进度 acc={postfix[1]}, loss={postfix[2]} 与总结行 "
                            f"train acc {summary['acc']}, loss {summary['loss']} 不一致（进度条停在了中途？）")
    widgets = dom.select('script[type^="application/vnd.jupyter.widget"], .jupyter-widgets, .widget-area')
    if widgets or "Loading widget" in dom.get_text():
        failures.append(f"{page}：页面上有 Jupyter 小部件（离线时是空白）")
    for path in sorted(html.rglob("*.html")):
        if "application/vnd.jupyter.widget-view+json" in path.read_text(encoding="utf-8"):
            failures.append(f"{path.relative_to(html)} 含 Jupyter 小部件的输出（离线时是空白）")
    return failures


def search_results(browser, html, word):
    dom = soup(browser.dump_dom(page_url(html, "search.html", query="q=" + quote(word))))
    box = dom.find(id="search-results")
    return dom, ([a for a in box.select("ul.search li a[href]")] if box else [])


def check_search(browser, html, word=SEARCH_WORD):
    """search.html?q=卷积 的 JavaScript 搜索给出结果，每个结果链接到存在的页面。"""
    if not (html / "search.html").is_file():
        return [f"没有 {html / 'search.html'}"]
    dom, links = search_results(browser, html, word)
    if not links:
        summary = dom.select_one("#search-results .search-summary")
        return [f"搜索“{word}”没有结果（{summary.get_text(strip=True) if summary else '没有 #search-results'}）"]
    missing = [a["href"] for a in links if not (html / a["href"].split("#")[0].split("?")[0]).is_file()]
    return [f"搜索结果链接到不存在的页面：{missing[:3]}"] if missing else []


def solution_elements(dom):
    """答案：class 含 solution 的 details / div（sphinx-exercise），以及标了 solution 的代码单元里的折叠块。"""
    found = dom.find_all(["details", "div"], class_="solution")
    for cell in dom.select("div.cell.tag_solution"):
        found += cell.find_all("details") or [cell]
    return found


def is_collapsed(el):
    if el.name == "details":
        return not el.has_attr("open")
    classes = el.get("class", [])
    # sphinx-exercise 的 :class: dropdown 答案：togglebutton 的 JavaScript 加上 toggle-hidden 才算折叠
    return "dropdown" in classes and "toggle-hidden" in classes


def check_solutions(browser, html, page):
    """练习答案默认折叠。"""
    dom = soup(browser.dump_dom(page_url(html, page)))
    found = solution_elements(dom)
    if not found:
        return [f"{page} 里没有练习答案（details.solution 或 sphinx-exercise 的 solution）"]
    shown = [el for el in found if not is_collapsed(el)]
    return [f"{page}：{len(shown)}/{len(found)} 个答案默认展开，例如 {visible_text(shown[0])[:80].strip()!r}"] if shown else []


# ---------------------------------------------------------------- 截图与总流程

def screenshots(browser, html, out):
    """截图给人看：公式、带中文标签的图、训练输出、搜索结果、折叠的答案。返回 [(文件, 说明)]。"""
    search = page_url(html, "search.html", query="q=" + quote(SEARCH_WORD))
    shots = (
        ("math.png", page_url(html, MATH_PAGES[0]), "div.math", "", f"{MATH_PAGES[0]}：行间公式"),
        ("figure.png", page_url(html, FIGURE_PAGE), "figure[id]", "", f"{FIGURE_PAGE}：带中文标签的图"),
        ("training.png", page_url(html, TRAIN_PAGE), "div.cell", "%|", f"{TRAIN_PAGE}：训练输出（进度行、总结与曲线）"),
        ("search.png", search, None, "", f"search.html?q={SEARCH_WORD}：搜索结果"),
        ("solution.png", page_url(html, SOLUTION_PAGE), ".solution", "", f"{SOLUTION_PAGE}：练习与折叠的答案"),
    )
    return [(browser.screenshot(url, out / name, selector, contains), what)
            for name, url, selector, contains, what in shots]


def cjk_available():
    try:
        import cnnlib.plot
    except ImportError as exc:  # 没有装 cnnlib 的环境
        print(f"提示：无法导入 cnnlib（{exc}），不能确认画图环境有中文字体", file=sys.stderr)
        return False
    return cnnlib.plot.HAS_CJK


def run(html, out, browser, log=print):
    """运行全部检查并截图，返回 {检查名: [失败说明]}。"""
    html = Path(html).resolve()
    checks = {
        "离线资源（无 CDN）": lambda: check_offline_assets(html),
        **{f"公式（MathJax）{p}": (lambda p=p: check_math(browser, html, p)) for p in MATH_PAGES},
        "中文标签的图": lambda: check_figure(html, FIGURE_PAGE, cjk_available()),
        "训练输出": lambda: check_training(browser, html, TRAIN_PAGE),
        f"搜索“{SEARCH_WORD}”": lambda: check_search(browser, html),
        "答案默认折叠": lambda: check_solutions(browser, html, SOLUTION_PAGE),
    }
    results = {}
    for name, check in checks.items():
        try:
            results[name] = check()
        except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
            results[name] = [f"{type(exc).__name__}: {exc}"]
        log(("✓ " if not results[name] else "✗ ") + name)
        for failure in results[name]:
            log(f"    {failure}")
    try:
        for path, what in screenshots(browser, html, Path(out)):
            log(f"  截图 {path}：{what}")
    except (OSError, RuntimeError, subprocess.TimeoutExpired, KeyError) as exc:
        results["截图"] = [f"{type(exc).__name__}: {exc}"]
        log(f"✗ 截图：{exc}")
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description="在断网的无头 Chromium 里检查构建好的 HTML 书")
    parser.add_argument("html", nargs="?", default="_build/html", help="HTML 目录（默认 _build/html）")
    parser.add_argument("--out", help="截图目录（默认 HTML 目录旁边的 check-html/）")
    parser.add_argument("--skip-without-browser", action="store_true",
                        help="找不到 Chromium 时只打印说明、以 0 退出（make check-html 用）")
    args = parser.parse_args(argv)
    html = Path(args.html)
    if not (html / "index.html").is_file():
        print(f"没有 {html / 'index.html'}：先构建全书（make book）", file=sys.stderr)
        return 2
    exe = find_chromium()
    if exe is None:
        print("找不到 Chromium（Debian: apt-get install chromium；或用环境变量 CHROMIUM 指定），跳过 HTML 检查",
              file=sys.stderr)
        return 0 if args.skip_without_browser else 2
    out = Path(args.out) if args.out else html.resolve().parent / "check-html"
    results = run(html, out, Browser(exe))
    failed = [name for name, failures in results.items() if failures]
    print(f"HTML 检查：{len(results) - len(failed)} 项通过，{len(failed)} 项失败" + (f"（{'、'.join(failed)}）" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
