"""One fingerspelled word → an RGB clip, its per-frame 3D pose (the KD teacher's features) and spans.

Teacher features (`POSE_DIM` = 69 floats per frame, `pose_features`):
- [0:63]: the 21 keypoints (MediaPipe order) in the hand frame, i.e. relative to the wrist and
  with the wrist's rotation removed (x to the thumb side, y along the middle finger, z out of the
  palm), divided by the palm size (wrist to middle MCP), flattened as x0, y0, z0, x1, …; the
  wrist's three values are always 0;
- [63:69]: the hand's rotation in the signer frame (x to the viewer's right, y up, z towards the
  camera) as the first two columns of its matrix, column after column (the 6D form), so the
  features carry the letter's orientation (K vs P, G vs Q) but not the camera's viewpoint.

A left-handed signer is the right hand's mirror image (x → -x in the signer frame): the picture
and the features both, so the keypoints' x and the rotation (M R M, M = diag(-1, 1, 1)) are
those of the hand as the camera sees it.
"""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .alphabet_shapes import signer_alphabet
from .hand import FINGER_JOINTS, NUM_ANGLES, HandProportions, forward_kinematics, palm_centre
from .imaging import develop, motion_blur, vignetting
from .render import SKIN, Camera, Primitives, box_sum, hand_primitives, linear_to_srgb, rasterise, shade
from .rotation import Rotation
from .scene import (FIELD_OF_VIEW_DEGREES, SPLITS, Look, Signer, Viewpoint, random_signer, sample_look,
                    sample_viewpoint)
from .sequence import FPS, LetterSpan, PoseSequence, Timing, signer_speed, word_sequence

POSE_DIM = 63 + 6
# The relaxed forearm runs down from the wrist and back towards the signer's body.
_FOREARM_REST = np.array([0.0, -1.0, -0.5]) / np.linalg.norm([0.0, -1.0, -0.5])
# The camera frame (x right, y down, z forward) seen from the signer frame (y up, z to the camera).
_SIGNER_TO_CAMERA = np.diag([1.0, -1.0, -1.0])


@dataclass(frozen=True)
class SynthSettings:
    split: str = "train"  # which held-out ranges apply (scene.py); "test" uses the held-out ones
    width: int = 128
    height: int = 128
    fps: int = FPS
    # Each signer's speed, log-uniform in this range over signers (1: the generator's pace; see
    # sequence.Timing), and each letter's hold in seconds (None: the pace's own).
    speed: tuple[float, float] = (1.0, 1.0)
    hold: tuple[float, float] | None = None

    def __post_init__(self):
        if self.split not in SPLITS:
            raise ValueError(f"split {self.split!r}: expected one of {', '.join(SPLITS)}")
        if self.width < 16 or self.height < 16:
            raise ValueError(f"frame size {self.width}x{self.height}: expected at least 16x16")
        if self.fps < 1:
            raise ValueError(f"frame rate {self.fps}: expected a positive number of frames per second")
        self.timing(self.speed[0])  # checks the speed and hold ranges
        self.timing(self.speed[1])

    def timing(self, speed: float) -> Timing:
        return Timing(speed, self.hold)

    def signer_timing(self, signer: Signer) -> Timing:
        """`signer`'s pace: their own speed in the range (set by who they are: id and hand size)."""
        key = f"{signer.id}/{signer.proportions.palm_size():.6f}"
        return self.timing(signer_speed(key, self.speed))


class Clip(NamedTuple):
    frames: np.ndarray  # uint8 [T, height, width, 3] RGB
    pose: np.ndarray    # float32 [T, POSE_DIM]
    spans: tuple[LetterSpan, ...]


@dataclass(frozen=True)
class RenderedClip:
    """A clip with everything the corpus writer records about it."""

    word: str
    frames: np.ndarray  # uint8 [T, height, width, 3] RGB
    pose: np.ndarray    # float32 [T, POSE_DIM]
    spans: tuple[LetterSpan, ...]
    boxes: np.ndarray   # int [T, 4]: x1, y1, x2, y2 of the hand (forearm excluded), pixel edges
    signer: Signer
    viewpoint: Viewpoint
    look: Look | None = None  # the clip's lighting, camera and background (their kinds for the record)


# The 6D rotation of a mirrored hand: M R M's first two columns are M c0 negated and M c1.
_MIRROR_SIX_D = np.array([1.0, -1.0, -1.0, -1.0, 1.0, 1.0])
# Motion blur: at most this many sub-frame positions, and no blur below this many pixels of travel.
_MOTION_SAMPLES = 7
_MOTION_MIN_PIXELS = 0.75


def pose_features(sequence: PoseSequence, proportions: HandProportions, mirrored: bool = False) -> np.ndarray:
    """The teacher features of every frame (see the module doc), float32 [T, POSE_DIM]."""
    keypoints = sequence.hand_keypoints(proportions) / proportions.palm_size()
    rotations = np.stack([sequence.orientation(f).six_d() for f in range(sequence.num_frames)])
    if mirrored:
        keypoints = keypoints * [-1.0, 1.0, 1.0]
        rotations = rotations * _MIRROR_SIX_D
    return np.concatenate([keypoints.reshape(len(keypoints), -1), rotations], axis=1).astype(np.float32)


class FrameRenderer:
    """Renders poses of one signer through one camera with one look (a clip's fixed settings).

    Frames are meant to be rendered in order: with a camera shutter (`look.camera.shutter` > 0)
    a frame is blurred along the hand's motion since the frame before (`reset_motion` forgets it).
    """

    def __init__(self, proportions: HandProportions, viewpoint: Viewpoint, look: Look, width: int, height: int,
                 mirrored: bool = False):
        self.proportions = proportions
        self.look = look
        self.mirrored = mirrored
        self._previous_centre: np.ndarray | None = None
        self._vignette = vignetting(height, width, look.camera.vignette) if look.camera.vignette > 0 else None
        self.camera = Camera.with_field_of_view(width, height, FIELD_OF_VIEW_DEGREES)
        focal = self.camera.focal
        # Wrist to middle fingertip of the open hand sets the scale: the hand's height in the frame.
        hand_length = forward_kinematics(np.zeros(NUM_ANGLES), proportions).points[FINGER_JOINTS["middle"][3], 1]
        distance = focal * hand_length / (viewpoint.hand_height * height)
        self.view = _SIGNER_TO_CAMERA @ Rotation.from_euler_degrees(viewpoint.pitch, viewpoint.yaw,
                                                                     viewpoint.roll).matrix()
        self.camera_offset = np.array([viewpoint.offset[0] * width * distance / focal,
                                       viewpoint.offset[1] * height * distance / focal, distance])
        self.centre = palm_centre(proportions)

    def primitives(self, angles: np.ndarray, orientation: Rotation, position: np.ndarray,
                   forearm_follow: float) -> Primitives:
        """The posed hand in camera space; `position` is the palm centre's in the signer frame."""
        rotation = orientation.matrix()
        forearm = Rotation.identity().slerp(orientation, forearm_follow).matrix() @ _FOREARM_REST
        skeleton = forward_kinematics(angles, self.proportions)
        prims = hand_primitives(skeleton, self.proportions, rotation.T @ forearm).transformed(
            self.view @ rotation, self.view @ (position - rotation @ self.centre) + self.camera_offset)
        return prims.mirrored() if self.mirrored else prims

    def reset_motion(self) -> None:
        self._previous_centre = None

    def render(self, angles: np.ndarray, orientation: Rotation, position: np.ndarray, forearm_follow: float,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """The uint8 RGB frame and the hand's box (x1, y1, x2, y2) of one pose."""
        camera, look = self.camera, self.look
        height, width = camera.height, camera.width
        prims = self.primitives(angles, orientation, position, forearm_follow)
        fragments = rasterise(prims, camera)
        colour = linear_to_srgb(shade(fragments, prims, camera, look.material, look.lighting, look.albedo_variation))
        background = look.background
        if look.backdrop_shadow[2] > 0 and len(fragments.pixel):
            background = background * self._backdrop_shade(fragments.pixel)[..., None]
        shift = self._motion(prims)
        if shift is None:
            image = background.reshape(-1, 3).copy()
            image[fragments.pixel] = colour
            image = image.reshape(height, width, 3)
        else:
            layer = np.zeros((height * width, 3))
            alpha = np.zeros(height * width)
            layer[fragments.pixel] = colour
            alpha[fragments.pixel] = 1.0
            samples = int(min(_MOTION_SAMPLES, 2 + np.ceil(np.hypot(*shift))))
            layer, alpha = motion_blur(layer.reshape(height, width, 3), alpha.reshape(height, width), shift, samples)
            image = layer + background * (1.0 - alpha[..., None])
        frame = develop(rng, image.astype(np.float32), look.camera, self._vignette)
        hand_pixels = fragments.pixel[prims.material[fragments.primitive] == SKIN]
        return frame, _hand_box(hand_pixels, width, height)

    def _motion(self, prims: Primitives) -> np.ndarray | None:
        """The hand's travel in pixels (x, y) during the exposure, or None when too small to see."""
        hand = prims.material == SKIN
        centre = self.camera.project((prims.start[hand] + prims.end[hand]) / 2).mean(axis=0)
        previous, self._previous_centre = self._previous_centre, centre
        if previous is None or self.look.camera.shutter <= 0:
            return None
        travel = (centre - previous) * self.look.camera.shutter
        # A jump of a large part of the frame is a cut (the hand taken out of view), not motion.
        if np.hypot(*travel) < _MOTION_MIN_PIXELS or np.hypot(*(centre - previous)) > 0.3 * self.camera.height:
            return None
        return travel

    def _backdrop_shade(self, pixels: np.ndarray) -> np.ndarray:
        """[height, width] light left on the backdrop by the hand's soft shadow."""
        height, width = self.camera.height, self.camera.width
        dx, dy, strength = self.look.backdrop_shadow
        mask = np.zeros((height, width))
        rows, columns = pixels // width, pixels % width
        rows, columns = rows + int(round(dy)), columns + int(round(dx))
        keep = (rows >= 0) & (rows < height) & (columns >= 0) & (columns < width)
        mask[rows[keep], columns[keep]] = 1.0
        radius = max(1, height // 32)
        soft = box_sum(box_sum(mask, radius), radius) / (2 * radius + 1) ** 4
        return 1.0 - strength * soft


def render_clip(word: str, rng: np.random.Generator, settings: SynthSettings = SynthSettings(),
                signer: Signer | None = None) -> RenderedClip:
    """Render `word` as signed by `signer` (a new random one of the split when None)."""
    if signer is None:
        signer = random_signer(settings.split, rng)
    sequence = word_sequence(word, rng, settings.fps, settings.signer_timing(signer),
                             signer_alphabet(signer.style, signer.proportions))
    return render_sequence(sequence, word, rng, settings, signer)


def render_sequence(sequence: PoseSequence, word: str, rng: np.random.Generator, settings: SynthSettings,
                    signer: Signer) -> RenderedClip:
    """Render a pose sequence of `signer`'s, labelled `word`, from a new viewpoint in a new look."""
    split, width, height = settings.split, settings.width, settings.height
    viewpoint = sample_viewpoint(rng, split)
    renderer = FrameRenderer(signer.proportions, viewpoint, sample_look(rng, split, signer, height, width), width,
                             height, signer.left_handed)
    frames = np.empty((sequence.num_frames, height, width, 3), dtype=np.uint8)
    boxes = np.empty((sequence.num_frames, 4), dtype=np.int64)
    for f in range(sequence.num_frames):
        frames[f], boxes[f] = renderer.render(sequence.angles[f], sequence.orientation(f), sequence.positions[f],
                                              sequence.forearm_follow[f], rng)
    return RenderedClip(word, frames, pose_features(sequence, signer.proportions, signer.left_handed), sequence.spans,
                        boxes, signer, viewpoint, renderer.look)


def _hand_box(pixels: np.ndarray, width: int, height: int) -> np.ndarray:
    if len(pixels) == 0:  # the hand left the frame: an empty box at the centre
        return np.array([width // 2, height // 2, width // 2, height // 2])
    rows, columns = pixels // width, pixels % width
    return np.array([columns.min(), rows.min(), columns.max() + 1, rows.max() + 1])


def generate_clip(word: str, rng: np.random.Generator, settings: SynthSettings = SynthSettings(),
                  signer: Signer | None = None) -> Clip:
    """Frames, teacher pose and letter spans of `word` (for rendering on the fly while training)."""
    clip = render_clip(word, rng, settings, signer)
    return Clip(clip.frames, clip.pose, clip.spans)
