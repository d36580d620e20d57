"""The one quantisation rule of docs/model-format.md, and how the exporter picks its parameters.

- rndnu and the (M, s) fixed-point multipliers;
- symmetric per-output-channel int8 weights, i32 biases in units of input_scale · weight_scale;
- asymmetric per-tensor int8 activations from min/max calibration of the BN-folded float model;
- the input LUT.
"""

import math

import numpy as np
import torch

from .export import INPUT_TENSOR, Conv2dQ8, EncoderOp, GlobalAvgPoolQ8, MaxPool2dQ8, TensorParams
from .graph import EncoderGraph, FloatConv, FloatMaxPool, run_float

# Biases are clamped to ±2^30 so that bias + Σ (x − zp)·w stays inside i32: the sum is at most
# 255 · 127 · kernel_h · kernel_w · in_channels (< 2^28 for a 3x3x512 kernel).
BIAS_LIMIT = 1 << 30
# Calibrated ranges are rounded outward to this many significant bits, so that the last bits of
# float accumulation (which differ between CPUs and thread counts) do not change the exported file.
RANGE_BITS = 12


def rndnu(x, shift):
    """Round to nearest, ties up: (x + 2^(s−1)) >> s. Works on Python ints and int64 numpy arrays."""
    if isinstance(x, np.ndarray) or isinstance(shift, np.ndarray):
        x = np.asarray(x, dtype=np.int64)
        shift = np.asarray(shift, dtype=np.int64)
        return (x + np.left_shift(np.int64(1), shift - 1)) >> shift
    return (x + (1 << (shift - 1))) >> shift


def quantize_multiplier(m: float) -> tuple[int, int]:
    """(M, s) with M = round(m · 2^s) in [2^30, 2^31) and 1 ≤ s ≤ 62; for tiny m, s = 62 and M < 2^30."""
    if not (math.isfinite(m) and m > 0):
        raise ValueError(f"multiplier {m} must be positive and finite")
    mantissa, exponent = math.frexp(m)  # m = mantissa · 2^exponent, mantissa in [0.5, 1)
    shift = 31 - exponent
    if shift > 62:
        return round(math.ldexp(m, 62)), 62
    multiplier = round(math.ldexp(mantissa, 31))
    if multiplier == 1 << 31:  # the mantissa rounded up to the next power of two
        multiplier, shift = 1 << 30, shift - 1
    if shift < 1:
        raise ValueError(f"multiplier {m} is too large: it must be below 2^30 to fit M in [2^30, 2^31) with s ≥ 1")
    return multiplier, shift


def quantize_weights(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric per-output-channel int8 in −127 ... 127: (int8 weights, float64 scales [out])."""
    flat = weight.reshape(weight.shape[0], -1).astype(np.float64)
    peak = np.abs(flat).max(axis=1)
    # An all-zero channel quantises to zeros under any scale; 1 keeps the scale positive.
    scales = np.where(peak > 0, peak / 127.0, 1.0)
    quantized = np.clip(np.rint(flat / scales[:, None]), -127, 127).astype(np.int8)
    return quantized.reshape(weight.shape), scales


def quantize_bias(bias: np.ndarray, input_scale: float, weight_scales: np.ndarray) -> np.ndarray:
    """i32 bias in units of input_scale · weight_scale[c], clamped to ±2^30 (see BIAS_LIMIT)."""
    units = np.rint(bias.astype(np.float64) / (input_scale * weight_scales))
    return np.clip(units, -BIAS_LIMIT, BIAS_LIMIT).astype(np.int32)


def _snap(value: float, up: bool) -> float:
    """`value` rounded away from zero (up: towards +∞, else −∞) to RANGE_BITS significant bits."""
    if value == 0:
        return 0.0
    _, exponent = math.frexp(value)
    step = math.ldexp(1.0, exponent - RANGE_BITS)
    return (math.ceil(value / step) if up else math.floor(value / step)) * step


def activation_params(low: float, high: float, channels: int) -> TensorParams:
    """Asymmetric per-tensor int8 parameters covering [low, high] and 0.

    0 must be exactly representable (zero padding, ReLU), so the range is widened to include it; a
    range with low = 0 (a ReLU output) gets zero point −128 and all 256 levels for [0, high].
    """
    low, high = _snap(min(low, 0.0), up=False), _snap(max(high, 0.0), up=True)
    if high == low:  # identically zero on the calibration data: any positive scale will do
        high = 1.0
    scale = float(np.float32((high - low) / 255.0))
    zero_point = int(np.clip(round(-128 - low / scale), -128, 127))
    return TensorParams(channels, scale, zero_point)


def input_params(mean: tuple[float, ...], std: tuple[float, ...]) -> TensorParams:
    """The input tensor's parameters: the full range that (v/255 − mean) / std can take, all channels."""
    low = min((0.0 - m) / s for m, s in zip(mean, std))
    high = max((1.0 - m) / s for m, s in zip(mean, std))
    return activation_params(low, high, 3)


def input_lut(mean: tuple[float, ...], std: tuple[float, ...], params: TensorParams) -> np.ndarray:
    """int8 [3][256]: clamp(round_half_away((v/255 − mean[c]) / std[c] / scale) + zero_point)."""
    values = np.arange(256, dtype=np.float64) / 255.0
    real = (values[None, :] - np.asarray(mean, dtype=np.float64)[:, None]) / np.asarray(std, dtype=np.float64)[:, None]
    scaled = real / params.scale
    rounded = np.sign(scaled) * np.floor(np.abs(scaled) + 0.5)
    return np.clip(rounded + params.zero_point, -128, 127).astype(np.int8)


@torch.no_grad()
def calibrate(graph: EncoderGraph, frames: torch.Tensor, batch_size: int = 8) -> list[tuple[float, float]]:
    """(min, max) of every tensor of the graph over normalised frames `[N, 3, H, W]`.

    Batched so that a deep encoder's activations for many frames need not be in memory at once.
    """
    low = [math.inf] * len(graph.channels)
    high = [-math.inf] * len(graph.channels)
    for start in range(0, frames.shape[0], batch_size):
        for index, tensor in enumerate(run_float(graph, frames[start:start + batch_size])):
            low[index] = min(low[index], float(tensor.min()))
            high[index] = max(high[index], float(tensor.max()))
    return list(zip(low, high))


def quantize_encoder(graph: EncoderGraph, ranges: list[tuple[float, float]],
                     input_tensor: TensorParams) -> tuple[list[TensorParams], list[EncoderOp]]:
    """The model file's tensors and int8 ops for a float encoder graph and its calibrated ranges."""
    tensors: list[TensorParams | None] = [None] * len(graph.channels)
    tensors[INPUT_TENSOR] = input_tensor
    ops: list[EncoderOp] = []
    for op in graph.ops:
        source = tensors[op.input]
        if isinstance(op, FloatConv):
            output = activation_params(*ranges[op.output], graph.channels[op.output])
            weights, weight_scales = quantize_weights(op.weight.numpy())
            pairs = [quantize_multiplier(source.scale * ws / output.scale) for ws in weight_scales]
            residual_multiplier = residual_shift = 0
            if op.residual is not None:
                residual_multiplier, residual_shift = quantize_multiplier(tensors[op.residual].scale / output.scale)
            ops.append(Conv2dQ8(
                op.input, op.output, op.residual, op.stride, op.padding, op.relu,
                weights=weights.transpose(0, 2, 3, 1).copy(),  # OIHW → OHWI
                bias=quantize_bias(op.bias.numpy(), source.scale, weight_scales),
                multiplier=np.array([m for m, _ in pairs], dtype=np.int32),
                shift=np.array([s for _, s in pairs], dtype=np.int32),
                residual_multiplier=residual_multiplier, residual_shift=residual_shift))
        elif isinstance(op, FloatMaxPool):
            output = source  # the format: a max-pool keeps its input's quantisation
            ops.append(MaxPool2dQ8(op.input, op.output, op.kernel, op.stride, op.padding))
        else:
            # The format rounds the average to an integer in input units before requantising, so a
            # finer output scale could not add information; the input's own scale and zero point
            # keep every level that the average has (multiplier 1) and can never clamp.
            output = source
            multiplier, shift = quantize_multiplier(1.0)
            ops.append(GlobalAvgPoolQ8(op.input, op.output, multiplier, shift))
        tensors[op.output] = output
    return tensors, ops
