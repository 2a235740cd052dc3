"""绘图：让中文标签正常显示，并提供图像网格与训练曲线。

Matplotlib 默认字体 DejaVu Sans 没有汉字；若直接画中文，它会往 stderr 打印
"Glyph … missing from font(s)" 警告并画出方框。这里在导入时寻找已安装的中文字体
（Debian/Ubuntu 上是 ``fonts-noto-cjk``）；找不到时，:func:`zh` 自动改用英文标签，
保证任何环境里都不会出现缺字警告。
"""
import matplotlib
from matplotlib import font_manager
import matplotlib.pyplot as plt

# 按优先顺序排列的常见中文字体（Linux / Windows / macOS）。
CJK_FONT_NAMES = (
    "Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans SC", "Source Han Sans SC",
    "WenQuanYi Zen Hei", "WenQuanYi Micro Hei", "Microsoft YaHei", "SimHei",
    "PingFang SC", "Heiti SC", "Arial Unicode MS",
)


_CJK_FILE_KEYS = ("notosanscjk", "notoserifcjk", "sourcehansans", "wqy", "simhei", "msyh")


def _find_cjk_font():
    def first_installed():
        installed = {f.name for f in font_manager.fontManager.ttflist}
        return next((name for name in CJK_FONT_NAMES if name in installed), None)

    name = first_installed()
    if name is None:
        # Matplotlib 的字体缓存可能早于字体的安装：把系统里的中文字体文件补登记一次再找。
        for path in font_manager.findSystemFonts():
            if any(key in path.lower() for key in _CJK_FILE_KEYS):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        name = first_installed()
    return name


CJK_FONT = _find_cjk_font()
HAS_CJK = CJK_FONT is not None


def use_cjk_font() -> bool:
    """把中文字体设为无衬线字体的首选（DejaVu Sans 作后备），返回是否找到了中文字体。"""
    if HAS_CJK:
        fallback = [f for f in matplotlib.rcParams["font.sans-serif"] if f != CJK_FONT]
        matplotlib.rcParams["font.sans-serif"] = [CJK_FONT, *fallback]
        matplotlib.rcParams["font.family"] = "sans-serif"
        matplotlib.rcParams["axes.unicode_minus"] = False
    return HAS_CJK


use_cjk_font()


def zh(chinese: str, english: str) -> str:
    """有中文字体时返回中文标签，否则返回英文标签。"""
    return chinese if HAS_CJK else english


def set_figsize(figsize=(3.5, 2.5)):
    """设置之后新建图形的默认大小（英寸）。"""
    matplotlib.rcParams["figure.figsize"] = figsize


def show_images(imgs, num_rows, num_cols, titles=None, scale=1.5, cmap="gray"):
    """把一组图像画成 ``num_rows × num_cols`` 的网格，返回各子图（axes）。

    ``imgs`` 中每个元素可以是形状 (H, W)、(1, H, W)、(3, H, W) 或 (H, W, 3) 的张量/数组。
    """
    import torch

    figsize = (num_cols * scale, num_rows * scale)
    fig, axes = plt.subplots(num_rows, num_cols, figsize=figsize, squeeze=False)
    axes = axes.flatten()
    for i, (ax, img) in enumerate(zip(axes, imgs)):
        if torch.is_tensor(img):
            img = img.detach().cpu()
            if img.dim() == 3 and img.shape[0] in (1, 3):
                img = img.permute(1, 2, 0)
            if img.dim() == 3 and img.shape[-1] == 1:
                img = img[..., 0]
            img = img.numpy()
        ax.imshow(img, cmap=cmap if img.ndim == 2 else None)
        ax.axes.get_xaxis().set_visible(False)
        ax.axes.get_yaxis().set_visible(False)
        if titles is not None and i < len(titles):
            ax.set_title(titles[i])
    for ax in axes[len(imgs):]:
        ax.axis("off")
    fig.tight_layout()
    return axes


class LivePlot:
    """训练时的实时曲线：在笔记本里原地刷新同一张图，不在笔记本里时什么也不画。

    ``legend`` 给出各条曲线的名称；:meth:`add` 追加一个点，:meth:`draw` 刷新显示。
    """

    def __init__(self, legend, xlabel, xlim=None, ylim=(0, 1), figsize=(4.5, 3)):
        self.legend = list(legend)
        self.xs = [[] for _ in self.legend]
        self.ys = [[] for _ in self.legend]
        self.fig, self.ax = plt.subplots(figsize=figsize)
        self.xlabel, self.xlim, self.ylim = xlabel, xlim, ylim
        self.handle = None
        plt.close(self.fig)  # 由 IPython.display 负责显示，避免单元格结束时再画一次

    def add(self, x, values):
        for i, y in enumerate(values):
            if y is not None:
                self.xs[i].append(x)
                self.ys[i].append(y)

    def draw(self):
        self.ax.cla()
        for xs, ys, fmt in zip(self.xs, self.ys, ("-", "m--", "g-.", "r:")):
            self.ax.plot(xs, ys, fmt)
        self.ax.set_xlabel(self.xlabel)
        if self.xlim:
            self.ax.set_xlim(*self.xlim)
        if self.ylim:
            self.ax.set_ylim(*self.ylim)
        self.ax.legend(self.legend, loc="best")
        self.ax.grid(True, alpha=0.3)
        if in_notebook():
            from IPython.display import display

            if self.handle is None:
                self.handle = display(self.fig, display_id=True)
            else:
                self.handle.update(self.fig)


def in_notebook() -> bool:
    """当前代码是否运行在 Jupyter 内核（笔记本、Colab）里。"""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})
