"""The numpy reference executor of a .dmdl model: the behaviour every Swift kernel must match.

Encoder: the exact integer arithmetic of docs/model-format.md. Convolutions are an im2col matrix
product in float64, which is exact here: every product (x − zp)·w is an integer of magnitude at
most 255 · 127 and a sum of fewer than 2^37 of them stays below 2^53, where float64 represents every
integer, whatever the summation order. All requantisation is in int64.

Temporal head: float32, PyTorch semantics (compared with a tolerance, as the format says).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .export import (BiGRUF32, Conv1dF32, Conv2dQ8, EncoderOp, GlobalAvgPoolQ8, GRUDirection, HeadOp, LinearF32,
                     Localiser, LogSoftmaxF32, MaxPool2dQ8, Model, TensorParams, infer_shapes, read_model)
from .preprocess import Crop, apply_input_lut, crop_and_resize
from .quantize import rndnu
from .y4m import Y4MReader, yuv_to_rgb

I32_MIN, I32_MAX = -(1 << 31), (1 << 31) - 1


def _padded(x: np.ndarray, pad_h: int, pad_w: int, fill: int) -> np.ndarray:
    return np.pad(x, ((pad_h, pad_h), (pad_w, pad_w), (0, 0)), constant_values=fill)


def _windows(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], out_h: int, out_w: int) -> np.ndarray:
    """`[out_h, out_w, kh, kw, C]`: the kernel taps of every output position of a padded input."""
    kh, kw = kernel
    sh, sw = stride
    taps = [[x[ky:ky + sh * (out_h - 1) + 1:sh, kx:kx + sw * (out_w - 1) + 1:sw] for kx in range(kw)]
            for ky in range(kh)]
    return np.stack([np.stack(row, axis=2) for row in taps], axis=2)


def conv2d_q8(op: Conv2dQ8, x: np.ndarray, x_zero_point: int, residual: np.ndarray | None, r_zero_point: int,
              y_zero_point: int, out_shape: tuple[int, int]) -> np.ndarray:
    """int8 `[out_h, out_w, out_channels]` of an int8 NHWC input (N left out)."""
    out_h, out_w = out_shape
    # Taps outside the input are skipped: a padded (x − zp) of 0 contributes nothing.
    centred = _padded(x.astype(np.float64) - x_zero_point, *op.padding, fill=0)
    columns = _windows(centred, op.kernel, op.stride, out_h, out_w).reshape(out_h * out_w, -1)
    weights = op.weights.reshape(op.weights.shape[0], -1).astype(np.float64)
    acc = (columns @ weights.T).astype(np.int64) + op.bias.astype(np.int64)
    if acc.min(initial=0) < I32_MIN or acc.max(initial=0) > I32_MAX:
        raise ValueError("conv2d accumulator leaves i32: the model breaks the format's accumulator bound")
    v = rndnu(acc * op.multiplier.astype(np.int64), op.shift.astype(np.int64))
    if residual is not None:
        r = residual.reshape(out_h * out_w, -1).astype(np.int64) - r_zero_point
        v = v + rndnu(r * op.residual_multiplier, op.residual_shift)
    v = v + y_zero_point
    low = max(y_zero_point, -128) if op.relu else -128
    return np.clip(v, low, 127).astype(np.int8).reshape(out_h, out_w, -1)


def maxpool2d_q8(op: MaxPool2dQ8, x: np.ndarray, out_shape: tuple[int, int]) -> np.ndarray:
    # A fill below every int8 value: padding never wins.
    padded = _padded(x.astype(np.int16), *op.padding, fill=-32768)
    best = _windows(padded, op.kernel, op.stride, *out_shape).max(axis=(2, 3))
    if best.min() == -32768:
        raise ValueError("maxpool window lies entirely in the padding")
    return best.astype(np.int8)


def global_avgpool_q8(op: GlobalAvgPoolQ8, x: np.ndarray, x_zero_point: int, y_zero_point: int) -> np.ndarray:
    n = x.shape[0] * x.shape[1]
    total = (x.astype(np.int64) - x_zero_point).sum(axis=(0, 1))
    average = (2 * total + n) // (2 * n)  # floor division: rounds half up, negatives included
    out = rndnu(average * op.multiplier, op.shift) + y_zero_point
    return np.clip(out, -128, 127).astype(np.int8).reshape(1, 1, -1)


def run_ops(tensors: list[TensorParams], ops: list[EncoderOp], image: np.ndarray) -> list[np.ndarray]:
    """Every tensor (int8 HWC) of an int8 op list (the recogniser's encoder or the localiser) for the
    int8 input tensor `image` `[H, W, 3]`."""
    shapes = infer_shapes(tensors, ops, image.shape[0], image.shape[1])
    values: list[np.ndarray | None] = [None] * len(tensors)
    values[0] = image
    zero_points = [t.zero_point for t in tensors]
    for op in ops:
        x = values[op.input]
        if isinstance(op, Conv2dQ8):
            residual = None if op.residual is None else values[op.residual]
            r_zero_point = 0 if op.residual is None else zero_points[op.residual]
            y = conv2d_q8(op, x, zero_points[op.input], residual, r_zero_point, zero_points[op.output],
                          shapes[op.output])
        elif isinstance(op, MaxPool2dQ8):
            y = maxpool2d_q8(op, x, shapes[op.output])
        else:
            y = global_avgpool_q8(op, x, zero_points[op.input], zero_points[op.output])
        values[op.output] = y
    return values


def run_encoder(model: Model, image: np.ndarray) -> list[np.ndarray]:
    """Every encoder tensor (int8 HWC) for the int8 input tensor `image` `[H, W, 3]`."""
    return run_ops(model.tensors, model.encoder_ops, image)


def encode(model: Model, image: np.ndarray) -> np.ndarray:
    """The int8 feature `[F]` of one int8 input tensor."""
    return run_encoder(model, image)[model.feature_tensor].reshape(-1)


def dequantize_features(model: Model, features: np.ndarray) -> np.ndarray:
    params = model.tensors[model.feature_tensor]
    return (np.float32(params.scale) * (features.astype(np.float32) - np.float32(params.zero_point))).astype(np.float32)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (1 / (1 + np.exp(-x))).astype(np.float32)


def _gru_direction(weights: GRUDirection, x: np.ndarray, reverse: bool) -> np.ndarray:
    """torch.nn.GRU for one direction, gates (r, z, n): h' = (1 − z)·n + z·h."""
    hidden = weights.w_hh.shape[1]
    gates_x = x @ weights.w_ih.T + weights.b_ih  # [T, 3·hidden]
    h = np.zeros(hidden, dtype=np.float32)
    out = np.zeros((x.shape[0], hidden), dtype=np.float32)
    steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
    for t in steps:
        gates_h = weights.w_hh @ h + weights.b_hh
        r = _sigmoid(gates_x[t, :hidden] + gates_h[:hidden])
        z = _sigmoid(gates_x[t, hidden:2 * hidden] + gates_h[hidden:2 * hidden])
        n = np.tanh(gates_x[t, 2 * hidden:] + r * gates_h[2 * hidden:])
        h = (1 - z) * n + z * h
        out[t] = h
    return out


def run_head_op(op: HeadOp, x: np.ndarray) -> np.ndarray:
    """One temporal op over a float32 sequence `[T, channels]`."""
    if isinstance(op, Conv1dF32):
        kernel = op.weights.shape[1]
        half = kernel // 2
        padded = np.pad(x, ((half, half), (0, 0)))
        y = np.broadcast_to(op.bias, (x.shape[0], op.out_channels)).copy()
        for j in range(kernel):
            y += padded[j:j + x.shape[0]] @ op.weights[:, j, :].T
        return np.maximum(y, 0) if op.relu else y
    if isinstance(op, BiGRUF32):
        return np.concatenate([_gru_direction(op.forward, x, reverse=False),
                               _gru_direction(op.backward, x, reverse=True)], axis=1)
    if isinstance(op, LinearF32):
        return x @ op.weights.T + op.bias
    if isinstance(op, LogSoftmaxF32):
        shifted = x - x.max(axis=1, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    raise TypeError(f"not a temporal op: {op!r}")


def run_head(model: Model, features: np.ndarray) -> np.ndarray:
    """float32 log-probabilities `[T, num_classes]` of int8 features `[T, F]`."""
    x = dequantize_features(model, features)
    for op in model.head_ops:
        x = run_head_op(op, x).astype(np.float32)
    return x


def input_tensor(model: Model, rgb: np.ndarray, crop: Crop) -> np.ndarray:
    """Crop, resize and quantise one uint8 RGB frame: the int8 input tensor `[H, W, 3]`."""
    return apply_input_lut(crop_and_resize(rgb, crop, model.input_height, model.input_width), model.input_lut)


def default_crop(model: Model, source_width: int, source_height: int) -> Crop:
    return Crop.from_thousandths(model.default_crop, source_width, source_height)


def run_frames(model: Model, frames: Iterable[np.ndarray], crop: Crop | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(int8 features `[T, F]`, float32 log-probs `[T, C]`) of uint8 RGB frames; default crop if none."""
    features = []
    for rgb in frames:
        frame_crop = crop if crop is not None else default_crop(model, rgb.shape[1], rgb.shape[0])
        features.append(encode(model, input_tensor(model, rgb, frame_crop)))
    if not features:
        raise ValueError("no frames to run")
    stacked = np.stack(features)
    return stacked, run_head(model, stacked)


def run_clip(model: Model | str | Path, clip: str | Path, crop: Crop | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Features and log-probs of a .y4m clip."""
    if not isinstance(model, Model):
        model = read_model(model)
    reader = Y4MReader(clip)
    return run_frames(model, (yuv_to_rgb(frame, reader.format) for frame in reader), crop)


# ---------------------------------------------------------------------------------------------
# The hand localiser (docs/model-format.md, "The hand localiser")


@dataclass(frozen=True)
class LocalisedBox:
    """The box read from one frame's heat and box tensors, in that frame's pixels."""
    present: bool
    peak_logit: float  # the dequantised heat at the peak cell
    cell: tuple[int, int]  # (i, j): row and column of the peak
    centre_x: float
    centre_y: float
    width: float
    height: float


def localiser_input(localiser: Localiser, rgb: np.ndarray) -> np.ndarray:
    """The localiser's int8 input tensor: the whole frame resized to LMET's size, its own LUT."""
    whole = Crop(0, 0, rgb.shape[1], rgb.shape[0])
    return apply_input_lut(crop_and_resize(rgb, whole, localiser.input_height, localiser.input_width),
                           localiser.input_lut)


def run_localiser(localiser: Localiser, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int8 heat `[Hh, Wh, 1]`, int8 box `[Hh, Wh, 4]`) of one uint8 RGB frame."""
    values = run_ops(localiser.tensors, localiser.ops, localiser_input(localiser, rgb))
    return values[localiser.heat_tensor], values[localiser.box_tensor]


def read_box(localiser: Localiser, heat: np.ndarray, box: np.ndarray, frame_width: int,
             frame_height: int) -> LocalisedBox:
    """The spec's rule: the peak cell (first in row-major order on ties), presence from its dequantised
    logit, the box channels there dequantised and placed in frame pixels."""
    cells_h, cells_w = heat.shape[:2]
    flat = int(np.argmax(heat.reshape(-1)))  # numpy's argmax returns the first maximum
    i, j = divmod(flat, cells_w)
    heat_params = localiser.tensors[localiser.heat_tensor]
    box_params = localiser.tensors[localiser.box_tensor]
    peak = float(np.float32(heat_params.scale) * np.float32(int(heat[i, j, 0]) - heat_params.zero_point))
    ox, oy, w, h = (float(np.float32(box_params.scale) * np.float32(int(v) - box_params.zero_point))
                    for v in box[i, j])
    return LocalisedBox(present=peak >= localiser.presence_logit, peak_logit=peak, cell=(i, j),
                        centre_x=(j + ox) / cells_w * frame_width, centre_y=(i + oy) / cells_h * frame_height,
                        width=w * frame_width, height=h * frame_height)


def localise(model: Model | Localiser, rgb: np.ndarray) -> LocalisedBox:
    """The box of one uint8 RGB frame."""
    localiser = model.localiser if isinstance(model, Model) else model
    if localiser is None:
        raise ValueError("the model has no localiser (LMET, LTEN, LOPS)")
    heat, box = run_localiser(localiser, rgb)
    return read_box(localiser, heat, box, rgb.shape[1], rgb.shape[0])
