"""Whole camera frames composed from the generator's parts, with the signing hand's true crop.

A frame is a room (a real photo or a procedural wall, `synth.background.room`), usually a person
(`draw_person`: torso, neck, a shaded head with hair, ears, eyes, brows, nose and mouth in the
signer's skin tone), sometimes the signer's other hand hanging relaxed lower down, and (in 85 % of
frames) the signing hand: a pose taken from a word the generator signs, rendered by the generator's
own `FrameRenderer` machinery on a square canvas exactly as a training clip frames it (the same
viewpoint, look, lighting and skin), and pasted into the frame at a random place and scale, cut by
the frame edge at times. The generator's camera model (`synth.imaging.develop`) then runs over the
whole composed frame.

The target box is the recogniser's crop: the square the student was trained to see. A training
clip frames the open hand (wrist to middle fingertip) at `HAND_HEIGHT` (42-88 %) of the clip's
height with the palm centre within ±14 % of its centre; which of those framings a clip used cannot
be seen in a whole frame, so the localiser's target is the framing at the centre of that range:
the square centred on the palm centre whose side is the open hand's projected length divided by
`CANONICAL_HAND_HEIGHT` (the mean of HAND_HEIGHT, 0.65). A crop there is a framing the student met
in training. (`canvas_box` is the pasted clip's own square: the true crop of an evaluation clip.)

Held out in kind: a split's signers, skin tones, viewpoints, lighting, cameras, styles,
procedural rooms and photo pool are the generator's (`synth.scene.SPLIT_RANGES`), so composing the
test split meets nothing the train split showed.
"""

from dataclasses import dataclass

import numpy as np

from ..synth.alphabet_shapes import signer_alphabet
from ..synth.background import room, random_colour, smooth_noise
from ..synth.clip import FrameRenderer, SynthSettings
from ..synth.hand import FINGER_JOINTS, NUM_ANGLES, forward_kinematics
from ..synth.imaging import develop, gaussian_blur, vignetting
from ..synth.photos import pool_photos
from ..synth.render import Camera, hand_primitives, linear_to_srgb, rasterise, shade
from ..synth.scene import (HAND_HEIGHT, PHOTO_SHARE, SKIN_TONES, SPLIT_RANGES, Signer, random_signer,
                           sample_camera, sample_look, sample_viewpoint)
from ..synth.sequence import word_sequence

CANONICAL_HAND_HEIGHT = sum(HAND_HEIGHT) / 2
NO_HAND = 0.15          # share of frames without a signing hand
PERSON = 0.85           # share of frames with a person (face and torso) in view
OTHER_HAND = 0.45       # share of frames with the signer's other hand in view (when there is a person)
LEFT_HANDED = 0.4       # share of signing hands that are left hands (the generator's signers: 20 %)
NEAR_FACE = 0.7         # share of signing hands placed beside the face or before the chest
MIN_VISIBLE = 0.6       # at least this share of the signing hand's pixels lies inside the frame
CROP_SIDE = (0.2, 0.95)  # the student's crop side as a share of the frame height (log-uniform)
MAX_CANVAS = 160         # the hand is rendered at most this big and scaled up (the camera then softens it)
# The clip square is rendered inside a canvas this many times its side, so the forearm runs on past
# the square's edge instead of ending at a cut a localiser could learn.
CANVAS_MARGIN = 2
# Frame sizes (width, height) and how often each is drawn: 4:3 and 16:9, small enough to compose fast
# (a localiser sees every frame at its own 128x96 anyway, and the runtime's two-tap bilinear
# downscale passes a 640x480 camera's noise through much as a 2x downscale does).
FRAME_SIZES = (((256, 192), 0.4), ((256, 144), 0.2), ((320, 240), 0.2), ((320, 180), 0.1), ((384, 288), 0.05),
               ((640, 480), 0.05))


@dataclass(frozen=True)
class Composed:
    frame: np.ndarray  # uint8 [H, W, 3] RGB
    box: tuple[float, float, float, float] | None  # canonical crop: cx, cy, side_x, side_y in pixels; None: no hand
    canvas_box: tuple[int, int, int] | None  # x, y, side of the pasted clip square in pixels (may leave the frame)
    left_hand: bool
    info: dict


def _paste(image: np.ndarray, layer: np.ndarray, alpha: np.ndarray, x: int, y: int) -> None:
    """Alpha-blend `layer` (premultiplied, [h, w, 3]) with coverage `alpha` [h, w] onto `image` at (x, y),
    clipped to the image."""
    height, width = image.shape[:2]
    h, w = alpha.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
    if x0 >= x1 or y0 >= y1:
        return
    sub = (slice(y0 - y, y1 - y), slice(x0 - x, x1 - x))
    region = image[y0:y1, x0:x1]
    image[y0:y1, x0:x1] = layer[sub] + region * (1.0 - alpha[sub][..., None])


def _resize(layer: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of a float [h, w, c] array to size x size."""
    h, w = layer.shape[:2]
    if h == size and w == size:
        return layer
    ys = (np.arange(size) + 0.5) * h / size - 0.5
    xs = (np.arange(size) + 0.5) * w / size - 0.5
    y0 = np.clip(np.floor(ys).astype(int), 0, h - 1)
    x0 = np.clip(np.floor(xs).astype(int), 0, w - 1)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy = np.clip(ys - y0, 0, 1)[:, None, None]
    fx = np.clip(xs - x0, 0, 1)[None, :, None]
    top = layer[y0][:, x0] * (1 - fx) + layer[y0][:, x1] * fx
    bottom = layer[y1][:, x0] * (1 - fx) + layer[y1][:, x1] * fx
    return top * (1 - fy) + bottom * fy


def draw_person(rng: np.random.Generator, image: np.ndarray, head: tuple[float, float], head_height: float,
                skin_srgb: np.ndarray, light: np.ndarray) -> None:
    """Draw a person in place on `image` (float sRGB): a torso in clothes, a neck, a head lit from `light`
    (a unit vector, camera space) with ears, hair of one of four styles, eyes, brows, nose and mouth.

    `head` is the head's centre in pixels and `head_height` its height (chin to crown). A face is the
    strongest skin-coloured distractor there is, so it is drawn in the signer's own tone."""
    height, width = image.shape[:2]
    hx, hy = head
    ry = head_height / 2
    rx = ry * rng.uniform(0.72, 0.82)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    clothing = random_colour(rng, 0.6)
    # Torso: shoulders about 2.3 head widths each side, a rounded top a little below the chin.
    shoulder_y = hy + ry * rng.uniform(1.25, 1.6)
    half = rx * rng.uniform(2.3, 3.0)
    lean = rng.uniform(-0.3, 0.3) * rx
    top = shoulder_y + 0.9 * ry * ((xs - hx - lean) / half) ** 4
    torso = (ys > top) & (np.abs(xs - hx - lean) < half * 1.25)
    folds = 1.0 + 0.14 * (smooth_noise(rng, height, width, 6) - 0.5)
    torso_shade = np.clip(0.8 + 0.2 * light[0] * (xs - hx) / half, 0.6, 1.1) * folds
    image[torso] = (clothing * torso_shade[..., None])[torso]
    # Neck: skin in the head's shadow.
    neck = (np.abs(xs - hx) < rx * 0.5) & (ys > hy + ry * 0.6) & (ys < shoulder_y + ry * 0.25) & ~(
        torso & (ys > shoulder_y + ry * 0.2))
    image[neck] = skin_srgb * 0.72
    u, v = (xs - hx) / rx, (ys - hy) / ry
    r2 = u * u + v * v
    hair_colour = np.array([0.06, 0.05, 0.04]) + rng.uniform(0, 0.45) * np.array([1.0, 0.75, 0.5])
    style = rng.choice(["short", "long", "bun", "bald"], p=[0.4, 0.35, 0.1, 0.15])
    if style == "long":  # behind the head and down to the shoulders: a long rounded shape
        length = rng.uniform(1.2, 2.4)
        behind = (u / rng.uniform(1.15, 1.35)) ** 2 + ((v - (length - 1.1) / 2) / ((length + 1.1) / 2)) ** 2 < 1.0
        image[behind & ~(r2 < 1.0)] = hair_colour * 0.85
    # Ears, then the head: a shaded ellipsoid.
    ears = ((np.abs(u) - 0.97) / 0.16) ** 2 + ((v + 0.02) / 0.24) ** 2 < 1.0
    image[ears] = skin_srgb * 0.85
    inside = r2 < 1.0
    nz = np.sqrt(np.clip(1.0 - r2, 0.0, 1.0))
    lambert = np.clip(u * light[0] + v * light[1] - nz * light[2], 0.0, 1.0)
    shading = 0.5 + 0.55 * lambert + 0.04 * (smooth_noise(rng, height, width, 16) - 0.5)
    u_abs = np.abs(u)
    eye = ((u_abs - 0.36) / 0.17) ** 2 + ((v + 0.08) / 0.075) ** 2
    iris = ((u_abs - 0.36 - rng.uniform(-0.04, 0.04)) / 0.075) ** 2 + ((v + 0.08) / 0.075) ** 2
    brow = ((u_abs - 0.36) / 0.22) ** 2 + ((v + 0.27) / 0.045) ** 2
    nose_shadow = np.exp(-(((u - 0.08 * np.sign(light[0] + 1e-3)) / 0.1) ** 2 + ((v - 0.2) / 0.12) ** 2))
    mouth = (u / 0.28) ** 2 + ((v - 0.48) / 0.06) ** 2
    face = skin_srgb * shading[..., None]
    face = face * (1.0 - 0.25 * nose_shadow)[..., None]
    face = np.where((eye < 1.0)[..., None], np.array([0.85, 0.83, 0.8]) * shading[..., None], face)
    iris_colour = np.array([0.1, 0.07, 0.05]) + rng.uniform(0, 0.25) * np.array([0.5, 0.6, 0.7])
    face = np.where(((iris < 1.0) & (eye < 1.0))[..., None], iris_colour, face)
    face = np.where((brow < 1.0)[..., None], hair_colour * 1.1, face)
    lips = skin_srgb * np.array([0.8, 0.55, 0.55])
    face = np.where((mouth < 1.0)[..., None], lips * shading[..., None], face)
    image[inside] = face[inside]
    if style != "bald":
        hairline = -0.35 + 0.25 * u * u + rng.uniform(-0.1, 0.1)
        cap = (r2 < 1.12) & ((v < hairline) | ((u_abs > 0.82) & (v < 0.1)))
        if style == "bun":
            cap |= (u / 0.45) ** 2 + ((v + 1.15) / 0.3) ** 2 < 1.0
        hair_shade = 0.8 + 0.3 * np.clip(u * light[0] + v * light[1], -1, 1)
        strands = 1.0 + 0.15 * (smooth_noise(rng, height, width, 40) - 0.5)
        image[cap] = (hair_colour * (hair_shade * strands)[..., None])[cap]


def render_layer(prims, camera: Camera, look, albedo_variation) -> tuple[np.ndarray, np.ndarray]:
    """Rasterise and shade `prims` alone on a transparent canvas: (premultiplied sRGB layer [H, W, 3], alpha [H, W])."""
    height, width = camera.height, camera.width
    fragments = rasterise(prims, camera)
    layer = np.zeros((height * width, 3))
    alpha = np.zeros(height * width)
    if len(fragments.pixel):
        layer[fragments.pixel] = linear_to_srgb(shade(fragments, prims, camera, look.material, look.lighting,
                                                      albedo_variation))
        alpha[fragments.pixel] = 1.0
    return layer.reshape(height, width, 3), alpha.reshape(height, width)


# The other hand hangs relaxed: a loosely curled hand (scene.py's relaxed angles).
_RELAXED = np.radians([-10, 20, 20, 20, 15] + [35, 0, 40, 20] * 4)


def render_relaxed_hand(rng: np.random.Generator, signer: Signer, look, size: int, left: bool
                        ) -> tuple[np.ndarray, np.ndarray]:
    """A relaxed hand filling about half of a size x size canvas: (premultiplied sRGB layer, alpha)."""
    camera = Camera.with_field_of_view(size, size, 30.0)
    proportions = signer.proportions
    angles = _RELAXED + rng.normal(0.0, np.radians(8.0), _RELAXED.shape)
    skeleton = forward_kinematics(angles, proportions)
    spin = rng.uniform(-2.4, 2.4) + np.pi  # fingers mostly pointing down
    tilt = rng.uniform(-0.9, 0.9)
    c, s, ct, st = np.cos(spin), np.sin(spin), np.cos(tilt), np.sin(tilt)
    rotation = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]) @ np.array(
        [[1.0, 0.0, 0.0], [0.0, ct, -st], [0.0, st, ct]]) @ np.diag([1.0, -1.0, -1.0])
    distance = camera.focal * 190.0 * proportions.scale / (rng.uniform(0.5, 0.75) * size)
    forearm = np.array([0.0, -1.0, -0.3])
    prims = hand_primitives(skeleton, proportions, forearm / np.linalg.norm(forearm)).transformed(
        rotation, np.array([0.0, 0.0, distance]) - rotation @ (0.55 * proportions.mcp_positions()[1]))
    if left:
        prims = prims.mirrored()
    return render_layer(prims, camera, look, np.ones(size * size))


@dataclass(frozen=True)
class SigningHand:
    layer: np.ndarray  # premultiplied sRGB [M·R, M·R, 3] on a canvas CANVAS_MARGIN (M) times the clip's side R
    alpha: np.ndarray  # [M·R, M·R]; the clip square is the canvas's centre
    palm: tuple[float, float]  # palm centre on the canvas, pixels
    hand_length: float  # the open hand's projected length (wrist to middle fingertip), pixels


def render_signing_hand(rng: np.random.Generator, split: str, signer: Signer, look, size: int, word: str
                        ) -> SigningHand:
    """One frame of `word` signed by `signer`, framed on a size x size canvas as the generator frames a clip."""
    settings = SynthSettings(split, size, size)
    viewpoint = sample_viewpoint(rng, split)
    sequence = word_sequence(word, rng, settings.fps, settings.signer_timing(signer),
                             signer_alphabet(signer.style, signer.proportions))
    frame = int(rng.integers(sequence.num_frames))
    renderer = FrameRenderer(signer.proportions, viewpoint, look, size, size, signer.left_handed)
    prims = renderer.primitives(sequence.angles[frame], sequence.orientation(frame), sequence.positions[frame],
                                sequence.forearm_follow[frame])
    # The clip's camera with a wider sensor: the clip square is the canvas's centre.
    full = CANVAS_MARGIN * size
    camera = Camera(full, full, renderer.camera.focal)
    layer, alpha = render_layer(prims, camera, look, look.albedo_variation)
    palm_camera = renderer.view @ sequence.positions[frame] + renderer.camera_offset
    if signer.left_handed:
        palm_camera = palm_camera * np.array([-1.0, 1.0, 1.0])
    palm = camera.project(palm_camera)
    hand_length_mm = forward_kinematics(np.zeros(NUM_ANGLES), signer.proportions).points[FINGER_JOINTS["middle"][3], 1]
    hand_length = camera.focal * hand_length_mm / palm_camera[2]
    return SigningHand(layer, alpha, (float(palm[0]), float(palm[1])),
                       float(hand_length))


def _visible_fraction(alpha: np.ndarray, x: int, y: int, width: int, height: int) -> float:
    """Share of a layer's coverage that lands inside a width x height frame when pasted at (x, y)."""
    total = float(alpha.sum())
    if total <= 0:
        return 0.0
    h, w = alpha.shape
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
    if x0 >= x1 or y0 >= y1:
        return 0.0
    return float(alpha[y0 - y:y1 - y, x0 - x:x1 - x].sum()) / total


def _paste_other_hand(rng: np.random.Generator, image: np.ndarray, signer: Signer, look, side: int,
                      head: tuple[float, float], head_height: float, hand_side: float, info: dict) -> None:
    """The signer's other hand, relaxed, on the other side and lower (at the waist or the chest)."""
    other_size = max(16, min(MAX_CANVAS, int(side * rng.uniform(0.7, 1.0))))
    layer, alpha = render_relaxed_hand(rng, signer, look, other_size, left=not signer.left_handed)
    target = max(8, int(round(side * rng.uniform(0.7, 1.0))))
    layer, alpha = _resize(layer, target), _resize(alpha[..., None], target)[..., 0]
    ox = head[0] - hand_side * head_height * rng.uniform(0.3, 2.0) - target / 2
    oy = head[1] + head_height * rng.uniform(1.2, 3.5) - target / 2
    _paste(image, layer, alpha, int(ox), int(oy))
    info["other_hand"] = [int(ox), int(oy), target]


def _frame_size(rng: np.random.Generator, sizes=FRAME_SIZES) -> tuple[int, int]:
    weights = np.array([w for _, w in sizes])
    return sizes[rng.choice(len(sizes), p=weights / weights.sum())][0]


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def compose_frame(rng: np.random.Generator, split: str, words: list[str], size: tuple[int, int] | None = None,
                  hand: bool | None = None, canvas: tuple[int, int, int] | None = None,
                  signer: Signer | None = None) -> Composed:
    """One composed frame of `split`. `size` (width, height) is drawn from FRAME_SIZES unless given;
    `hand` (None: drawn, NO_HAND without) says whether the signing hand is in it; `canvas` (x, y,
    side) fixes where the clip square goes (None: drawn)."""
    width, height = size or _frame_size(rng)
    ranges = SPLIT_RANGES[split]
    if signer is None:
        signer = random_signer(split, rng)
        signer = Signer(signer.id, signer.skin_tone, signer.proportions, signer.style, bool(rng.random() < LEFT_HANDED))
    has_hand = bool(rng.random() >= NO_HAND) if hand is None else hand
    skin = SKIN_TONES[signer.skin_tone]
    photos = pool_photos(split)
    image, room_kind = room(rng, height, width, ranges.backgrounds, ranges.clutter,
                            photos if rng.random() < PHOTO_SHARE else ())
    image = np.clip(gaussian_blur(image, float(rng.uniform(0.3, 1.5)) * height / 240), 0.0, 1.0).astype(np.float64)

    # The crop side and where the clip square goes.
    side = int(canvas[2]) if canvas else int(round(_log_uniform(rng, *CROP_SIDE) * height))
    look_size = min(side, MAX_CANVAS)
    look = sample_look(rng, split, signer, CANVAS_MARGIN * look_size, CANVAS_MARGIN * look_size)
    info = {"split": split, "size": [width, height], "room": room_kind, "lighting": look.lighting_setup,
            "camera": look.camera_kind, "skin_tone": int(signer.skin_tone), "left_hand": signer.left_handed}

    hand_render = None
    if has_hand:
        word = words[int(rng.integers(len(words)))]
        hand_render = render_signing_hand(rng, split, signer, look, look_size, word)
        info["word"] = word
    scale = side / look_size
    full = CANVAS_MARGIN * side
    margin = (full - side) // 2

    person = rng.random() < PERSON
    head_height = side / rng.uniform(1.0, 2.0)
    # The signing hand is on the signer's own side: a right hand appears on the left of the picture.
    hand_side = 1.0 if signer.left_handed else -1.0
    head = None
    if canvas is not None:
        cx, cy = canvas[0] + side / 2, canvas[1] + side / 2
    elif person and rng.random() < NEAR_FACE:
        head = (rng.uniform(0.15, 0.85) * width, rng.uniform(0.1, 0.6) * height)
        cx = head[0] + hand_side * head_height * rng.uniform(0.6, 1.8)
        cy = head[1] + head_height * rng.uniform(-0.3, 1.8)
    else:
        cx, cy = rng.uniform(-0.1, 1.1) * width, rng.uniform(-0.1, 1.1) * height
    layer = alpha = None
    if hand_render is not None:
        layer = _resize(hand_render.layer, full)
        alpha = _resize(hand_render.alpha[..., None], full)[..., 0]
        if canvas is None:
            # A hand mostly out of the frame cannot be found: move it in until most of it shows.
            for _ in range(12):
                x0, y0 = int(round(cx - side / 2)) - margin, int(round(cy - side / 2)) - margin
                if _visible_fraction(alpha, x0, y0, width, height) >= MIN_VISIBLE:
                    break
                cx, cy = cx + 0.25 * (width / 2 - cx), cy + 0.25 * (height / 2 - cy)
    if head is None:
        head = (cx - hand_side * head_height * rng.uniform(0.6, 1.8), cy - head_height * rng.uniform(-0.3, 1.8))
    if person:
        draw_person(rng, image, head, head_height, skin, look.lighting.direction)
        info["head"] = [round(head[0], 1), round(head[1], 1), round(head_height, 1)]
        if rng.random() < OTHER_HAND:
            _paste_other_hand(rng, image, signer, look, side, head, head_height, hand_side, info)

    box = canvas_box = None
    if hand_render is not None:
        x0, y0 = int(round(cx - side / 2)), int(round(cy - side / 2))
        _paste(image, layer, alpha, x0 - margin, y0 - margin)
        canvas_box = (x0, y0, side)
        crop = hand_render.hand_length * scale / CANONICAL_HAND_HEIGHT
        box = (x0 - margin + hand_render.palm[0] * scale, y0 - margin + hand_render.palm[1] * scale, crop, crop)
        info["visible"] = round(_visible_fraction(alpha, x0 - margin, y0 - margin, width, height), 3)

    camera = sample_camera(rng, look.camera_kind, look.lighting, max(0.5, height / 256))
    vignette = vignetting(height, width, camera.vignette) if camera.vignette > 0 else None
    frame = develop(rng, image.astype(np.float32), camera, vignette)
    return Composed(frame, box, canvas_box, signer.left_handed, info)


def box_fractions(composed: Composed) -> tuple[float, float, float, float] | None:
    """The target box as (cx, cy, w, h) in fractions of the frame (the format's box units)."""
    if composed.box is None:
        return None
    height, width = composed.frame.shape[:2]
    cx, cy, w, h = composed.box
    return cx / width, cy / height, w / width, h / height
