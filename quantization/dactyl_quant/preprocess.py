"""From an RGB frame to the encoder's input: crop, fixed-point bilinear resize, input LUT.

The integer path is bit-exact with docs/model-format.md ("From a frame to the input tensor"); the
float path (training, calibration) resizes with the same integer code and only then normalises,
so that the float model and the int8 model see the same pixels.
"""

from dataclasses import dataclass

import numpy as np

# ImageNet's normalisation, which the recogniser and the localiser both use (their configs' defaults).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Resize positions are in 1/2048 pixel; the final rounding divides by 2048² = 2^22.
_FRACTION_BITS = 11
_ONE = 1 << _FRACTION_BITS


@dataclass(frozen=True)
class Crop:
    x: int
    y: int
    width: int
    height: int

    @staticmethod
    def from_thousandths(crop: tuple[int, int, int, int], source_width: int, source_height: int) -> "Crop":
        """A crop given in thousandths of the source frame (the model's `default_crop`)."""
        x, y, w, h = crop
        return Crop(source_width * x // 1000, source_height * y // 1000,
                    source_width * w // 1000, source_height * h // 1000)

    @staticmethod
    def parse(text: str) -> "Crop":
        """`x,y,w,h` in pixels."""
        parts = text.split(",")
        if len(parts) != 4 or not all(p.strip().isdigit() for p in parts):
            raise ValueError(f"crop {text!r}: expected four non-negative integers x,y,w,h")
        return Crop(*(int(p) for p in parts))

    def check_inside(self, source_width: int, source_height: int) -> None:
        if (self.width < 1 or self.height < 1 or self.x < 0 or self.y < 0
                or self.x + self.width > source_width or self.y + self.height > source_height):
            raise ValueError(f"crop {self} does not lie inside the {source_width}x{source_height} frame "
                             "with a positive size")


def _source_positions(in_size: int, out_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every output index: the two source indices and the weight (0..2047) of the second.

    The centres of output pixels mapped onto the source, in 1/2048 pixel; int64 so that large
    frames cannot overflow `(2x + 1) · in · 1024`.
    """
    out = np.arange(out_size, dtype=np.int64)
    position = np.maximum(0, ((2 * out + 1) * in_size * (_ONE // 2)) // out_size - _ONE // 2)
    first = position >> _FRACTION_BITS
    fraction = position & (_ONE - 1)
    at_edge = first >= in_size - 1
    first = np.where(at_edge, in_size - 1, first)
    second = np.where(at_edge, in_size - 1, first + 1)
    fraction = np.where(at_edge, 0, fraction)
    return first, second, fraction


def resize_bilinear(image: np.ndarray, out_height: int, out_width: int) -> np.ndarray:
    """The format's fixed-point bilinear resize of a uint8 `[h, w, c]` image."""
    if image.dtype != np.uint8 or image.ndim != 3:
        raise ValueError(f"expected a uint8 [height, width, channels] image, got {image.dtype} {image.shape}")
    if out_height < 1 or out_width < 1:
        raise ValueError(f"resize target {out_width}x{out_height} must be positive")
    y0, y1, fy = _source_positions(image.shape[0], out_height)
    x0, x1, fx = _source_positions(image.shape[1], out_width)
    pixels = image.astype(np.int64)
    fx = fx[None, :, None]
    fy = fy[:, None, None]
    top = pixels[y0][:, x0] * (_ONE - fx) + pixels[y0][:, x1] * fx
    bottom = pixels[y1][:, x0] * (_ONE - fx) + pixels[y1][:, x1] * fx
    return ((top * (_ONE - fy) + bottom * fy + (1 << 21)) >> 22).astype(np.uint8)


def crop_and_resize(rgb: np.ndarray, crop: Crop, out_height: int, out_width: int) -> np.ndarray:
    """Steps 2 and 3 of the format: the uint8 RGB input image `[out_height, out_width, 3]`."""
    crop.check_inside(rgb.shape[1], rgb.shape[0])
    region = rgb[crop.y:crop.y + crop.height, crop.x:crop.x + crop.width]
    return resize_bilinear(region, out_height, out_width)


def apply_input_lut(image: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Step 4: int8 NHWC input tensor (N = 1 left out) of a uint8 RGB image; `lut` is int8 [3, 256]."""
    return np.stack([lut[c][image[..., c]] for c in range(3)], axis=-1).astype(np.int8)


def normalise(image: np.ndarray, mean: tuple[float, float, float], std: tuple[float, float, float]) -> np.ndarray:
    """The float model's input: float32 `[3, H, W]`, (v/255 − mean) / std."""
    values = image.astype(np.float32).transpose(2, 0, 1) / np.float32(255)
    mean_ = np.asarray(mean, dtype=np.float32)[:, None, None]
    std_ = np.asarray(std, dtype=np.float32)[:, None, None]
    return (values - mean_) / std_


def float_clip(frames: np.ndarray, crop_thousandths: tuple[int, int, int, int], out_height: int, out_width: int,
               mean: tuple[float, float, float], std: tuple[float, float, float]) -> np.ndarray:
    """A clip of uint8 RGB frames `[T, h, w, 3]` as the float model's input `[T, 3, H, W]`."""
    crop = Crop.from_thousandths(crop_thousandths, frames.shape[2], frames.shape[1])
    return np.stack([normalise(crop_and_resize(frame, crop, out_height, out_width), mean, std)
                     for frame in frames])
