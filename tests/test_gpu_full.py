"""tools/gpu_full.py 在 CPU 上的试跑：用几个很小的合成笔记本（smoke 预算）核对记录的内容、fp16 这一轮、
失败的断言、截止时间前停下，以及没有 GPU 时拒绝 full 预算。不需要 GPU。"""
import datetime
import json

import nbformat
import pytest
import torch

import cnnlib
from tools import gpu_full
from tools.execute_notebooks import RECORD

TRAIN = '''import os, torch, cnnlib
from torch import nn
assert os.environ["CNNLIB_BUDGET"] == "smoke" and os.environ["CNNLIB_PROGRESS"] == "text"
assert os.environ["CNNLIB_PRECISION"] in ("auto", "fp16")
torch.manual_seed(0)
X, y = torch.randint(0, 256, (64, 8, 8), dtype=torch.uint8), torch.randint(0, 3, (64,))
loader = cnnlib.TensorLoader(X, y, 32, shuffle=True, device="cpu")
net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
h = cnnlib.train(net, loader, loader, 1, 0.1, device="cpu", progress=False, plot=False)
print(h.precision)'''
MARK = "open('ran', 'w').close()"     # 被执行时在笔记本的目录里留下文件 ran


def notebook(tmp_path, name, *sources):
    path = tmp_path / name
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources]), path)
    return path


def key(path, precision):
    return f"{path.resolve()}|{precision}"


def test_dry_run_records_both_passes_and_the_failing_assert(tmp_path):
    good = notebook(tmp_path, "good.ipynb", TRAIN)
    bad = notebook(tmp_path, "bad.ipynb", "x = 1", "\n" * 4 + 'assert x + 1 == 3, "一加一不等于三"')
    before = good.read_bytes(), bad.read_bytes()
    out = tmp_path / "full.json"
    code = gpu_full.main([str(good), str(bad), "--fp16", str(good), "--budget", "smoke", "--out", str(out)])
    assert code == 1                                          # bad 失败
    assert (good.read_bytes(), bad.read_bytes()) == before   # 笔记本不被改动
    rec = json.loads(out.read_text(encoding="utf-8"))
    assert rec["gpu"] == (torch.cuda.get_device_name() if torch.cuda.is_available() else None)
    assert (rec["torch"], rec["cuda"], rec["machine"]) == (torch.__version__, torch.version.cuda,
                                                            cnnlib.results.machine())
    assert datetime.datetime.fromisoformat(rec["started"]).tzinfo is not None
    assert rec["budget"] == "smoke" and rec["skipped"] == []
    # fp16 这一轮只执行 --fp16 列出的笔记本
    assert sorted(rec["results"]) == sorted([key(good, "auto"), key(bad, "auto"), key(good, "fp16")])
    auto, fp16 = rec["results"][key(good, "auto")], rec["results"][key(good, "fp16")]
    assert auto["passed"] and fp16["passed"] and auto["error"] is None
    assert auto["resolved"] == [cnnlib.resolve_precision("auto", "cpu")]
    # 明确要求的 fp16 在 CPU 上原样采用：试跑真的走了 fp16 加 GradScaler 的路径
    assert cnnlib.resolve_precision("fp16", "cpu") == "fp16" and fp16["precision"] == "fp16"
    assert fp16["resolved"] == ["fp16"] and [r["precision"] for r in fp16["runs"]] == ["fp16"]
    committed = next(e["runs"][0] for e in json.loads(RECORD.read_text(encoding="utf-8")).values() if e["runs"])
    assert set(fp16["runs"][0]) == set(committed)           # 与 results/notebooks.json 的字段相同
    run = fp16["runs"][0]
    assert run["model"] == "Sequential" and run["budget"] == "smoke" and 0 <= run["final"]["test_acc"] <= 1
    assert fp16["budget"] == "smoke" and fp16["wall_seconds"] > 0 and fp16["machine"]["cpu_count"]
    failed = rec["results"][key(bad, "auto")]
    assert not failed["passed"] and failed["error"]["ename"] == "AssertionError" and failed["runs"] == []
    assert failed["error"]["line"] == 'assert x + 1 == 3, "一加一不等于三"'
    assert "一加一不等于三" in failed["error"]["evalue"]


def test_deadline_skips_what_cannot_fit(tmp_path, capsys):
    fast = notebook(tmp_path, "fast.ipynb", "x = 1")
    slow, new = notebook(tmp_path, "slow.ipynb", MARK), notebook(tmp_path, "new.ipynb", MARK)
    out = tmp_path / "full.json"
    old = {key(fast, "auto"): {"notebook": str(fast.resolve()), "precision": "auto", "wall_seconds": 1.0},
           key(slow, "auto"): {"notebook": str(slow.resolve()), "precision": "auto", "wall_seconds": 1000.0}}
    out.write_text(json.dumps({"results": old}), encoding="utf-8")
    code = gpu_full.main([str(fast), str(slow), "--fp16", str(fast), "--budget", "smoke",
                          "--deadline-minutes", "1", "--out", str(out)])
    assert code == 0
    rec = json.loads(out.read_text(encoding="utf-8"))
    assert rec["results"][key(fast, "auto")]["passed"]                 # 上次 1 秒：放得下，执行了
    assert rec["skipped"] == [key(slow, "auto"), key(fast, "fp16")]   # 上次 1000 秒放不下：停下，其余都跳过
    assert rec["results"][key(slow, "auto")] == old[key(slow, "auto")]   # 旧条目保留
    assert key(fast, "fp16") not in rec["results"] and not (tmp_path / "ran").exists()
    assert "跳过其余 2 个" in capsys.readouterr().out
    # 没有上次耗时的笔记本按 90 秒估计：一分钟里放不下
    assert gpu_full.main([str(new), "--fp16", "--budget", "smoke", "--deadline-minutes", "1",
                          "--out", str(out)]) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["skipped"] == [key(new, "auto")]
    assert not (tmp_path / "ran").exists()


def test_full_budget_without_gpu_is_refused_unless_allowed(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    path, out = notebook(tmp_path, "x.ipynb", MARK), tmp_path / "full.json"
    with pytest.raises(SystemExit, match="no CUDA device"):
        gpu_full.main([str(path), "--fp16", "--out", str(out)])      # 默认预算就是 full
    assert not out.exists() and not (tmp_path / "ran").exists()
    with pytest.raises(SystemExit, match="notebook not found.*nope.ipynb"):   # 开始之前就核对，不是跑到一半
        gpu_full.main([str(path), "--fp16", str(tmp_path / "nope.ipynb"), "--budget", "smoke", "--out", str(out)])
    assert not out.exists() and not (tmp_path / "ran").exists()
    # --allow-cpu 时放行（这里截止时间只有一分钟，未知的笔记本按 90 秒估计，所以跳过而不真的执行）
    assert gpu_full.main([str(path), "--fp16", "--allow-cpu", "--deadline-minutes", "1", "--out", str(out)]) == 0
    rec = json.loads(out.read_text(encoding="utf-8"))
    assert rec["budget"] == "full" and rec["gpu"] is None and rec["skipped"] == [key(path, "auto")]
