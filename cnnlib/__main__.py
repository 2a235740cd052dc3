"""``python -m cnnlib``：见 :mod:`cnnlib.cli`。"""
import sys

from .cli import main

if __name__ == "__main__":      # 只在 python -m cnnlib 时运行；import cnnlib.__main__ 什么也不做
    sys.exit(main())
