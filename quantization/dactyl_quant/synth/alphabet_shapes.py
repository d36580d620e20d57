"""The ASL manual alphabet as hand poses: finger postures, the thumb's place, orientation, J's and Z's motion.

Every letter is written as its fingers' postures (MCP flexion, abduction, PIP, DIP in degrees; see
`hand.ANGLE_NAMES`), the place its thumb tip goes, relative to the posed fingers (`thumb.ThumbPlace`,
solved by inverse kinematics, so it stays right for every hand and style), and the hand's
orientation in the signer frame (x to the viewer's right, y up, z towards the camera) given as the
direction the fingers point and the direction the palm faces. docs/handshapes.md describes each
letter and its sources; docs/handshapes.png shows them.

The closed-hand letters keep the differences ASL gives them: A (thumb straight up along the side
of the index), S (thumb across the front of the index and middle fingers), E (fingertips curled
down onto the thumb, which lies across the palm under them), T (thumb tip between the index and
middle finger, under the index), N (between the middle and ring finger, under two fingers), M
(between the ring and little finger, under three). K and P share a handshape and differ in
orientation, as do G and Q; U and H differ in orientation too, U and V by the spread, R by the
crossing. `signer_alphabet` executes the alphabet in a signer's style (styles.py).
"""

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

import numpy as np

from .hand import NUM_ANGLES, HandProportions, forward_kinematics
from .rotation import Rotation
from .styles import TEXTBOOK, VARIANTS, SigningStyle
from .thumb import ThumbGoal, ThumbPlace, solve_thumb

LETTERS = "abcdefghijklmnopqrstuvwxyz"

# Finger postures, (MCP flexion, abduction, PIP, DIP) in degrees.
STRAIGHT = (0, 0, 0, 0)
FIST = (85, 0, 100, 60)
CURVED = (35, 0, 50, 35)     # C
ROUND = (50, 0, 60, 40)      # O: fingertips meet the thumb
DRAPED = (66, 0, 95, 50)     # M, N: the fingers laid over the thumb

# Keypoints (MediaPipe order): per finger MCP, PIP, DIP, tip.
INDEX, MIDDLE, RING, PINKY = (5, 6, 7, 8), (9, 10, 11, 12), (13, 14, 15, 16), (17, 18, 19, 20)
_MCP, _PIP, _DIP, _TIP = range(4)


def _at(*keys: int, offset=(0.0, 0.0, 0.0), reach: bool = False) -> ThumbPlace:
    return ThumbPlace(tuple((k, 1.0 / len(keys)) for k in keys), tuple(float(v) for v in offset), reach)


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


@dataclass(frozen=True)
class LetterSpec:
    """A letter as written: fingers, thumb goal, orientation. `roles` says per finger (index to
    little) what a style may change: 'o' extended (a relaxed signer curls it a little), 'c' curled
    into the palm (tighter or looser), 's' shaped by the letter (left as written)."""

    letter: str
    fingers: tuple[tuple[float, float, float, float], ...]
    roles: str
    thumb: ThumbGoal
    orientation: tuple[tuple[float, float, float], tuple[float, float, float]]
    forearm_follow: float = 0.5
    motion: Motion | None = None
    spread: bool = False  # the fingers' abduction is part of the letter (V, W, Y, F): styles scale it


# Orientations as (where the fingers point, where the palm faces) in the signer frame.
FRONT = ((0.0, 1.0, 0.0), (0.2, 0.0, 1.0))          # the usual stance: palm forward, turned in a little
_POINT_UP = ((0.0, 1.0, 0.0), (0.35, 0.0, 1.0))      # D: index up, the ring of fingers seen from the front
_SIDEWAYS = ((1.0, 0.05, 0.2), (0.0, -0.2, -1.0))    # G, H: fingers to the signer's left, palm to the signer
_DOWN = ((0.15, -0.8, 0.55), (0.0, -0.55, -0.8))     # P: index down and forward, palm down
_DOWN_Q = ((0.15, -0.9, 0.35), (0.0, -0.35, -0.9))   # Q: index and thumb down
_EDGE_ON = ((0.0, 1.0, 0.15), (1.0, 0.0, 0.8))       # C, O: palm half to the viewer's right, the curve seen
_SIDE_FRONT = ((0.0, 1.0, 0.0), (0.6, 0.0, 1.0))     # X: palm turned further to the side
_FORWARD = ((0.0, 0.8, 0.6), (0.2, -0.6, 0.8))       # Z: the index points up and towards the viewer

# Thumb goals shared by several letters.
# The thumb's pad resting on the ring finger's middle phalanx, holding it down (H, R, U, V).
_ON_RING = ThumbGoal(_at(RING[_PIP], RING[_DIP], offset=(6.0, 0.0, 17.0)), (-30, 45, 40, 25, 20),
                     ip=_at(MIDDLE[_MCP], offset=(12.0, -10.0, 30.0)), ip_weight=0.4)
# Across the front of the curled index and middle fingers (S, I, J).
_ACROSS_FRONT = ThumbGoal(_at(MIDDLE[_PIP], MIDDLE[_DIP], offset=(-3.0, 0.0, 18.0)), (-30, 50, 40, 20, 15),
                          ip=_at(INDEX[_PIP], INDEX[_DIP], offset=(8.0, -4.0, 16.0)))
# On the middle finger's middle phalanx (X, Z: the thumb holds the curled middle finger).
_ON_MIDDLE = ThumbGoal(_at(MIDDLE[_PIP], MIDDLE[_DIP], offset=(2.0, -4.0, 17.0)), (-30, 50, 40, 20, 15),
                       ip=_at(MIDDLE[_PIP], offset=(22.0, -20.0, 6.0)), ip_weight=0.3)
_HELD_OUT = ThumbGoal(_at(INDEX[_MCP], offset=(92.0, -42.0, 4.0), reach=True), (30, 0, 0, 0, 0))  # L
_Y_THUMB = ThumbGoal(_at(INDEX[_MCP], offset=(78.0, -24.0, 14.0), reach=True), (20, 15, 0, 0, 0))
_J_MOTION = Motion((0.0, 0.45, 0.75, 1.0), ((0, 0, 0), (0, -35, 5), (15, -50, 10), (30, -40, 10)),
                   ((0, 0, 0), (0, 20, 0), (0, 60, 0), (0, 90, 0)))
_Z_MOTION = Motion((0.0, 0.3, 0.65, 1.0), ((0, 0, 0), (-45, 0, 0), (0, -40, 0), (-45, -40, 0)),
                   ((0, 0, 0), (0, 0, 0), (0, 0, 0), (0, 0, 0)))

_K_FINGERS = (STRAIGHT, (55, -6, 0, 0), FIST, FIST)
_K_THUMB = ThumbGoal(_at(MIDDLE[_MCP], MIDDLE[_PIP], offset=(9.0, 0.0, -6.0)), (-20, 55, 30, 10, 5))
_G_THUMB = ThumbGoal(_at(INDEX[_MCP], offset=(24.0, 26.0, 8.0), reach=True), (-28, 10, 0, 0, 0),
                     ip=_at(INDEX[_MCP], offset=(24.0, -2.0, 8.0)), ip_weight=0.3)

SPECS: dict[str, LetterSpec] = {spec.letter: spec for spec in (
    # A: a fist, the thumb straight up along the side of the index, not across the front.
    LetterSpec("a", (FIST,) * 4, "cccc",
               ThumbGoal(_at(INDEX[_PIP], offset=(18.0, 6.0, -14.0)), (-20, 10, 0, 40, 20),
                         stiffness=(2.0, 2.0, 2.0, 30.0, 30.0)), FRONT),
    # B: fingers straight and together, the thumb folded across the palm.
    LetterSpec("b", ((0, -8, 0, 0), (0, 1, 0, 0), (0, 8, 0, 0), (0, 14, 0, 0)), "oooo",
               ThumbGoal(_at(MIDDLE[_MCP], RING[_MCP], offset=(0.0, -30.0, 20.0)), (-30, 45, 45, 30, 20)), FRONT),
    # C: all fingers curved, the thumb below them: the curve seen from the side.
    LetterSpec("c", (CURVED,) * 4, "ssss",
               ThumbGoal(_at(INDEX[_TIP], offset=(4.0, -50.0, -2.0)), (10, 40, 30, 10, 10)), _EDGE_ON),
    # D: index up, the other fingertips meet the thumb tip in a ring.
    LetterSpec("d", (STRAIGHT, (50, 0, 75, 45), (52, 0, 75, 45), (55, 0, 75, 45)), "osss",
               ThumbGoal(_at(MIDDLE[_TIP], offset=(5.0, -6.0, 8.0)), (-10, 40, 40, 20, 10)), _POINT_UP),
    # E: fingertips curled down onto the thumb, which lies across the palm under them.
    LetterSpec("e", ((30, 0, 100, 70),) * 4, "ssss",
               ThumbGoal(_at(RING[_TIP], offset=(0.0, -16.0, -4.0)), (-40, 40, 50, 30, 30),
                         ip=_at(INDEX[_TIP], offset=(6.0, -16.0, -6.0))), FRONT),
    # F: index and thumb tips touch, the other three up and spread.
    LetterSpec("f", ((55, 0, 60, 30), (0, -4, 0, 0), (0, -6, 0, 0), (0, -8, 0, 0)), "sooo",
               ThumbGoal(_at(INDEX[_TIP], offset=(2.0, -4.0, 6.0)), (0, 40, 30, 20, 10)), FRONT, spread=True),
    # G: index and thumb straight, parallel, pointing sideways; palm to the signer.
    LetterSpec("g", (STRAIGHT, FIST, FIST, FIST), "occc", _G_THUMB, _SIDEWAYS, 0.7),
    # H: index and middle straight together, sideways; the thumb holds the ring finger.
    LetterSpec("h", ((0, -7, 0, 0), (0, 3, 0, 0), FIST, FIST), "oocc", _ON_RING, _SIDEWAYS, 0.7),
    # I: little finger up, the thumb across the front of the others; palm forward.
    LetterSpec("i", (FIST, FIST, FIST, (0, -4, 0, 0)), "ccco", _ACROSS_FRONT, FRONT),
    # J: I, and the hand twists so that the little finger draws a J.
    LetterSpec("j", (FIST, FIST, FIST, (0, -4, 0, 0)), "ccco", _ACROSS_FRONT, FRONT, motion=_J_MOTION),
    # K: index up, middle out forward, the thumb tip against the middle finger between the two.
    LetterSpec("k", _K_FINGERS, "oscc", _K_THUMB, FRONT),
    # L: index up, thumb straight out to the side.
    LetterSpec("l", (STRAIGHT, FIST, FIST, FIST), "occc", _HELD_OUT, FRONT),
    # M: index, middle and ring laid over the thumb, whose tip shows between ring and little finger.
    LetterSpec("m", (DRAPED, DRAPED, DRAPED, FIST), "sssc",
               ThumbGoal(_at(RING[_PIP], PINKY[_PIP], offset=(-2.0, -20.0, 24.0)), (-40, 30, 40, 50, 40),
                         ip=_at(RING[_PIP], offset=(6.0, -26.0, -14.0))), FRONT),
    # N: index and middle over the thumb, its tip between middle and ring.
    LetterSpec("n", (DRAPED, DRAPED, FIST, FIST), "sscc",
               ThumbGoal(_at(MIDDLE[_PIP], RING[_PIP], offset=(-2.0, -22.0, 24.0)), (-30, 30, 40, 50, 40),
                         ip=_at(MIDDLE[_PIP], offset=(6.0, -28.0, -14.0))), FRONT),
    # O: all fingertips curved to meet the thumb tip; seen from the side.
    LetterSpec("o", (ROUND,) * 4, "ssss",
               ThumbGoal(_at(INDEX[_TIP], MIDDLE[_TIP], offset=(0.0, -4.0, 6.0)), (-10, 50, 40, 20, 10)), _EDGE_ON),
    # P: K pointing down: index forward and down, middle to the floor.
    LetterSpec("p", _K_FINGERS, "oscc", _K_THUMB, _DOWN, 0.4),
    # Q: G pointing down.
    LetterSpec("q", (STRAIGHT, FIST, FIST, FIST), "occc", _G_THUMB, _DOWN_Q, 0.4),
    # R: index and middle up and crossed, the index in front.
    LetterSpec("r", ((12, -15, 0, 0), (-6, 11, 0, 0), FIST, FIST), "sscc", _ON_RING, FRONT),
    # S: a fist, the thumb across the front of the index and middle fingers.
    LetterSpec("s", (FIST,) * 4, "cccc", _ACROSS_FRONT, FRONT),
    # T: the index curled over the thumb, whose tip shows between index and middle.
    LetterSpec("t", ((62, 0, 100, 55), FIST, FIST, FIST), "sccc",
               ThumbGoal(_at(INDEX[_PIP], MIDDLE[_PIP], offset=(-2.0, -14.0, 18.0)), (-20, 40, 30, 40, 30),
                         ip=_at(INDEX[_PIP], offset=(2.0, -26.0, -12.0))), FRONT),
    # U: index and middle up together.
    LetterSpec("u", ((0, -7, 0, 0), (0, 3, 0, 0), FIST, FIST), "oocc", _ON_RING, FRONT),
    # V: index and middle up and spread.
    LetterSpec("v", ((0, 12, 0, 0), (0, -10, 0, 0), FIST, FIST), "oocc", _ON_RING, FRONT, spread=True),
    # W: index, middle and ring up and spread; the thumb holds the little finger.
    LetterSpec("w", ((0, 10, 0, 0), STRAIGHT, (0, -10, 0, 0), FIST), "oooc",
               ThumbGoal(_at(PINKY[_DIP], PINKY[_TIP], offset=(4.0, -2.0, 15.0)), (-45, 45, 45, 25, 20),
                         ip=_at(RING[_MCP], offset=(14.0, -14.0, 30.0)), ip_weight=0.3), FRONT, spread=True),
    # X: index hooked, the others curled, the thumb on the middle finger; palm to the side.
    LetterSpec("x", ((25, 0, 95, 75), FIST, FIST, FIST), "sccc", _ON_MIDDLE, _SIDE_FRONT),
    # Y: thumb and little finger out.
    LetterSpec("y", (FIST, FIST, FIST, (0, -18, 0, 0)), "ccco", _Y_THUMB, FRONT, spread=True),
    # Z: the index draws a Z (pointing up and forward); the thumb holds the middle finger.
    LetterSpec("z", (STRAIGHT, FIST, FIST, FIST), "occc", _ON_MIDDLE, _FORWARD, motion=_Z_MOTION),
)}


def _thumb(spec: LetterSpec, tip: ThumbPlace, ip: ThumbPlace | None = None) -> LetterSpec:
    """The letter with its thumb tip (and IP joint) placed elsewhere."""
    return replace(spec, thumb=replace(spec.thumb, tip=tip, ip=ip or spec.thumb.ip))


# Accepted variants (styles.VARIANTS names them); the first of each is SPECS' own.
VARIANT_SPECS: dict[tuple[str, str], LetterSpec] = {
    ("a", "thumb-on-side"): SPECS["a"],
    ("a", "thumb-raised"): _thumb(SPECS["a"], tip=_at(INDEX[_PIP], offset=(18.0, 2.0, -12.0))),
    ("a", "thumb-apart"): _thumb(SPECS["a"], tip=_at(INDEX[_PIP], offset=(24.0, -8.0, -10.0))),
    ("e", "tips-on-thumb"): SPECS["e"],
    ("e", "tips-on-thumb-low"): replace(SPECS["e"], fingers=((38, 0, 100, 65),) * 4),
    ("e", "open-e"): _thumb(replace(SPECS["e"], fingers=((20, 0, 95, 80),) * 4),
                            tip=_at(RING[_TIP], offset=(0.0, -24.0, -8.0))),
    ("k", "middle-forward"): SPECS["k"],
    ("k", "middle-45"): replace(SPECS["k"], fingers=(STRAIGHT, (42, -8, 0, 0), FIST, FIST)),
    ("k", "middle-out"): replace(SPECS["k"], fingers=(STRAIGHT, (70, -4, 5, 0), FIST, FIST)),
    ("o", "round"): SPECS["o"],
    ("o", "round-small"): replace(SPECS["o"], fingers=((58, 0, 65, 45),) * 4),
    ("o", "flat-o"): replace(SPECS["o"], fingers=((55, 0, 35, 20),) * 4),
    ("s", "thumb-on-knuckles"): SPECS["s"],
    ("s", "thumb-on-middle"): _thumb(SPECS["s"], tip=_at(MIDDLE[_PIP], MIDDLE[_DIP], offset=(-8.0, -3.0, 18.0))),
    ("s", "thumb-low"): _thumb(SPECS["s"], tip=_at(MIDDLE[_DIP], RING[_DIP], offset=(0.0, 2.0, 17.0)),
                               ip=_at(INDEX[_DIP], offset=(8.0, -4.0, 16.0))),
    ("x", "hook"): SPECS["x"],
    ("x", "hook-tight"): replace(SPECS["x"], fingers=((30, 0, 105, 80), FIST, FIST, FIST)),
    ("x", "hook-open"): replace(SPECS["x"], fingers=((15, 0, 80, 60), FIST, FIST, FIST)),
    ("y", "thumb-out"): SPECS["y"],
    ("y", "thumb-up"): _thumb(SPECS["y"], tip=_at(INDEX[_MCP], offset=(64.0, 4.0, 14.0), reach=True)),
    ("y", "thumb-wide"): _thumb(SPECS["y"], tip=_at(INDEX[_MCP], offset=(84.0, -40.0, 8.0), reach=True)),
}


def execute(spec: LetterSpec, style: SigningStyle, proportions: HandProportions,
            start: np.ndarray | None = None) -> LetterShape:
    """One letter as a signer with this style and hand makes it; `start`: thumb angles (radians)
    to begin the thumb's search from (default: the letter's prior)."""
    fingers = []
    for posture, role in zip(spec.fingers, spec.roles):
        mcp, abduction, pip, dip = posture
        if role == "c":
            mcp, pip, dip = (min(v * style.closed_flex, limit) for v, limit in zip((mcp, pip, dip), (95, 110, 85)))
        elif role == "o":
            mcp, pip, dip = mcp + 0.35 * style.open_curl, pip + style.open_curl, dip + 0.6 * style.open_curl
        if spec.spread:
            abduction *= style.spread
        fingers.append((mcp, abduction, pip, dip))
    angles = np.radians(np.concatenate([np.asarray(spec.thumb.prior, dtype=np.float64),
                                        np.asarray(fingers, dtype=np.float64).reshape(-1)]))
    if angles.shape != (NUM_ANGLES,):
        raise ValueError(f"letter {spec.letter!r}: expected 5 thumb and 4 x 4 finger angles, got {angles.size}")
    points = forward_kinematics(angles, proportions).points
    angles[:5] = solve_thumb(spec.thumb, points, proportions, np.asarray(style.thumb_shift), start)
    orientation = Rotation.hand_facing(*spec.orientation) * Rotation.from_rotvec(np.radians(style.wrist))
    return LetterShape(spec.letter, angles, orientation, spec.forearm_follow, spec.motion)


@functools.lru_cache(maxsize=None)
def _textbook_thumb(letter: str, variant: str) -> np.ndarray:
    """The thumb's angles of a letter (variant) made by the mean hand: where a signer's search starts."""
    return execute(VARIANT_SPECS.get((letter, variant), SPECS[letter]), TEXTBOOK, HandProportions()).angles[:5]


class SignerAlphabet(Mapping[str, LetterShape]):
    """A signer's 26 letters, each worked out the first time it is signed (a clip needs a few)."""

    def __init__(self, style: SigningStyle, proportions: HandProportions):
        self.style, self.proportions = style, proportions
        self._shapes: dict[str, LetterShape] = {}

    def __getitem__(self, letter: str) -> LetterShape:
        shape = self._shapes.get(letter)
        if shape is None:
            if letter not in SPECS:
                raise KeyError(letter)
            variant = self.style.variant(letter)
            shape = execute(VARIANT_SPECS.get((letter, variant), SPECS[letter]), self.style, self.proportions,
                            _textbook_thumb(letter, variant))
            self._shapes[letter] = shape
        return shape

    def __iter__(self) -> Iterator[str]:
        return iter(LETTERS)

    def __len__(self) -> int:
        return len(LETTERS)


@functools.lru_cache(maxsize=256)
def signer_alphabet(style: SigningStyle, proportions: HandProportions) -> SignerAlphabet:
    """The letters as this signer makes them (cached: a signer signs many clips)."""
    return SignerAlphabet(style, proportions)


LETTER_SHAPES: dict[str, LetterShape] = dict(signer_alphabet(TEXTBOOK, HandProportions()))
