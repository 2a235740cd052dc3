"""cnnlib：《卷积神经网络：从互相关到迁移学习》配套的小型 PyTorch 工具包。

- ``cnnlib.device`` ：选择设备与数值精度（best_device、try_gpu、resolve_precision）
- ``cnnlib.budget`` ：训练预算 smoke / small / full
- ``cnnlib.data``   ：Fashion-MNIST 的读取与按批切片
- ``cnnlib.ops``    ：第 1 章从零实现的互相关、汇聚等运算
- ``cnnlib.train``  ：训练循环
- ``cnnlib.plot``   ：中文字体、图像网格、实时曲线
- ``cnnlib.models`` ：书中的模型（LeNet、AlexNet、VGG、NiN、GoogLeNet、BN-LeNet、ResNet、DenseNet）
- ``cnnlib.summary``：逐层的形状、参数量与 FLOPs
- ``cnnlib.figures``：书中的示意图（概念图与取自真实模型的结构图）
- ``cnnlib.results``：``make results`` 写出的执行记录（模型对比一节读它）
- ``cnnlib.transfer``：迁移学习（冻结、替换输出层、参数分组、载入主干、离线的手写数字数据）
- ``cnnlib.cli``    ：命令行 ``python -m cnnlib models | train MODEL ...``
"""
from .budget import BUDGETS, get_budget, pick
from .data import (Augment, DataCorruptError, DataNotFoundError, TensorLoader, data_root, data_source,
                   ensure_fashion_mnist, get_text_labels, load_fashion_mnist, read_fashion_mnist,
                   verify_fashion_mnist)
from .device import best_device, cpu_has_native_bf16, resolve_precision, try_all_gpus, try_gpu
from .ops import (conv2d_true, conv_output_size, corr2d, corr2d_multi_in, corr2d_multi_in_out,
                  corr2d_multi_in_out_1x1, field_size, pool2d, receptive_field)
from .plot import HAS_CJK, set_figsize, show_images, zh
from . import figures, results
from . import transfer
from .models import num_params
from .summary import count_flops, summary
from .train import (CheckpointMismatchError, History, TrainingDiverged, accuracy, evaluate_accuracy,
                    init_he, init_xavier, load_checkpoint, save_checkpoint, train)

__version__ = "0.1.0"
