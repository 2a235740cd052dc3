"""make bench 的基准脚本（benchmarks/performance.py）与它提交的结果 results/performance.json。

附录“计算性能”一页只读这份 JSON：这里检查脚本在本机试跑（--quick）写出的 JSON 与提交的那份结构相同，
所以重新运行 make bench 之后那一页照样能生成；页面上的数字与 JSON 一致由 nbval 检查。
"""
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

import cnnlib

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "performance.py"
COMMITTED = ROOT / "results" / "performance.json"


def load_script():
    spec = importlib.util.spec_from_file_location("performance", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# 键本身是数据的字典（算子名、类别名随模型和机器而变）：只比较“名字 → 数”的形式
DATA_KEYED = {"categories_ms", "top_ops_ms"}


def shape(value):
    """JSON 的结构：字典取键（递归），列表取第一个元素的结构；样本列表和数值只记类型。"""
    if isinstance(value, dict):
        return {k: (sorted({shape(x) for x in v.values()}) if k in DATA_KEYED else shape(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value and isinstance(value[0], dict) else "list"
    return "number" if isinstance(value, (int, float)) and not isinstance(value, bool) else type(value).__name__


@pytest.mark.parametrize("op, expected", [
    ("aten::convolution_backward", "卷积"), ("aten::mkldnn_convolution", "卷积"),
    ("aten::addmm", "矩阵乘法（全连接层）"), ("aten::mm", "矩阵乘法（全连接层）"),
    ("aten::native_batch_norm_backward", "批量规范化"), ("aten::avg_pool2d_backward", "汇聚"),
    ("Optimizer.step#SGD.step", "优化器更新"), ("aten::_foreach_add_", "优化器更新"),
    ("aten::sigmoid_backward", "激活与逐元素运算"), ("aten::threshold_backward", "激活与逐元素运算"),
    ("aten::add_", "激活与逐元素运算"), ("aten::_log_softmax", "损失"),
    ("aten::t", "内存分配与格式转换"), ("aten::copy_", "内存分配与格式转换"), ("aten::to", "内存分配与格式转换"),
    ("autograd::engine::evaluate_function: AddmmBackward0", "其他（自动微分引擎的调度等）"),
    ("aten::tril", "其他（自动微分引擎的调度等）"),
])
def test_profiler_ops_fall_into_the_intended_category(op, expected):
    assert load_script().category(op) == expected


@pytest.fixture(scope="module")
def quick(tmp_path_factory, data_dir, d2l):
    out = tmp_path_factory.mktemp("bench") / "performance.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text(encoding="utf-8")), done.stdout


def test_quick_run_writes_the_same_structure_as_the_committed_results(quick):
    fresh, _ = quick
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert shape(fresh) == shape(committed)
    assert fresh["settings"]["quick"] and not committed["settings"]["quick"]
    assert committed["command"] == "make bench"


def test_quick_run_measures_what_it_says(quick):
    fresh, stdout = quick
    assert [r["key"] for r in fresh["d2l"]["rows"]] == ["loader28", "loader224", "lenet_epoch"]
    assert fresh["d2l"]["rows"][0]["images"] == 1280
    assert {m["name"] for m in fresh["models"]} == {"LeNet", "BN-LeNet"}
    lenet = next(m for m in fresh["models"] if m["name"] == "LeNet")
    assert lenet["params"] == 61_706 and lenet["forward_flops"] == 833_040
    assert lenet["train_flops"] == cnnlib.count_flops(cnnlib.models.lenet(), (1, 28, 28), backward=True)
    variants = {"fp32", "fp32+cl"} | ({"bf16", "bf16+cl"} if fresh["machine"]["auto_precision"] == "bf16" else set())
    assert set(lenet["img_per_s"]) == variants
    assert all(v["median"] > 0 for v in lenet["img_per_s"].values())
    for part in fresh["peak"].values():
        assert part["matmul_peak_gflops"] == max(part["gflops"]) > 0 and part["conv_gflops"] > 0
        assert part["peak_gflops"] == max(part["matmul_peak_gflops"], part["conv_gflops"])
    for row in fresh["profile"]:   # 各类别的时间加起来不超过整步的墙钟时间
        assert 0 < sum(row["categories_ms"].values()) <= row["step_ms"] * 1.05
    assert "写入" in stdout


def test_committed_results_cover_every_book_model():
    committed = cnnlib.results.load_benchmark(COMMITTED)
    script = load_script()
    assert [m["name"] for m in committed["models"]] == [m[0] for m in script.MODELS]
    for row, (name, make, side, batch, _) in zip(committed["models"], script.MODELS):
        assert (row["input"], row["batch"]) == (side, batch)
        assert row["params"] == cnnlib.num_params(make())
    assert committed["settings"]["repeats"] >= 5
    assert all(len(v["samples"]) == committed["settings"]["repeats"]
               for m in committed["models"] for v in m["img_per_s"].values())


def test_load_benchmark_rejects_a_file_that_is_not_a_benchmark(tmp_path):
    bad = tmp_path / "p.json"
    bad.write_text('{"machine": {}}', encoding="utf-8")
    with pytest.raises(ValueError, match="make bench"):
        cnnlib.results.load_benchmark(bad)
