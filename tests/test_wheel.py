"""像 Colab 上的新用户那样安装 cnnlib：构建 wheel，装进一个全新的虚拟环境，再导入并训练。

可编辑安装（``make venv`` 的 ``pip install -e .``）会掩盖打包错误：例如 pyproject 只列出
``packages = ["cnnlib"]`` 时 wheel 里没有 ``cnnlib/models``，``import cnnlib`` 在 Colab 上失败。
本文件按用户拿到的东西检查：

1. **导出（export）**：用 ``git ls-files --cached --others --exclude-standard`` 把已跟踪的文件和
   未被忽略的新文件复制到临时目录。这正是提交后一次干净 clone 的内容，而且提交之前也能测试
   工作区里的修改（``git archive HEAD`` 则测不到未提交的修复）。
2. **构建 wheel**：``pip wheel --no-deps``，与 ``pip install git+...`` 一样走构建隔离
   （build isolation，从包索引取 ``build-system.requires`` 里的 setuptools）。检查 wheel 含有
   源码树中每个 ``cnnlib/**/*.py``，不含 tests、chapters 等，依赖只写下限（不钉死版本）。
3. **全新虚拟环境（fresh venv）**：模拟 Colab，预装 torch、torchvision、numpy、matplotlib、tqdm
   （以及 pip），但没有 cnnlib、也看不到本仓库。从磁盘重新安装 torch 要复制约 5 GB、耗时数分钟，
   所以这里用 ``python -m venv --without-pip`` 建环境，再把当前解释器环境中这些分发包
   （distribution）依赖闭包里每个包的 RECORD 所列文件硬链接（os.link；跨文件系统时复制）到新
   环境的 site-packages。依赖闭包用 ``importlib.metadata`` 读取，并用 ``packaging`` 正确求值
   环境标记（marker）和 extras（例如 torch 需要 ``cuda-toolkit[cublas,...]``）。得到的是 pip 认得
   的真实安装（有 dist-info 与 RECORD，console script 的 shebang 改写为新解释器），几秒即可完成，
   而且包的版本与 Colab 一样是“已经装好、不应被改动”的状态。新环境的 ``pip list`` 必须恰好是
   这个闭包。
4. **像用户一样安装**：记录 ``pip list``，然后 ``pip install <wheel>``（带依赖解析，不加
   ``--no-deps``）；之后每个原有分发包的版本都不能变，唯一的变化是多了 cnnlib，``pip check`` 通过。
   这保证在 Colab 上安装 cnnlib 不会重装 torch、也不会降级 numpy。
5. **导入与训练**：在仓库之外的临时工作目录里用新环境的 python（不设 PYTHONPATH）导入 cnnlib，
   确认它来自新环境的 site-packages，用 pkgutil.walk_packages 导入全部模块，构建 LeNet 与
   GoogLeNet(input_size=48)，并用离线数据（CNNLIB_DATA_DIR）训练一轮 smoke 小批量，损失有限。

硬链接只增加目录项：pip 卸载或 Python 写 .pyc 都是删除/原子替换，不会改写项目 .venv 里的文件。
不在 git 仓库中（例如从源码包运行）时跳过；其他任何无法完成的步骤都以失败报告原因。
"""
import errno
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import time
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
# Colab 预装的包：安装 cnnlib 时它们必须保持原样。pip 也在其中（Colab 自带较新的 pip）。
PREINSTALLED = ("torch", "torchvision", "numpy", "matplotlib", "tqdm", "pip")
TIMINGS = {}


def _tail(text, n=4000):
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = text or ""
    return text if len(text) <= n else "…" + text[-n:]


def run(cmd, timeout, what, **kwargs):
    """运行子进程；失败时断言信息里带上命令、返回码和输出。"""
    start = time.perf_counter()
    try:
        result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                                timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{what}超时（timeout {timeout} s）：{' '.join(map(str, cmd))}\n"
                    f"stdout:\n{_tail(e.stdout)}\nstderr:\n{_tail(e.stderr)}", pytrace=False)
    TIMINGS[what] = round(time.perf_counter() - start, 2)
    if result.returncode != 0:
        pytest.fail(f"{what}失败（returncode {result.returncode}）：{' '.join(map(str, cmd))}\n"
                    f"stdout:\n{_tail(result.stdout)}\nstderr:\n{_tail(result.stderr)}", pytrace=False)
    return result


def clean_env(venv=None):
    """子进程环境：去掉 PYTHONPATH 等会把仓库或别的环境带进来的变量；保留 CNNLIB_DATA_DIR 和 pip 配置。"""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV",
                        "PIP_TARGET", "PIP_PREFIX", "PIP_USER", "PIP_REQUIRE_VIRTUALENV",
                        "PIP_NO_DEPS", "PIP_EDITABLE", "PIP_UPGRADE", "PIP_FORCE_REINSTALL")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", MPLBACKEND="Agg")
    if venv is not None:
        env["VIRTUAL_ENV"] = str(venv)
        env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def pip_list(python, cwd):
    out = run([python, "-m", "pip", "list", "--format=json"], 120, "pip list",
              cwd=cwd, env=clean_env(Path(python).parents[1])).stdout
    return {canonicalize_name(d["name"]): d["version"] for d in json.loads(out)}


# ---------------------------------------------------------------- 导出与构建

@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """仓库中已跟踪 + 未被忽略的文件（= 提交后干净 clone 的内容，含未提交的修改）。"""
    if not (ROOT / ".git").exists():
        pytest.skip("不在 git checkout 中（no .git），无法导出仓库内容")
    if shutil.which("git") is None:
        pytest.fail("仓库有 .git，但找不到 git 命令（git not found），无法导出要打包的文件")
    listing = run(["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                  60, "git ls-files").stdout
    dest = tmp_path_factory.mktemp("export")
    copied = 0
    for rel in filter(None, listing.split("\0")):
        src = ROOT / rel
        if not src.is_file() and not src.is_symlink():
            continue                 # 工作区里已删除的文件、子模块目录
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest / rel, follow_symlinks=False)
        copied += 1
    assert (dest / "pyproject.toml").is_file(), "导出的文件里没有 pyproject.toml"
    assert (dest / "cnnlib" / "__init__.py").is_file(), "导出的文件里没有 cnnlib/__init__.py"
    assert not list(dest.glob("*.egg-info")), \
        "仓库里提交了 *.egg-info（它会影响构建出的 wheel）：git rm -r --cached cnnlib.egg-info"
    return dest


@pytest.fixture(scope="module")
def source_modules(export):
    """源码树中 cnnlib 的全部 .py 文件（wheel 里的路径）与对应的模块名。"""
    files = sorted(p.relative_to(export).as_posix() for p in (export / "cnnlib").rglob("*.py"))
    modules = []
    for f in files:
        parts = f[:-3].split("/")
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules.append(".".join(parts))
    return files, sorted(modules)


@pytest.fixture(scope="module")
def wheel(export, tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", out, export], 300,
        "构建 wheel（pip wheel，build isolation 需要从包索引获取 setuptools）",
        cwd=out, env=clean_env())
    wheels = sorted(out.glob("cnnlib-*.whl"))
    assert len(wheels) == 1, f"应恰好生成一个 cnnlib wheel，得到 {[w.name for w in out.iterdir()]}"
    return wheels[0]


def test_wheel_contains_every_module_and_nothing_else(wheel, source_modules):
    files, _ = source_modules
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        meta_name = next((n for n in names if n.endswith(".dist-info/METADATA")), None)
        assert meta_name, f"wheel 里没有 METADATA：{sorted(names)}"
        meta = zf.read(meta_name).decode("utf-8")
    missing = [f for f in files if f not in names]
    assert not missing, (f"wheel 缺少这些模块（missing modules）：{missing}\n"
                         "pyproject.toml 应使用 [tool.setuptools.packages.find] include = [\"cnnlib*\"]")
    tops = {n.split("/", 1)[0] for n in names}
    extra = sorted(t for t in tops if t != "cnnlib" and not t.endswith(".dist-info"))
    assert not extra, f"wheel 里不应有 cnnlib 之外的顶层目录（tests、chapters 等）：{extra}"
    # 运行时依赖只写下限：在 Colab 上安装 cnnlib 不能重装 torch 或降级 numpy。
    # （test、book、dev 这些可选依赖带 extra == "..." 标记，用户不装它们，可以钉死版本。）
    runtime = [Requirement(line.split(":", 1)[1].strip()) for line in meta.splitlines()
               if line.startswith("Requires-Dist:")]
    runtime = [req for req in runtime if req.marker is None or "extra" not in str(req.marker)]
    assert {req.name for req in runtime} >= {"torch", "torchvision", "numpy", "matplotlib", "tqdm"}
    for req in runtime:
        bad = [s for s in req.specifier if s.operator not in (">=", ">", "!=")]
        assert not bad, f"依赖 {req} 不应钉死或限制上限（only lower bounds）：{bad}"
    # 版本号只有一个来源：cnnlib/__init__.py 的 __version__（pyproject.toml 里是 dynamic）
    version = re.search(r'^__version__ = "([^"]+)"$', (ROOT / "cnnlib" / "__init__.py").read_text(encoding="utf-8"), re.M)
    assert f"\nVersion: {version.group(1)}\n" in meta


# ---------------------------------------------------------------- 全新的“Colab”环境

def dependency_closure(roots):
    """当前解释器环境中 roots 的依赖闭包：{规范名: Distribution}；正确处理 marker 与 extras。"""
    paths = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    installed = {}
    for dist in metadata.distributions(path=paths):
        installed.setdefault(canonicalize_name(dist.metadata["Name"]), dist)
    closure, done_extras = {}, {}
    todo = [(name, frozenset(), "（预装）") for name in roots]
    while todo:
        name, extras, needed_by = todo.pop()
        key = canonicalize_name(name)
        dist = installed.get(key)
        assert dist is not None, (f"当前环境（{sys.prefix}）没有安装 {name}（{needed_by} 需要它），"
                                  "无法为全新环境准备预装包；请先 make venv")
        new_extras = {""} | set(extras) if key not in closure else set(extras) - done_extras[key]
        closure[key] = dist
        done_extras.setdefault(key, set()).update(new_extras)
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in new_extras):
                continue
            todo.append((req.name, frozenset(req.extras), f"{name} {dist.version}"))
    for key, dist in closure.items():   # 源环境本身必须自洽，否则新环境里的 pip 会去下载
        for line in dist.requires or []:
            req = Requirement(line)
            dep = closure.get(canonicalize_name(req.name))
            if dep is not None and not req.specifier.contains(dep.version, prereleases=True):
                pytest.fail(f"当前环境不自洽：{key} 需要 {req}，但装的是 {dep.version}")
    return closure


def populate(closure, src_paths, dst_paths):
    """把每个分发包 RECORD 中的文件硬链接到新环境；console script 改写 shebang。"""
    dst_root = Path(os.path.normpath(dst_paths["data"]))
    scripts = Path(os.path.normpath(dst_paths["scripts"]))
    python = scripts / "python"
    made, linked, copied = set(), 0, 0
    for key, dist in closure.items():
        assert dist.files, f"{key} 没有 RECORD（不是 pip 安装的？），无法复制到全新环境"
        base = Path(dist.locate_file("")).resolve()
        site = dst_paths["platlib"] if base == Path(src_paths["platlib"]).resolve() else dst_paths["purelib"]
        for f in dist.files:
            src = Path(dist.locate_file(f))
            dst = Path(os.path.normpath(Path(site) / f))
            if not src.is_file() or dst.exists() or not dst.is_relative_to(dst_root):
                continue              # RECORD 中不存在的文件、与 venv 自带文件重名、装到环境外的数据
            if dst.parent not in made:
                dst.parent.mkdir(parents=True, exist_ok=True)
                made.add(dst.parent)
            if dst.parent == scripts:
                data = src.read_bytes()
                if data.startswith(b"#!"):
                    rest = data.split(b"\n", 1)[1] if b"\n" in data else b""
                    dst.write_bytes(b"#!" + str(python).encode() + b"\n" + rest)
                    shutil.copymode(src, dst)
                    copied += 1
                    continue
            try:
                os.link(src, dst)
                linked += 1
            except OSError as e:
                if e.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EACCES):
                    raise
                shutil.copy2(src, dst)
                copied += 1
    return linked, copied


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory):
    """全新虚拟环境：只有 PREINSTALLED 及其依赖（从当前环境硬链接），没有 cnnlib，也看不到本仓库。"""
    closure = dependency_closure(PREINSTALLED)
    assert "cnnlib" not in closure, "预装包的依赖闭包里不应有 cnnlib"
    expected = {key: dist.version for key, dist in closure.items()}
    venv = tmp_path_factory.mktemp("colab") / "venv"
    workdir = tmp_path_factory.mktemp("work")
    start = time.perf_counter()
    run([sys.executable, "-m", "venv", "--without-pip", venv], 120, "python -m venv",
        cwd=workdir, env=clean_env())
    python = venv / "bin" / "python"
    dst_paths = json.loads(run([python, "-c", "import json, sysconfig; print(json.dumps(sysconfig.get_paths()))"],
                               60, "读取新环境的 sysconfig", cwd=workdir, env=clean_env(venv)).stdout)
    linked, copied = populate(closure, sysconfig.get_paths(), dst_paths)
    TIMINGS["填充全新环境（硬链接）"] = round(time.perf_counter() - start, 2)
    before = pip_list(python, workdir)
    assert before == expected, (
        "新环境中 pip 看到的分发包与预期不同（pip list mismatch）\n"
        f"多出：{ {k: v for k, v in before.items() if expected.get(k) != v} }\n"
        f"缺少：{ {k: v for k, v in expected.items() if before.get(k) != v} }")
    return {"venv": venv, "python": python, "site": Path(dst_paths["purelib"]), "workdir": workdir,
            "before": before, "linked": linked, "copied": copied}


@pytest.fixture(scope="module")
def installed(fresh_venv, wheel):
    """像用户一样安装 wheel：带依赖解析（不加 --no-deps）。"""
    fv = fresh_venv
    result = run([fv["python"], "-m", "pip", "install", wheel], 300, "pip install <wheel>",
                 cwd=fv["workdir"], env=clean_env(fv["venv"]))
    fv["install_log"] = result.stdout + result.stderr
    fv["after"] = pip_list(fv["python"], fv["workdir"])
    return fv


def test_install_keeps_preinstalled_packages(installed):
    before, after = installed["before"], installed["after"]
    changed = {k: (v, after.get(k)) for k, v in before.items() if after.get(k) != v}
    assert not changed, (f"安装 cnnlib 改动了预装包（reinstalled / downgraded）：{changed}\n"
                         f"pip 输出：\n{_tail(installed['install_log'])}")
    added = {k: v for k, v in after.items() if k not in before}
    assert set(added) == {"cnnlib"}, (
        f"安装后应只多出 cnnlib，实际新增：{added}\npip 输出：\n{_tail(installed['install_log'])}")
    run([installed["python"], "-m", "pip", "check"], 120, "pip check",
        cwd=installed["workdir"], env=clean_env(installed["venv"]))


CHECK = textwrap.dedent("""
    import importlib, json, math, os, pkgutil, sys
    from pathlib import Path
    root, site, expected = Path(sys.argv[1]), Path(sys.argv[2]).resolve(), json.loads(sys.argv[3])
    leaked = [p for p in sys.path if p and Path(p).resolve().is_relative_to(root)]
    assert not leaked, f"仓库出现在 sys.path 中（checkout on sys.path）：{leaked}"
    import cnnlib
    where = Path(cnnlib.__file__).resolve()
    assert where.is_relative_to(site), f"cnnlib 不是从新环境的 site-packages 导入的：{where}"
    found = ["cnnlib"]
    def onerror(name):
        raise ImportError(f"导入 {name} 失败")
    for info in pkgutil.walk_packages(cnnlib.__path__, "cnnlib.", onerror=onerror):
        importlib.import_module(info.name)
        found.append(info.name)
    missing = sorted(set(expected) - set(found))
    assert not missing, f"这些模块在安装后的 cnnlib 中找不到（missing modules）：{missing}"
    import torch
    from cnnlib import models
    torch.manual_seed(0)
    y = models.googlenet(input_size=48)(torch.zeros(2, 1, 48, 48))
    assert tuple(y.shape) == (2, 10), f"googlenet(input_size=48) 输出形状错误：{tuple(y.shape)}"
    net = models.lenet()
    train_iter, test_iter = cnnlib.load_fashion_mnist(64, limit=256, test_limit=128, device="cpu")
    h = cnnlib.train(net, train_iter, test_iter, 1, 0.1, device="cpu", progress=False, plot=False,
                     budget="smoke")
    assert len(h) == 1 and all(math.isfinite(v) for v in h.train_loss), f"损失不是有限值：{h.train_loss}"
    print(json.dumps({"file": str(where), "modules": found, "torch": torch.__version__,
                      "train_loss": h.train_loss}))
""")


def test_import_and_train_from_installed_wheel(installed, source_modules, data_dir):
    _, modules = source_modules
    env = clean_env(installed["venv"])
    env["CNNLIB_DATA_DIR"] = str(data_dir)
    script = installed["workdir"] / "check_installed_cnnlib.py"
    script.write_text(CHECK, encoding="utf-8")
    result = run([installed["python"], script, ROOT, installed["site"], json.dumps(modules)],
                 300, "在全新环境中导入并训练", cwd=installed["workdir"], env=env)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert sorted(report["modules"]) == modules, f"导入的模块与源码树不一致：{report['modules']}"
    print(f"\n计时（秒）：{TIMINGS}；硬链接 {installed['linked']} 个文件，复制 {installed['copied']} 个")


def test_command_line_runs_from_installed_wheel(installed, data_dir):
    # 用户装的是 wheel：python -m cnnlib 也要在那里能用（__main__.py 在 wheel 里）
    env = clean_env(installed["venv"])
    env["CNNLIB_DATA_DIR"] = str(data_dir)
    listed = run([installed["python"], "-m", "cnnlib", "models"], 120, "python -m cnnlib models",
                 cwd=installed["workdir"], env=env)
    assert "resnet18" in listed.stdout and "11,178,378" in listed.stdout
    trained = run([installed["python"], "-m", "cnnlib", "train", "lenet", "--budget", "smoke", "--device", "cpu"],
                  300, "python -m cnnlib train", cwd=installed["workdir"], env=env)
    assert trained.stdout.startswith("device=cpu") and "测试准确率 test acc" in trained.stdout
