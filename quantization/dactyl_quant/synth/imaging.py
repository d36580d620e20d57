"""Camera effects on a finished frame: defocus and motion softness, sensor noise, compression."""

import io

import numpy as np
from PIL import Image


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of a float [height, width, channels] image, edges replicated."""
    if sigma < 0.05:
        return image
    radius = max(1, int(np.ceil(2.5 * sigma)))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    for axis in (0, 1):
        padded = np.concatenate([np.repeat(image.take([0], axis), radius, axis), image,
                                 np.repeat(image.take([-1], axis), radius, axis)], axis)
        length = image.shape[axis]
        image = sum(w * padded.take(range(i, i + length), axis) for i, w in enumerate(kernel))
    return image


def add_sensor_noise(rng: np.random.Generator, image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian read noise, stronger in luma than in chroma as on real sensors after demosaicing."""
    height, width, _ = image.shape
    luma = rng.standard_normal((height, width, 1), dtype=np.float32) * sigma
    chroma = rng.standard_normal((height, width, 3), dtype=np.float32) * (0.5 * sigma)
    return image + luma + chroma


def jpeg_roundtrip(frame: np.ndarray, quality: int) -> np.ndarray:
    """The frame after JPEG compression at `quality` (blocking and chroma bleeding of web video)."""
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("RGB"))
