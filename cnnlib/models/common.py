"""各模型共用的外壳：按层执行，输入不合适时说出是哪一层、期望什么输入。"""
import torch
from torch import nn

from ..modelinfo import meta_forward


def _describe(layer: nn.Module) -> str:
    if isinstance(layer, nn.Linear):
        return f"Linear(in_features={layer.in_features}, out_features={layer.out_features})"
    if isinstance(layer, nn.Conv2d):
        return f"Conv2d(in_channels={layer.in_channels}, out_channels={layer.out_channels})"
    return layer.__class__.__name__


class Classifier(nn.Sequential):
    """``nn.Sequential`` 加上输入检查：``input_size`` 是模型设计时的输入高宽（如 224）。

    出错时报告的可接受尺寸由 :meth:`accepted_sizes` 实际推算，而不是只报设计尺寸：
    带全局平均汇聚的 NiN 接受任何不小于 67 的输入，AlexNet 只接受 193–224。

    输入的维数或通道数不对时，在第一层之前就报错；某一层因形状不合而失败时，报告这一层的
    名字、它需要的输入和实际收到的形状，而不是一句光秃秃的矩阵乘法错误。
    """

    def __init__(self, *layers, in_channels: int, input_size: int, name: str):
        super().__init__(*layers)
        self.in_channels = in_channels
        self.input_size = input_size
        self.name = name

    def __getitem__(self, idx):
        # 切片得到普通的 nn.Sequential（nn.Sequential 默认会用本类重建，缺少构造参数）
        if isinstance(idx, slice):
            return nn.Sequential(*list(self)[idx])
        return super().__getitem__(idx)

    def _expected(self) -> str:
        return f"(批量大小, {self.in_channels}, {self.input_size}, {self.input_size})"

    def forward(self, x):
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"{self.name} 期望输入形状（input shape）为 {self._expected()}，实际得到 {tuple(x.shape)}："
                f"{'维数不是 4（N, C, H, W）' if x.dim() != 4 else f'通道数（in_channels）应为 {self.in_channels}'}。")
        for i, layer in enumerate(self):
            try:
                x = layer(x)
            except RuntimeError as err:
                if "shape" not in str(err) and "size" not in str(err):
                    raise
                raise ValueError(
                    f"{self.name} 中下标为 {i} 的层 {_describe(layer)} 无法处理形状为 {tuple(x.shape)} 的输入"
                    f"（layer {i} got input of shape {tuple(x.shape)}）。{self._size_hint()}"
                    f"原始错误：{err}") from err
        return x

    def accepted_sizes(self, limit=None):
        """在 1…``limit``（默认设计尺寸的 2 倍）中找出能通过整个网络的输入高宽（正方形）。

        在 meta 设备上只推算形状，不分配内存也不计算，所以很快。返回排好序的列表。
        """
        limit = limit or 2 * self.input_size
        ok = []
        for size in range(1, limit + 1):
            try:   # nn.Sequential(*self)：不经过本类的 forward（它出错时又会调用本函数）
                meta_forward(nn.Sequential(*self), (self.in_channels, size, size))
            except RuntimeError:
                continue
            ok.append(size)
        return ok

    def _size_hint(self) -> str:
        ok, limit = self.accepted_sizes(), 2 * self.input_size
        design = f"设计尺寸为 {self.input_size}×{self.input_size}，{self.in_channels} 个输入通道"
        if not ok:
            return f"在 1…{limit} 中没有能通过本模型的输入高宽（{design}）。"
        lo, hi = ok[0], ok[-1]
        if len(ok) == hi - lo + 1:
            if hi == limit:
                return f"本模型接受高宽不小于 {lo} 的输入（accepts H = W ≥ {lo}；{design}）。"
            return f"本模型只接受高宽在 {lo}–{hi} 之间的输入（accepts {lo} ≤ H = W ≤ {hi}；{design}）。"
        return f"本模型接受的输入高宽（1…{limit} 中）为 {ok}（{design}）。"

    @torch.no_grad()
    def shapes(self, batch_size: int = 1, size=None):
        """逐层的输出形状：返回 ``[(层名, 形状), ...]``，用于书中的形状演示。"""
        size = size or self.input_size
        x = torch.zeros(batch_size, self.in_channels, size, size,
                        device=next(self.parameters()).device)
        rows = []
        for i, layer in enumerate(self):
            x = layer(x)
            rows.append((f"{i}: {layer.__class__.__name__}", tuple(x.shape)))
        return rows

