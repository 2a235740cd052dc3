"""共用的夹具（fixture）。

缺少某样东西（离线数据、d2l、Chromium、jupyter-book）的测试逐个跳过，并用一行说明缺什么、怎么得到；
``make test`` 设置 ``CNNLIB_NO_SKIP=1``，这时任何跳过都算失败：CI 里每个测试都必须真正运行。
"""
import os
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if os.environ.get("CNNLIB_NO_SKIP") == "1" and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"CNNLIB_NO_SKIP=1（make test）不允许跳过测试（skip not allowed）：{reason}"


@pytest.fixture
def no_network(monkeypatch):
    """禁止任何网络连接：连接即抛出 OSError（模拟离线机器，且不会因超时而变慢）。"""
    def refuse(*args, **kwargs):
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture(scope="session")
def data_dir():
    root = os.environ.get("CNNLIB_DATA_DIR", "").strip()
    if not root or not (Path(root) / "FashionMNIST" / "raw").is_dir():
        pytest.skip("需要离线数据：CNNLIB_DATA_DIR 应指向含 FashionMNIST/raw 的目录（make test 自动用 ../shared/data）")
    return Path(root)


@pytest.fixture(scope="session")
def d2l():
    """d2l 1.0.3：测试里的参照实现（oracle）。它钉死了旧版 numpy 等，不能作为依赖声明。"""
    return pytest.importorskip("d2l.torch", reason="需要 d2l（参照实现）：pip install --no-deps d2l==1.0.3，"
                                                   "再装 scipy pandas requests matplotlib-inline（make test 会装）")
