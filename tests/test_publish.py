"""发布：GitHub Actions 工作流、许可、引用信息，以及网页上的许可页脚和“编辑此页”按钮。

工作流在这里不能运行（没有网络，也没有 GitHub 的运行器），所以只检查它们：用 check-jsonschema
自带的 GitHub 工作流 JSON 模式离线校验，并核对其中的命令、路径、Python 版本与 Makefile、README 一致。
CITATION.cff 用同一个工具自带的 Citation File Format 1.2.0 模式校验（cffconvert 会把 jsonschema 降级到 3.x，
与 nbformat 冲突，所以不用它）。
"""
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.specifiers import SpecifierSet

# 与 tests/test_book.py 共用：make test 刚构建的 _build/html（过期时另建一份）
from test_book import html  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
REPO = CONFIG["repository"]
MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")
HOW_TO_USE = (ROOT / "how_to_use.md").read_text(encoding="utf-8")
PYPROJECT = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
CC_BY_SA = "https://creativecommons.org/licenses/by-sa/4.0/"


# ---- 工具 ----

def pyproject(key):
    """pyproject.toml 里 [project] 的一个字符串字段（tomllib 要 Python 3.11，这里不依赖它）。"""
    return re.search(rf'^{key} = "([^"]+)"', PYPROJECT, re.M)[1]


def check_jsonschema(schema, path):
    """用 check-jsonschema 自带的模式（vendor.<schema>，离线）校验一个文件，返回 (是否通过, 输出)。"""
    pytest.importorskip("check_jsonschema", reason="需要 check-jsonschema：pip install -e '.[test]'（make test 会装）")
    result = subprocess.run([sys.executable, "-m", "check_jsonschema", "--builtin-schema", f"vendor.{schema}",
                             "--default-filetype", "yaml", str(path)], capture_output=True, text=True)
    return result.returncode == 0, result.stdout + result.stderr


def load_workflow(name):
    """解析一个工作流。PyYAML 按 YAML 1.1 把键 on 读成 True，这里改回 "on"。"""
    data = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    if True in data:
        data["on"] = data.pop(True)
    return data


def steps(workflow):
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def run_lines(workflow):
    """所有 run 步骤里的命令，一行一条（去掉首尾空白）。"""
    return [line.strip() for step in steps(workflow) for line in step.get("run", "").splitlines() if line.strip()]


def uses(workflow, action):
    """调用 action（不含 @版本）的那些步骤。"""
    return [s for s in steps(workflow) if s.get("uses", "").split("@")[0] == action]


def make_recipe(target):
    """Makefile 里一个目标的依赖与命令。"""
    m = re.search(rf"^{target}:(?P<deps>[^\n=]*)\n(?P<recipe>(?:\t[^\n]*\n)+)", MAKEFILE, re.M)
    assert m, f"Makefile 里没有目标 {target}"
    return m["deps"].split(), m["recipe"]


def project_python():
    """README 写明的 Python 版本（“需要 Python 3.11”），它必须满足 pyproject 的 requires-python。"""
    versions = set(re.findall(r"需要 Python (\d+\.\d+)", README + HOW_TO_USE))
    assert len(versions) == 1, f"README 与 how_to_use.md 写的 Python 版本不唯一：{versions}"
    version = versions.pop()
    assert version in SpecifierSet(pyproject("requires-python"))
    return version


# ---- 工作流：模式校验 ----

@pytest.mark.parametrize("name", ["book.yml", "test.yml"])
def test_workflow_validates_against_the_github_workflow_schema(name):
    ok, output = check_jsonschema("github-workflows", WORKFLOWS / name)
    assert ok, output


BROKEN_WORKFLOWS = {
    "没有 runs-on": ("    runs-on: ubuntu-latest\n", ""),
    "权限取值不存在": ("pages: write", "pages: admin"),
    "拼错的触发事件": ("  workflow_dispatch:", "  workflow_dispach:"),
}


@pytest.mark.parametrize("broken", sorted(BROKEN_WORKFLOWS))
def test_schema_check_rejects_a_broken_workflow(broken, tmp_path):
    old, new = BROKEN_WORKFLOWS[broken]
    text = (WORKFLOWS / "book.yml").read_text(encoding="utf-8")
    assert old in text, "改坏工作流的办法失效了：book.yml 的写法变了？"
    probe = tmp_path / "book.yml"
    probe.write_text(text.replace(old, new, 1), encoding="utf-8")
    ok, output = check_jsonschema("github-workflows", probe)
    assert not ok, f"改坏的工作流（{broken}）竟然通过了校验：{output}"


# ---- 工作流：与 Makefile、README 一致 ----

@pytest.mark.parametrize("name", ["book.yml", "test.yml"])
def test_workflow_uses_the_project_python_and_caches_pip(name):
    setups = uses(load_workflow(name), "actions/setup-python")
    assert len(setups) == 1
    options = setups[0]["with"]
    assert str(options["python-version"]) == project_python()
    assert options["cache"] == "pip"
    for dep in options["cache-dependency-path"].split():
        assert (ROOT / dep).is_file(), f"pip 缓存的键依赖的 {dep} 不存在"


@pytest.mark.parametrize("name", ["book.yml", "test.yml"])
def test_actions_are_pinned_to_a_major_version(name):
    for step in steps(load_workflow(name)):
        if "uses" in step:
            assert re.fullmatch(r"[\w-]+/[\w-]+@v\d+", step["uses"]), f"{name}：{step['uses']} 没有钉住主版本"


def test_book_workflow_builds_like_make_book_and_deploys_to_pages():
    wf = load_workflow("book.yml")
    assert wf["on"]["push"]["branches"] == [REPO["branch"]] and "workflow_dispatch" in wf["on"]
    assert wf["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    assert wf["concurrency"]["group"] and wf["concurrency"]["cancel-in-progress"] is False
    # 构建就是 make book：与 Makefile 的 book 目标相同，输出在 _build/html
    assert "make book" in run_lines(wf)
    _, recipe = make_recipe("book")
    assert "jupyter-book build . -W" in recipe
    [upload] = uses(wf, "actions/upload-pages-artifact")
    out = upload["with"]["path"]
    assert out == "_build/html" and f"rm -rf {out}" in recipe and f"{out}/index.html" in recipe
    assert uses(wf, "actions/configure-pages")
    # 部署在另一个 job 里，等构建完成，环境是 github-pages
    deploy = wf["jobs"]["deploy"]
    assert deploy["needs"] == "build" and deploy["environment"]["name"] == "github-pages"
    assert [s["uses"].split("@")[0] for s in deploy["steps"]] == ["actions/deploy-pages"]


def test_test_workflow_runs_the_readme_test_command():
    wf = load_workflow("test.yml")
    assert "pull_request" in wf["on"] and wf["on"]["push"]["branches"] == [REPO["branch"]]
    commands = re.search(r"## 两条命令\n\n```bash\n(.*?)```", README, re.S)[1]
    assert re.search(r"^make test\b", commands, re.M), "README 的测试命令不再是 make test？"
    assert run_lines(wf)[-1] == "make test", "make test 应是最后一步（CI 读的是 pytest 的最后一行总结）"
    # make test 先构建书、找浏览器，再以 CNNLIB_NO_SKIP=1 运行：缺数据、字体或浏览器的测试算失败
    deps, recipe = make_recipe("test")
    assert deps == ["book", "chromium"] and "CNNLIB_NO_SKIP=1" in recipe


def test_test_workflow_installs_the_font_and_finds_the_browser_make_expects():
    from tools import check_html

    wf = load_workflow("test.yml")
    _, fonts = make_recipe("fonts")
    font_packages = set(re.findall(r"apt-get install [^\n]*?(fonts-[\w-]+)", fonts))
    assert font_packages == {"fonts-noto-cjk"}, font_packages
    installs = [line for line in run_lines(wf) if "apt-get install" in line]
    assert any(re.search(r"\bfonts-noto-cjk\b", line) for line in installs), installs
    # 运行器自带 Chrome：这一步找的名字，正是 make chromium 与 tools/check_html.py 找的名字
    [probe] = [line for line in run_lines(wf) if line.startswith("command -v")]
    names = re.findall(r"command -v (\S+)", probe)
    _, chromium = make_recipe("chromium")
    assert names and all(n in check_html.CHROMIUM_NAMES and f"command -v {n}" in chromium for n in names)


def test_test_workflow_downloads_the_official_data_into_cnnlibs_default_directory(monkeypatch):
    from cnnlib import datafiles

    wf = load_workflow("test.yml")
    text = (WORKFLOWS / "test.yml").read_text(encoding="utf-8")
    assert "shared" not in re.sub(r"#[^\n]*", "", text), "runner 上没有 ../shared：不能把数据目录指向它"
    # 数据目录 = cnnlib 不设 CNNLIB_DATA_DIR 时的默认缓存目录（在 runner 上 $HOME 是 /home/runner）
    [line] = [line for line in run_lines(wf) if f"{datafiles.ENV_VAR}=" in line]
    value = re.search(rf"{datafiles.ENV_VAR}=(\S+?)\"? >> \"\$GITHUB_ENV\"", line)[1]
    monkeypatch.setenv("HOME", "/home/runner")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.delenv(datafiles.ENV_VAR, raising=False)
    assert Path(value.replace("$HOME", "/home/runner")) == datafiles.data_root()
    [cache] = uses(wf, "actions/cache")
    assert Path(cache["with"]["path"].replace("~", "/home/runner")) == datafiles.data_root()
    # make test 之前用 cnnlib 自己的函数下载（torchvision，官方数据的校验路径）：
    # tests/conftest.py 的 data_dir 夹具要求数据已经在那里
    lines = run_lines(wf)
    download = next(i for i, line in enumerate(lines) if "ensure_fashion_mnist()" in line)
    assert lines.index("make venv") < download < lines.index("make test")
    assert re.search(r"^venv:", MAKEFILE, re.M)


# ---- 许可与引用 ----

def test_licences_name_the_holder_and_the_text_licence():
    mit = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert mit.startswith("MIT License\n") and pyproject("license") == "MIT"
    assert f"Copyright (c) {CONFIG['copyright']} {CONFIG['author']}\n" in mit
    assert "THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND" in mit
    text = (ROOT / "LICENSE-text").read_text(encoding="utf-8")
    assert "CC BY-SA 4.0" in text and CC_BY_SA in text and f"{CC_BY_SA}legalcode" in text
    assert CONFIG["title"] in text and "LICENSE" in text


def test_citation_cff_validates():
    ok, output = check_jsonschema("citation-file-format", ROOT / "CITATION.cff")
    assert ok, output


def test_schema_check_rejects_a_citation_without_authors(tmp_path):
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    del cff["authors"]
    probe = tmp_path / "CITATION.cff"
    probe.write_text(yaml.safe_dump(cff, allow_unicode=True), encoding="utf-8")
    ok, output = check_jsonschema("citation-file-format", probe)
    assert not ok and "authors" in output, output


def pages_url():
    """GitHub Pages 上的地址：https://<owner>.github.io/<repo>/（book.yml 发布到这里）。"""
    owner, name = REPO["url"].removeprefix("https://github.com/").split("/")
    return f"https://{owner}.github.io/{name}/"


def test_citation_cff_agrees_with_the_book():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    version = re.search(r'^__version__ = "([^"]+)"', (ROOT / "cnnlib" / "__init__.py").read_text(), re.M)[1]
    assert cff["cff-version"] == "1.2.0" and cff["version"] == version
    assert set(cff["license"]) == {pyproject("license"), "CC-BY-SA-4.0"}
    book = cff["preferred-citation"]
    for entry in (cff, book):
        assert entry["title"] == CONFIG["title"]
        assert [a["name"] for a in entry["authors"]] == [CONFIG["author"]]
        assert entry["url"] == pages_url() and entry["repository-code"] == REPO["url"]
    assert book["type"] == "book" and book["year"] == int(CONFIG["copyright"])


def bibtex_fields(text):
    """how_to_use.md “引用本书”一节里 BibTeX 条目的类型与字段（字段值去掉外层花括号）。"""
    section = text.split("\n## 引用本书\n", 1)[1].split("\n## ", 1)[0]
    entry = re.search(r"```bibtex\n(@(\w+)\{[^,]+,\n.*?\n\})\n```", section, re.S)
    assert entry, "“引用本书”一节里没有 BibTeX 条目"
    fields = dict(re.findall(r"^\s*(\w+)\s*=\s*\{(.*)\},?$", entry[1], re.M))
    return entry[2], fields


def citation_mismatches(cff, kind, fields):
    """BibTeX 与 CITATION.cff 的 preferred-citation 对不上的地方。"""
    book = cff["preferred-citation"]
    expected = {"title": book["title"], "year": str(book["year"]), "url": book["url"],
                "author": "{" + " and ".join(a["name"] for a in book["authors"]) + "}"}
    wrong = [f"{key}: {fields.get(key)!r} ≠ {value!r}" for key, value in expected.items() if fields.get(key) != value]
    return wrong + ([f"类型 @{kind} ≠ @{book['type']}"] if kind != book["type"] else [])


def test_bibtex_in_how_to_use_agrees_with_citation_cff():
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    kind, fields = bibtex_fields(HOW_TO_USE)
    assert citation_mismatches(cff, kind, fields) == []
    # 比较确实会发现不一致：改掉年份就必须报出来
    _, stale = bibtex_fields(HOW_TO_USE.replace(f"year   = {{{cff['preferred-citation']['year']}}}", "year   = {1999}"))
    assert citation_mismatches(cff, kind, stale) == [f"year: '1999' ≠ '{cff['preferred-citation']['year']}'"]


# ---- 网页：许可页脚与“编辑此页” ----

def licence_links():
    blob = f"{REPO['url']}/blob/{REPO['branch']}/{REPO['path_to_book']}"
    return {f"{blob}LICENSE", f"{blob}LICENSE-text", CC_BY_SA}


def test_footer_is_configured_with_both_licences():
    footer = CONFIG["html"]["extra_footer"]
    assert set(re.findall(r'href="([^"]+)"', footer)) == licence_links()
    assert "MIT" in footer and "CC BY-SA 4.0" in footer
    assert (ROOT / "LICENSE").is_file() and (ROOT / "LICENSE-text").is_file()


def toc_sources():
    """目录里每一页的源文件（相对仓库根目录），如 chapters/ch01_basics/conv_layer.ipynb。"""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]
    stack = list(toc["parts"])
    while stack:
        item = stack.pop()
        files += [item["file"]] if "file" in item else []
        stack += item.get("chapters", []) + item.get("sections", [])
    found = []
    for f in files:
        [src] = [p for p in (ROOT / f).parent.glob(Path(f).name + ".*") if p.suffix in (".md", ".ipynb")]
        found.append(src.relative_to(ROOT))
    return sorted(found)


def test_every_page_has_the_licence_footer(html):  # noqa: F811
    from tools.check_html import soup

    for src in toc_sources():
        page = soup((html / src.with_suffix(".html")).read_text(encoding="utf-8"))
        footer = page.find("div", class_="extra_footer")
        assert footer is not None, f"{src}：页面上没有许可页脚"
        assert {a["href"] for a in footer.find_all("a")} == licence_links(), src
        assert "MIT" in footer.get_text() and "CC BY-SA 4.0" in footer.get_text(), src


def edit_link(html, src):  # noqa: F811
    from tools.check_html import soup

    page = soup((html / src.with_suffix(".html")).read_text(encoding="utf-8"))
    links = {a["href"] for a in page.find_all("a", class_="btn-source-edit-button")}
    assert len(links) == 1, f"{src}：“编辑此页”链接应恰有一个，实际 {links}"
    return links.pop()


def test_edit_button_opens_the_notebook_on_github(html):  # noqa: F811
    assert REPO["path_to_book"] == "" and REPO["branch"] == "main"
    assert edit_link(html, Path("chapters/ch01_basics/conv_layer.ipynb")) == \
        "https://github.com/cnn-book-zh/cnn-book/edit/main/chapters/ch01_basics/conv_layer.ipynb"


def test_every_edit_link_points_at_an_existing_source_file(html):  # noqa: F811
    prefix = f"{REPO['url']}/edit/{REPO['branch']}/{REPO['path_to_book']}"
    for src in toc_sources():
        url = edit_link(html, src)
        assert url.startswith(prefix), f"{src}：{url} 不在 {prefix} 下"
        target = url.removeprefix(prefix)
        assert target == src.as_posix() and (ROOT / target).is_file(), f"{src}：编辑链接指向 {target}"
