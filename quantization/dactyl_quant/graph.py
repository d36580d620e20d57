"""The encoder of a BN-folded student, lowered to the model file's op list, and its float execution.

The lowered graph is what gets quantised and exported; running it in float is how calibration sees
exactly the tensors that the model file will name (tensor 0 the input, one tensor per op output).
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .export import INPUT_TENSOR
from .student import BasicBlock, ConvBN, Student


@dataclass(frozen=True)
class FloatConv:
    input: int
    output: int
    residual: int | None
    weight: torch.Tensor  # float32 [out, in, kh, kw], BN folded
    bias: torch.Tensor  # float32 [out]
    stride: tuple[int, int]
    padding: tuple[int, int]
    relu: bool


@dataclass(frozen=True)
class FloatMaxPool:
    input: int
    output: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True)
class FloatGlobalAvgPool:
    input: int
    output: int


FloatOp = FloatConv | FloatMaxPool | FloatGlobalAvgPool


@dataclass(frozen=True)
class EncoderGraph:
    ops: tuple[FloatOp, ...]
    channels: tuple[int, ...]  # per tensor id
    feature_tensor: int


def _pair(value: int | tuple[int, ...]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (value[0], value[1])


class _Builder:
    def __init__(self):
        self.ops: list[FloatOp] = []
        self.channels: list[int] = [3]

    def new_tensor(self, channels: int) -> int:
        self.channels.append(channels)
        return len(self.channels) - 1

    def conv(self, layer: ConvBN, source: int, relu: bool, residual: int | None = None) -> int:
        if not isinstance(layer.bn, nn.Identity):
            raise ValueError("lower_encoder expects a BN-folded student (fold.fold_batchnorm)")
        conv = layer.conv
        if conv.groups != 1 or _pair(conv.dilation) != (1, 1):
            raise ValueError("the model file's conv2d has no groups or dilation")
        output = self.new_tensor(conv.out_channels)
        self.ops.append(FloatConv(source, output, residual, conv.weight.detach(), conv.bias.detach(),
                                  _pair(conv.stride), _pair(conv.padding), relu))
        return output

    def block(self, block: BasicBlock, source: int) -> int:
        # The op order of docs/model-format.md's BasicBlock: conv1, then the downsample (if any),
        # then conv2 which adds the shortcut in its output stage.
        hidden = self.conv(block.conv1, source, relu=True)
        shortcut = source if block.downsample is None else self.conv(block.downsample, source, relu=False)
        return self.conv(block.conv2, hidden, relu=True, residual=shortcut)


def lower_encoder(model: Student) -> EncoderGraph:
    """The encoder of a BN-folded student as model-file ops."""
    encoder = model.encoder
    builder = _Builder()
    x = builder.conv(encoder.stem, INPUT_TENSOR, relu=True)
    pool = encoder.maxpool
    if pool.dilation != 1 or pool.ceil_mode:
        raise ValueError("the model file's maxpool has no dilation or ceil mode")
    pooled = builder.new_tensor(builder.channels[x])
    builder.ops.append(FloatMaxPool(x, pooled, _pair(pool.kernel_size), _pair(pool.stride), _pair(pool.padding)))
    x = pooled
    for stage in encoder.stages:
        for block in stage:
            x = builder.block(block, x)
    feature = builder.new_tensor(builder.channels[x])
    builder.ops.append(FloatGlobalAvgPool(x, feature))
    return EncoderGraph(tuple(builder.ops), tuple(builder.channels), feature)


@torch.no_grad()
def run_float(graph: EncoderGraph, frames: torch.Tensor) -> list[torch.Tensor]:
    """Every tensor of the graph, NCHW float32, for normalised frames `[N, 3, H, W]`."""
    tensors: list[torch.Tensor | None] = [None] * len(graph.channels)
    tensors[INPUT_TENSOR] = frames
    for op in graph.ops:
        x = tensors[op.input]
        if isinstance(op, FloatConv):
            y = F.conv2d(x, op.weight, op.bias, stride=op.stride, padding=op.padding)
            if op.residual is not None:
                y = y + tensors[op.residual]
            if op.relu:
                y = torch.relu(y)
        elif isinstance(op, FloatMaxPool):
            # PyTorch pads with −inf: padding never wins, as in the format.
            y = F.max_pool2d(x, op.kernel, op.stride, op.padding)
        else:
            y = x.mean(dim=(2, 3), keepdim=True)
        tensors[op.output] = y
    return tensors
