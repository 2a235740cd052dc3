"""多进程训练：TensorLoader.shard 与 torchrun + DistributedDataParallel（CPU 上用 gloo 后端）。"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import cnnlib
from cnnlib import models

ROOT = Path(__file__).resolve().parents[1]


def loader(n=1001, batch=100, **kw):
    g = torch.Generator().manual_seed(0)
    X = torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=g)
    y = torch.arange(n)                     # 标签取样本的下标：每个样本都能认出来
    return cnnlib.TensorLoader(X, y, batch, shuffle=True, device="cpu", seed=3, **kw)


@pytest.mark.parametrize("world", [2, 3])
def test_shards_together_are_the_single_process_epoch(world):
    single = loader(batch=40 * world)
    shards = [loader(batch=40).shard(r, world, pad=True) for r in range(world)]
    for epoch in range(2):                                        # 每一轮都用同一个新的打乱顺序
        per_rank = [[yb for _, yb in s] for s in shards]
        whole = [yb for _, yb in single]
        assert len({len(b) for b in per_rank}) == 1               # 各进程的批量数相同（才能一起同步）
        assert all(s.num_examples == -(-1001 // world) for s in shards) and shards[0].total_examples == 1001
        # 第 k 个全局批量（各进程的第 k 个批量按 order[r::world] 交错合起来）就是单进程的第 k 个批量
        for k in range(len(whole) - 1):                           # 最后一个批量含补齐的样本，另外检查
            merged = torch.stack([b[k] for b in per_rank], dim=1).flatten()
            assert torch.equal(merged, whole[k]), (epoch, k)
        union, order = torch.cat([torch.cat(b) for b in per_rank]), torch.cat(whole)
        pad = world * -(-1001 // world) - 1001                    # 只补到能整除为止
        assert len(union) == 1001 + pad and set(union.tolist()) == set(range(1001))
        assert sorted(union.tolist()) == sorted(order.tolist() + order[:pad].tolist())   # 补的是本轮开头的样本


def test_test_shards_cover_every_example_exactly_once():
    X = torch.arange(1001 * 4, dtype=torch.uint8).reshape(1001, 2, 2)
    y = torch.arange(1001)
    parts = [cnnlib.TensorLoader(X, y, 64, device="cpu").shard(r, 2, pad=False) for r in range(2)]
    seen = torch.cat([yb for p in parts for _, yb in p])
    assert sorted(seen.tolist()) == list(range(1001))
    assert [p.num_examples for p in parts] == [501, 500]
    with pytest.raises(ValueError, match="rank 应在"):
        cnnlib.TensorLoader(X, y, 64, device="cpu").shard(2, 2)


def cli(args, nproc, tmp_path, data_dir, tag):
    env = {**os.environ, "CNNLIB_DATA_DIR": str(data_dir), "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    base = [sys.executable, "-m", "cnnlib"] if nproc == 1 else \
        [str(Path(sys.executable).parent / "torchrun"), "--standalone", f"--nproc_per_node={nproc}", "-m", "cnnlib"]
    result = subprocess.run(base + ["train", "lenet", "--budget", "smoke", "--limit", "512", "--test-limit", "250",
                                    "--precision", "fp32", "--device", "cpu", "--batch-size", "64",
                                    "--checkpoint", str(tmp_path / f"{tag}.pt"), "--metrics", str(tmp_path / f"{tag}.json"),
                                    *args], capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout, json.loads((tmp_path / f"{tag}.json").read_text(encoding="utf-8"))


def test_two_gloo_processes_match_one_process_and_resume(tmp_path, data_dir):
    out1, one = cli(["--epochs", "2"], 1, tmp_path, data_dir, "one")
    out2, two = cli(["--epochs", "2"], 2, tmp_path, data_dir, "two")
    # 只有 0 号进程打印：第一行一次，写明进程数；每轮看到的样本数与单进程相同
    assert sum(line.startswith("device=") for line in out2.splitlines()) == 1
    assert "2 个进程（DistributedDataParallel）" in out2 and "512 张图像 × 2 轮" in out2
    assert two["config"]["world_size"] == 2 and two["config"]["limit"] == one["config"]["limit"] == 512
    # 全局批量相同、梯度求平均：与单进程只差浮点求和的顺序
    for a, b in zip(one["history"]["train_loss"], two["history"]["train_loss"]):
        assert abs(a - b) < 1e-4, (one["history"]["train_loss"], two["history"]["train_loss"])
    for a, b in zip(one["history"]["test_acc"], two["history"]["test_acc"]):
        assert abs(a - b) <= 1 / 250
    # 0 号进程写的检查点可以载入一个普通（非 DDP）的模型
    net = models.lenet()
    history = cnnlib.checkpoint.load_checkpoint(tmp_path / "two.pt", net)
    assert history.epoch == [1, 2]
    reference = models.lenet()
    cnnlib.checkpoint.load_checkpoint(tmp_path / "one.pt", reference)
    for p, q in zip(net.parameters(), reference.parameters()):
        assert torch.allclose(p, q, atol=1e-4)
    # 续训：两个进程都从同一个检查点继续
    out3, three = cli(["--epochs", "3", "--resume"], 2, tmp_path, data_dir, "two")
    assert "从检查点的第 2 轮之后继续" in out3 and three["history"]["epoch"] == [1, 2, 3]
    assert three["history"]["train_loss"][:2] == two["history"]["train_loss"]
