"""The hand localiser network: a small CenterNet-style convolutional net over the whole frame.

Only what the model file's encoder ops can express (docs/model-format.md): conv2d with its
BatchNorm folded, ReLU, a residual add inside a conv, max-pool. Output at stride 8: a heatmap of
the signing hand's crop centre (1 channel, logits) and a box map (4 channels: ox, oy, w, h; the
centre's offset inside its cell and the crop's size as fractions of the frame), as the format's
"Reading the box" rule reads them.
"""

from dataclasses import dataclass

import torch
from torch import nn

from ..export import INPUT_TENSOR
from ..graph import EncoderGraph, FloatConv, FloatMaxPool
from ..student import ConvBN, conv2d_bn
from .config import LocaliserConfig


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = conv2d_bn(channels, channels, 3, 1, 1)
        self.conv2 = conv2d_bn(channels, channels, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.conv2(torch.relu(self.conv1(x))) + x)


class LocaliserNet(nn.Module):
    """`[N, 3, H, W]` normalised RGB → (heat logits `[N, 1, Hh, Wh]`, box `[N, 4, Hh, Wh]`)."""

    def __init__(self, config: LocaliserConfig):
        super().__init__()
        self.config = config
        self.stem = conv2d_bn(3, config.stem, 3, 2, 1)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.mid = conv2d_bn(config.stem, config.mid, 3, 1, 1)
        self.down = conv2d_bn(config.mid, config.width, 3, 2, 1)
        self.blocks = nn.Sequential(*(ResidualBlock(config.width) for _ in range(config.blocks)))
        self.heat = nn.Conv2d(config.width, 1, 1)
        self.box = nn.Conv2d(config.width, 4, 1)
        # CenterNet's prior: a heat bias of −2.19 starts every cell at p ≈ 0.1, so the focal loss
        # is not swamped by the many empty cells in the first steps.
        nn.init.constant_(self.heat.bias, -2.19)
        with torch.no_grad():
            self.box.weight.mul_(0.1)
            self.box.bias.copy_(torch.tensor([0.5, 0.5, 0.3, 0.4]))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.stem(x)))
        x = torch.relu(self.down(torch.relu(self.mid(x))))
        return self.blocks(x)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.features(x)
        return self.heat(x), self.box(x)


@dataclass(frozen=True)
class LocaliserGraph:
    graph: EncoderGraph  # feature_tensor is the heat tensor (unused by quantisation)
    heat_tensor: int
    box_tensor: int


def lower_localiser(folded: LocaliserNet) -> LocaliserGraph:
    """The ops of a BN-folded localiser (fold.fold_batchnorm), in the model file's order."""
    ops: list = []
    channels = [3]

    def tensor(count: int) -> int:
        channels.append(count)
        return len(channels) - 1

    def conv(layer: nn.Module, source: int, relu: bool, residual: int | None = None) -> int:
        if isinstance(layer, ConvBN):
            if not isinstance(layer.bn, nn.Identity):
                raise ValueError("lower_localiser expects a BN-folded localiser (fold.fold_batchnorm)")
            layer = layer.conv
        output = tensor(layer.out_channels)
        ops.append(FloatConv(source, output, residual, layer.weight.detach(), layer.bias.detach(),
                             tuple(layer.stride), tuple(layer.padding), relu))
        return output

    x = conv(folded.stem, INPUT_TENSOR, relu=True)
    pooled = tensor(channels[x])
    ops.append(FloatMaxPool(x, pooled, (3, 3), (2, 2), (1, 1)))
    x = conv(folded.down, conv(folded.mid, pooled, relu=True), relu=True)
    for block in folded.blocks:
        x = conv(block.conv2, conv(block.conv1, x, relu=True), relu=True, residual=x)
    heat = conv(folded.heat, x, relu=False)
    box = conv(folded.box, x, relu=False)
    return LocaliserGraph(EncoderGraph(tuple(ops), tuple(channels), heat), heat, box)
