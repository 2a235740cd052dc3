import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import cnnlib  # noqa: E402
from cnnlib import plot  # noqa: E402


def test_zh_falls_back_to_english(monkeypatch):
    monkeypatch.setattr(plot, "HAS_CJK", False)
    assert plot.zh("轮次", "epoch") == "epoch"
    monkeypatch.setattr(plot, "HAS_CJK", True)
    assert plot.zh("轮次", "epoch") == "轮次"


def test_labels_render_without_missing_glyph_warnings(tmp_path):
    labels = cnnlib.get_text_labels(range(10))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        axes = cnnlib.show_images(torch.rand(10, 1, 28, 28), 2, 5,
                                  titles=[cnnlib.zh(t, e) for t, e in zip(labels, cnnlib.data.TEXT_LABELS_EN)])
        fig = axes[0].figure
        fig.suptitle(cnnlib.zh("卷积 −1", "convolution -1"))
        fig.savefig(tmp_path / "grid.png")
    assert axes[0].get_title() == cnnlib.zh("T恤", "t-shirt")
    plt.close(fig)


def test_the_build_machine_has_a_cjk_font():
    # make fonts 安装 fonts-noto-cjk；没有它时书里的图只能是英文标签。
    assert cnnlib.HAS_CJK, "未找到中文字体：请运行 make fonts（Debian: apt-get install fonts-noto-cjk）"
