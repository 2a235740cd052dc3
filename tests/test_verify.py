"""make verify（tools/verify_notebooks.py）：在内存里按不同精度执行笔记本，记下通过与否、失败的断言和最终指标，
不改动笔记本本身。"""
import json

import nbformat
import pytest

import cnnlib
from tools import verify_notebooks

TRAIN = '''import os, torch, cnnlib
from torch import nn
assert os.environ["CNNLIB_BUDGET"] == "smoke" and os.environ["CNNLIB_SEED"] == "0"
torch.manual_seed(0)
X, y = torch.randint(0, 256, (64, 8, 8), dtype=torch.uint8), torch.randint(0, 3, (64,))
loader = cnnlib.TensorLoader(X, y, 32, shuffle=True, device="cpu")
net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
h = cnnlib.train(net, loader, loader, 1, 0.1, device="cpu", progress=False, plot=False)
print(h.precision)'''


def notebook(tmp_path, name, *sources):
    path = tmp_path / name
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources]), path)
    return path


def test_verify_records_precision_metrics_and_the_failing_assert(tmp_path):
    good = notebook(tmp_path, "good.ipynb", TRAIN)
    # 失败的断言在单元的第 11 行：IPython 的箭头这时是“---> 11”，不是“----> 5”那样
    bad = notebook(tmp_path, "bad.ipynb", "x = 1", "\n" * 10 + 'assert x + 1 == 3, "一加一不等于三"')
    before = good.read_bytes(), bad.read_bytes()
    out = tmp_path / "verify.json"
    code = verify_notebooks.main([str(good), str(bad), "--precisions", "fp32", "auto", "--budget", "smoke",
                                  "--out", str(out)])
    assert code == 1                                      # 有一个失败
    assert (good.read_bytes(), bad.read_bytes()) == before   # 提交的笔记本不被改动
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert len(rows) == 4
    fp32, auto = rows[f"{good}|fp32|0"], rows[f"{good}|auto|0"]
    assert fp32["passed"] and fp32["resolved"] == ["fp32"] and fp32["budget"] == "smoke"
    assert auto["resolved"] == [cnnlib.resolve_precision("auto", "cpu")]
    assert fp32["final"][0]["model"] == "Sequential" and 0 <= fp32["final"][0]["test_acc"] <= 1
    assert fp32["machine"]["cpu_count"] and fp32["wall_seconds"] > 0
    assert fp32["code"] == auto["code"] == cnnlib.results.code_digest(good) != rows[f"{bad}|fp32|0"]["code"]
    failed = rows[f"{bad}|fp32|0"]
    assert not failed["passed"] and failed["error"]["ename"] == "AssertionError"
    assert failed["error"]["line"] == 'assert x + 1 == 3, "一加一不等于三"' and "一加一不等于三" in failed["error"]["evalue"]


def test_seeds_other_than_zero_need_a_seed_aware_notebook(tmp_path):
    path = notebook(tmp_path, "fixed_seed.ipynb", "import torch; torch.manual_seed(0)")
    with pytest.raises(SystemExit, match="CNNLIB_SEED"):
        verify_notebooks.main([str(path), "--seeds", "0", "1", "--out", str(tmp_path / "v.json")])
    assert not (tmp_path / "v.json").exists()


def test_seed_aware_notebook_runs_under_each_seed(tmp_path):
    path = notebook(tmp_path, "seeded.ipynb", "import cnnlib\nseed = cnnlib.get_seed()\nprint(seed)",
                    "assert seed in (0, 1)")
    out = tmp_path / "v.json"
    assert verify_notebooks.main([str(path), "--precisions", "fp32", "--seeds", "0", "1", "2",
                                  "--budget", "smoke", "--out", str(out)]) == 1
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert [rows[f"{path}|fp32|{s}"]["passed"] for s in (0, 1, 2)] == [True, True, False]


def test_code_digest_changes_with_code_only(tmp_path):
    a = notebook(tmp_path, "a.ipynb", "x = 1")
    b = tmp_path / "b.ipynb"
    nb = nbformat.read(a, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("正文"))
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="1")]
    nbformat.write(nb, b)
    assert cnnlib.results.code_digest(a) == cnnlib.results.code_digest(b)   # 正文和输出不算
    nb.cells[0].source = "x = (  # 注释和换行不算\n    1)"
    nbformat.write(nb, b)
    assert cnnlib.results.code_digest(a) == cnnlib.results.code_digest(b)
    nb.cells[0].source = "x = 2"
    nbformat.write(nb, b)
    assert cnnlib.results.code_digest(a) != cnnlib.results.code_digest(b)


def test_code_digest_ignores_docstrings_but_not_other_strings(tmp_path):
    a = notebook(tmp_path, "a.ipynb", 'def f():\n    """旧的说明"""\n    return "x"')
    b = notebook(tmp_path, "b.ipynb", 'def f():\n    """新的\n    说明"""\n    return "x"')
    c = notebook(tmp_path, "c.ipynb", 'def f():\n    """旧的说明"""\n    return "y"')
    assert cnnlib.results.code_digest(a) == cnnlib.results.code_digest(b) != cnnlib.results.code_digest(c)


def test_code_digest_falls_back_to_text_for_magics(tmp_path):
    a, b = notebook(tmp_path, "a.ipynb", "%time x = 1"), notebook(tmp_path, "b.ipynb", "%time x = 2")
    assert cnnlib.results.code_digest(a) != cnnlib.results.code_digest(b)
