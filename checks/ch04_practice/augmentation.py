"""“图像增广”一节练习的检查单元：只出现在学生版里（make student，见 tools/student_edition.py）。

每一段以 `# %% <练习标签>: <答案要定义的名字>` 开头；学生版在这一段前面自动加上“名字是否已定义”的检查。
"""

# %% ex-augmentation-1: grey_vals grey_vecs
assert tuple(grey_vals.shape) == (3,) and tuple(grey_vecs.shape) == (3, 3), "grey_vals、grey_vecs 应是 3×3 协方差矩阵的 3 个特征值和 3 个特征向量（torch.linalg.eigh 的结果）"
assert bool((grey_vals[1:] >= grey_vals[:-1]).all()) and grey_vals[-1] > 0, "grey_vals 应按从小到大排列（eigh 的顺序），最大的特征值为正"
assert float(grey_vals[:2].abs().max()) < 1e-10 * float(grey_vals[-1]) + 1e-14, "三个通道相同时协方差矩阵的秩为 1：两个较小的特征值应为 0（只差舍入误差）"
assert torch.allclose(grey_vecs[:, -1].double() ** 2, torch.full((3,), 1 / 3, dtype=torch.float64), atol=1e-9), "最大特征值的特征向量应是 ±(1, 1, 1)/√3：只剩整体变亮或变暗的方向"
_grey = torch.cat([_p.double().mean(dim=0).flatten() / 255 for _p in photos.values()])
assert abs(float(grey_vals[-1]) - 3 * float(_grey.var())) < 1e-9, "用本节的四张照片（像素值除以 255）：非零特征值应是灰度值方差的 3 倍"

# %% ex-augmentation-2: kept measured
_shifts = range(-3, 4)
_kept = sum((28 - abs(_a)) * (28 - abs(_b)) for _a in _shifts for _b in _shifts) / (len(_shifts) ** 2 * 28 * 28)
assert abs(float(kept) - _kept) < 1e-12, "kept 应是 p = 3 时原图像素留在窗口里的比例的期望（对 7 × 7 种偏移取平均）"
assert 0 < measured < 1 and abs(measured - _kept) < 0.005, "measured 应是 Augment(crop_padding=3) 增广全为 1 的图像后的平均值，与 kept 相差不到 0.005"

# %% ex-augmentation-3: closer
_names = cnnlib.get_text_labels(torch.arange(10))
assert sorted(closer) == sorted(_names) and all(0 <= _v <= 1 for _v in closer.values()), "closer 应以 10 个类别的中文名为键，值是一个比例"
for _c in (5, 9):
    _A = images[labels == _c].double().flatten(1)
    _m = images[labels == _c].double().mean(dim=0)
    # 镜像与原图的长度相同：离平均图像更近，就是与它的内积更大
    _frac = float((_A @ _m.flatten() > _A @ _m.flip(-1).flatten()).double().mean())
    assert abs(closer[_names[_c]] - _frac) < 0.01, f"{_names[_c]}：应在这一类的全部训练图像上计算比例"
assert min(closer[_n] for _n in ("凉鞋", "运动鞋", "短靴")) > 0.9, "三种鞋类的图像几乎都离平均图像更近：鞋都朝同一个方向"
assert max(closer[_n] for _n in ("T恤", "套衫", "外套", "衬衫", "连衣裙")) < 0.8, "左右大体对称的衣物类，离平均图像与离它的镜像差不多近"
