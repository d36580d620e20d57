import math
from fractions import Fraction

import numpy as np
import pytest

from dactyl_quant.quantize import (BIAS_LIMIT, activation_params, input_lut, input_params, quantize_bias,
                                   quantize_multiplier, quantize_weights, rndnu)
from dactyl_quant.preprocess import IMAGENET_MEAN, IMAGENET_STD


def _round_half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


def test_rndnu_rounds_to_nearest_with_ties_up():
    assert rndnu(5, 1) == 3  # 2.5 → 3
    assert rndnu(-5, 1) == -2  # −2.5 → −2: ties go up, not away from zero
    assert rndnu(-6, 1) == -3
    assert rndnu(7, 2) == 2  # 1.75
    assert rndnu(-7, 2) == -2  # −1.75
    assert rndnu(-2, 2) == 0  # −0.5 → 0
    assert rndnu(2**62 - 1, 62) == 1  # largest shift, no int64 overflow


def test_rndnu_matches_exact_rounding_for_ints_and_arrays():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.integers(-2**62, 2**62, 500), rng.integers(-1000, 1000, 500)])
    shifts = rng.integers(1, 63, values.size)
    expected = [_round_half_up(Fraction(int(v), 2 ** int(s))) for v, s in zip(values, shifts)]
    assert [rndnu(int(v), int(s)) for v, s in zip(values, shifts)] == expected
    assert rndnu(values, shifts).tolist() == expected


def test_quantize_multiplier_normal_range():
    assert quantize_multiplier(1.0) == (2**30, 30)
    assert quantize_multiplier(0.5) == (2**30, 31)
    assert quantize_multiplier(0.75) == (3 * 2**29, 31)
    rng = np.random.default_rng(1)
    for m in np.exp(rng.uniform(math.log(1e-9), math.log(1e8), 2000)):
        multiplier, shift = quantize_multiplier(float(m))
        assert 2**30 <= multiplier < 2**31 and 1 <= shift <= 62
        assert abs(multiplier / 2**shift - m) <= m * 2**-31


def test_quantize_multiplier_mantissa_rounding_up_to_a_power_of_two():
    m = 1 - 2**-40  # its mantissa rounds to 2^31: must become (2^30, s − 1)
    assert quantize_multiplier(m) == (2**30, 30)


def test_quantize_multiplier_tiny_values_use_shift_62():
    assert quantize_multiplier(2.0**-40) == (2**22, 62)
    multiplier, shift = quantize_multiplier(3e-12)
    assert shift == 62 and multiplier < 2**30 and abs(multiplier / 2**62 - 3e-12) <= 2**-63


def test_quantize_multiplier_limits():
    multiplier, shift = quantize_multiplier(2.0**30 * (1 - 2**-30))
    assert shift == 1 and multiplier < 2**31
    for bad in (2.0**30, 0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError):
            quantize_multiplier(bad)


def test_requantisation_with_a_stored_multiplier_rounds_the_real_product():
    rng = np.random.default_rng(2)
    for m in rng.uniform(1e-4, 4.0, 200):
        multiplier, shift = quantize_multiplier(float(m))
        acc = rng.integers(-2**31, 2**31, 50)
        result = rndnu(acc * multiplier, np.full(acc.shape, shift))
        # The stored multiplier is m to 2^−31 relative, so the result is round(acc·m) or one off at ties.
        assert np.all(np.abs(result - acc * m) <= 0.5 + np.abs(acc) * m * 2**-31 + 1e-9)


def test_per_channel_weights_are_symmetric_and_within_half_a_step():
    rng = np.random.default_rng(3)
    weight = rng.normal(size=(5, 3, 3, 4)) * np.array([1, 0.01, 100, 0, 1])[:, None, None, None]
    quantized, scales = quantize_weights(weight)
    assert quantized.dtype == np.int8 and quantized.min() >= -127
    assert np.all(np.abs(quantized[[0, 1, 2, 4]]).reshape(4, -1).max(axis=1) == 127)
    assert np.all(quantized[3] == 0) and scales[3] == 1.0
    error = np.abs(quantized * scales[:, None, None, None] - weight)
    assert np.all(error <= scales[:, None, None, None] / 2 + 1e-12)


def test_bias_is_in_accumulator_units_and_clamped():
    bias = np.array([0.5, -0.25, 1e9, -1e9])
    quantized = quantize_bias(bias, 0.01, np.array([0.1, 0.1, 0.1, 0.1]))
    assert quantized.tolist() == [500, -250, BIAS_LIMIT, -BIAS_LIMIT]


@pytest.mark.parametrize("low, high", [(0.0, 6.0), (-1.0, 3.0), (2.0, 5.0), (-3.0, -1.0), (-7.3, 0.01), (0.0, 0.0)])
def test_activation_params_cover_the_range_and_zero(low, high):
    params = activation_params(low, high, 8)
    assert params.scale > 0 and np.float32(params.scale) == params.scale
    assert -128 <= params.zero_point <= 127
    lowest = params.scale * (-128 - params.zero_point)
    highest = params.scale * (127 - params.zero_point)
    assert lowest <= min(low, 0) + params.scale / 2
    assert highest >= max(high, 0) - params.scale / 2
    if low >= 0:  # ReLU-like outputs: all 256 levels for [0, high]
        assert params.zero_point == -128


def test_activation_ranges_are_snapped_outward_to_12_bits():
    exact = activation_params(-1.0, 3.0, 1)
    nudged = activation_params(-1.0 + 1e-9, 3.0 - 1e-9, 1)  # last-bit noise from another CPU
    assert exact == nudged


def test_input_lut_follows_the_format_formula():
    params = input_params(IMAGENET_MEAN, IMAGENET_STD)
    lut = input_lut(IMAGENET_MEAN, IMAGENET_STD, params)
    assert lut.shape == (3, 256) and lut.dtype == np.int8
    assert np.all(np.diff(lut.astype(int), axis=1) >= 0)
    for c in range(3):
        for v in (0, 1, 77, 128, 254, 255):
            real = (v / 255 - IMAGENET_MEAN[c]) / IMAGENET_STD[c] / params.scale
            expected = int(np.sign(real) * math.floor(abs(real) + 0.5)) + params.zero_point
            assert lut[c][v] == max(-128, min(127, expected))
    # The input range covers every pixel value: nothing clamps, so the error is at most half a step.
    values = np.arange(256) / 255
    real = (values[None, :] - np.array(IMAGENET_MEAN)[:, None]) / np.array(IMAGENET_STD)[:, None]
    dequantised = params.scale * (lut.astype(np.float64) - params.zero_point)
    assert np.abs(dequantised - real).max() <= params.scale / 2 + 1e-9
