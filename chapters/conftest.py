"""``pytest --nbval chapters/``：笔记本默认以 smoke 预算执行（CNNLIB_BUDGET 已设置时照它），并用
tests/sanitize.cfg 去掉地址、耗时等与机器有关的输出。``make test`` 执行的是 _build/nbval/ 里的副本，不经过本文件。"""
import os
from pathlib import Path

os.environ.setdefault("CNNLIB_BUDGET", "smoke")   # 内核继承本进程的环境变量


def pytest_configure(config):
    if getattr(config.option, "nbval_sanitize_with", "") is None:
        config.option.nbval_sanitize_with = str(Path(__file__).resolve().parents[1] / "tests" / "sanitize.cfg")
