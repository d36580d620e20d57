"""What varies between clips, and which values each split may use.

The test split is held out by value and in kind, so that a model evaluated on it meets skin
tones, viewpoints, rooms, lights and cameras it was never trained on:
- skin tones: 11 tones from very light to very dark; train and dev use 8 of them, test the
  other 3, each lying between two training tones (`TRAIN_SKIN_TONES`, `TEST_SKIN_TONES`);
- camera yaw and pitch: train and dev use |yaw| in [0°, 12°] ∪ [24°, 35°] and |pitch| in
  [0°, 8°] ∪ [16°, 24°]; test uses the bands in between, |yaw| in (12°, 24°) and |pitch| in
  (8°, 16°): new viewpoints inside the trained range, not extrapolation;
- backgrounds: train and dev draw gradient walls with rectangles and blobs, test draws
  fractal textures with stripes and checks (`background.py`); where the photo cache is
  installed (photos.py), most clips show a real photograph instead, from disjoint pools;
- lighting set-ups (`LIGHTING_SETUPS`): train and dev are lit from above, by a window or by a
  desk lamp; test by a light behind the signer or by two lamps of different colours;
- camera kinds (`CAMERA_KINDS`): train and dev film with a webcam, a laptop camera or a phone;
  test with a cheap USB camera (banding, colour smear, heavy compression, vignetting) or in
  low light (high gain noise, long exposure and so more motion blur).
Dev follows train's distributions with its own signers and seeds. Roll (±20°), framing (hand
size and position, sometimes cut by the frame), left-handed signers and the other hand in view
share one range in every split.
"""

from dataclasses import dataclass

import numpy as np

from .background import make_background, random_colour, smooth_noise
from .hand import HandProportions, forward_kinematics, sample_hand
from .imaging import CameraModel, gaussian_blur
from .photos import pool_photos
from .render import Camera, Lighting, SkinMaterial, hand_primitives, linear_to_srgb, rasterise, shade, srgb_to_linear
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
    lighting: tuple[str, ...]                     # LIGHTING_SETUPS
    cameras: tuple[str, ...]                      # CAMERA_KINDS
    photo_pool: str                               # photos.POOLS


_TRAIN = SplitRanges(TRAIN_SKIN_TONES, ((0.0, 12.0), (24.0, 35.0)), ((0.0, 8.0), (16.0, 24.0)), ("gradient",),
                     ("rectangles", "blobs"), ("overhead", "window", "desk-lamp"), ("webcam", "laptop", "phone"),
                     "train")
SPLIT_RANGES = {
    "train": _TRAIN,
    "dev": _TRAIN,
    "test": SplitRanges(TEST_SKIN_TONES, ((12.0, 24.0),), ((8.0, 16.0),), ("texture",), ("stripes", "checks"),
                        ("backlit", "two-colour"), ("cheap-usb", "low-light"), "test"),
}
ROLL_DEGREES = 20.0
# Framing of a box's signing zone: the hand is not centred by a tracker, so it sits anywhere
# near the middle at different distances, and is sometimes partly out of the frame.
HAND_HEIGHT = (0.42, 0.88)  # wrist-to-fingertip length of an upright hand, as a share of the frame height
OFFSET = 0.14               # of the frame: where the palm centre usually sits, from the frame centre
CUT_OFF = (0.12, 0.2, 0.32)  # probability of a clip whose hand is partly out of the frame, its offset range
LEFT_HANDED = 0.2            # share of signers who sign with the left hand (mirrored right hands)
OTHER_HAND = 0.15            # share of clips with the signer's other hand partly in view
PHOTO_SHARE = 0.65           # share of clips on a real photograph, where the photo cache is installed
# A hand crop is a small part of a wider camera view: a narrow field, mild perspective.
FIELD_OF_VIEW_DEGREES = 30.0


@dataclass(frozen=True)
class Signer:
    """A synthetic person: a skin tone, hand proportions and a way of signing (styles.py); a
    left-handed one signs mirrored."""

    id: str
    skin_tone: int  # index into SKIN_TONES
    proportions: HandProportions
    style: SigningStyle = TEXTBOOK
    left_handed: bool = False


def make_signers(split: str, count: int, rng: np.random.Generator) -> list[Signer]:
    """`count` signers of a split; their skin tones cycle through the split's tones."""
    tones = SPLIT_RANGES[split].skin_tones
    order = rng.permutation(len(tones))
    signers = [Signer(f"synth-{split}-{n:02d}", tones[order[n % len(tones)]], sample_hand(rng, split),
                      sample_style(rng, split)) for n in range(count)]
    # Drawn after the pool so that a pool's tones, hands and styles do not depend on it.
    return [Signer(s.id, s.skin_tone, s.proportions, s.style, bool(rng.random() < LEFT_HANDED)) for s in signers]


def random_signer(split: str, rng: np.random.Generator) -> Signer:
    """A signer of the split outside any fixed pool (for clips rendered on the fly)."""
    tones = SPLIT_RANGES[split].skin_tones
    return Signer(f"synth-{split}-random", tones[rng.integers(len(tones))], sample_hand(rng, split),
                  sample_style(rng, split), bool(rng.random() < LEFT_HANDED))


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
    camera: CameraModel
    # The hand's shadow on a backdrop close behind it (the signer's chest): its offset in
    # pixels (x, y) and how much light it takes; strength 0 for none.
    backdrop_shadow: tuple[float, float, float] = (0.0, 0.0, 0.0)
    lighting_setup: str = ""      # LIGHTING_SETUPS, for the record
    camera_kind: str = ""         # CAMERA_KINDS
    background_kind: str = ""     # "photo:<name>" or the procedural base


def _from_bands(rng: np.random.Generator, bands: tuple[tuple[float, float], ...]) -> float:
    """A value whose magnitude is uniform over the bands (weighted by width) and whose sign is random."""
    widths = np.array([high - low for low, high in bands])
    low, high = bands[rng.choice(len(bands), p=widths / widths.sum())]
    return float(rng.uniform(low, high) * rng.choice([-1.0, 1.0]))


def sample_viewpoint(rng: np.random.Generator, split: str) -> Viewpoint:
    ranges = SPLIT_RANGES[split]
    yaw, pitch = _from_bands(rng, ranges.yaw_bands), _from_bands(rng, ranges.pitch_bands)
    roll = float(rng.uniform(-ROLL_DEGREES, ROLL_DEGREES))
    height = float(rng.uniform(*HAND_HEIGHT))
    chance, low, high = CUT_OFF
    if rng.random() < chance:  # off to one side or the top, partly out of the frame
        angle = rng.uniform(0, 2 * np.pi)
        distance = rng.uniform(low, high) + 0.25 * (height - HAND_HEIGHT[0])
        offset = (float(np.cos(angle) * distance), float(-abs(np.sin(angle)) * distance))
    else:
        offset = (float(rng.uniform(-OFFSET, OFFSET)), float(rng.uniform(-OFFSET, OFFSET)))
    return Viewpoint(yaw, pitch, roll, height, offset)


# Light colours (linear RGB, green 1) of common sources, by colour temperature.
_KELVIN = {2700: (1.0, 0.66, 0.38), 3200: (1.0, 0.74, 0.5), 4000: (1.0, 0.83, 0.66), 5000: (1.0, 0.93, 0.85),
           6500: (0.93, 0.96, 1.0), 8000: (0.82, 0.9, 1.0)}


def _light_colour(rng: np.random.Generator, low: int, high: int) -> np.ndarray:
    """A light between two colour temperatures (of `_KELVIN`), normalised to green = 1."""
    temperatures = sorted(t for t in _KELVIN if low <= t <= high)
    a, b = sorted(rng.choice(temperatures, 2))
    mix = rng.random()
    return np.array(_KELVIN[a]) * (1 - mix) + np.array(_KELVIN[b]) * mix


def _direction(azimuth_degrees: float, elevation_degrees: float, towards_camera: float) -> np.ndarray:
    """Unit vector towards a light: azimuth in the image plane (0 right, -90 up), elevation of the
    light out of that plane, towards the camera when `towards_camera` > 0, behind the hand when < 0."""
    azimuth, elevation = np.radians(azimuth_degrees), np.radians(elevation_degrees)
    return np.array([np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth),
                     -np.sign(towards_camera) * np.sin(elevation)])


def _overhead(rng):
    """Office ceiling lights: from above and in front, neutral, a fair amount of fill."""
    azimuth = rng.uniform(-125, -55)
    colour = _light_colour(rng, 3200, 6500)
    return (_direction(azimuth, rng.uniform(25, 60), 1), colour * rng.uniform(0.7, 1.0),
            _direction(-180 - azimuth, rng.uniform(40, 70), 1), colour * rng.uniform(0.1, 0.25),
            colour * rng.uniform(0.2, 0.32), rng.uniform(0.5, 0.8))


def _window(rng):
    """Daylight from a window beside the signer: a large, cool source from the side, soft shadows."""
    side = rng.choice([0.0, 180.0])
    colour = _light_colour(rng, 5000, 8000)
    return (_direction(side + rng.uniform(-35, 25) * (1 if side == 0 else -1), rng.uniform(20, 55), 1),
            colour * rng.uniform(0.8, 1.15), _direction(180.0 - side + rng.uniform(-30, 30), rng.uniform(20, 50), 1),
            _light_colour(rng, 3200, 5000) * rng.uniform(0.15, 0.3), colour * rng.uniform(0.14, 0.26),
            rng.uniform(0.35, 0.6))


def _desk_lamp(rng):
    """A warm lamp to one side, level with the hand or a little above: strong key, little fill, hard shadows."""
    azimuth = rng.uniform(-60, 15) if rng.random() < 0.5 else rng.uniform(165, 240)
    colour = _light_colour(rng, 2700, 3200)
    return (_direction(azimuth, rng.uniform(15, 50), 1), colour * rng.uniform(0.85, 1.2),
            _direction(180.0 - azimuth, rng.uniform(20, 60), 1), colour * rng.uniform(0.04, 0.12),
            colour * rng.uniform(0.1, 0.2), rng.uniform(0.7, 0.95))


def _backlit(rng):
    """A window or lamp behind the signer: the key lights the hand's edges from behind, the
    front gets what the room bounces back (the camera's exposure, set by the bright room, leaves
    the hand darker than the other set-ups do)."""
    colour = _light_colour(rng, 4000, 8000)
    return (_direction(rng.uniform(-160, -20), rng.uniform(20, 60), -1), colour * rng.uniform(0.9, 1.3),
            _direction(rng.uniform(-140, -40), rng.uniform(40, 75), 1), colour * rng.uniform(0.45, 0.7),
            colour * rng.uniform(0.22, 0.35), 0.0)


def _two_colour(rng):
    """Two lamps of different colour from opposite sides (a warm lamp and a cool screen)."""
    azimuth = rng.uniform(-40, 40) + rng.choice([0.0, 180.0])
    warm, cool = _light_colour(rng, 2700, 3200), np.array([0.7, 0.85, 1.0]) * rng.uniform(0.9, 1.1)
    if rng.random() < 0.5:
        warm, cool = cool, warm
    return (_direction(azimuth, rng.uniform(15, 50), 1), warm * rng.uniform(0.6, 0.9),
            _direction(180.0 - azimuth, rng.uniform(15, 50), 1), cool * rng.uniform(0.35, 0.6),
            (warm + cool) * rng.uniform(0.05, 0.1), rng.uniform(0.5, 0.8))


# Each returns: key direction, key colour, fill direction, fill colour, ambient colour, shadow strength.
LIGHTING_SETUPS = {"overhead": _overhead, "window": _window, "desk-lamp": _desk_lamp, "backlit": _backlit,
                   "two-colour": _two_colour}


def sample_lighting(rng: np.random.Generator, setup: str) -> Lighting:
    key, colour, fill_direction, fill, ambient, shadow = LIGHTING_SETUPS[setup](rng)
    key = key / np.linalg.norm(key)
    fill_direction = fill_direction / np.linalg.norm(fill_direction)
    return Lighting(key, colour, ambient, float(rng.uniform(0.1, 0.5)), fill_direction, fill, float(shadow))


def _white_balance(rng: np.random.Generator, lighting: Lighting, correction: tuple[float, float],
                   error: float) -> np.ndarray:
    """Per-channel gains of auto white balance: it undoes part of the light's colour cast, and errs."""
    seen = lighting.colour + lighting.fill + lighting.ambient
    seen = seen / seen[1]
    return seen ** -rng.uniform(*correction) * (1.0 + rng.uniform(-error, error, 3))


def sample_camera(rng: np.random.Generator, kind: str, lighting: Lighting, pixel_scale: float) -> CameraModel:
    """One clip's camera of a kind; `pixel_scale` = frame height / 128 (blur radii are chosen for 128).

    Noise and compression are as they look after the box scales its camera's frame (640x480 or
    more) down to the model's input: averaging several pixels into one leaves a few grey levels
    of noise and softens JPEG's blocks, so the levels here are those of the scaled frame.
    """
    u = rng.uniform
    if kind == "webcam":
        return CameraModel(
            gain=u(0.85, 1.15) * _white_balance(rng, lighting, (0.5, 0.9), 0.06), blur_sigma=u(0.35, 0.9) * pixel_scale,
            read_noise=u(0.8, 2.5) / 255, shot_noise=u(0.0, 0.0003), chroma_noise=u(0.3, 0.6),
            chroma_blur=u(0.4, 1.0) * pixel_scale, sharpen=u(0.0, 0.3), vignette=u(0.0, 0.15), contrast=u(0.0, 0.2),
            jpeg_quality=int(rng.integers(50, 90)) if rng.random() < 0.6 else 0, shutter=u(0.25, 0.7))
    if kind == "laptop":
        return CameraModel(
            gain=u(0.8, 1.1) * _white_balance(rng, lighting, (0.3, 0.8), 0.1), blur_sigma=u(0.6, 1.2) * pixel_scale,
            read_noise=u(1.5, 3.5) / 255, shot_noise=u(0.0002, 0.0006), chroma_noise=u(0.4, 0.7),
            chroma_blur=u(0.6, 1.2) * pixel_scale, vignette=u(0.05, 0.2), contrast=u(-0.1, 0.1),
            jpeg_quality=int(rng.integers(45, 80)), shutter=u(0.5, 1.0))
    if kind == "phone":
        return CameraModel(
            gain=u(0.9, 1.2) * _white_balance(rng, lighting, (0.7, 1.0), 0.04), blur_sigma=u(0.3, 0.6) * pixel_scale,
            read_noise=u(0.5, 1.5) / 255, shot_noise=u(0.0, 0.0002), chroma_noise=u(0.2, 0.4),
            chroma_blur=u(0.3, 0.7) * pixel_scale, sharpen=u(0.3, 0.8), contrast=u(0.1, 0.35),
            jpeg_quality=int(rng.integers(70, 93)), jpeg_subsampling=int(rng.choice([1, 2])), shutter=u(0.1, 0.4))
    if kind == "cheap-usb":
        return CameraModel(
            gain=u(0.85, 1.15) * _white_balance(rng, lighting, (0.1, 0.6), 0.12), blur_sigma=u(0.5, 0.9) * pixel_scale,
            read_noise=u(1.5, 3.5) / 255, shot_noise=u(0.0002, 0.0006), chroma_noise=u(0.8, 1.0),
            row_noise=u(0.6, 1.5) / 255, chroma_blur=u(0.9, 1.5) * pixel_scale, sharpen=u(0.0, 0.4),
            vignette=u(0.15, 0.3), contrast=u(-0.1, 0.15), jpeg_quality=int(rng.integers(35, 65)), shutter=u(0.4, 0.9))
    if kind == "low-light":
        return CameraModel(
            gain=u(0.85, 1.1) * _white_balance(rng, lighting, (0.3, 0.9), 0.08), blur_sigma=u(0.5, 1.0) * pixel_scale,
            read_noise=u(2.0, 4.0) / 255, shot_noise=u(0.0004, 0.001), chroma_noise=u(0.6, 0.8),
            chroma_blur=u(0.8, 1.4) * pixel_scale, contrast=u(-0.1, 0.05), jpeg_quality=int(rng.integers(45, 80)),
            shutter=u(0.85, 1.0))
    raise ValueError(f"camera kind {kind!r}: expected one of {', '.join(CAMERA_KINDS)}")


CAMERA_KINDS = ("webcam", "laptop", "phone", "cheap-usb", "low-light")


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

    setup = ranges.lighting[rng.integers(len(ranges.lighting))]
    lighting = sample_lighting(rng, setup)
    kind = ranges.cameras[rng.integers(len(ranges.cameras))]
    camera = sample_camera(rng, kind, lighting, pixel_scale)

    photos = pool_photos(split)
    background, background_kind = make_background(
        rng, height, width, ranges.backgrounds, ranges.clutter, skin, clothing,
        defocus_sigma=float(rng.uniform(0.3, 2.0)) * pixel_scale,
        photos=photos if rng.random() < PHOTO_SHARE else ())
    if rng.random() < OTHER_HAND:
        background = _with_other_hand(rng, background, signer, material, lighting, pixel_scale)
    # Skin texture: blotches, then pores and fine lines, in screen space (at these sizes nobody can tell).
    albedo_variation = (1.0 + 0.08 * (smooth_noise(rng, height, width, 12) - 0.5)
                        + 0.04 * (smooth_noise(rng, height, width, 40) - 0.5)
                        + 0.05 * (rng.random((height, width)) - 0.5))
    shadow = (0.0, 0.0, 0.0)
    if lighting.shadow > 0 and rng.random() < 0.5:
        # The chest a forearm's length behind the hand: the shadow falls away from the light.
        reach = rng.uniform(4.0, 14.0) * pixel_scale
        away = -lighting.direction[:2] / max(np.linalg.norm(lighting.direction[:2]), 1e-6)
        shadow = (float(away[0] * reach), float(away[1] * reach), float(rng.uniform(0.2, 0.5) * lighting.shadow))
    return Look(material, lighting, background, albedo_variation.reshape(-1), camera, shadow, setup, kind,
                background_kind)


# The other hand hangs relaxed or rests at the edge of the frame: a loosely curled left hand.
_RELAXED_ANGLES = np.radians([-10, 20, 20, 20, 15] + [35, 0, 40, 20] * 4)


def _with_other_hand(rng: np.random.Generator, background: np.ndarray, signer: Signer, material: SkinMaterial,
                     lighting: Lighting, pixel_scale: float) -> np.ndarray:
    """The background with the signer's other hand partly in view at a side or the bottom edge."""
    height, width, _ = background.shape
    camera = Camera.with_field_of_view(width, height, 30.0)
    proportions = signer.proportions
    angles = _RELAXED_ANGLES + rng.normal(0.0, np.radians(8.0), _RELAXED_ANGLES.shape)
    skeleton = forward_kinematics(angles, proportions)
    # Hand frame: y along the fingers, z out of the palm; turn it so that the fingers point up or
    # sideways into the frame and the palm faces the body or the camera.
    spin = rng.uniform(-np.pi, np.pi)
    tilt = rng.uniform(-0.8, 0.8)
    c, s, ct, st = np.cos(spin), np.sin(spin), np.cos(tilt), np.sin(tilt)
    rotation = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]) @ np.array(
        [[1.0, 0.0, 0.0], [0.0, ct, -st], [0.0, st, ct]]) @ np.diag([1.0, -1.0, -1.0])
    distance = camera.focal * 190.0 * proportions.scale / (rng.uniform(0.45, 0.8) * height)
    edge = rng.choice(["left", "right", "bottom"])
    x_share = {"left": -0.55, "right": 0.55, "bottom": rng.uniform(-0.4, 0.4)}[edge]
    y_share = 0.5 if edge == "bottom" else rng.uniform(0.0, 0.45)
    centre = np.array([x_share * width * distance / camera.focal, y_share * height * distance / camera.focal, distance])
    forearm = np.array([0.0, -1.0, -0.3])
    prims = hand_primitives(skeleton, proportions, forearm / np.linalg.norm(forearm)).transformed(
        rotation, centre - rotation @ (0.55 * proportions.mcp_positions()[1]))
    if not signer.left_handed:
        prims = prims.mirrored()  # the other hand of a right-handed signer is a left hand
    fragments = rasterise(prims, camera)
    if len(fragments.pixel) == 0:
        return background
    layer = np.zeros((height * width, 3))
    alpha = np.zeros(height * width)
    layer[fragments.pixel] = linear_to_srgb(shade(fragments, prims, camera, material, lighting,
                                                  np.ones(height * width)))
    alpha[fragments.pixel] = 1.0
    # A little out of focus: it is not where the camera focuses.
    sigma = rng.uniform(0.5, 1.5) * pixel_scale
    layer = gaussian_blur(layer.reshape(height, width, 3), sigma)
    alpha = gaussian_blur(alpha.reshape(height, width, 1), sigma)
    return layer + background * (1.0 - alpha)
