"""What varies between clips, and which values each split may use.

The test split is held out on three axes, so that a model evaluated on it meets skin tones,
viewpoints and backgrounds it was never trained on:
- skin tones: 11 tones from very light to very dark; train and dev use 8 of them, test the
  other 3, each lying between two training tones (`TRAIN_SKIN_TONES`, `TEST_SKIN_TONES`);
- camera yaw and pitch: train and dev use |yaw| in [0°, 12°] ∪ [24°, 35°] and |pitch| in
  [0°, 8°] ∪ [16°, 24°]; test uses the bands in between, |yaw| in (12°, 24°) and |pitch| in
  (8°, 16°): new viewpoints inside the trained range, not extrapolation;
- backgrounds: train and dev draw gradient walls with rectangles and blobs, test draws
  fractal textures with stripes and checks (`background.py`).
Dev follows train's distributions with its own signers and seeds. Roll (±20°), hand size in the
frame, lighting, blur and noise share one range in every split.
"""

from dataclasses import dataclass

import numpy as np

from .background import make_background, random_colour, smooth_noise
from .hand import HandProportions, sample_hand
from .render import Lighting, SkinMaterial, srgb_to_linear
from .styles import TEXTBOOK, SigningStyle, sample_style

SPLITS = ("train", "dev", "test")

# sRGB skin tones from very light to very dark (Fitzpatrick I-VI and the shades between).
SKIN_TONES = np.array([
    [255, 224, 205], [246, 208, 180], [236, 192, 160], [224, 172, 138], [210, 155, 115], [196, 138, 98],
    [176, 118, 80], [150, 96, 64], [122, 78, 52], [96, 60, 40], [72, 46, 32]]) / 255.0
TRAIN_SKIN_TONES = (0, 1, 3, 4, 6, 7, 9, 10)
TEST_SKIN_TONES = (2, 5, 8)
# Palms are lighter and pinker than the back of the hand, the more so the darker the skin.
_PALM_TINT = np.array([0.93, 0.74, 0.66])


@dataclass(frozen=True)
class SplitRanges:
    skin_tones: tuple[int, ...]
    yaw_bands: tuple[tuple[float, float], ...]    # |yaw| in degrees; the sign is drawn separately
    pitch_bands: tuple[tuple[float, float], ...]  # |pitch| in degrees
    backgrounds: tuple[str, ...]                  # background.BASES
    clutter: tuple[str, ...]                      # background.CLUTTER


_TRAIN = SplitRanges(TRAIN_SKIN_TONES, ((0.0, 12.0), (24.0, 35.0)), ((0.0, 8.0), (16.0, 24.0)), ("gradient",),
                     ("rectangles", "blobs"))
SPLIT_RANGES = {
    "train": _TRAIN,
    "dev": _TRAIN,
    "test": SplitRanges(TEST_SKIN_TONES, ((12.0, 24.0),), ((8.0, 16.0),), ("texture",), ("stripes", "checks")),
}
ROLL_DEGREES = 20.0
HAND_HEIGHT = (0.5, 0.75)  # wrist-to-fingertip length of an upright hand, as a share of the frame height
OFFSET = 0.08              # of the frame: the crop is centred on the hand, but only roughly
# A hand crop is a small part of a wider camera view: a narrow field, mild perspective.
FIELD_OF_VIEW_DEGREES = 30.0


@dataclass(frozen=True)
class Signer:
    """A synthetic person: a skin tone, hand proportions and a way of signing (styles.py)."""

    id: str
    skin_tone: int  # index into SKIN_TONES
    proportions: HandProportions
    style: SigningStyle = TEXTBOOK


def make_signers(split: str, count: int, rng: np.random.Generator) -> list[Signer]:
    """`count` signers of a split; their skin tones cycle through the split's tones."""
    tones = SPLIT_RANGES[split].skin_tones
    order = rng.permutation(len(tones))
    return [Signer(f"synth-{split}-{n:02d}", tones[order[n % len(tones)]], sample_hand(rng, split),
                   sample_style(rng, split)) for n in range(count)]


def random_signer(split: str, rng: np.random.Generator) -> Signer:
    """A signer of the split outside any fixed pool (for clips rendered on the fly)."""
    tones = SPLIT_RANGES[split].skin_tones
    return Signer(f"synth-{split}-random", tones[rng.integers(len(tones))], sample_hand(rng, split),
                  sample_style(rng, split))


@dataclass(frozen=True)
class Viewpoint:
    yaw: float           # degrees, about the vertical: the camera moves round to the side
    pitch: float         # degrees, about the horizontal: the camera looks up or down at the hand
    roll: float          # degrees, about the optical axis
    hand_height: float   # share of the frame height
    offset: tuple[float, float]  # where the palm centre sits, as a share of the frame from its centre


@dataclass(frozen=True)
class Look:
    """Everything about a clip's pixels except the hand's pose."""

    material: SkinMaterial
    lighting: Lighting
    background: np.ndarray        # sRGB [height, width, 3]
    albedo_variation: np.ndarray  # [height * width] multiplier of the skin's albedo
    gain: np.ndarray              # [3] exposure and white balance of the whole frame
    blur_sigma: float             # pixels
    noise_sigma: float            # in [0, 1] units
    jpeg_quality: int             # 0: no extra compression


def _from_bands(rng: np.random.Generator, bands: tuple[tuple[float, float], ...]) -> float:
    """A value whose magnitude is uniform over the bands (weighted by width) and whose sign is random."""
    widths = np.array([high - low for low, high in bands])
    low, high = bands[rng.choice(len(bands), p=widths / widths.sum())]
    return float(rng.uniform(low, high) * rng.choice([-1.0, 1.0]))


def sample_viewpoint(rng: np.random.Generator, split: str) -> Viewpoint:
    ranges = SPLIT_RANGES[split]
    return Viewpoint(_from_bands(rng, ranges.yaw_bands), _from_bands(rng, ranges.pitch_bands),
                     float(rng.uniform(-ROLL_DEGREES, ROLL_DEGREES)), float(rng.uniform(*HAND_HEIGHT)),
                     (float(rng.uniform(-OFFSET, OFFSET)), float(rng.uniform(-OFFSET, OFFSET))))


def sample_look(rng: np.random.Generator, split: str, signer: Signer, height: int, width: int) -> Look:
    ranges = SPLIT_RANGES[split]
    pixel_scale = height / 128  # blur radii are chosen for 128-pixel frames
    skin = SKIN_TONES[signer.skin_tone]
    darkness = 1.0 - float(skin.mean())
    palm = skin + (_PALM_TINT - skin) * (0.15 + 0.5 * darkness)
    nail = np.clip(palm * 1.12 + 0.05, 0.0, 1.0)
    clothing = random_colour(rng, 0.6)
    bare_arm = rng.random() < 0.25
    material = SkinMaterial(
        back=srgb_to_linear(skin), palm=srgb_to_linear(palm), nail=srgb_to_linear(nail),
        sleeve=srgb_to_linear(clothing), sleeve_start=1.1 if bare_arm else float(rng.uniform(0.15, 0.7)),
        specular=float(rng.uniform(0.04, 0.16)), shininess=float(rng.uniform(8.0, 20.0)))

    # The key light comes from the camera's side, usually from above (camera y points down).
    off_axis = np.radians(rng.uniform(10.0, 65.0))
    azimuth = np.radians(rng.uniform(-90.0 - 110.0, -90.0 + 110.0))
    direction = np.array([np.sin(off_axis) * np.cos(azimuth), np.sin(off_axis) * np.sin(azimuth), -np.cos(off_axis)])
    warm, cool = np.array([1.0, 0.9, 0.78]), np.array([0.86, 0.93, 1.0])
    colour = warm + (cool - warm) * rng.random()
    lighting = Lighting(direction, colour * rng.uniform(0.75, 1.1), colour * rng.uniform(0.18, 0.4),
                        float(rng.uniform(0.1, 0.5)))

    background = make_background(rng, height, width, ranges.backgrounds, ranges.clutter, skin, clothing,
                                 defocus_sigma=float(rng.uniform(0.3, 2.0)) * pixel_scale)
    albedo_variation = 1.0 + 0.08 * (smooth_noise(rng, height, width, 12) - 0.5) + 0.04 * (
        smooth_noise(rng, height, width, 40) - 0.5)
    gain = rng.uniform(0.85, 1.15) * (1.0 + rng.uniform(-0.05, 0.05, 3))
    return Look(material, lighting, background, albedo_variation.reshape(-1), gain,
                blur_sigma=float(rng.uniform(0.3, 1.1)) * pixel_scale, noise_sigma=float(rng.uniform(1.0, 5.0)) / 255,
                jpeg_quality=int(rng.integers(35, 86)) if rng.random() < 0.4 else 0)
