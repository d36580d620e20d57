"""One fingerspelled word → an RGB clip, its per-frame 3D pose (the KD teacher's features) and spans.

Teacher features (`POSE_DIM` = 69 floats per frame, `pose_features`):
- [0:63]: the 21 keypoints (MediaPipe order) in the hand frame, i.e. relative to the wrist and
  with the wrist's rotation removed (x to the thumb side, y along the middle finger, z out of the
  palm), divided by the palm size (wrist to middle MCP), flattened as x0, y0, z0, x1, …; the
  wrist's three values are always 0;
- [63:69]: the hand's rotation in the signer frame (x to the viewer's right, y up, z towards the
  camera) as the first two columns of its matrix, column after column (the 6D form), so the
  features carry the letter's orientation (K vs P, G vs Q) but not the camera's viewpoint.
"""

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .alphabet_shapes import signer_alphabet
from .hand import FINGER_JOINTS, NUM_ANGLES, HandProportions, forward_kinematics, palm_centre
from .imaging import add_sensor_noise, gaussian_blur, jpeg_roundtrip
from .render import SKIN, Camera, Primitives, hand_primitives, linear_to_srgb, rasterise, shade
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


def pose_features(sequence: PoseSequence, proportions: HandProportions) -> np.ndarray:
    """The teacher features of every frame (see the module doc), float32 [T, POSE_DIM]."""
    keypoints = sequence.hand_keypoints(proportions) / proportions.palm_size()
    rotations = np.stack([sequence.orientation(f).six_d() for f in range(sequence.num_frames)])
    return np.concatenate([keypoints.reshape(len(keypoints), -1), rotations], axis=1).astype(np.float32)


class FrameRenderer:
    """Renders poses of one signer through one camera with one look (a clip's fixed settings)."""

    def __init__(self, proportions: HandProportions, viewpoint: Viewpoint, look: Look, width: int, height: int):
        self.proportions = proportions
        self.look = look
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
        return hand_primitives(skeleton, self.proportions, rotation.T @ forearm).transformed(
            self.view @ rotation, self.view @ (position - rotation @ self.centre) + self.camera_offset)

    def render(self, angles: np.ndarray, orientation: Rotation, position: np.ndarray, forearm_follow: float,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """The uint8 RGB frame and the hand's box (x1, y1, x2, y2) of one pose."""
        camera, look = self.camera, self.look
        prims = self.primitives(angles, orientation, position, forearm_follow)
        fragments = rasterise(prims, camera)
        image = look.background.reshape(-1, 3).copy()
        image[fragments.pixel] = linear_to_srgb(shade(fragments, prims, camera, look.material, look.lighting,
                                                      look.albedo_variation))
        image = image.reshape(camera.height, camera.width, 3).astype(np.float32)
        image = gaussian_blur(image, look.blur_sigma) * look.gain.astype(np.float32)
        image = add_sensor_noise(rng, image, look.noise_sigma)
        frame = np.clip(image * 255 + 0.5, 0, 255).astype(np.uint8)
        if look.jpeg_quality:
            frame = jpeg_roundtrip(frame, look.jpeg_quality)
        hand_pixels = fragments.pixel[prims.material[fragments.primitive] == SKIN]
        return frame, _hand_box(hand_pixels, camera.width, camera.height)


def render_clip(word: str, rng: np.random.Generator, settings: SynthSettings = SynthSettings(),
                signer: Signer | None = None) -> RenderedClip:
    """Render `word` as signed by `signer` (a new random one of the split when None)."""
    split, width, height = settings.split, settings.width, settings.height
    if signer is None:
        signer = random_signer(split, rng)
    sequence = word_sequence(word, rng, settings.fps, settings.signer_timing(signer),
                           signer_alphabet(signer.style, signer.proportions))
    viewpoint = sample_viewpoint(rng, split)
    renderer = FrameRenderer(signer.proportions, viewpoint, sample_look(rng, split, signer, height, width), width,
                             height)
    frames = np.empty((sequence.num_frames, height, width, 3), dtype=np.uint8)
    boxes = np.empty((sequence.num_frames, 4), dtype=np.int64)
    for f in range(sequence.num_frames):
        frames[f], boxes[f] = renderer.render(sequence.angles[f], sequence.orientation(f), sequence.positions[f],
                                              sequence.forearm_follow[f], rng)
    return RenderedClip(word, frames, pose_features(sequence, signer.proportions), sequence.spans, boxes, signer,
                        viewpoint)


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
