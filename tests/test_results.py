"""执行记录 results/notebooks.json 的读取（cnnlib.results）。"""
import io
import json
import urllib.request
from pathlib import Path

import pytest
import yaml

from cnnlib import results

ROOT = Path(__file__).resolve().parents[1]


def fake_record():
    run = lambda model, acc: {"model": model, "params": 1, "final": {"test_acc": acc}}  # noqa: E731
    entry = lambda *runs: {"executed": "2026-01-01T00:00:00+00:00", "budget": "small",  # noqa: E731
                           "machine": {"cpu": "x"}, "runs": list(runs)}
    return {"chapters/ch03_modern/batch_norm.ipynb": entry(run("LeNet", 0.5), run("BN-LeNet", 0.9)),
            "chapters/ch02_classic/lenet.ipynb": entry(run("LeNet", 0.8), run("Sequential", 0.7)),
            "chapters/ch01_basics/pooling.ipynb": entry()}


def test_trained_models_keeps_named_models_once_in_book_order():
    rows = results.trained_models(fake_record())
    assert [(r["model"], r["notebook"].split("/")[-1]) for r in rows] == [
        ("LeNet", "lenet.ipynb"), ("BN-LeNet", "batch_norm.ipynb")]
    assert rows[0]["final"]["test_acc"] == 0.8 and rows[0]["machine"] == {"cpu": "x"}


def test_record_is_found_from_a_chapter_folder(monkeypatch):
    monkeypatch.chdir(ROOT / "chapters" / "ch03_modern")
    assert results.find_record() == ROOT / "results" / "notebooks.json"
    assert "chapters/ch02_classic/lenet.ipynb" in results.load_record(download=False)


def test_offline_without_a_record_says_so_in_chinese(tmp_path, monkeypatch, no_network):
    monkeypatch.chdir(tmp_path)
    assert results.find_record() is None
    with pytest.raises(results.RecordNotFoundError, match="下载也失败了.*make results"):
        results.load_record()
    with pytest.raises(results.RecordNotFoundError, match="找不到执行记录"):
        results.load_record(download=False)


def test_without_a_local_record_the_committed_one_is_downloaded(tmp_path, monkeypatch, capsys):
    # Colab 上的情形：本地没有仓库，从 GitHub 读主分支上的记录（这里用假的响应代替网络）
    monkeypatch.chdir(tmp_path)
    asked = []

    def fake_urlopen(url, timeout):
        asked.append(url)
        return io.BytesIO(json.dumps(fake_record()).encode())

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    assert results.load_record() == fake_record()
    assert asked == [results.RECORD_URL] and results.RECORD_URL in capsys.readouterr().out


def test_download_address_is_this_repository():
    repo = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["repository"]
    owner_name = repo["url"].removeprefix("https://github.com/")
    assert results.RECORD_URL == (f"https://raw.githubusercontent.com/{owner_name}/{repo['branch']}/"
                                  "results/notebooks.json")


def test_malformed_record_is_refused(tmp_path):
    bad = tmp_path / "notebooks.json"
    bad.write_text(json.dumps({"a.ipynb": {"budget": "small"}}), encoding="utf-8")
    with pytest.raises(ValueError, match="格式不对"):
        results.load_record(bad)


def test_book_order_follows_the_toc_and_is_empty_without_a_repository(tmp_path):
    order = results.book_order(ROOT / "chapters")      # 从仓库里的子目录向上找到 _toc.yml
    assert order[0] == "intro" and order.index("chapters/ch01_basics/why_conv") < order.index(
        "chapters/ch02_classic/lenet") < order.index("chapters/appendix/status")
    assert all((ROOT / f"{doc}.md").exists() or (ROOT / f"{doc}.ipynb").exists() for doc in order)
    assert results.book_order(tmp_path) == []
