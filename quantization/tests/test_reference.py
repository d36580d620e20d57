"""The numpy reference: its integer arithmetic against a literal reading of docs/model-format.md,
each int8 op against the float op it approximates, and the whole model against PyTorch."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dactyl_quant import reference
from dactyl_quant.build import clips_to_tensor
from dactyl_quant.export import Conv2dQ8, GlobalAvgPoolQ8, MaxPool2dQ8, TensorParams
from dactyl_quant.graph import FloatConv, lower_encoder
from dactyl_quant.quantize import quantize_weights

I32 = (-(1 << 31), (1 << 31) - 1)


def _rndnu(x: int, s: int) -> int:
    return (x + (1 << (s - 1))) >> s


def _literal_conv(op: Conv2dQ8, x, x_zp, residual, r_zp, y_zp):
    """conv2d_q8 exactly as the format writes it, one output element at a time."""
    out_c, kh, kw, in_c = op.weights.shape
    in_h, in_w = x.shape[:2]
    out_h = (in_h + 2 * op.padding[0] - kh) // op.stride[0] + 1
    out_w = (in_w + 2 * op.padding[1] - kw) // op.stride[1] + 1
    out = np.zeros((out_h, out_w, out_c), np.int8)
    for oy in range(out_h):
        for ox in range(out_w):
            for c in range(out_c):
                acc = int(op.bias[c])
                for ky in range(kh):
                    for kx in range(kw):
                        iy = oy * op.stride[0] - op.padding[0] + ky
                        ix = ox * op.stride[1] - op.padding[1] + kx
                        if not (0 <= iy < in_h and 0 <= ix < in_w):
                            continue
                        for i in range(in_c):
                            acc += (int(x[iy, ix, i]) - x_zp) * int(op.weights[c, ky, kx, i])
                assert I32[0] <= acc <= I32[1]
                v = _rndnu(acc * int(op.multiplier[c]), int(op.shift[c]))
                if residual is not None:
                    v += _rndnu((int(residual[oy, ox, c]) - r_zp) * op.residual_multiplier, op.residual_shift)
                v += y_zp
                low = max(y_zp, -128) if op.relu else -128
                out[oy, ox, c] = min(max(v, low), 127)
    return out


def _random_conv(rng, in_c, out_c, kernel, stride, padding, relu, residual) -> Conv2dQ8:
    return Conv2dQ8(
        input=0, output=1, residual=2 if residual else None, stride=stride, padding=padding, relu=relu,
        weights=rng.integers(-127, 128, (out_c, *kernel, in_c)).astype(np.int8),
        bias=rng.integers(-20000, 20000, out_c).astype(np.int32),
        multiplier=rng.integers(1 << 30, 1 << 31, out_c).astype(np.int32),
        shift=rng.integers(38, 46, out_c).astype(np.int32),
        residual_multiplier=int(rng.integers(1 << 30, 1 << 31)) if residual else 0,
        residual_shift=int(rng.integers(29, 33)) if residual else 0)


@pytest.mark.parametrize("kernel, stride, padding, relu, residual, y_zp", [
    ((3, 3), (1, 1), (1, 1), True, True, -128),
    ((3, 2), (2, 1), (1, 0), False, False, 5),
    ((1, 1), (2, 2), (0, 0), False, False, -3),
    ((7, 7), (2, 2), (3, 3), True, False, 17),
    ((3, 3), (2, 2), (1, 1), True, True, 100),
])
def test_conv2d_matches_the_literal_formula(kernel, stride, padding, relu, residual, y_zp):
    rng = np.random.default_rng(sum(kernel) + 200 + y_zp)
    op = _random_conv(rng, in_c=3, out_c=4, kernel=kernel, stride=stride, padding=padding, relu=relu,
                      residual=residual)
    x = rng.integers(-128, 128, (7, 6, 3)).astype(np.int8)
    out_h = (7 + 2 * padding[0] - kernel[0]) // stride[0] + 1
    out_w = (6 + 2 * padding[1] - kernel[1]) // stride[1] + 1
    r = rng.integers(-128, 128, (out_h, out_w, 4)).astype(np.int8) if residual else None
    expected = _literal_conv(op, x, 9, r, -7, y_zp)
    actual = reference.conv2d_q8(op, x, 9, r, -7, y_zp, (out_h, out_w))
    assert np.array_equal(actual, expected)
    assert len(np.unique(actual)) > 3  # real values, not only the clamps


def test_maxpool_ignores_padding():
    x = np.full((5, 4, 2), -128, np.int8)  # all at the minimum: a zero padding would win
    x[0, 0, 1] = -100
    op = MaxPool2dQ8(0, 1, (3, 3), (2, 2), (1, 1))
    out = reference.maxpool2d_q8(op, x, (3, 2))
    assert np.all(out[..., 0] == -128)
    assert out[0, 0, 1] == -100 and out[1, 0, 1] == -128


def test_maxpool_matches_the_literal_formula():
    rng = np.random.default_rng(1)
    x = rng.integers(-128, 128, (7, 9, 3)).astype(np.int8)
    op = MaxPool2dQ8(0, 1, (3, 2), (2, 3), (1, 1))
    out_h, out_w = (7 + 2 - 3) // 2 + 1, (9 + 2 - 2) // 3 + 1
    out = reference.maxpool2d_q8(op, x, (out_h, out_w))
    for oy in range(out_h):
        for ox in range(out_w):
            for c in range(3):
                taps = [int(x[iy, ix, c]) for ky in range(3) for kx in range(2)
                        for iy, ix in [(oy * 2 - 1 + ky, ox * 3 - 1 + kx)] if 0 <= iy < 7 and 0 <= ix < 9]
                assert out[oy, ox, c] == max(taps)


def test_global_avgpool_matches_the_literal_formula():
    rng = np.random.default_rng(2)
    x = rng.integers(-128, 128, (3, 4, 64)).astype(np.int8)  # n = 12: not a power of two
    x[..., 0] = [[-128] * 4, [-128] * 4, [-127, -128, -128, -128]]  # sum with x_zp = 3 is negative
    x[..., 1] = 5  # ties: (x − zp) sums of exactly n/2 units
    for multiplier, shift in ((1 << 30, 30), (1518500250, 31), (1 << 30, 29)):
        op = GlobalAvgPoolQ8(0, 1, multiplier, shift)
        out = reference.global_avgpool_q8(op, x, 3, -20).reshape(-1)
        for c in range(64):
            total = sum(int(v) - 3 for v in x[..., c].reshape(-1))
            average = (2 * total + 12) // (2 * 12)  # floor division, as the format says
            assert out[c] == min(max(_rndnu(average * multiplier, shift) + (-20), -128), 127)


def _dequantise(t: TensorParams, values: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(t.scale * (values.astype(np.float64) - t.zero_point)).permute(2, 0, 1)[None]


def test_each_int8_op_is_its_float_op_within_the_rounding_bound(tiny, clip):
    """Every int8 op against the float op applied to its own dequantised inputs and weights.

    Given the same dequantised inputs, what differs is only the requantisation's rounding (half
    a step), the residual's own rounding (another half step) and the 2^−31 relative error of the
    stored multipliers, so the output may be off by at most 0.5 or 1 output step (plus 1e-6).
    """
    model = tiny.model
    float_ops = lower_encoder(tiny.folded).ops
    crop = reference.default_crop(model, clip[1].shape[2], clip[1].shape[1])
    for frame in clip[1][::4]:
        values = reference.run_encoder(model, reference.input_tensor(model, frame, crop))
        for op, float_op in zip(model.encoder_ops, float_ops):
            x_params, y_params = model.tensors[op.input], model.tensors[op.output]
            x = _dequantise(x_params, values[op.input])
            y = _dequantise(y_params, values[op.output])
            if isinstance(op, Conv2dQ8):
                assert isinstance(float_op, FloatConv)
                weights, scales = quantize_weights(float_op.weight.numpy())
                assert np.array_equal(weights.transpose(0, 2, 3, 1), op.weights)
                w = torch.from_numpy(weights.astype(np.float64) * scales[:, None, None, None])
                b = torch.from_numpy(op.bias.astype(np.float64) * x_params.scale * scales)
                expected = F.conv2d(x, w, b, stride=op.stride, padding=op.padding)
                bound = 0.5
                if op.residual is not None:
                    expected = expected + _dequantise(model.tensors[op.residual], values[op.residual])
                    bound = 1.0
                if op.relu:
                    expected = torch.relu(expected)
            elif isinstance(op, MaxPool2dQ8):
                expected = F.max_pool2d(x, op.kernel, op.stride, op.padding)
                bound = 0.0
            else:
                expected = x.mean(dim=(2, 3), keepdim=True)
                bound = 0.5
            expected = expected.clamp(y_params.scale * (-128 - y_params.zero_point),
                                      y_params.scale * (127 - y_params.zero_point))
            error = ((expected - y).abs().max() / y_params.scale).item()
            assert error <= bound + 1e-6, f"op {model.encoder_ops.index(op)}: {error:.3f} steps"


def test_int8_model_tracks_the_float_model(tiny, clip):
    """End to end on the calibration clip: the int8 features and log-probs against the BN-folded
    float model. Measured (tiny, seed 3): max feature error 1.56 steps (3.3% of the feature range),
    max log-prob difference 0.036.

    Bounds: each of the 5 requantised convolutions on the longest path adds at most one output step
    of rounding (the test above), the input LUT half a step; an untrained network does not damp
    these, so allow 6 feature steps. The head sees the feature error through weights of norm ≈ 1:
    allow 0.25 in log-probability, a few times the measured value and far below the spread of the
    log-probs (≈ 3.5 around log(1/32)).
    """
    model = tiny.model
    features, log_probs = reference.run_frames(model, clip[1])
    frames = clips_to_tensor(tiny.student.config, [clip[1]])[0]
    with torch.no_grad():
        float_features = tiny.folded.encode_frames(frames).numpy()
        float_log_probs = tiny.folded(frames[None])[0].numpy()
    feature_params = model.tensors[model.feature_tensor]
    feature_error = np.abs(reference.dequantize_features(model, features) - float_features).max()
    feature_range = float_features.max() - float_features.min()
    log_prob_error = np.abs(log_probs - float_log_probs).max()
    print(f"\nint8 vs float: max feature error {feature_error:.4f} = {feature_error / feature_params.scale:.2f} steps "
          f"= {100 * feature_error / feature_range:.1f}% of the feature range; max log-prob diff {log_prob_error:.4f}")
    assert feature_error <= 6 * feature_params.scale
    assert log_prob_error <= 0.25


def test_head_matches_pytorch_on_the_same_features(tiny, clip):
    model = tiny.model
    features, log_probs = reference.run_frames(model, clip[1])
    dequantised = torch.from_numpy(reference.dequantize_features(model, features))
    with torch.no_grad():
        expected = tiny.folded.head(dequantised[None])[0].numpy()
    np.testing.assert_allclose(log_probs, expected, rtol=0, atol=2e-5)
    assert log_probs.dtype == np.float32 and log_probs.shape == (len(clip[1]), 32)


def test_run_clip_reads_the_file_and_uses_the_default_crop(tiny, tiny_file, clip):
    features, log_probs = reference.run_clip(tiny_file, clip[0])
    expected_features, expected_log_probs = reference.run_frames(tiny.model, clip[1])
    assert np.array_equal(features, expected_features)
    assert np.array_equal(log_probs, expected_log_probs)
    cropped, _ = reference.run_clip(tiny_file, clip[0], reference.Crop(0, 0, 64, 48))
    assert not np.array_equal(cropped, features)
