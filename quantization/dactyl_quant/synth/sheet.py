"""A contact sheet: every letter's handshape in a clean studio view, then frames of generated words.

For looking at the generator: the letters show the poses themselves, the word rows show what
training sees (one train clip and one held-out test clip, all variation on).
"""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .alphabet_shapes import LETTER_SHAPES, LETTERS
from .clip import FrameRenderer, SynthSettings, render_clip
from .hand import HandProportions
from .imaging import CameraModel
from .render import Lighting, SkinMaterial, srgb_to_linear
from .rotation import Rotation
from .scene import SKIN_TONES, Look, Viewpoint

COLUMNS = 9
LABEL_HEIGHT = 16
_STUDIO_SKIN = SKIN_TONES[3]


def studio_look(size: int) -> Look:
    """Plain backdrop, light from the upper left, no noise: the handshape and nothing else."""
    ramp = np.linspace(0.0, 1.0, size)[:, None, None]
    background = np.array([0.62, 0.66, 0.72]) + (np.array([0.42, 0.45, 0.5]) - [0.62, 0.66, 0.72]) * ramp
    background = np.ascontiguousarray(np.broadcast_to(background, (size, size, 3)))
    palm = _STUDIO_SKIN + (np.array([0.93, 0.74, 0.66]) - _STUDIO_SKIN) * 0.25
    material = SkinMaterial(srgb_to_linear(_STUDIO_SKIN), srgb_to_linear(palm), srgb_to_linear(palm * 1.1),
                            srgb_to_linear(np.array([0.2, 0.25, 0.4])), 0.6, 0.1, 12.0)
    light = np.array([-0.35, -0.45, -0.82])
    lighting = Lighting(light / np.linalg.norm(light), np.full(3, 0.95), np.full(3, 0.32), 0.3)
    return Look(material, lighting, background, np.ones(size * size), CameraModel(blur_sigma=0.3))


def letter_tiles(size: int) -> list[tuple[str, np.ndarray]]:
    """One front view of each letter's pose (J and Z at the start of their movement)."""
    renderer = FrameRenderer(HandProportions(), Viewpoint(0.0, 0.0, 0.0, 0.7, (0.0, 0.06)), studio_look(size),
                             size, size)
    rng = np.random.default_rng(0)
    return [(letter.upper(), renderer.render(shape.angles, shape.orientation, np.zeros(3), shape.forearm_follow,
                                             rng)[0])
            for letter, shape in ((letter, LETTER_SHAPES[letter]) for letter in LETTERS)]


def word_tiles(word: str, split: str, size: int, seed: int, count: int) -> list[tuple[str, np.ndarray]]:
    """`count` evenly spaced frames of a rendered clip, labelled with the letter held (if any)."""
    clip = render_clip(word, np.random.default_rng(seed), SynthSettings(split, size, size))
    tiles = []
    for frame in np.linspace(0, len(clip.frames) - 1, count).round().astype(int):
        held = next((span.letter for span in clip.spans if span.start <= frame < span.end), "-")
        tiles.append((f"{split} '{word}' {frame}:{held}", clip.frames[frame]))
    return tiles


def make_sheet(path: str | Path, size: int = 128, seed: int = 0, words: tuple[str, str] = ("hello", "zach")) -> None:
    rows = [letter_tiles(size)]
    rows += [word_tiles(word, split, size, seed + n, COLUMNS)
             for n, (word, split) in enumerate(zip(words, ("train", "test")))]
    font = ImageFont.load_default(size=11)
    row_tiles = [row[i:i + COLUMNS] for row in rows for i in range(0, len(row), COLUMNS)]
    sheet = Image.new("RGB", (COLUMNS * size, len(row_tiles) * (size + LABEL_HEIGHT)), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    for r, tiles in enumerate(row_tiles):
        top = r * (size + LABEL_HEIGHT)
        for c, (label, image) in enumerate(tiles):
            sheet.paste(Image.fromarray(image), (c * size, top + LABEL_HEIGHT))
            draw.text((c * size + 3, top + 2), label, fill=(235, 235, 235), font=font)
    # Sensor noise makes a true-colour PNG of the frames several times larger; a dithered
    # 256-colour palette looks the same and keeps the sheet small enough to commit.
    sheet.quantize(256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.FLOYDSTEINBERG).save(path, optimize=True)


# The reference sheet's two views: from the front, and from three-quarters on the thumb side.
HANDSHAPE_VIEWS = (("front", Viewpoint(0.0, 0.0, 0.0, 0.5, (0.0, 0.0))),
                   ("3/4", Viewpoint(-40.0, -12.0, 0.0, 0.5, (0.0, 0.0))))


def handshape_tiles(size: int, view: Viewpoint, shapes=None, fill: float = 0.8) -> list[np.ndarray]:
    """Every letter (J and Z halfway through their movement) in one clean studio view, each framed
    so that the hand fills `fill` of the tile (a fist is shown as large as an open hand)."""
    shapes = shapes or LETTER_SHAPES
    look = studio_look(size)
    rng = np.random.default_rng(0)
    tiles = []
    for letter in LETTERS:
        shape = shapes[letter]
        orientation, position = shape.orientation, np.zeros(3)
        if shape.motion is not None:
            offsets, rotations = shape.motion.at(np.array([0.5]))
            orientation, position = Rotation.from_rotvec(rotations[0]) * orientation, offsets[0]
        # Render once to find the hand, then scale and move it to the middle of the tile; the
        # image scales about the palm centre's projection (the camera is far from the hand).
        _, box = FrameRenderer(HandProportions(), view, look, size, size).render(
            shape.angles, orientation, position, shape.forearm_follow, rng)
        extent = max(box[2] - box[0], box[3] - box[1], 1)
        factor = fill * size / extent
        palm = size / 2 + np.array(view.offset) * size
        centre = np.array([box[0] + box[2], box[1] + box[3]]) / 2
        offset = -factor * (centre - palm) / size
        framed = Viewpoint(view.yaw, view.pitch, view.roll, view.hand_height * factor, (float(offset[0]), float(offset[1])))
        tiles.append(FrameRenderer(HandProportions(), framed, look, size, size).render(
            shape.angles, orientation, position, shape.forearm_follow, rng)[0])
    return tiles


def make_handshape_sheet(path: str | Path, size: int = 160, shapes: dict | None = None) -> None:
    """docs/handshapes.png: each letter from the front and from three-quarters, in rows of 13."""
    views = [(name, handshape_tiles(size, view, shapes)) for name, view in HANDSHAPE_VIEWS]
    per_row = 13
    rows = []
    for start in range(0, len(LETTERS), per_row):
        for name, tiles in views:
            rows.append([(f"{LETTERS[i].upper()} {name}", tiles[i]) for i in range(start, min(start + per_row, len(LETTERS)))])
    font = ImageFont.load_default(size=12)
    sheet = Image.new("RGB", (per_row * size, len(rows) * (size + LABEL_HEIGHT)), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    for r, tiles in enumerate(rows):
        top = r * (size + LABEL_HEIGHT)
        for c, (label, image) in enumerate(tiles):
            sheet.paste(Image.fromarray(image), (c * size, top + LABEL_HEIGHT))
            draw.text((c * size + 3, top + 2), label, fill=(235, 235, 235), font=font)
    sheet.save(path, optimize=True)
