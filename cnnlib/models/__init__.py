"""书中的模型，每个家族一个模块。所有构造函数都接受 ``in_channels`` 和 ``num_classes``。"""
from .alexnet import alexnet
from .common import Classifier
from .densenet import DenseBlock, conv_block, densenet, transition_block
from .googlenet import INCEPTION_CONFIGS, Inception, googlenet
from .lenet import LeNet5, bn_lenet, lenet
from .nin import nin, nin_block
from .resnet import Residual, resnet18, resnet_stage
from .vgg import CONFIGS as VGG_CONFIGS, vgg, vgg_block
