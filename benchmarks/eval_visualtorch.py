"""visualtorch 与 cnnlib.figures 画同样的结构图，并排比较图像尺寸与耗时（不属于测试）。

visualtorch 不是本项目的依赖；评估时装到一个临时目录：
  pip install --target /tmp/vt visualtorch==1.4.1 aggdraw
  PYTHONPATH=/tmp/vt .venv/bin/python benchmarks/eval_visualtorch.py --out /tmp/vt_eval
书页正文约 700 像素宽：宽几千像素的图缩到这个宽度后，文字就看不清了。
"""
import argparse
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import cnnlib  # noqa: E402
from cnnlib import figures  # noqa: E402

MODELS = [("LeNet", cnnlib.models.lenet, 28), ("AlexNet", cnnlib.models.alexnet, 224),
          ("GoogLeNet", cnnlib.models.googlenet, 96)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/vt_eval"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    import visualtorch
    from matplotlib import font_manager
    from PIL import ImageFont

    font = ImageFont.truetype(font_manager.findfont(cnnlib.plot.CJK_FONT or "DejaVu Sans"), 24)
    print(f"{'模型':<10}{'画法':<22}{'宽×高（像素）':>16}{'秒':>8}")
    for name, build, size in MODELS:
        net = build().eval()
        for style, kw in [("flow", dict(legend=True, show_dimension=True)), ("lenet", {}),
                          ("graph", dict(show_neurons=False))]:
            start = time.perf_counter()
            img = visualtorch.render(net, input_shape=(1, 1, size, size), style=style, font=font, **kw)
            secs = time.perf_counter() - start
            img.save(args.out / f"visualtorch_{name}_{style}.png")
            print(f"{name:<10}{'visualtorch ' + style:<22}{f'{img.size[0]}×{img.size[1]}':>16}{secs:8.2f}")
        start = time.perf_counter()
        fig = figures.architecture_figure((name, net, dict(expand=name == "GoogLeNet")))
        path = args.out / f"cnnlib_{name}.png"
        fig.savefig(path, dpi=100, bbox_inches="tight")
        secs = time.perf_counter() - start
        from PIL import Image
        w, h = Image.open(path).size
        print(f"{name:<10}{'cnnlib.figures':<22}{f'{w}×{h}':>16}{secs:8.2f}")


if __name__ == "__main__":
    main()
