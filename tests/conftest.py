import os
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


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
        pytest.fail("这些测试需要离线数据：请把 CNNLIB_DATA_DIR 指向含 FashionMNIST/raw 的目录"
                    "（make test 会自动使用 ../shared/data）")
    return Path(root)
