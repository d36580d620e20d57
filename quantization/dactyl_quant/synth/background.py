"""Cluttered backgrounds: a base layer, clutter on it, and the signer's body behind the hand.

Real fingerspelling crops show a room (walls, shelves, posters, windows) and the signer's
clothes and face around the hand. Each style below is one family of such scenes; the held-out
test split draws from families that training never sees (see `scene.py`). Where the photo cache
is installed (photos.py), a real photograph takes the place of the procedural room.
All images are sRGB float [height, width, 3] in [0, 1].
"""

from collections.abc import Callable

import numpy as np

from .hand import rotation_z
from .imaging import gaussian_blur
from .photos import photo_crop


def smooth_noise(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """Value noise in [0, 1]: a random grid of about `cells` cells across, bilinearly upsampled."""
    grid_h = max(2, round(cells * height / max(height, width))) + 1
    grid_w = max(2, round(cells * width / max(height, width))) + 1
    grid = rng.random((grid_h, grid_w))
    y = np.linspace(0, grid_h - 1, height)
    x = np.linspace(0, grid_w - 1, width)
    y0 = np.minimum(y.astype(int), grid_h - 2)
    x0 = np.minimum(x.astype(int), grid_w - 2)
    fy = (y - y0)[:, None]
    fx = (x - x0)[None, :]
    # Smoothstep weights hide the grid's straight seams.
    fy, fx = fy * fy * (3 - 2 * fy), fx * fx * (3 - 2 * fx)
    top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x0 + 1] * fx
    bottom = grid[y0 + 1][:, x0] * (1 - fx) + grid[y0 + 1][:, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def fractal_noise(rng: np.random.Generator, height: int, width: int, octaves: int = 4) -> np.ndarray:
    """Sum of value-noise octaves, normalised to [0, 1]."""
    total = np.zeros((height, width))
    for octave in range(octaves):
        total += smooth_noise(rng, height, width, 3 * 2 ** octave) / 2 ** octave
    return (total - total.min()) / max(total.max() - total.min(), 1e-9)


def random_colour(rng: np.random.Generator, saturation: float = 0.5) -> np.ndarray:
    """A colour around a random grey, `saturation` controlling how far each channel strays."""
    grey = rng.uniform(0.1, 0.9)
    return np.clip(grey + rng.uniform(-saturation, saturation, 3) * min(grey, 1 - grey) * 2, 0.0, 1.0)


def _coordinates(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates in units of the frame height, y down."""
    y, x = np.mgrid[0:height, 0:width]
    return (x + 0.5) / height, (y + 0.5) / height


# Base layers.

def gradient_wall(rng, height, width):
    x, y = _coordinates(height, width)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * x + np.sin(angle) * y
    ramp = (ramp - ramp.min()) / max(ramp.max() - ramp.min(), 1e-9)
    a, b = random_colour(rng, 0.3), random_colour(rng, 0.3)
    return a + (b - a) * ramp[..., None]


def fractal_texture(rng, height, width):
    """A textured surface (plaster, fabric, foliage) between two colours."""
    a, b = random_colour(rng, 0.4), random_colour(rng, 0.4)
    return a + (b - a) * fractal_noise(rng, height, width)[..., None]


# Clutter layers, drawn over the base.

def rectangles(rng, image):
    """Furniture, doors, posters, screens: axis-aligned boxes with a little shading."""
    height, width, _ = image.shape
    x, y = _coordinates(height, width)
    aspect = width / height
    for _ in range(rng.integers(2, 7)):
        x0, y0 = rng.uniform(-0.2, aspect), rng.uniform(-0.2, 1.0)
        box = (x >= x0) & (x < x0 + rng.uniform(0.1, 0.7)) & (y >= y0) & (y < y0 + rng.uniform(0.1, 0.7))
        shade = 1.0 + rng.uniform(-0.15, 0.15) * (y - y0)
        image[box] = (random_colour(rng) * shade[..., None])[box]
    return image


def blobs(rng, image):
    """Lamps, plants, people in the distance: soft-edged ellipses."""
    height, width, _ = image.shape
    x, y = _coordinates(height, width)
    for _ in range(rng.integers(2, 6)):
        cx, cy = rng.uniform(0, width / height), rng.uniform(0, 1)
        rx, ry = rng.uniform(0.05, 0.35), rng.uniform(0.05, 0.35)
        distance = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2
        alpha = np.clip((1.0 - distance) * 4.0, 0.0, 1.0)[..., None]
        image = image * (1 - alpha) + random_colour(rng) * alpha
    return image


def stripes(rng, image):
    """Blinds, shelves, striped wallpaper: bands at a random angle."""
    height, width, _ = image.shape
    x, y = _coordinates(height, width)
    angle = rng.uniform(0, np.pi)
    period = rng.uniform(0.05, 0.3)
    phase = (np.cos(angle) * x + np.sin(angle) * y) / period
    band = (np.sin(2 * np.pi * phase) > rng.uniform(-0.5, 0.5))[..., None]
    return np.where(band, image * rng.uniform(0.5, 0.9), image) + band * random_colour(rng, 0.3) * 0.2


def checks(rng, image):
    """Tiles, checked fabric, window panes: a rotated grid of two alternating tints."""
    height, width, _ = image.shape
    x, y = _coordinates(height, width)
    rotation = rotation_z(rng.uniform(0, np.pi / 2))[:2, :2]
    u = rotation[0, 0] * x + rotation[0, 1] * y
    v = rotation[1, 0] * x + rotation[1, 1] * y
    cell = rng.uniform(0.06, 0.25)
    parity = ((np.floor(u / cell) + np.floor(v / cell)) % 2)[..., None]
    return image * (1 - 0.35 * parity) + random_colour(rng, 0.3) * 0.35 * parity


BASES: dict[str, Callable] = {"gradient": gradient_wall, "texture": fractal_texture}
CLUTTER: dict[str, Callable] = {"rectangles": rectangles, "blobs": blobs, "stripes": stripes, "checks": checks}


def signer_body(rng: np.random.Generator, image: np.ndarray, skin_srgb: np.ndarray, clothing: np.ndarray) -> np.ndarray:
    """The signer behind the hand: a torso in `clothing`, sometimes the face and hair.

    The hand is held in front of the chest or beside the face, so in a hand crop the body fills
    a large part of the frame and a face of the same skin tone is a frequent distractor.
    """
    height, width, _ = image.shape
    x, y = _coordinates(height, width)
    aspect = width / height
    # The torso: a large rounded shape rising from the bottom, its top edge somewhere in the frame.
    shoulder = rng.uniform(0.2, 0.75)
    centre = rng.uniform(-0.3, aspect + 0.3)
    half_width = rng.uniform(0.5, 1.2)
    top = shoulder + 0.35 * ((x - centre) / half_width) ** 2
    torso = (y > top)[..., None]
    folds = 1.0 + 0.12 * (smooth_noise(rng, height, width, 4) - 0.5)
    image = np.where(torso, clothing * folds[..., None], image)
    if rng.random() < 0.5:
        face_x, face_y = centre + rng.uniform(-0.25, 0.25), shoulder - rng.uniform(0.15, 0.4)
        radius_x, radius_y = rng.uniform(0.16, 0.26), rng.uniform(0.22, 0.34)
        face = ((x - face_x) / radius_x) ** 2 + ((y - face_y) / radius_y) ** 2
        hair = ((x - face_x) / (radius_x * 1.15)) ** 2 + ((y - face_y + 0.08) / (radius_y * 1.05)) ** 2
        hair_colour = np.array([0.08, 0.06, 0.05]) + rng.uniform(0, 0.35) * np.array([1.0, 0.8, 0.55])
        image = np.where((hair < 1.0)[..., None], hair_colour, image)
        shading = 0.85 + 0.15 * np.clip(1.0 - face, 0.0, 1.0)
        # Eyes, brows and mouth: darker marks where a face has them, so that a face reads as one.
        u, v = (x - face_x) / radius_x, (y - face_y) / radius_y
        marks = (np.exp(-(((np.abs(u) - 0.38) / 0.14) ** 2 + ((v + 0.12) / 0.07) ** 2)) * 0.55
                 + np.exp(-(((np.abs(u) - 0.38) / 0.2) ** 2 + ((v + 0.3) / 0.05) ** 2)) * 0.35
                 + np.exp(-((u / 0.28) ** 2 + ((v - 0.45) / 0.06) ** 2)) * 0.3)
        shading = shading * (1.0 - np.clip(marks, 0.0, 0.7))
        image = np.where((face < 1.0)[..., None], skin_srgb * shading[..., None], image)
    return image


def room(rng: np.random.Generator, height: int, width: int, bases: tuple[str, ...], clutter: tuple[str, ...],
         photos: tuple = ()) -> tuple[np.ndarray, str]:
    """The room behind the signer and what it is: a crop of one of `photos` ("photo:<name>") when
    any are given, else one of `bases` with some of `clutter` on it."""
    if photos:
        index = int(rng.integers(len(photos)))
        return photo_crop(rng, photos[index:index + 1], height, width), f"photo:{photos[index].stem}"
    base = bases[rng.integers(len(bases))]
    image = BASES[base](rng, height, width)
    for name in rng.permutation(clutter)[:rng.integers(1, len(clutter) + 1)]:
        image = CLUTTER[name](rng, image)
    return image, base


def make_background(rng: np.random.Generator, height: int, width: int, bases: tuple[str, ...],
                    clutter: tuple[str, ...], skin_srgb: np.ndarray, clothing: np.ndarray,
                    defocus_sigma: float, photos: tuple = ()) -> tuple[np.ndarray, str]:
    """A room (`room`), usually the signer's body in front of it, and the defocus of a background
    that lies further away than the hand the camera is focused on; and what the room is."""
    image, kind = room(rng, height, width, bases, clutter, photos)
    if rng.random() < 0.7:
        image = signer_body(rng, image, skin_srgb, clothing)
    return np.clip(gaussian_blur(image, defocus_sigma), 0.0, 1.0), kind
