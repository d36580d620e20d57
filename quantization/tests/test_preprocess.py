import numpy as np
import pytest

from dactyl_quant.preprocess import Crop, apply_input_lut, crop_and_resize, float_clip, normalise, resize_bilinear


def _literal_resize(image: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """docs/model-format.md step 3, one pixel at a time in Python integers."""
    in_h, in_w = image.shape[:2]

    def source(o: int, in_size: int, out_size: int) -> tuple[int, int, int]:
        s = max(0, ((2 * o + 1) * in_size * 1024) // out_size - 1024)
        first, fraction = s >> 11, s & 2047
        second = first + 1
        if first >= in_size - 1:
            first = second = in_size - 1
            fraction = 0
        return first, second, fraction

    out = np.zeros((out_h, out_w, image.shape[2]), np.uint8)
    for oy in range(out_h):
        y0, y1, fy = source(oy, in_h, out_h)
        for ox in range(out_w):
            x0, x1, fx = source(ox, in_w, out_w)
            for c in range(image.shape[2]):
                p = lambda yy, xx: int(image[yy, xx, c])  # noqa: E731
                top = p(y0, x0) * (2048 - fx) + p(y0, x1) * fx
                bottom = p(y1, x0) * (2048 - fx) + p(y1, x1) * fx
                out[oy, ox, c] = (top * (2048 - fy) + bottom * fy + 2**21) >> 22
    return out


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (5, 1), (24, 32), (13, 9)])
def test_identity_size_is_identity(shape):
    image = np.random.default_rng(0).integers(0, 256, (*shape, 3), dtype=np.uint8)
    assert np.array_equal(resize_bilinear(image, *shape), image)


def test_halving_averages_2x2_blocks_rounding_half_up():
    image = np.array([[0, 1, 10, 10], [2, 4, 10, 11], [255, 255, 0, 0], [255, 254, 0, 1]], np.uint8)[..., None]
    # (0+1+2+4)/4 = 1.75 → 2; (10+10+10+11)/4 = 10.25 → 10; 1019/4 = 254.75 → 255; 1/4 → 0
    assert resize_bilinear(image, 2, 2)[..., 0].tolist() == [[2, 10], [255, 0]]


def test_doubling_a_row_by_hand():
    # x = 0: sx < 0 → 0; x = 1: sx = 512 → ¾·0 + ¼·200; x = 2: sx = 1536 → ¼·0 + ¾·200; x = 3: at the edge.
    image = np.array([[[0], [200]]], np.uint8)
    assert resize_bilinear(image, 1, 4)[0, :, 0].tolist() == [0, 50, 150, 200]


@pytest.mark.parametrize("in_shape, out_shape", [((48, 48), (24, 32)), ((23, 29), (24, 32)), ((7, 3), (2, 11)),
                                                 ((120, 160), (9, 5))])
def test_vectorised_resize_equals_the_literal_formula(in_shape, out_shape):
    image = np.random.default_rng(1).integers(0, 256, (*in_shape, 3), dtype=np.uint8)
    assert np.array_equal(resize_bilinear(image, *out_shape), _literal_resize(image, *out_shape))


def test_resize_of_a_constant_image_is_constant():
    image = np.full((17, 31, 3), 201, np.uint8)
    assert np.all(resize_bilinear(image, 40, 7) == 201)


def test_crop_from_thousandths_uses_integer_division():
    assert Crop.from_thousandths((125, 0, 750, 1000), 64, 48) == Crop(8, 0, 48, 48)
    assert Crop.from_thousandths((0, 0, 1000, 1000), 45, 37) == Crop(0, 0, 45, 37)
    assert Crop.from_thousandths((333, 333, 333, 333), 45, 37) == Crop(14, 12, 14, 12)


def test_crop_must_lie_inside_the_frame():
    frame = np.zeros((10, 12, 3), np.uint8)
    crop_and_resize(frame, Crop(2, 3, 10, 7), 4, 4)
    for bad in (Crop(3, 0, 10, 5), Crop(0, 4, 5, 7), Crop(0, 0, 0, 5), Crop(-1, 0, 4, 4)):
        with pytest.raises(ValueError, match="does not lie inside the 12x10 frame"):
            crop_and_resize(frame, bad, 4, 4)


def test_crop_parse():
    assert Crop.parse("7,5,29,23") == Crop(7, 5, 29, 23)
    with pytest.raises(ValueError, match="x,y,w,h"):
        Crop.parse("7,5,29")


def test_crop_and_resize_takes_the_rectangle():
    frame = np.random.default_rng(2).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    assert np.array_equal(crop_and_resize(frame, Crop(4, 3, 10, 8), 8, 10), frame[3:11, 4:14])


def test_input_lut_is_applied_per_channel():
    lut = np.stack([np.arange(256) - 128, 127 - np.arange(256), np.zeros(256)]).astype(np.int8)
    image = np.array([[[0, 0, 9], [255, 10, 200]]], np.uint8)
    assert apply_input_lut(image, lut).tolist() == [[[-128, 127, 0], [127, 117, 0]]]


def test_float_path_normalises_the_same_resized_pixels():
    frames = np.random.default_rng(3).integers(0, 256, (2, 48, 64, 3), dtype=np.uint8)
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    clip = float_clip(frames, (125, 0, 750, 1000), 24, 32, mean, std)
    assert clip.shape == (2, 3, 24, 32) and clip.dtype == np.float32
    pixels = crop_and_resize(frames[1], Crop(8, 0, 48, 48), 24, 32)
    expected = (pixels.transpose(2, 0, 1) / 255 - np.array(mean)[:, None, None]) / np.array(std)[:, None, None]
    np.testing.assert_allclose(clip[1], expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(normalise(pixels, mean, std), expected, rtol=1e-6, atol=1e-6)
