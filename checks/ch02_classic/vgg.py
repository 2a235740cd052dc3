"""“VGG”一节练习的检查单元：只出现在学生版里（make student，见 tools/student_edition.py）。

每一段以 `# %% <练习标签>: <答案要定义的名字>` 开头；学生版在这一段前面自动加上“名字是否已定义”的检查。
"""

# %% ex-vgg-1: extra diff
assert diff == vgg_params["E"] - vgg_params["D"], "diff 应是 cnnlib.models.vgg 给出的 E 与 D 的参数量之差（见正文的 vgg_params）"
assert extra == diff, "手算的 extra 与 cnnlib 的结果不一致：E 在后三个块里各多一个 3×3 卷积层，别忘了偏置"

# %% ex-vgg-2: rf_by_formula last_conv
_probe = nn.Sequential(conv_stack(2), nn.AvgPool2d(2), conv_stack(2), nn.AvgPool2d(2), conv_stack(1))
assert rf_by_formula(_probe) == cnnlib.ops.field_size(cnnlib.ops.receptive_field(_probe, size=48))[0], "rf_by_formula(net) 应按递推公式返回 net 的感受野边长（在一个带汇聚层的小网络上与自动求导的结果不一致）"
assert rf_by_formula(conv_stack(3)) == 7, "三个 3×3 卷积层的感受野是 7×7"
_kinds = [type(_m) for _m in last_conv.modules() if isinstance(_m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d))]
assert _kinds.count(nn.Conv2d) == 13 and len(_kinds) == 17 and _kinds[-1] is nn.Conv2d, "last_conv 应是 VGG-16 的 5 个卷积块去掉最后一个汇聚层：13 个卷积层、4 个汇聚层"

# %% ex-vgg-3: last_conv_rf
assert set(last_conv_rf) == {"B", "C", "D"}, "last_conv_rf 应以配置名 \"B\"、\"C\"、\"D\" 为键"
_r, _j = 1, 1
for _n, _c in cnnlib.models.VGG_CONFIGS["B"]:
    _r, _j = _r + _n * 2 * _j + _j, _j * 2   # 每个块：_n 个 3×3 卷积，再接 2×2、步幅 2 的汇聚
assert last_conv_rf["B"] == _r - _j // 2, "B 的最后一个卷积层的感受野不对"
assert last_conv_rf["C"] == last_conv_rf["B"], "1×1 卷积不扩大感受野：C 与 B 应相同"
assert last_conv_rf["D"] == rf_by_formula(last_conv), "D 的结果应与上一题的 VGG-16 相同"

# %% ex-vgg-4: crop_scores same dense one_crop
with torch.no_grad():
    assert torch.allclose(crop_scores, vgg11(X_big[:, :, :224, :224]), rtol=1e-4, atol=1e-6), "crop_scores 应是把 X_big 左上角的 224×224 窗口送入 vgg11 的输出"
assert bool(same) is False and not torch.allclose(crop_scores[0], score_map[0, :, 0, 0], rtol=1e-4, atol=1e-6), "裁剪窗口的输出与得分图左上角并不相同（边缘的填充不同）"
assert one_crop == cnnlib.summary(vgg11).total_flops, "one_crop 应是 vgg11 处理一个 224×224 窗口的 FLOPs"
assert one_crop < dense < 16 * one_crop / 3, "dense 应是全卷积版 fcn 处理 320×320 输入的 FLOPs：比一个窗口多，比 16 个窗口逐个计算少得多"
