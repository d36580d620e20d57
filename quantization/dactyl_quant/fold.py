"""BatchNorm folding: conv followed by BN (eval mode) becomes one conv with a bias.

    bn(conv(x)) = gamma · (W·x − mean) / sqrt(var + eps) + beta
                = (W · k)·x + (beta − mean · k),   k = gamma / sqrt(var + eps) per output channel

The model file has no BatchNorm op (DESIGN.md: BN is folded at export), so everything downstream
(calibration, quantisation, export) works on the folded model.
"""

import copy

import torch
from torch import nn

from .student import ConvBN


def fold_conv_bn(conv: nn.Conv1d | nn.Conv2d, bn: nn.BatchNorm1d | nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """The weight and bias of the single convolution equal to `bn(conv(x))` with BN in eval mode.

    Computed in float64 and returned as float32, so that the folded weights do not depend on the
    order of float32 operations.
    """
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("cannot fold a BatchNorm without running statistics (track_running_stats=False)")
    weight = conv.weight.detach().double()
    bias = conv.bias.detach().double() if conv.bias is not None else torch.zeros(conv.out_channels, dtype=torch.float64)
    gamma = bn.weight.detach().double() if bn.weight is not None else torch.ones_like(bias)
    beta = bn.bias.detach().double() if bn.bias is not None else torch.zeros_like(bias)
    k = gamma / torch.sqrt(bn.running_var.detach().double() + bn.eps)
    folded_weight = weight * k.reshape(-1, *([1] * (weight.dim() - 1)))
    folded_bias = beta + (bias - bn.running_mean.detach().double()) * k
    return folded_weight.float(), folded_bias.float()


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """A copy of `model` in eval mode with every `ConvBN` folded into its convolution (BN → Identity)."""
    folded = copy.deepcopy(model).eval()
    for module in folded.modules():
        if isinstance(module, ConvBN) and isinstance(module.bn, (nn.BatchNorm1d, nn.BatchNorm2d)):
            weight, bias = fold_conv_bn(module.conv, module.bn)
            module.conv.weight = nn.Parameter(weight, requires_grad=False)
            module.conv.bias = nn.Parameter(bias, requires_grad=False)
            module.bn = nn.Identity()
    return folded
