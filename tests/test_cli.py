"""命令行 python -m cnnlib（cnnlib.cli）。"""
import json
import subprocess
import sys

import pytest

from cnnlib import cli


def run(argv, capsys):
    code = cli.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_models_lists_every_book_model_with_its_parameters(capsys):
    code, out, _ = run(["models"], capsys)
    assert code == 0
    expected = {"lenet": "61,706", "alexnet": "46,764,746", "vgg": "43,093,322", "nin": "1,992,166",
                "googlenet": "5,977,530", "bn_lenet": "44,878", "resnet18": "11,178,378", "densenet": "758,226"}
    lines = {line.split()[0]: line for line in out.splitlines()[1:-1]}
    assert set(lines) == set(expected) == set(cli.RECIPES)
    for name, params in expected.items():
        assert params in lines[name], name


def test_train_writes_metrics_and_a_checkpoint_then_resumes(tmp_path, data_dir, capsys):
    metrics, ckpt = tmp_path / "m.json", tmp_path / "c.pt"
    common = ["train", "lenet", "--budget", "smoke", "--data-dir", str(data_dir), "--device", "cpu",
              "--checkpoint", str(ckpt), "--metrics", str(metrics)]
    code, out, _ = run(common, capsys)
    assert code == 0 and ckpt.is_file()
    first, second = out.splitlines()[:2]
    assert first.startswith("device=cpu | precision=") and first.endswith("budget=smoke")
    assert "256 张图像 × 1 轮" in second
    assert "epoch 1/1: loss" in out            # 标准错误不是终端：每轮一行，代替进度条
    assert "测试准确率 test acc" in out
    m = json.loads(metrics.read_text(encoding="utf-8"))
    assert m["model"] == "lenet" and m["params"] == 61_706 and m["flops_per_image"] == 833_040
    assert m["config"]["lr"] == 0.9 and m["config"]["batch_size"] == 256 and m["config"]["limit"] == 256
    assert m["history"]["epoch"] == [1]

    code, out, _ = run(common + ["--epochs", "2", "--resume"], capsys)
    assert code == 0 and "从检查点的第 1 轮之后继续" in out.splitlines()[1]
    m2 = json.loads(metrics.read_text(encoding="utf-8"))
    assert m2["history"]["epoch"] == [1, 2] and m2["history"]["train_loss"][0] == m["history"]["train_loss"][0]


def test_precision_comes_from_the_environment_unless_given(tmp_path, data_dir, capsys, monkeypatch):
    metrics = tmp_path / "m.json"
    common = ["train", "lenet", "--budget", "smoke", "--data-dir", str(data_dir), "--device", "cpu",
              "--metrics", str(metrics)]
    monkeypatch.setenv("CNNLIB_PRECISION", "fp32")
    code, out, _ = run(common, capsys)
    assert code == 0 and "precision=fp32 | contiguous" in out.splitlines()[0]
    assert json.loads(metrics.read_text(encoding="utf-8"))["config"]["precision"] == "fp32"
    monkeypatch.setenv("CNNLIB_PRECISION", "double")
    with pytest.raises(SystemExit) as err:
        cli.main(common)
    assert "CNNLIB_PRECISION" in str(err.value.code) and "auto, fp32, bf16, fp16" in str(err.value.code)


@pytest.mark.parametrize("argv, expected", [
    (["train", "resnet"], ["未知的模型", "lenet, alexnet, vgg, nin, googlenet, bn_lenet, resnet18, densenet"]),
    (["train", "lenet", "--precision", "fp64"], ["参数错误", "'auto', 'fp32', 'bf16', 'fp16'"]),
    (["train", "lenet", "--budget", "huge"], ["参数错误", "'smoke', 'small', 'full'"]),
    (["train", "lenet", "--epochs", "0"], ["必须是正数"]),
    (["train", "lenet", "--lr", "abc"], ["不是数"]),
    (["fit", "lenet"], ["参数错误", "models", "train"]),
])
def test_bad_arguments_are_explained_with_the_valid_choices(argv, expected, capsys):
    with pytest.raises(SystemExit) as err:
        cli.main(argv)
    assert err.value.code == 2
    message = capsys.readouterr().err
    for text in expected:
        assert text in message, (text, message)


def test_an_input_size_the_model_cannot_take_is_refused_before_training(data_dir):
    with pytest.raises(SystemExit, match="lenet 不接受 64×64 的输入.*28–31"):
        cli.main(["train", "lenet", "--resize", "64", "--budget", "smoke", "--data-dir", str(data_dir)])
    with pytest.raises(SystemExit, match="--resume 需要同时给出 --checkpoint"):
        cli.main(["train", "lenet", "--resume", "--budget", "smoke", "--data-dir", str(data_dir)])


def test_python_dash_m_cnnlib_help_is_in_chinese():
    out = subprocess.run([sys.executable, "-m", "cnnlib", "train", "--help"], capture_output=True, text=True,
                         check=True).stdout
    assert "学习率（learning rate）" in out and "检查点路径（checkpoint）" in out and "--metrics" in out
    top = subprocess.run([sys.executable, "-m", "cnnlib", "--help"], capture_output=True, text=True, check=True).stdout
    assert "列出书中的模型" in top and "训练一个模型" in top
