"""Camera effects on a finished frame: optics, exposure and white balance, sensor noise, the
image processor's colour smear and sharpening, compression; and motion blur of the hand.

`CameraModel` holds one clip's camera; `develop` turns the scene's sRGB image into the uint8
frame that camera would deliver. The kinds of camera and their ranges are in scene.py.
"""

import io
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

# BT.601 luma weights: cameras and JPEG separate luma from chroma with them.
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class CameraModel:
    """What one camera does to every frame of a clip (all noise in [0, 1] sRGB units)."""

    gain: np.ndarray = field(default_factory=lambda: np.ones(3))  # exposure times white balance, per channel
    blur_sigma: float = 0.0      # optics and focus, pixels
    read_noise: float = 0.0      # signal-independent noise sigma
    shot_noise: float = 0.0      # variance per unit of signal: photon noise, larger at high gain
    chroma_noise: float = 0.5    # per-channel noise relative to the luma noise (demosaicing correlates them)
    row_noise: float = 0.0       # sigma of a per-row offset (banding of cheap sensors)
    chroma_blur: float = 0.0     # pixels: 4:2:0 subsampling and demosaicing smear colour edges
    sharpen: float = 0.0         # unsharp-mask amount (phones and some webcams sharpen)
    vignette: float = 0.0        # light fall-off in the corners (share lost at the corner)
    contrast: float = 0.0        # S-curve strength of the tone curve (0: linear)
    jpeg_quality: int = 0        # 0: no compression
    jpeg_subsampling: int = 2    # Pillow's: 0 4:4:4, 1 4:2:2, 2 4:2:0
    shutter: float = 0.0         # exposure time as a share of the frame interval (motion blur); 0: none


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of a float [height, width, channels] image, edges replicated."""
    if sigma < 0.05:
        return image
    radius = max(1, int(np.ceil(2.5 * sigma)))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel = (kernel / kernel.sum()).astype(image.dtype)
    height, width = image.shape[:2]
    padded = np.concatenate([np.repeat(image[:1], radius, 0), image, np.repeat(image[-1:], radius, 0)], 0)
    rows = kernel[0] * padded[0:height]
    for i in range(1, len(kernel)):
        rows += kernel[i] * padded[i:i + height]
    padded = np.concatenate([np.repeat(rows[:, :1], radius, 1), rows, np.repeat(rows[:, -1:], radius, 1)], 1)
    out = kernel[0] * padded[:, 0:width]
    for i in range(1, len(kernel)):
        out += kernel[i] * padded[:, i:i + width]
    return out


def add_sensor_noise(rng: np.random.Generator, image: np.ndarray, sigma: float, shot: float = 0.0,
                     chroma: float = 0.5, rows: float = 0.0) -> np.ndarray:
    """Read noise (sigma), photon noise (variance `shot` per unit of signal) and row banding.

    Stronger in luma than in chroma, as on real sensors after demosaicing."""
    height, width, _ = image.shape
    if shot > 0:
        luminance = np.clip(image @ _LUMA, 0.0, 1.0)[..., None]
        scale = np.sqrt(sigma * sigma + shot * luminance)
    else:
        scale = sigma
    # Three draws per pixel serve both parts: their normalised sum is the shared (luma) noise.
    colour = rng.standard_normal((height, width, 3), dtype=np.float32)
    luma = colour.sum(axis=2, keepdims=True) * np.float32(1 / np.sqrt(3))
    noisy = image + (luma + colour * np.float32(chroma)) * scale
    if rows > 0:
        noisy = noisy + rng.standard_normal((height, 1, 1), dtype=np.float32) * rows
    return noisy


def smear_chroma(image: np.ndarray, sigma: float) -> np.ndarray:
    """Blur the colour, keep the luma: what 4:2:0 subsampling and demosaicing do to colour edges."""
    if sigma < 0.05:
        return image
    luma = (image @ _LUMA)[..., None]
    return luma + gaussian_blur(image - luma, sigma)


def sharpen(image: np.ndarray, amount: float) -> np.ndarray:
    """Unsharp mask: the halos of an image processor that sharpens."""
    if amount <= 0:
        return image
    return image + amount * (image - gaussian_blur(image, 1.0))


def vignetting(height: int, width: int, strength: float) -> np.ndarray:
    """[height, width, 1] gain: cos⁴-like fall-off, `strength` lost in the corners."""
    y, x = np.mgrid[0:height, 0:width]
    radius2 = ((x + 0.5 - width / 2) ** 2 + (y + 0.5 - height / 2) ** 2) / ((width / 2) ** 2 + (height / 2) ** 2)
    return (1.0 - strength * radius2).astype(np.float32)[..., None]


def tone_curve(image: np.ndarray, contrast: float) -> np.ndarray:
    """An S-curve about mid-grey (a camera's 'vivid' look); 0 leaves the image unchanged."""
    if contrast == 0:
        return image
    clipped = np.clip(image, 0.0, 1.0)
    s_curve = clipped * clipped * (3.0 - 2.0 * clipped)
    return image + contrast * (s_curve - clipped)


def develop(rng: np.random.Generator, image: np.ndarray, camera: CameraModel,
            vignette: np.ndarray | None = None) -> np.ndarray:
    """The uint8 frame a camera delivers of a float sRGB scene image [height, width, 3]."""
    image = gaussian_blur(image, camera.blur_sigma)
    if vignette is not None:
        image = image * vignette
    image = tone_curve(image * camera.gain.astype(np.float32), camera.contrast)
    image = add_sensor_noise(rng, image, camera.read_noise, camera.shot_noise, camera.chroma_noise, camera.row_noise)
    image = sharpen(smear_chroma(image, camera.chroma_blur), camera.sharpen)
    frame = np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8)
    if camera.jpeg_quality:
        frame = jpeg_roundtrip(frame, camera.jpeg_quality, camera.jpeg_subsampling)
    return frame


def motion_blur(layer: np.ndarray, alpha: np.ndarray, shift: np.ndarray, samples: int) -> tuple[np.ndarray, np.ndarray]:
    """A premultiplied layer [height, width, C] and its coverage [height, width], smeared over the
    path from -shift/2 to +shift/2 pixels (x, y): a moving hand over a still background."""
    height, width = alpha.shape
    total_layer = np.zeros_like(layer)
    total_alpha = np.zeros_like(alpha)
    for t in np.linspace(-0.5, 0.5, samples):
        dx, dy = int(round(shift[0] * t)), int(round(shift[1] * t))
        src_y = slice(max(0, -dy), height - max(0, dy))
        dst_y = slice(max(0, dy), height - max(0, -dy))
        src_x = slice(max(0, -dx), width - max(0, dx))
        dst_x = slice(max(0, dx), width - max(0, -dx))
        total_layer[dst_y, dst_x] += layer[src_y, src_x]
        total_alpha[dst_y, dst_x] += alpha[src_y, src_x]
    return total_layer / samples, total_alpha / samples


def jpeg_roundtrip(frame: np.ndarray, quality: int, subsampling: int = 2) -> np.ndarray:
    """The frame after JPEG compression at `quality` (blocking and chroma bleeding of web video)."""
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="JPEG", quality=quality, subsampling=subsampling)
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("RGB"))
