"""The localiser's configurations and their cost; no torch here, so the command line starts fast."""

from dataclasses import dataclass

from ..preprocess import IMAGENET_MEAN, IMAGENET_STD


@dataclass(frozen=True)
class LocaliserConfig:
    name: str
    input_height: int
    input_width: int
    stem: int  # channels of the stride-2 stem
    mid: int  # channels of the stride-4 conv
    width: int  # channels at stride 8 (the down conv, the residual block)
    blocks: int = 1  # residual blocks at stride 8
    interval: int = 3  # LMET interval: run every `interval` frames at 30 frames/s
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    @property
    def stride(self) -> int:
        return 8

    @property
    def cells(self) -> tuple[int, int]:
        """(Hh, Wh) of the heat and box maps."""
        return _out(_out(_out(_out(self.input_height, 3, 2, 1), 3, 2, 1), 3, 2, 1), 3, 1, 1), \
            _out(_out(_out(_out(self.input_width, 3, 2, 1), 3, 2, 1), 3, 2, 1), 3, 1, 1)


def _out(size: int, kernel: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - kernel) // stride + 1


CONFIGS: dict[str, LocaliserConfig] = {
    # For tests and the golden vectors: well under a millisecond in the reference.
    "tiny": LocaliserConfig("tiny", input_height=48, input_width=64, stem=4, mid=8, width=8, interval=3),
    # The shipped localiser (docs/localiser-training.md): 128x96 RGB, 16x12 cells.
    "small": LocaliserConfig("small", input_height=96, input_width=128, stem=8, mid=16, width=24, interval=3),
    # The wider alternative measured against it.
    "wide": LocaliserConfig("wide", input_height=96, input_width=128, stem=12, mid=16, width=32, interval=4),
}


def macs_per_frame(config: LocaliserConfig) -> int:
    """Multiply-accumulates of one run at the config's input size (conv taps, padding included)."""
    h, w = _out(config.input_height, 3, 2, 1), _out(config.input_width, 3, 2, 1)
    total = h * w * 27 * config.stem
    h, w = _out(h, 3, 2, 1), _out(w, 3, 2, 1)
    total += h * w * 9 * config.stem * config.mid
    h, w = _out(h, 3, 2, 1), _out(w, 3, 2, 1)
    total += h * w * 9 * config.mid * config.width
    total += config.blocks * 2 * h * w * 9 * config.width * config.width
    total += h * w * config.width * 5
    return total
