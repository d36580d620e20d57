"""The ASL manual alphabet as hand poses: joint angles, wrist orientation, and J's and Z's motion.

Angles follow `hand.ANGLE_NAMES` and are written here in degrees. Orientations are rotations of
the hand in the signer's frame (x to the viewer's right, y up, z towards the camera), applied
about the palm centre, given as the direction the fingers point and the direction the palm faces.

Letters that look alike from the front keep the differences ASL gives them: A (thumb straight
beside the index), S (thumb across the front of the fingers), E (fingertips curled down onto the
thumb, which is tucked under them), T (thumb between the index and middle finger), N (thumb
between the middle and ring finger, under two fingers), M (thumb between the ring and little
finger, under three); K and P share a handshape and differ in orientation, as do G and Q, U and H.
"""

from dataclasses import dataclass

import numpy as np

from .hand import NUM_ANGLES
from .rotation import Rotation

LETTERS = "abcdefghijklmnopqrstuvwxyz"

# Finger postures, (MCP flexion, abduction, PIP, DIP) in degrees.
STRAIGHT = (0, 0, 0, 0)
FIST = (85, 0, 100, 60)
CLAW = (35, 0, 95, 80)      # E: fingertips bent down onto the thumb
CURVED = (30, 0, 55, 40)    # C
ROUND = (45, 0, 65, 40)     # O: fingertips meet the thumb


def _degrees(thumb, index, middle, ring, pinky) -> np.ndarray:
    angles = np.radians(np.concatenate([thumb, index, middle, ring, pinky]).astype(np.float64))
    if angles.shape != (NUM_ANGLES,):
        raise ValueError(f"a letter needs 5 thumb and 4 x 4 finger angles, got {angles.size}")
    return angles


@dataclass(frozen=True)
class Motion:
    """A path followed during the letter's hold: at each of the key times (0 to 1), an offset of
    the hand's position (mm, signer frame) and an extra rotation (rotation vector, degrees)."""

    times: tuple[float, ...]
    offsets: tuple[tuple[float, float, float], ...]
    rotations: tuple[tuple[float, float, float], ...]

    def at(self, phase: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Offsets [n, 3] and rotation vectors [n, 3] (radians) at phases [n] in [0, 1]."""
        def along(keys):
            keys = np.array(keys, dtype=np.float64)
            return np.stack([np.interp(phase, self.times, keys[:, axis]) for axis in range(3)], axis=-1)
        return along(self.offsets), np.radians(along(self.rotations))


@dataclass(frozen=True)
class LetterShape:
    letter: str
    angles: np.ndarray           # [NUM_ANGLES] radians
    orientation: Rotation        # of the hand in the signer frame
    # How much of the orientation the forearm takes (the rest is a bend of the wrist).
    forearm_follow: float = 0.5
    motion: Motion | None = None


def _shape(letter, thumb, index, middle, ring, pinky, orientation, forearm_follow=0.5, motion=None):
    return LetterShape(letter, _degrees(thumb, index, middle, ring, pinky), Rotation.hand_facing(*orientation),
                       forearm_follow, motion)


# Orientations as (where the fingers point, where the palm faces) in the signer frame.
FRONT = ((0.0, 1.0, 0.0), (0.2, 0.0, 1.0))          # the usual stance: palm forward, turned in a little
_POINT_UP = ((0.0, 1.0, 0.0), (0.35, 0.0, 1.0))      # D: index up, the ring of fingers seen from the front
_SIDEWAYS = ((1.0, 0.1, 0.15), (0.0, -0.25, -1.0))   # G, H: fingers to the signer's left, palm to the signer
_DOWN = ((0.2, -0.8, 0.55), (0.0, -0.55, -0.8))      # P, Q: fingers down and forward, palm down
_EDGE_ON = ((0.0, 1.0, 0.15), (1.0, 0.0, 0.8))       # C, O: palm half to the viewer's right, the curve seen
_FORWARD = ((0.0, 0.8, 0.6), (0.2, -0.6, 0.8))       # Z: the index points up and towards the viewer

LETTER_SHAPES: dict[str, LetterShape] = {shape.letter: shape for shape in (
    _shape("a", (10, -6, 6, 49, 46), FIST, FIST, FIST, FIST, FRONT),
    _shape("b", (-10, 26, -7, 85, 70), STRAIGHT, STRAIGHT, STRAIGHT, STRAIGHT, FRONT),
    _shape("c", (16, 16, 39, 53, 65), CURVED, CURVED, CURVED, CURVED, _EDGE_ON),
    _shape("d", (-4, 21, 31, 59, 51), STRAIGHT, (60, 0, 70, 40), (62, 0, 70, 40), (62, 0, 70, 40), _POINT_UP),
    _shape("e", (0, 26, -12, 85, 52), CLAW, CLAW, CLAW, CLAW, FRONT),
    _shape("f", (1, 17, 32, 45, 52), (55, 0, 60, 30), (5, -8, 5, 0), (5, -6, 5, 0), (5, -10, 5, 0), FRONT),
    _shape("g", (-1, -7, 11, 30, 34), STRAIGHT, FIST, FIST, FIST, _SIDEWAYS, 0.7),
    _shape("h", (-18, 22, 9, 62, 43), STRAIGHT, STRAIGHT, FIST, FIST, _SIDEWAYS, 0.7),
    _shape("i", (-6, 18, 18, 62, 50), FIST, FIST, FIST, STRAIGHT, FRONT),
    _shape("j", (-6, 18, 18, 62, 50), FIST, FIST, FIST, STRAIGHT, FRONT,
           motion=Motion((0.0, 0.45, 0.75, 1.0), ((0, 0, 0), (0, -35, 5), (15, -50, 10), (30, -40, 10)),
                         ((0, 0, 0), (0, 20, 0), (0, 60, 0), (0, 90, 0)))),
    _shape("k", (-9, -7, 9, 45, 45), (0, 8, 0, 0), (15, -8, 0, 0), FIST, FIST, FRONT),
    _shape("l", (37, 0, 0, 5, 0), STRAIGHT, FIST, FIST, FIST, FRONT),
    _shape("m", (-31, 22, -5, 51, 26), (80, 0, 95, 50), (80, 0, 95, 50), (80, 0, 95, 50), FIST, FRONT),
    _shape("n", (-19, 18, 2, 49, 35), (80, 0, 95, 50), (80, 0, 95, 50), FIST, FIST, FRONT),
    _shape("o", (-10, 20, 26, 39, 47), ROUND, ROUND, ROUND, ROUND, _EDGE_ON),
    _shape("p", (-9, -7, 9, 45, 45), (0, 8, 0, 0), (15, -8, 0, 0), FIST, FIST, _DOWN, 0.4),
    _shape("q", (-1, -7, 11, 30, 34), STRAIGHT, FIST, FIST, FIST, _DOWN, 0.4),
    _shape("r", (-18, 22, 9, 62, 43), (0, -12, 0, 0), (0, 12, 0, 0), FIST, FIST, FRONT),
    _shape("s", (-13, 31, 7, 47, 51), FIST, FIST, FIST, FIST, FRONT),
    _shape("t", (-12, 11, 16, 39, 49), (75, 0, 90, 45), FIST, FIST, FIST, FRONT),
    _shape("u", (-18, 22, 9, 62, 43), STRAIGHT, STRAIGHT, FIST, FIST, FRONT),
    _shape("v", (-18, 22, 9, 62, 43), (0, 12, 0, 0), (0, -8, 0, 0), FIST, FIST, FRONT),
    _shape("w", (-28, 25, -2, 65, 42), (0, 10, 0, 0), STRAIGHT, (0, -10, 0, 0), FIST, FRONT),
    _shape("x", (-6, 18, 18, 62, 50), (20, 0, 95, 65), FIST, FIST, FIST, FRONT),
    _shape("y", (35, 5, 0, 5, 5), FIST, FIST, FIST, (0, -12, 0, 0), FRONT),
    _shape("z", (-6, 18, 18, 62, 50), STRAIGHT, FIST, FIST, FIST, _FORWARD,
           motion=Motion((0.0, 0.3, 0.65, 1.0), ((0, 0, 0), (-45, 0, 0), (0, -40, 0), (-45, -40, 0)),
                         ((0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0)))),
)}
