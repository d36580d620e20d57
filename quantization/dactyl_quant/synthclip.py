"""Deterministic synthetic clips: coloured shapes moving over a drifting gradient texture.

Integer arithmetic only (PCG64 for the parameters, no trigonometry), so a clip is identical on
every machine and the golden vectors made from it are reproducible.
"""

from pathlib import Path

import numpy as np

from .y4m import Y4MFormat, write_rgb


def _bounce(start: int, velocity: int, t: int, limit: int) -> int:
    """Position at frame t of a point moving at `velocity` and reflecting off 0 and `limit`."""
    if limit <= 0:
        return 0
    q = (start + velocity * t) % (2 * limit)
    return q if q <= limit else 2 * limit - q


def make_frames(width: int, height: int, count: int, seed: int) -> np.ndarray:
    """uint8 RGB frames `[count, height, width, 3]`."""
    rng = np.random.default_rng(seed)
    corner_a = rng.integers(0, 256, 3)
    corner_b = rng.integers(0, 256, 3)
    shapes = []
    for kind in ("disc", "box", "ring", "disc"):
        size = int(rng.integers(max(2, min(width, height) // 10), max(3, min(width, height) // 4)))
        shapes.append(dict(kind=kind, size=size, colour=rng.integers(0, 256, 3),
                           x=int(rng.integers(0, width)), y=int(rng.integers(0, height)),
                           vx=int(rng.integers(-3, 4)) or 2, vy=int(rng.integers(-3, 4)) or -1))
    y, x = np.mgrid[0:height, 0:width].astype(np.int64)
    frames = np.empty((count, height, width, 3), dtype=np.uint8)
    for t in range(count):
        # Diagonal gradient between two colours, with stripes that drift a little every frame.
        ramp = ((x + y + 2 * t) % (width + height))[..., None]
        image = corner_a + (corner_b - corner_a) * ramp // (width + height)
        stripes = ((3 * x + 2 * y + 4 * t) // 16) % 2
        image = image + 24 * stripes[..., None] - 12
        for shape in shapes:
            cx = _bounce(shape["x"], shape["vx"], t, width - 1)
            cy = _bounce(shape["y"], shape["vy"], t, height - 1)
            size = shape["size"]
            dx, dy = x - cx, y - cy
            if shape["kind"] == "box":
                mask = (np.abs(dx) <= size) & (np.abs(dy) <= size * 2 // 3)
            else:
                distance = dx * dx + dy * dy
                mask = distance <= size * size
                if shape["kind"] == "ring":
                    mask &= distance >= (size // 2) ** 2
            # Shaded fill: brighter towards the top-left, so shapes have internal texture.
            shade = (shape["colour"][None, None, :] + ((-dx - dy) * 48 // (2 * size + 1))[..., None])
            image = np.where(mask[..., None], shade, image)
        frames[t] = np.clip(image, 0, 255)
    return frames


def write_clip(path: str | Path, width: int, height: int, count: int, seed: int, colour_space: str = "420jpeg",
               full_range: bool = False, fps: tuple[int, int] = (30, 1)) -> np.ndarray:
    """Write a synthetic clip as .y4m; returns its RGB frames (before the YUV round trip)."""
    frames = make_frames(width, height, count, seed)
    write_rgb(path, Y4MFormat(width, height, colour_space, full_range, fps), frames)
    return frames
