"""The student network (DESIGN.md, "The method"): a per-frame ResNet encoder and a temporal head.

Input: clips `[B, T, 3, H, W]`, RGB normalised with the config's mean and std.
Output: per-frame CTC log-probabilities `[B, T, num_classes]`, class 0 the blank.

Every convolution is a `ConvBN` (a bias-free convolution followed by its BatchNorm) so that
`fold.py` can find the pairs to fold, and the encoder is built only from what the int8 model
file can express: conv2d (+ residual, + ReLU), max-pool and global average pool.
"""

from dataclasses import dataclass

import torch
from torch import nn

from .alphabet import CHICAGO
from .preprocess import IMAGENET_MEAN, IMAGENET_STD


@dataclass(frozen=True)
class StudentConfig:
    name: str
    input_height: int
    input_width: int
    blocks: tuple[int, ...]  # BasicBlocks per stage; stage i has width * 2^i channels
    width: int  # channels of the stem and of the first stage
    temporal: tuple[tuple[int, int], ...]  # (out_channels, odd kernel) of each conv1d layer
    gru_hidden: int
    num_classes: int = CHICAGO.num_classes
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    # Default hand crop in thousandths of the source frame (x, y, w, h): the centred square of a
    # 4:3 camera frame.
    default_crop: tuple[int, int, int, int] = (125, 0, 750, 1000)
    default_window: int = 64
    # Frames per second (numerator, denominator) the model is trained at: the generator renders
    # its clips at this rate; the exporter records it (RATE) and the box resamples other rates to it.
    frame_rate: tuple[int, int] = (30, 1)

    @property
    def feature_dim(self) -> int:
        return self.width * 2 ** (len(self.blocks) - 1)


CONFIGS: dict[str, StudentConfig] = {
    # Small enough that building, calibrating, exporting and running the numpy reference take
    # well under a second; non-square input so that height/width mix-ups show, two conv1d layers
    # so that the temporal chain is exercised.
    "tiny": StudentConfig(name="tiny", input_height=24, input_width=32, blocks=(1, 1), width=8,
                          temporal=((16, 3), (16, 5)), gru_hidden=16, default_window=16),
    # The deployable model for a GPU-trained default. A ResNet-10 (one BasicBlock per stage) of
    # width 32 at 96x96: 46.2 M encoder MACs per frame (`python -m dactyl_quant.train configs`), 1/21 of ResNet34 at
    # 112x112. At 30 frames/s that is 1.4 G int8 MACs/s; a Pi 4's four Cortex-A72 cores (1.5 GHz,
    # NEON smull/sadalp: 8 int8 MACs per instruction) peak near 48 G/s, so real time needs only a
    # few per cent of peak, leaving room for the crop, the head and the camera. 96x96 keeps finger
    # detail that 64x64 loses. The temporal head (conv1d 128, kernel 5; BiGRU 128) adds 0.37 M
    # MACs/frame. On one H100 (bf16) an epoch over 3,000 synthetic clips (156k frames) took ~5.3 s,
    # so 8 minutes hold ~80 epochs. Synthetic clips are framed on the hand: the crop is the full
    # frame. A 96-frame window is ~3 s at 30 frames/s, a fingerspelled word or two.
    "pi": StudentConfig(name="pi", input_height=96, input_width=96, blocks=(1, 1, 1, 1), width=32,
                        temporal=((128, 5),), gru_hidden=128, default_crop=(0, 0, 1000, 1000), default_window=96),
    # The shipped default model (models/default.dmdl), trained on one core of the 2-core development
    # machine: `pi` at 64x64 and half the width, 6.3 M encoder MACs per frame, which trains at
    # ~1,200 frames/s on one CPU core against `pi`'s ~145 (measured side by side), so a 32-minute
    # KD warm-up sees each of 312k training frames eight times. 64x64 still shows the fingers of
    # a hand-framed crop (7x fewer MACs than `pi` also suits the Zero 2 W); `pi` is the config to
    # train where a GPU is available.
    "pi64": StudentConfig(name="pi64", input_height=64, input_width=64, blocks=(1, 1, 1, 1), width=16,
                          temporal=((96, 5),), gru_hidden=96, default_crop=(0, 0, 1000, 1000), default_window=96),
    "resnet18": StudentConfig(name="resnet18", input_height=112, input_width=112, blocks=(2, 2, 2, 2),
                              width=64, temporal=((256, 5),), gru_hidden=256),
    "resnet34": StudentConfig(name="resnet34", input_height=112, input_width=112, blocks=(3, 4, 6, 3),
                              width=64, temporal=((256, 5),), gru_hidden=256),
}


class ConvBN(nn.Module):
    """A bias-free convolution (2d or 1d) followed by its BatchNorm; `fold.py` merges the two."""

    def __init__(self, conv: nn.Conv2d | nn.Conv1d):
        super().__init__()
        if conv.bias is not None:
            raise ValueError("ConvBN expects a bias-free convolution: the bias comes from the BatchNorm")
        self.conv = conv
        norm = nn.BatchNorm2d if isinstance(conv, nn.Conv2d) else nn.BatchNorm1d
        self.bn: nn.Module = norm(conv.out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


def conv2d_bn(in_channels: int, out_channels: int, kernel: int, stride: int, padding: int) -> ConvBN:
    return ConvBN(nn.Conv2d(in_channels, out_channels, kernel, stride=stride, padding=padding, bias=False))


class BasicBlock(nn.Module):
    """ResNet's BasicBlock: relu(conv2(relu(conv1(x))) + shortcut(x))."""

    def __init__(self, in_channels: int, out_channels: int, stride: int):
        super().__init__()
        self.conv1 = conv2d_bn(in_channels, out_channels, 3, stride, 1)
        self.conv2 = conv2d_bn(out_channels, out_channels, 3, 1, 1)
        self.downsample = (conv2d_bn(in_channels, out_channels, 1, stride, 0)
                           if stride != 1 or in_channels != out_channels else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        return torch.relu(self.conv2(torch.relu(self.conv1(x))) + shortcut)


class Encoder(nn.Module):
    """ResNet over one frame `[N, 3, H, W]` → feature `[N, F]` (global average pool)."""

    def __init__(self, blocks: tuple[int, ...], width: int):
        super().__init__()
        self.stem = conv2d_bn(3, width, 7, 2, 3)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        stages = []
        in_channels = width
        for index, count in enumerate(blocks):
            out_channels = width * 2 ** index
            stride = 1 if index == 0 else 2
            stage = [BasicBlock(in_channels, out_channels, stride)]
            stage += [BasicBlock(out_channels, out_channels, 1) for _ in range(count - 1)]
            stages.append(nn.Sequential(*stage))
            in_channels = out_channels
        self.stages = nn.Sequential(*stages)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(torch.relu(self.stem(x)))
        return self.stages(x).mean(dim=(2, 3))


class TemporalHead(nn.Module):
    """conv1d layers (BN, ReLU) → bidirectional GRU → linear → log-softmax, over `[B, T, F]`."""

    def __init__(self, feature_dim: int, temporal: tuple[tuple[int, int], ...], gru_hidden: int,
                 num_classes: int):
        super().__init__()
        layers = []
        channels = feature_dim
        for out_channels, kernel in temporal:
            if kernel % 2 != 1:
                raise ValueError(f"conv1d kernel {kernel} must be odd (the model file pads kernel/2 on both ends)")
            layers.append(ConvBN(nn.Conv1d(channels, out_channels, kernel, padding=kernel // 2, bias=False)))
            channels = out_channels
        self.convs = nn.ModuleList(layers)
        self.gru = nn.GRU(channels, gru_hidden, num_layers=1, batch_first=True, bidirectional=True)
        self.classifier = nn.Linear(2 * gru_hidden, num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = features.transpose(1, 2)  # [B, F, T]
        for layer in self.convs:
            x = torch.relu(layer(x))
        x, _ = self.gru(x.transpose(1, 2))
        return torch.log_softmax(self.classifier(x), dim=-1)


class Student(nn.Module):
    def __init__(self, config: StudentConfig):
        super().__init__()
        self.config = config
        self.encoder = Encoder(config.blocks, config.width)
        self.head = TemporalHead(config.feature_dim, config.temporal, config.gru_hidden, config.num_classes)

    def encode_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """Per-frame features `[N, F]` of normalised frames `[N, 3, H, W]`."""
        return self.encoder(frames)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        batch, steps = clips.shape[:2]
        features = self.encoder(clips.flatten(0, 1)).unflatten(0, (batch, steps))
        return self.head(features)
