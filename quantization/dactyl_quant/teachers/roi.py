"""Rotated regions of interest and the crops taken from them, as in MediaPipe's hand graphs.

Coordinates are continuous pixel coordinates: pixel (i, j) covers [i, i+1) x [j, j+1), so its centre
is (i + 0.5, j + 0.5) and MediaPipe's normalised coordinates times the image size land here.
A `Rect` is MediaPipe's NormalizedRect in pixels: centre, width, height and a rotation in radians.
The crop of a rect maps a point q of the crop (centred, y down, in units of the rect's size) to the
image point  centre + R(rotation) @ (q * [width, height]),  R(a) = [[cos a, -sin a], [sin a, cos a]];
MediaPipe's LandmarkProjectionCalculator and RectTransformationCalculator use the same R.
"""

import math
from dataclasses import dataclass

import numpy as np


def normalize_radians(angle: float) -> float:
    """The angle in [-pi, pi), as MediaPipe's NormalizeRadians."""
    return angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))


def rotation_matrix(angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])


@dataclass(frozen=True)
class Rect:
    """A rotated rectangle in pixels."""
    x_center: float
    y_center: float
    width: float
    height: float
    rotation: float = 0.0

    @property
    def center(self) -> np.ndarray:
        return np.array([self.x_center, self.y_center])

    def transformed(self, scale_x: float = 1.0, scale_y: float = 1.0, shift_x: float = 0.0,
                    shift_y: float = 0.0, square_long: bool = False) -> "Rect":
        """MediaPipe's RectTransformationCalculator: shift (in units of the rect's size, along its own
        rotated axes), then optionally make it square on its long side, then scale."""
        shift = rotation_matrix(self.rotation) @ np.array([self.width * shift_x, self.height * shift_y])
        width, height = self.width, self.height
        if square_long:
            width = height = max(width, height)
        return Rect(self.x_center + float(shift[0]), self.y_center + float(shift[1]),
                    width * scale_x, height * scale_y, self.rotation)

    def corners(self) -> np.ndarray:
        """[4, 2]: top-left, top-right, bottom-right, bottom-left of the crop, in the image."""
        q = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
        return self.to_image(q)

    def to_image(self, q: np.ndarray) -> np.ndarray:
        """Crop points q [..., 2] (centred, in units of the rect's size) to image pixels."""
        q = np.asarray(q, dtype=np.float64)
        scaled = q * np.array([self.width, self.height])
        return scaled @ rotation_matrix(self.rotation).T + self.center

    def from_image(self, p: np.ndarray) -> np.ndarray:
        """Inverse of to_image."""
        p = np.asarray(p, dtype=np.float64) - self.center
        return (p @ rotation_matrix(self.rotation)) / np.array([self.width, self.height])

    def bounds(self) -> np.ndarray:
        """The axis-aligned box (x1, y1, x2, y2) around the rotated rect."""
        c = self.corners()
        return np.array([c[:, 0].min(), c[:, 1].min(), c[:, 0].max(), c[:, 1].max()])


def square_around_box(box: np.ndarray, scale: float = 1.0) -> Rect:
    """An unrotated square centred on a box (x1, y1, x2, y2), side = long side x scale."""
    x1, y1, x2, y2 = (float(v) for v in box)
    side = max(x2 - x1, y2 - y1) * scale
    return Rect((x1 + x2) / 2, (y1 + y2) / 2, side, side, 0.0)


def centre_square(width: int, height: int) -> Rect:
    """The largest centred square of an image."""
    side = float(min(width, height))
    return Rect(width / 2, height / 2, side, side, 0.0)


def full_image(width: int, height: int) -> Rect:
    return Rect(width / 2, height / 2, float(width), float(height), 0.0)


@dataclass(frozen=True)
class CropTransform:
    """Where the pixels of a size x size model input come from: the rect, letterboxed to keep its
    aspect ratio (MediaPipe's ImageToTensorCalculator with keep_aspect_ratio)."""
    rect: Rect
    size: int

    @property
    def _content(self) -> tuple[float, float]:
        """The fraction of the tensor's width and height that the rect's content fills."""
        longest = max(self.rect.width, self.rect.height)
        return self.rect.width / longest, self.rect.height / longest

    def tensor_to_rect(self, uv: np.ndarray) -> np.ndarray:
        """Normalised tensor coordinates [..., 2] in [0, 1] to crop coordinates q (centred, rect units)."""
        fx, fy = self._content
        uv = np.asarray(uv, dtype=np.float64)
        return np.stack([(uv[..., 0] - 0.5) / fx, (uv[..., 1] - 0.5) / fy], axis=-1)

    def tensor_to_image(self, uv: np.ndarray) -> np.ndarray:
        """Normalised tensor coordinates [..., 2] to image pixels (removes the letterbox too)."""
        return self.rect.to_image(self.tensor_to_rect(uv))

    def sample_points(self) -> np.ndarray:
        """Image points [size, size, 2] of the tensor's pixel centres."""
        centres = (np.arange(self.size) + 0.5) / self.size
        uv = np.stack(np.meshgrid(centres, centres, indexing="xy"), axis=-1)
        q = self.tensor_to_rect(uv)
        inside = (np.abs(q[..., 0]) <= 0.5) & (np.abs(q[..., 1]) <= 0.5)
        points = self.rect.to_image(q)
        points[~inside] = np.nan  # letterbox padding: filled with zeros
        return points

    def crop(self, image: np.ndarray, border: str = "zero") -> np.ndarray:
        """The model input: float32 [size, size, 3] in [0, 1]."""
        return sample_bilinear(image, self.sample_points(), border) / np.float32(255.0)


def sample_bilinear(image: np.ndarray, points: np.ndarray, border: str = "zero") -> np.ndarray:
    """Bilinear samples of an [H, W, C] image at continuous pixel points [..., 2] (x, y), float32.

    border "zero": pixels outside the image count as 0 (OpenCV BORDER_CONSTANT); "replicate": the
    nearest edge pixel (BORDER_REPLICATE). NaN points give 0.
    """
    if border not in ("zero", "replicate"):
        raise ValueError(f"border must be 'zero' or 'replicate', not {border!r}")
    height, width = image.shape[:2]
    img = image.reshape(height, width, -1)
    # one pixel of border on the left/top, two on the right/bottom: with the sample position clipped
    # to [-1, size], both neighbours then exist and are border pixels wherever the point is outside
    padded = np.pad(img, ((1, 2), (1, 2), (0, 0)), mode="constant" if border == "zero" else "edge")
    flat = padded.reshape(-1, img.shape[2])
    pw = width + 3
    valid = np.isfinite(points).all(axis=-1)
    x = np.clip(np.where(valid, points[..., 0], 0.0) - 0.5, -1.0, width)
    y = np.clip(np.where(valid, points[..., 1], 0.0) - 0.5, -1.0, height)
    x0 = np.floor(x)
    y0 = np.floor(y)
    wx = (x - x0).astype(np.float32)[..., None]
    wy = (y - y0).astype(np.float32)[..., None]
    index = (y0.astype(np.int64) + 1) * pw + (x0.astype(np.int64) + 1)
    top = flat[index] * (1 - wx) + flat[index + 1] * wx
    bottom = flat[index + pw] * (1 - wx) + flat[index + pw + 1] * wx
    out = top * (1 - wy) + bottom * wy
    out = out.astype(np.float32, copy=False)
    if not valid.all():
        out[~valid] = 0.0
    return out.reshape(points.shape[:-1] + image.shape[2:])
