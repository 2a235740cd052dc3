#!/usr/bin/env python3
"""把全书印成一个 PDF（make pdf）：Sphinx 的单页 HTML，在断网的无头 Chromium 里排好公式后打印。

    python -m tools.make_pdf                 # → _build/pdf/cnn-book.pdf，并复制到 _build/html/（有的话）
    python -m tools.make_pdf --no-build      # 重用上次的单页 HTML，只重新打印
    python -m tools.make_pdf --out DIR       # 单页 HTML 与 PDF 都写到 DIR（测试用）

做法：
1. ``jupyter-book build --builder singlehtml -W``，输出与缓存都在 _build/pdf/，不碰 make book 的 _build/html。
   全书成为一页，章、节、图、练习的编号与网页版相同，书前有主题自带的打印目录（#jb-print-toc）。
   sphinx-exercise 为 singlehtml 单独登记了节点处理函数，Sphinx 因此不再回退到 html 的那一套，
   myst-nb 的折叠单元等节点就没人处理；本模块的 ``setup`` 作为 Sphinx 扩展把 html 的处理函数补给 singlehtml。
2. 无头 Chromium 经 DevTools 协议（``--remote-debugging-pipe``，只用标准库）打开这一页：等图解码完、
   随书的本地 MathJax 排版完，加上印刷样式（PRINT_CSS），把参考答案移到书末的“参考答案”（PREPARE_JS），
   再打印成 A4，页脚是页码，书签（PDF 大纲）是各级标题。
3. 从第一遍 PDF 的书签读出各章节的页码，填进目录，再打印一遍（页码变了就再来一遍，至多三遍）。
4. 收尾（finish）：删去只为生成书签才要的标签结构（占一半以上的体积），把 ToUnicode 里的部首换回统一汉字。
"""
import argparse
import base64
import fcntl
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

import yaml
from pypdf import PdfReader, PdfWriter
from pypdf.generic import DictionaryObject, NameObject, TextStringObject

from tools.check_html import BASE_FLAGS, OFFLINE_FLAGS, find_chromium

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "_build" / "pdf"
PDF_NAME = "cnn-book.pdf"
# CJK 部首补充、康熙部首、CJK 兼容表意文字：正文里不该出现，出现就是 ToUnicode 指错了码位（见 fix_to_unicode）
RADICALS = re.compile(r"[\u2e80-\u2fdf\uf900-\ufaff]")
# CJK 部首补充没有 NFKC 分解：按 Unicode 的 EquivalentUnifiedIdeograph.txt 对应到统一汉字（两两一对）
RADICAL_PAIRS = (
    "⺁厂⺂乛⺃乚⺄乙⺅亻⺆冂⺇𠘨⺈刀⺉刂⺊卜⺋㔾⺌小⺍小⺎兀⺏尣⺐尢⺑𡯂⺒巳⺓幺⺔彑⺕𫜹⺖忄⺗心⺘扌⺙攵⺛旡⺜日"
    "⺝月⺞歺⺟母⺠民⺡氵⺢氺⺣灬⺤爫⺥爫⺦丬⺧牛⺨犭⺩王⺪𤴔⺫目⺬示⺭礻⺮𥫗⺯糹⺰纟⺱罓⺲罒⺳㓁⺴冗⺵𦉫⺶羊⺷𦍌"
    "⺸𦍋⺹耂⺺肀⺻聿⺼肉⺽𦥑⺾艹⺿艹⻀艹⻁虎⻂衤⻃覀⻄西⻅见⻆角⻇𧢲⻈讠⻉贝⻊𧾷⻋车⻌辶⻍辶⻎辶⻏邑⻐钅⻑長⻒镸"
    "⻓长⻔门⻕𨸏⻖阝⻗雨⻘青⻙韦⻚页⻛风⻜飞⻝食⻞𩙿⻟飠⻠饣⻡𩠐⻢马⻣骨⻤鬼⻥鱼⻦鸟⻧卤⻨麦⻩黄⻪黾⻫斉⻬齐⻭歯"
    "⻮齿⻯竜⻰龙⻱龜⻲亀⻳龟"
)
UNIFIED = {**{chr(c): unicodedata.normalize("NFKC", chr(c)) for c in (*range(0x2F00, 0x2FE0), *range(0xF900, 0xFB00))},
           **dict(zip(RADICAL_PAIRS[::2], RADICAL_PAIRS[1::2]))}
UNIFIED = {k: v for k, v in UNIFIED.items() if len(v) == 1 and v != k}

# A4，单位英寸（DevTools 的 printToPDF 用英寸）。左右各 18 mm：版心约 174 mm ≈ 493 pt。
PAPER = dict(paperWidth=8.27, paperHeight=11.69, marginTop=0.71, marginBottom=0.79, marginLeft=0.71, marginRight=0.71)
FOOTER = ('<div style="width:100%;text-align:center;font-size:8pt;color:#555;'
          'font-family:sans-serif"><span class="pageNumber"></span></div>')

# 代码 8.4 pt：DejaVu Sans Mono 一列 0.6 em，80 列约 403 pt，放得进版心（汉字 1 em，比两列窄）。
PRINT_CSS = r"""
html { font-size: 10pt; }
body { color: #000; background: #fff;
  font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Noto Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif; }
/* 只留正文：页眉、侧栏、页脚、翻页、按钮都不印 */
.bd-header, .bd-header-article, .bd-sidebar-primary, .bd-sidebar-secondary, .bd-footer, .bd-footer-article,
.bd-footer-content, .prev-next-footer, #searchbox, #pst-back-to-top, .skip-link, a.headerlink, .toggle-button,
button.copybtn, details.hide > summary { display: none !important; }
.bd-container, .bd-container__inner, .bd-page-width, .bd-main, .bd-main .bd-content, .bd-article-container,
.bd-article { width: 100% !important; min-width: 0 !important; max-width: 100% !important; margin: 0 !important;
  padding: 0 !important; }
a { color: inherit !important; text-decoration: none !important; }
/* Skia 把带模糊的阴影整块栅格化成图片，PDF 会大很多。主题的阴影带 !important：
   :not(#_#_#_) 把特异性抬到三个 id，盖过它们 */
:not(#_#_#_), :not(#_#_#_)::before, :not(#_#_#_)::after { box-shadow: none !important; text-shadow: none !important; }
/* 书名页与目录 */
#jb-print-docs-body h1 { font-size: 2.6em !important; margin: 30% 0 1em !important; text-align: center; }
#print-titlepage { text-align: center; font-size: 1.1em; }
#print-titlepage .extra_footer { margin-top: 45%; font-size: 0.85em; text-align: left; color: #333; }
#jb-print-toc { break-before: page; }
#jb-print-toc h2 { text-align: center; }
#jb-print-toc .section-nav { margin-left: 0 !important; padding-left: 0 !important; list-style: none !important; }
#jb-print-toc .section-nav .nav { display: block !important; padding-left: 2em !important; }
#jb-print-toc li { display: block !important; list-style: none !important; margin: 0.15em 0; }
#jb-print-toc li.toctree-l1 { margin-top: 0.4em; }
#jb-print-toc p.caption { margin: 1.2em 0 0.3em; font-weight: bold; }
#jb-print-toc a { display: flex !important; align-items: baseline; padding: 0 !important; color: #000 !important; }
#jb-print-toc .print-leader { flex: 1; border-bottom: 1px dotted #888; margin: 0 0.4em; }
/* 每一章、每一节从新的一页开始；章首页标题大一些 */
.print-page-start { break-before: page; }
.print-chapter > h2 { font-size: 2.2em; margin: 2em 0 1em; }
h1, h2, h3, h4, h5, p.admonition-title { break-after: avoid; }
figure, img, table, mjx-container[display="true"], div.math, .cell_input { break-inside: avoid; }
img { max-width: 100% !important; height: auto; }
/* 代码与输出：不滚动、不截断，超出版心的输出行折行 */
pre { font-size: 8.4pt !important; line-height: 1.35 !important; white-space: pre-wrap !important;
  overflow-wrap: anywhere; overflow: visible !important; max-height: none !important; }
.cell_output, .output, .highlight, .pst-scrollable-table-container, .table-wrapper { overflow: visible !important;
  max-height: none !important; }
table { font-size: 0.9em; }
/* 参考答案附录 */
.print-solution-link { font-weight: normal; font-size: 0.9em; margin-left: 0.6em; }
#print-solutions div.solution { break-inside: auto; }
"""

# 在页面里运行：等图与公式，移动答案，标出分页；返回统计给 Python 检查。
PREPARE_JS = r"""
async (css, author) => {
  const style = document.createElement('style');
  style.textContent = css;
  document.head.append(style);
  // 懒加载的图在打印前不一定取到：全部改为立即加载并等它们解码
  for (const img of document.images) img.loading = 'eager';
  await Promise.all([...document.images].map(img => img.decode().catch(() => null)));
  if (window.MathJax && MathJax.startup) await MathJax.startup.promise;
  await document.fonts.ready;

  const article = document.querySelector('article.bd-article');
  // MathJax 3 不会给公式折行：比所在段落还宽的公式按比例缩小（此时已按打印的版心宽度排版）
  let zoomed = 0;
  for (const m of article.querySelectorAll('mjx-container')) {
    const avail = m.parentElement.closest('p, li, td, th, dd, dt, div').clientWidth;
    const width = m.getBoundingClientRect().width;
    if (width > avail) { m.style.zoom = (avail / width).toFixed(3); zoomed++; }
  }
  // 书名页：作者与许可（网页版的页脚）
  const title = document.querySelector('#jb-print-docs-body h1');
  const page = document.createElement('div');
  page.id = 'print-titlepage';
  page.append(Object.assign(document.createElement('p'), {textContent: author}));
  const license = document.querySelector('.extra_footer');
  if (license) page.append(license.cloneNode(true));
  title.after(page);

  // 分页：每个源文件（章、节、附录的每一页）从新的一页开始
  const docs = [...article.querySelectorAll('span[id^="document-"]')]
    .map(span => span.nextElementSibling).filter(el => el && el.tagName === 'SECTION');
  const first = article.querySelector('section');
  for (const sec of [first, ...docs]) sec.classList.add('print-page-start');
  for (const sec of docs) if (sec.querySelector(':scope > h2 > .section-number')) sec.classList.add('print-chapter');

  // 链接：singlehtml 里指向本页的交叉引用写成 intro.html#id，改成 #id（PDF 里的页内链接）；
  // 指向本机其他文件的链接（下载、源文件）在 PDF 里没有意义，去掉链接、留下文字
  for (const a of document.querySelectorAll('a[href]')) {
    const url = new URL(a.getAttribute('href'), location.href);
    if (url.protocol === 'file:' && url.pathname === location.pathname && url.hash) a.setAttribute('href', url.hash);
    else if (!/^(https?|mailto):$/.test(url.protocol)) a.removeAttribute('href');
  }

  // 参考答案移到书末，按节分组；题目旁加一个指向答案的链接
  const headingOf = sec => sec.querySelector(':scope > h1, :scope > h2, :scope > h3, :scope > h4');
  const label = h => h.textContent.replace(/#\s*$/, '').trim();
  const appendix = document.createElement('section');
  appendix.id = 'print-solutions';
  appendix.className = 'print-page-start';
  appendix.innerHTML = '<h2>参考答案</h2><p>正文每道练习的参考答案按节排在这里；题目旁的“答案”链接指向它。</p>';
  let current = null, linked = 0;
  const solutions = [...article.querySelectorAll('div.solution')];
  for (const sol of solutions) {
    const doc = docs.filter(sec => sec.contains(sol)).pop() || first;
    if (doc !== current) {
      current = doc;
      const h = document.createElement('h3');
      h.textContent = label(headingOf(doc));
      appendix.append(h);
    }
    sol.querySelectorAll('.toggle-button').forEach(b => b.remove());
    for (const el of [sol, ...sol.querySelectorAll('.toggle-hidden')]) {
      el.classList.remove('toggle-hidden', 'toggle', 'dropdown');
    }
    sol.querySelectorAll('details').forEach(d => { d.open = true; });
    const back = sol.querySelector('.admonition-title a[href^="#"]');
    const exercise = back && document.getElementById(decodeURIComponent(back.getAttribute('href').slice(1)));
    const exTitle = exercise && exercise.querySelector('.admonition-title');
    if (exTitle) {
      const link = Object.assign(document.createElement('a'), {className: 'print-solution-link', textContent: '（答案）'});
      link.setAttribute('href', '#' + sol.id);
      exTitle.append(link);
      linked++;
    }
    appendix.append(sol);
  }
  article.append(appendix);

  // 目录：显示到节一级，附录里加上“参考答案”
  const toc = document.querySelector('#jb-print-toc nav');
  // 目录里的“前言”“正文”“附录”带 role=heading，会变成 PDF 书签：去掉
  toc.querySelectorAll('p.caption[role="heading"]').forEach(p => p.removeAttribute('role'));
  const lists = toc.querySelectorAll(':scope > ul');
  lists[lists.length - 1].insertAdjacentHTML('beforeend',
    '<li class="toctree-l1 nav-item toc-entry">' +
    '<a class="reference internal nav-link" href="#print-solutions">参考答案</a></li>');

  // 目录条目对应的标题文字：Python 在第一遍 PDF 的书签里找它们的页码
  const entries = [...toc.querySelectorAll('a[href^="#"]')].map(a => {
    let target = document.getElementById(decodeURIComponent(a.getAttribute('href').slice(1)));
    if (target && target.tagName === 'SPAN') target = target.nextElementSibling;
    const h = target && headingOf(target);
    return h ? label(h) : null;
  });
  // 代码单元（至多 80 列）不应折行；其他东西不应伸出版心
  const right = article.getBoundingClientRect().right + 1;
  const wrapped = [], overflowing = [];
  for (const pre of article.querySelectorAll('.cell_input pre')) {
    const lines = pre.textContent.replace(/\n$/, '').split('\n');
    const cs = getComputedStyle(pre);
    const height = pre.clientHeight - parseFloat(cs.paddingTop) - parseFloat(cs.paddingBottom);
    if (height > (lines.length + 0.5) * parseFloat(cs.lineHeight)) {
      wrapped.push(lines.reduce((a, b) => (b.length > a.length ? b : a)));
    }
  }
  for (const el of article.querySelectorAll('img, table, pre, mjx-container, figure')) {
    if (el.getBoundingClientRect().right > right) overflowing.push(`${el.tagName}: ${el.textContent.slice(0, 60)}`);
  }
  const maths = article.querySelectorAll('span.math, div.math');
  return {
    entries,
    maths: maths.length,
    zoomed,
    typeset: [...maths].filter(m => m.querySelector('mjx-container')).length,
    texErrors: article.querySelectorAll('mjx-merror').length,
    images: document.images.length,
    brokenImages: [...document.images].filter(img => !img.complete || img.naturalWidth === 0).map(img => img.src),
    solutions: solutions.length,
    linked,
    wrapped,
    overflowing,
    exercises: article.querySelectorAll('div.exercise').length,
  };
}
"""

# 把页码写进目录（第二遍及以后）
PAGES_JS = r"""
(pages) => {
  const links = [...document.querySelectorAll('#jb-print-toc nav a[href^="#"]')];
  links.forEach((a, i) => {
    a.querySelectorAll('.print-leader, .print-page').forEach(el => el.remove());
    if (pages[i] == null) return;
    a.insertAdjacentHTML('beforeend', `<span class="print-leader"></span><span class="print-page">${pages[i]}</span>`);
  });
}
"""


def setup(app):
    """Sphinx 扩展（只在 PDF 构建里加载）：singlehtml 缺的节点处理函数从 html 那里补上。"""
    def inherit_html_handlers(app):
        handlers = app.registry.translation_handlers
        handlers["singlehtml"] = {**handlers.get("html", {}), **handlers.get("singlehtml", {})}

    app.connect("builder-inited", inherit_html_handlers)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


def build_singlehtml(out):
    """jupyter-book 的 singlehtml 构建（-W），返回全书那一页的路径。"""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    config["sphinx"]["extra_extensions"] = [*config["sphinx"].get("extra_extensions", []), "tools.make_pdf"]
    out.mkdir(parents=True, exist_ok=True)
    (out / "_config.yml").write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    jb = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(jb), "build", str(ROOT), "--builder", "singlehtml", "--config", str(out / "_config.yml"),
           "--path-output", str(out), "-W", "--keep-going"]
    result = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"单页 HTML 构建失败或有警告：\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return single_page(out)


def single_page(out):
    return out / "_build" / "singlehtml" / "intro.html"


class DevTools:
    """无头 Chromium 的 DevTools 协议，走管道：Chromium 从 fd 3 读命令、向 fd 4 写回复，每条消息以 \\0 结尾。"""

    def __init__(self, exe, timeout=600):
        self.timeout, self.events, self.next_id, self.buffer = timeout, [], 0, b""
        to_chrome, self.write_fd = os.pipe()
        self.read_fd, from_chrome = os.pipe()
        # 子进程里要把它们放到 3、4：先挪到 10 以上，dup2 时就不会互相覆盖
        high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (to_chrome, from_chrome)]
        self.profile = tempfile.TemporaryDirectory(prefix="make-pdf-")
        self.log = open(Path(self.profile.name) / "chromium.log", "w+b")
        cmd = [exe, *BASE_FLAGS, *OFFLINE_FLAGS, f"--user-data-dir={self.profile.name}/profile",
               "--remote-debugging-pipe", "about:blank"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, close_fds=False,
                                     preexec_fn=lambda: (os.dup2(high[0], 3), os.dup2(high[1], 4)))
        for fd in (to_chrome, from_chrome, *high):
            os.close(fd)

    def _message(self, deadline):
        while b"\0" not in self.buffer:
            ready, _, _ = select.select([self.read_fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError(f"Chromium {self.timeout} 秒内没有回复")
            chunk = os.read(self.read_fd, 1 << 20)
            if not chunk:
                self.log.seek(0)
                raise RuntimeError(f"Chromium 退出了：\n{self.log.read().decode(errors='replace')[-2000:]}")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, session=None, **params):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self.write_fd, data):]
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._message(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}：{reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def wait_event(self, method):
        deadline = time.monotonic() + self.timeout
        while True:
            for event in self.events:
                if event.get("method") == method:
                    self.events.remove(event)
                    return event
            self.events.append(self._message(deadline))

    def close(self):
        try:
            self.call("Browser.close")
        except (OSError, RuntimeError, TimeoutError):
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.write_fd)
        os.close(self.read_fd)
        self.log.close()
        self.profile.cleanup()


class Page:
    """一个标签页：打开、执行脚本、打印。"""

    def __init__(self, browser, url):
        self.browser = browser
        target = browser.call("Target.createTarget", url="about:blank")["targetId"]
        self.session = browser.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        self.call("Page.enable")
        self.call("Page.navigate", url=url)
        browser.wait_event("Page.loadEventFired")

    def call(self, method, **params):
        return self.browser.call(method, session=self.session, **params)

    def prepare(self, *args):
        """以打印的媒体类型和版心宽度运行 PREPARE_JS（量公式宽度要按打印时的排版），再恢复。"""
        width = round((PAPER["paperWidth"] - PAPER["marginLeft"] - PAPER["marginRight"]) * 96)
        self.call("Emulation.setEmulatedMedia", media="print")
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=1000, deviceScaleFactor=1, mobile=False)
        try:
            return self.run(PREPARE_JS, *args)
        finally:
            self.call("Emulation.clearDeviceMetricsOverride")
            self.call("Emulation.setEmulatedMedia", media="")

    def run(self, function, *args):
        """在页面里调用 JavaScript 函数 function(*args)（可以是 async），返回它的结果。"""
        expression = f"({function})({', '.join(json.dumps(a, ensure_ascii=False) for a in args)})"
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise RuntimeError(f"页面脚本出错：{details.get('exception', {}).get('description', details)}")
        return result["result"].get("value")

    def print_pdf(self):
        stream = self.call("Page.printToPDF", **PAPER, printBackground=True, displayHeaderFooter=True,
                           headerTemplate="<span></span>", footerTemplate=FOOTER, generateDocumentOutline=True,
                           transferMode="ReturnAsStream")["stream"]
        chunks = []
        while True:
            piece = self.call("IO.read", handle=stream, size=1 << 22)
            chunks.append(base64.b64decode(piece["data"]) if piece.get("base64Encoded") else piece["data"].encode())
            if piece.get("eof"):
                break
        self.call("IO.close", handle=stream)
        return b"".join(chunks)


def outline_pages(pdf_path):
    """PDF 书签：[(标题, 页码（从 1 起）)]，按书中顺序。"""
    reader = PdfReader(pdf_path)
    found = []

    def walk(items):
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                found.append((normalize(undouble(item.title)), reader.get_destination_page_number(item) + 1))

    walk(reader.outline)
    return found


def normalize(text):
    return re.sub(r"\s+", " ", text.replace("#", "")).strip()


def undouble(title):
    """Chromium 偶尔把标题写成两遍（“练习练习”，多见于挪到下一页开头的标题）：还原成一遍。"""
    half = len(title) // 2
    return title[:half] if len(title) % 2 == 0 and half and title[:half] == title[half:] else title


def fonts(resources):
    """resources 里的字体，连同其中的表单（Form XObject）里的字体。"""
    resources = resources.get_object() if resources is not None else DictionaryObject()
    yield from (font.get_object() for font in resources.get("/Font", DictionaryObject()).get_object().values())
    for xobject in resources.get("/XObject", DictionaryObject()).get_object().values():
        xobject = xobject.get_object()
        if xobject.get("/Subtype") == "/Form":
            yield from fonts(xobject.get("/Resources"))


def fix_to_unicode(reader):
    """Noto CJK 里“网”与康熙部首“⽹”（U+2F79）、“见”与部首“⻅”（U+2EC5）等共用一个字形，Skia 的 ToUnicode
    写的是码位较小的部首：复制出来、搜索“网络”都找不到。把这些映射换成对应的统一汉字（UNIFIED；Skia 对这些
    字形写的是 bfchar）。返回改了几处。"""
    done, fixed = set(), 0

    def unify(m):
        nonlocal fixed
        char = bytes.fromhex(m[2]).decode("utf-16-be", errors="replace")
        if char not in UNIFIED:
            return m[0]
        fixed += 1
        return f"{m[1]}<{UNIFIED[char].encode('utf-16-be').hex().upper()}>"

    for page in reader.pages:
        for font in fonts(page.get("/Resources")):
            if "/ToUnicode" not in font or id(font) in done:
                continue
            done.add(id(font))
            stream = font["/ToUnicode"].get_object()
            text = stream.get_data().decode("latin-1")
            new = re.sub(r"beginbfchar.*?endbfchar",
                         lambda section: re.sub(r"(<[0-9A-Fa-f]+>\s*)<([0-9A-Fa-f]{4})>", unify, section[0]),
                         text, flags=re.S)
            if new != text:
                stream.set_data(new.encode("latin-1"))
    return fixed


def finish(pdf_path):
    """Chromium 的书签要靠带标签的 PDF 才生成，而标签结构（MathJax 的每个字形一个元素）占了一半以上的
    体积：删去结构树（书签里指向它的 /SE 一并删去），书签标题去掉重复，修正中文的 ToUnicode，重写文件。"""
    reader = PdfReader(pdf_path)
    fix_to_unicode(reader)
    root = reader.trailer["/Root"]
    for key in ("/StructTreeRoot", "/MarkInfo"):
        root.pop(key, None)
    stack = [root["/Outlines"]["/First"]] if "/Outlines" in root else []
    while stack:
        item = stack.pop().get_object()
        item.pop("/SE", None)
        item[NameObject("/Title")] = TextStringObject(undouble(item["/Title"]))
        stack += [item[key] for key in ("/First", "/Next") if key in item]
    PdfWriter(clone_from=reader).write(pdf_path)


def toc_pages(entries, outline):
    """目录条目按顺序在书签里找同名标题，返回各自的页码（找不到为 None）。"""
    pages, start = [], 0
    for entry in entries:
        hit = next((i for i in range(start, len(outline)) if entry and outline[i][0] == normalize(entry)), None)
        pages.append(None if hit is None else outline[hit][1])
        start = start if hit is None else hit + 1
    return pages


def print_book(page_html, pdf_path, exe, log=print):
    """在无头 Chromium 里打开单页 HTML，准备好之后打印成 pdf_path；返回页面脚本的统计。"""
    author = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8")).get("author", "")
    browser = DevTools(exe)
    try:
        page = Page(browser, page_html.resolve().as_uri())
        stats = page.prepare(PRINT_CSS, author)
        problems = []
        if stats["typeset"] != stats["maths"] or stats["texErrors"]:
            problems.append(f"{stats['maths']} 个公式中 {stats['typeset']} 个被 MathJax 排版，{stats['texErrors']} 处 TeX 错误")
        if stats["brokenImages"]:
            problems.append(f"{len(stats['brokenImages'])} 张图没有加载：{stats['brokenImages'][:3]}")
        if not stats["exercises"] == stats["solutions"] == stats["linked"]:
            problems.append(f"{stats['exercises']} 道练习，{stats['solutions']} 个参考答案，"
                            f"其中 {stats['linked']} 个找到了题目")
        if stats["wrapped"]:
            problems.append(f"{len(stats['wrapped'])} 个代码单元在版心里折行了，例如 {stats['wrapped'][0]!r}"
                            "（代码每行至多 80 列，汉字算两列：make format）")
        for item in stats["overflowing"]:
            log(f"  警告：伸出版心：{item}")
        if problems:
            raise RuntimeError("单页 HTML 没有准备好：" + "；".join(problems))
        pages = None
        for attempt in range(3):
            pdf_path.write_bytes(page.print_pdf())
            found = toc_pages(stats["entries"], outline_pages(pdf_path))
            log(f"  第 {attempt + 1} 遍：{sum(p is not None for p in found)}/{len(found)} 个目录条目有页码")
            if found == pages:
                break
            pages = found
            page.run(PAGES_JS, pages)
        finish(pdf_path)
        return stats
    finally:
        browser.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description="把全书印成一个 PDF（单页 HTML + 无头 Chromium）")
    parser.add_argument("--out", type=Path, default=OUT, help="输出目录（默认 _build/pdf）")
    parser.add_argument("--no-build", action="store_true", help="重用上次构建的单页 HTML，只重新打印")
    args = parser.parse_args(argv)
    exe = find_chromium()
    if exe is None:
        print("找不到 Chromium（Debian: apt-get install chromium；或用环境变量 CHROMIUM 指定），不能打印 PDF",
              file=sys.stderr)
        return 2
    start = time.monotonic()
    out = args.out.resolve()
    if args.no_build and single_page(out).is_file():
        page_html = single_page(out)
    else:
        print("构建单页 HTML（jupyter-book --builder singlehtml）……")
        page_html = build_singlehtml(out)
    print(f"在无头 Chromium 里排版并打印 {page_html} ……")
    pdf = out / PDF_NAME
    stats = print_book(page_html, pdf, exe)
    print(f"PDF：{pdf}（{pdf.stat().st_size / 2**20:.1f} MB，{stats['maths']} 个公式，{stats['images']} 张图，"
          f"{stats['solutions']} 个参考答案在书末，{stats['zoomed']} 个过宽的公式缩小），用时 {time.monotonic() - start:.0f} 秒")
    site = ROOT / "_build" / "html"
    if out == OUT.resolve() and (site / "index.html").is_file():
        shutil.copy2(pdf, site / PDF_NAME)
        print(f"已复制到网页目录：{site / PDF_NAME}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
