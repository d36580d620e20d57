"""From a student (trained checkpoint or seeded random weights) to a quantised `Model`.

    student → fold BatchNorm → lower the encoder → calibrate on clips → quantise → Model
"""

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .alphabet import CHICAGO
from .export import BiGRUF32, Conv1dF32, GRUDirection, HeadOp, LinearF32, LogSoftmaxF32, Model
from .fold import fold_batchnorm
from .graph import lower_encoder
from .preprocess import float_clip
from .quantize import calibrate, input_lut, input_params, quantize_encoder
from .student import Student, StudentConfig

# Synthetic BatchNorm statistics are rounded to this many significant bits (float16's), so that a
# seeded model does not depend on the last bits of the float convolutions that measured them.
STAT_BITS = 11


@dataclass
class Built:
    student: Student  # as trained or initialised, BatchNorm unfolded, eval mode
    folded: Student  # BatchNorm folded: the float model that the int8 model approximates
    model: Model


def clips_to_tensor(config: StudentConfig, clips: list[np.ndarray]) -> list[torch.Tensor]:
    """uint8 RGB clips `[T, h, w, 3]` as normalised float clips `[T, 3, H, W]` (default crop)."""
    return [torch.from_numpy(float_clip(clip, config.default_crop, config.input_height, config.input_width,
                                        config.mean, config.std)) for clip in clips]


def _round_bits(values: torch.Tensor, bits: int) -> torch.Tensor:
    mantissa, exponent = torch.frexp(values.double())
    return torch.ldexp(torch.round(mantissa * 2 ** bits) / 2 ** bits, exponent.double()).to(values.dtype)


@torch.no_grad()
def synthetic_student(config: StudentConfig, seed: int, clips: list[torch.Tensor]) -> Student:
    """A random-weight student whose BatchNorms are non-trivial: random affine parameters and the
    running statistics of `clips` (one train-mode pass with a cumulative average), so that folding
    and calibration see realistic activations."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        student = Student(config)
        norms = [m for m in student.modules() if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d))]
        for norm in norms:
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.2, 0.2)
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative moving average: the exact mean over the passes
    student.train()
    for clip in clips:
        student(clip[None])
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum
        norm.running_mean.copy_(_round_bits(norm.running_mean, STAT_BITS))
        norm.running_var.copy_(_round_bits(norm.running_var, STAT_BITS))
    return student.eval()


def load_student(config: StudentConfig, checkpoint: str) -> Student:
    """A trained student from a state_dict file (optionally under a 'model' key)."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    student = Student(config)
    student.load_state_dict(state)
    return student.eval()


def _head_ops(folded: Student) -> list[HeadOp]:
    head = folded.head
    ops = []
    for layer in head.convs:
        weight = layer.conv.weight.detach().numpy()  # [out, in, kernel]
        ops.append(Conv1dF32(np.ascontiguousarray(weight.transpose(0, 2, 1)), layer.conv.bias.detach().numpy(),
                             relu=True))
    gru = head.gru

    def direction(suffix: str) -> GRUDirection:
        return GRUDirection(*(getattr(gru, f"{name}_l0{suffix}").detach().numpy()
                              for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")))

    ops.append(BiGRUF32(direction(""), direction("_reverse")))
    ops.append(LinearF32(head.classifier.weight.detach().numpy(), head.classifier.bias.detach().numpy()))
    ops.append(LogSoftmaxF32(folded.config.num_classes))
    return ops


def quantize_student(student: Student, clips: list[torch.Tensor], info: str | None) -> Built:
    """Fold, calibrate on the normalised clips and quantise."""
    config = student.config
    if config.num_classes != CHICAGO.num_classes:
        raise ValueError(f"config {config.name} has {config.num_classes} classes, the ChicagoFSWild alphabet "
                         f"needs {CHICAGO.num_classes}")
    folded = fold_batchnorm(student)
    graph = lower_encoder(folded)
    ranges = calibrate(graph, torch.cat(clips))
    input_tensor = input_params(config.mean, config.std)
    tensors, encoder_ops = quantize_encoder(graph, ranges, input_tensor)
    model = Model(
        input_height=config.input_height, input_width=config.input_width, default_window=config.default_window,
        default_crop=config.default_crop,
        # Stored as f32: round here so that the in-memory model equals the one read back.
        mean=tuple(float(np.float32(v)) for v in config.mean), std=tuple(float(np.float32(v)) for v in config.std),
        input_lut=input_lut(config.mean, config.std, input_tensor), alphabet=CHICAGO, tensors=tensors,
        encoder_ops=encoder_ops, head_ops=_head_ops(folded), feature_tensor=graph.feature_tensor, info=info,
        frame_rate=config.frame_rate)
    return Built(student, folded, model)


def build(config: StudentConfig, rgb_clips: list[np.ndarray], info: str | None, seed: int | None = None,
          checkpoint: str | None = None) -> Built:
    """A quantised model from a checkpoint, or from seeded random weights when there is none."""
    if (seed is None) == (checkpoint is None):
        raise ValueError("give exactly one of a seed (random weights) or a checkpoint")
    if not rgb_clips:
        raise ValueError("calibration needs at least one clip")
    clips = clips_to_tensor(config, rgb_clips)
    student = load_student(config, checkpoint) if checkpoint else synthetic_student(config, seed, clips)
    return quantize_student(student, clips, info)
