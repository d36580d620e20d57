"""Every letter's defining ASL features, measured on the generator's 3D pose (docs/handshapes.md).

Measured in the hand frame (mm; x to the thumb side, y from the wrist along the fingers, z out of
the palm, towards the viewer for a palm-forward letter) and, for orientations, in the signer frame
(x to the viewer's right, y up, z towards the viewer). Each letter is checked as the textbook
makes it and as every signing style executes it (the corners of every style family's ranges and
every letter variant), on a small, a mean and a large hand: a style may change how a letter looks,
never which letter it is.
"""

import numpy as np
import pytest

from dactyl_quant.synth.alphabet_shapes import LETTERS, SPECS, VARIANT_SPECS, signer_alphabet
from dactyl_quant.synth.hand import FINGER_JOINTS, HandProportions, forward_kinematics, sample_hand
from dactyl_quant.synth.styles import (FAMILIES, SPLIT_FAMILIES, SPLIT_VARIANTS, TEXTBOOK, VARIANTS, SigningStyle,
                                       extreme_styles, sample_style)

# The mean hand, and the extremes of the average, slender and stocky builds (hand.HAND_BUILDS).
HANDS = (HandProportions(), HandProportions(0.88, 0.94, 1.07, 0.9), HandProportions(1.12, 1.06, 0.93, 1.1),
         HandProportions(0.88, 1.12, 0.88, 0.82), HandProportions(1.12, 0.88, 1.12, 1.18))
STYLES = ([TEXTBOOK] + [corner for name in FAMILIES for corner in extreme_styles(name)]
          + [SigningStyle(variants=tuple((letter, names[k]) for letter, names in VARIANTS.items())) for k in range(3)])
THUMB_RADIUS, FINGER_RADIUS = 9.0, 8.5  # mm, near the tips (render.py draws them so)


class Pose:
    """A letter's posed hand, with the measures the features below are written in."""

    def __init__(self, letter: str, style: SigningStyle, hand: HandProportions):
        self.shape = signer_alphabet(style, hand)[letter]
        self.p = forward_kinematics(self.shape.angles, hand).points
        self.mm = hand.scale  # thresholds are for the mean hand
        self.girth = hand.scale * hand.thickness  # finger and thumb radii grow with it
        self.rotation = self.shape.orientation.matrix()

    def joint(self, finger: str, k: int) -> np.ndarray:
        return self.p[FINGER_JOINTS[finger][k]]

    def tip(self, finger: str) -> np.ndarray:
        return self.joint(finger, 3)

    @property
    def thumb(self) -> np.ndarray:
        return self.p[4]

    def direction(self, finger: str) -> np.ndarray:
        """Unit vector from the finger's MCP to its tip (thumb: from its MCP), hand frame."""
        vector = self.tip(finger) - self.joint(finger, 1 if finger == "thumb" else 0)
        return vector / np.linalg.norm(vector)

    def extended(self, finger: str) -> bool:
        """Straight enough and pointing along the hand (or, for the thumb, away from the palm)."""
        joints = [self.p[k] for k in FINGER_JOINTS[finger]]
        chain = sum(np.linalg.norm(b - a) for a, b in zip(joints, joints[1:]))
        return np.linalg.norm(joints[3] - joints[0]) > 0.85 * chain

    def curled(self, finger: str) -> bool:
        """Folded into the palm: the tip has come back below the PIP joint, close to the palm."""
        return (self.tip(finger)[1] < self.joint(finger, 1)[1]
                and np.linalg.norm(self.tip(finger) - self.joint(finger, 0)) < 0.62 * self._length(finger))

    def _length(self, finger: str) -> float:
        joints = [self.p[k] for k in FINGER_JOINTS[finger]]
        return sum(np.linalg.norm(b - a) for a, b in zip(joints, joints[1:]))

    def signer(self, vector: np.ndarray) -> np.ndarray:
        return self.rotation @ vector

    @property
    def fingers_point(self) -> np.ndarray:
        """Where the hand's +y points in the signer frame."""
        return self.rotation[:, 1]

    @property
    def palm_faces(self) -> np.ndarray:
        return self.rotation[:, 2]

    def between(self, value: float, a: float, b: float) -> bool:
        return min(a, b) < value < max(a, b)


def _distance_to_segment(point: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    t = np.clip((point - a) @ (b - a) / ((b - a) @ (b - a)), 0.0, 1.0)
    return float(np.linalg.norm(point - (a + t * (b - a))))


def _angle(u: np.ndarray, v: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(u @ v / np.linalg.norm(u) / np.linalg.norm(v), -1.0, 1.0))))


def _seen_from_the_front(h: Pose, what: str, point: np.ndarray | None = None) -> None:
    """The thumb's end (or `point` on the thumb) is not hidden behind a finger for a viewer straight in
    front of the signer: the line of sight from its front misses every finger bone (radius ~9 mm)."""
    towards_viewer = h.rotation.T @ np.array([0.0, 0.0, 1.0])  # the camera's direction, hand frame
    if point is None:  # the centre of the ball that rounds the thumb's end (the keypoint is its far edge)
        point = h.thumb - (h.thumb - h.p[3]) / np.linalg.norm(h.thumb - h.p[3]) * THUMB_RADIUS * h.girth
    start = point + towards_viewer * 0.5 * THUMB_RADIUS * h.girth
    samples = np.linspace(0.0, 1.0, 12)[:, None]
    for finger in ("index", "middle", "ring", "pinky"):
        joints = [h.joint(finger, k) for k in range(4)]
        for a, b in zip(joints, joints[1:]):
            along = a + samples * (b - a) - start
            depth = along @ towards_viewer
            off_line = np.linalg.norm(along - depth[:, None] * towards_viewer, axis=1)
            # The finger is a chain of balls of its radius: one hides the point if the line of
            # sight passes through it in front of the point.
            radius = FINGER_RADIUS * h.girth
            reach = np.sqrt(np.maximum(radius ** 2 - off_line ** 2, 0.0))
            hidden = (off_line < radius) & (depth + reach > 0)
            assert not hidden.any(), f"{what} hidden behind the {finger}"


def _fist(h: Pose, fingers=("index", "middle", "ring", "pinky")) -> None:
    for finger in fingers:
        assert h.curled(finger), f"{finger} is not curled into the palm"


def _up(h: Pose, fingers, along: float = 0.8) -> None:
    for finger in fingers:
        assert h.extended(finger), f"{finger} is not extended"
        assert h.direction(finger)[1] > along, f"{finger} does not point along the hand"


def _together(h: Pose, a: str, b: str) -> None:
    """Side by side, touching or nearly: a's DIP and tip lie close to b's PIP-to-tip line."""
    for k in (2, 3):
        d = _distance_to_segment(h.joint(a, k), h.joint(b, 1), h.tip(b))
        assert d < 2 * FINGER_RADIUS * h.girth + 6 * h.mm, f"{a} and {b} apart ({d:.0f} mm)"


def _palm_forward(h: Pose) -> None:
    assert h.fingers_point[1] > 0.8, "fingers do not point up"
    assert h.palm_faces[2] > 0.6, "palm does not face the viewer"


def _thumb_holds(h: Pose, finger: str) -> None:
    """The thumb's pad lies on the front of a curled finger's middle phalanx (U, V, W, ...)."""
    d = _distance_to_segment(h.thumb, h.joint(finger, 1), h.joint(finger, 2))
    assert d < (THUMB_RADIUS + FINGER_RADIUS) * h.girth + 8 * h.mm, f"thumb tip {d:.0f} mm from the {finger}"
    assert h.thumb[2] > h.joint(finger, 1)[2], "thumb behind the finger it should hold"


def check_a(h: Pose) -> None:
    _fist(h)
    _palm_forward(h)
    index_pip = h.joint("index", 1)
    # Beside the index (on the thumb side of it), not across the front of the fingers.
    assert h.thumb[0] > index_pip[0] + 10 * h.mm, "thumb tip not beside the index"
    assert h.thumb[2] < index_pip[2] + 2 * h.mm, "thumb tip in front of the fingers"
    assert h.thumb[1] > h.joint("index", 0)[1] - 15 * h.mm, "thumb does not reach up along the index"
    assert h.direction("thumb")[1] > 0.7, "thumb does not point up along the fist"
    _seen_from_the_front(h, "thumb tip")


def check_b(h: Pose) -> None:
    _up(h, ("index", "middle", "ring", "pinky"))
    _palm_forward(h)
    for a, b in (("index", "middle"), ("ring", "middle"), ("pinky", "ring")):
        _together(h, a, b)
    assert h.thumb[0] < h.joint("index", 0)[0], "thumb not folded across the palm"
    assert h.thumb[2] > 8 * h.mm and h.thumb[1] < h.joint("middle", 0)[1], "thumb not on the palm"


def check_c(h: Pose) -> None:
    for finger in ("index", "middle", "ring", "pinky"):
        assert h.tip(finger)[2] > 35 * h.mm and h.tip(finger)[1] > h.joint(finger, 0)[1], f"{finger} not curved"
    gap = h.tip("index")[1] - h.thumb[1]
    assert 25 * h.mm < gap < 75 * h.mm, f"the C's opening is {gap:.0f} mm"
    assert h.thumb[2] > 30 * h.mm, "thumb not opposite the fingers"
    assert abs(h.palm_faces[0]) > 0.5, "C is not seen from the side"


def check_d(h: Pose) -> None:
    _up(h, ("index",))
    assert np.linalg.norm(h.thumb - h.tip("middle")) < 20 * h.mm, "thumb and middle fingertip apart"
    for finger in ("middle", "ring", "pinky"):
        assert h.tip(finger)[1] < h.joint("index", 1)[1] and h.tip(finger)[2] > 30 * h.mm, f"{finger} not bent"


def check_e(h: Pose) -> None:
    _palm_forward(h)
    thumb_ip = h.p[3]
    for finger in ("index", "middle", "ring"):
        tip = h.tip(finger)
        assert tip[1] < h.joint(finger, 1)[1], f"{finger} tip not curled down"
        # Fingertips rest on (or just above) the thumb, which lies under them.
        d = _distance_to_segment(tip, thumb_ip, h.thumb)
        assert d < (THUMB_RADIUS + FINGER_RADIUS) * h.girth + 12 * h.mm, f"{finger} tip {d:.0f} mm from the thumb"
        assert tip[1] > h.thumb[1], f"{finger} tip below the thumb"
    assert h.thumb[0] < h.joint("middle", 0)[0], "thumb not tucked across the palm"
    assert h.thumb[2] < min(h.tip(f)[2] for f in ("index", "middle")) + 6 * h.mm, "thumb in front of the fingertips"
    _seen_from_the_front(h, "thumb under the fingertips", (h.thumb + h.p[3]) / 2)


def check_f(h: Pose) -> None:
    _palm_forward(h)
    assert np.linalg.norm(h.thumb - h.tip("index")) < 20 * h.mm, "index and thumb tips apart"
    _up(h, ("middle", "ring", "pinky"))
    assert np.linalg.norm(h.tip("middle") - h.tip("pinky")) > np.linalg.norm(
        h.joint("middle", 0) - h.joint("pinky", 0)) + 5 * h.mm, "the three fingers are not spread"


def _g_shape(h: Pose) -> None:
    _up(h, ("index",))
    _fist(h, ("middle", "ring", "pinky"))
    assert h.thumb[1] > h.joint("index", 0)[1], "thumb not extended along the index"
    assert _angle(h.direction("thumb"), h.direction("index")) < 35, "thumb not parallel to the index"
    assert h.thumb[0] - h.joint("index", 1)[0] > 10 * h.mm, "no gap between thumb and index"


def check_g(h: Pose) -> None:
    _g_shape(h)
    assert h.fingers_point[0] > 0.8, "G does not point sideways"
    assert h.palm_faces[2] < -0.6, "G's palm does not face the signer"


def check_h(h: Pose) -> None:
    _up(h, ("index", "middle"))
    _fist(h, ("ring", "pinky"))
    _together(h, "index", "middle")
    _thumb_holds(h, "ring")
    assert h.fingers_point[0] > 0.8 and h.palm_faces[2] < -0.6, "H is not sideways, palm to the signer"


def check_i(h: Pose) -> None:
    _up(h, ("pinky",))
    _fist(h, ("index", "middle", "ring"))
    _palm_forward(h)
    assert h.thumb[2] > h.joint("index", 1)[2], "thumb not across the front of the fingers"
    assert h.signer(h.direction("pinky"))[1] > 0.85, "little finger does not point up"
    assert h.shape.motion is None, "a still I must not move"


def check_j(h: Pose) -> None:
    check_i_shape = (h.extended("pinky") and all(h.curled(f) for f in ("index", "middle", "ring")))
    assert check_i_shape, "J does not start from I's handshape"
    motion = h.shape.motion
    assert motion is not None, "J needs its movement"
    offsets, rotations = motion.at(np.array([0.0, 1.0]))
    assert np.linalg.norm(offsets[1] - offsets[0]) > 30 and np.degrees(np.linalg.norm(rotations[1])) > 60


def _k_shape(h: Pose) -> None:
    _up(h, ("index",))
    _fist(h, ("ring", "pinky"))
    middle_angle = _angle(h.direction("middle"), np.array([0.0, 1.0, 0.0]))
    assert 30 < middle_angle < 85 and h.direction("middle")[2] > 0.4, f"middle at {middle_angle:.0f}° from the index"
    d = _distance_to_segment(h.thumb, h.joint("middle", 0), h.joint("middle", 1))
    assert d < (THUMB_RADIUS + FINGER_RADIUS) * h.girth + 8 * h.mm, f"thumb tip {d:.0f} mm from the middle finger"
    assert h.between(h.thumb[0], h.joint("middle", 0)[0] - 4 * h.mm, h.joint("index", 0)[0] + 4 * h.mm), \
        "thumb not between index and middle"


def check_k(h: Pose) -> None:
    _k_shape(h)
    _palm_forward(h)


def check_l(h: Pose) -> None:
    _up(h, ("index",))
    _fist(h, ("middle", "ring", "pinky"))
    assert h.extended("thumb") and 60 < _angle(h.direction("thumb"), h.direction("index")) < 115, "no L"
    assert h.thumb[0] > h.joint("index", 0)[0] + 50 * h.mm, "thumb not out to the side"


def _thumb_under(h: Pose, over: tuple[str, ...], gap: tuple[str, str]) -> None:
    """M, N, T: the thumb passes under the fingers in `over`, its tip shows between `gap`."""
    left, right = (h.joint(f, 1)[0] for f in gap)
    assert h.between(h.thumb[0], left, right), f"thumb tip not between {gap[0]} and {gap[1]}"
    # The tip comes forward to the front of the fist, where it is seen ...
    assert h.thumb[2] > h.joint(gap[1], 1)[2] - 2 * h.mm, "thumb tip behind the fingers"
    _seen_from_the_front(h, "thumb tip")
    # ... and the thumb runs behind the fingers laid over it.
    thumb_ip = h.p[3]
    for finger in over:
        pip, dip = h.joint(finger, 1), h.joint(finger, 2)
        if h.between(thumb_ip[0], pip[0] - 12 * h.mm, pip[0] + 12 * h.mm):
            assert thumb_ip[2] < (pip[2] + dip[2]) / 2, f"thumb passes in front of the {finger}"
    assert thumb_ip[2] < h.thumb[2], "thumb does not pass under the fingers"
    assert thumb_ip[0] > h.thumb[0], "thumb does not cross the palm"
    for finger in over:
        assert h.tip(finger)[1] < h.joint(finger, 1)[1], f"{finger} not laid over the thumb"


def check_m(h: Pose) -> None:
    _palm_forward(h)
    _thumb_under(h, ("index", "middle", "ring"), ("pinky", "ring"))


def check_n(h: Pose) -> None:
    _palm_forward(h)
    _thumb_under(h, ("index", "middle"), ("ring", "middle"))
    _fist(h, ("ring", "pinky"))


def check_o(h: Pose) -> None:
    for finger, limit in (("index", 20), ("middle", 24), ("ring", 42)):
        d = np.linalg.norm(h.thumb - h.tip(finger))
        assert d < limit * h.mm, f"{finger} tip {d:.0f} mm from the thumb"
    assert h.tip("index")[2] > 40 * h.mm, "the O is not round"
    assert abs(h.palm_faces[0]) > 0.5, "O is not seen from the side"


def check_p(h: Pose) -> None:
    _k_shape(h)
    middle = h.signer(h.direction("middle"))
    assert middle[1] < -0.7, f"P's middle finger does not point down ({middle[1]:.2f})"
    assert h.signer(h.direction("index"))[1] < -0.3, "P's index does not point down and out"


def check_q(h: Pose) -> None:
    _g_shape(h)
    assert h.signer(h.direction("index"))[1] < -0.65, "Q does not point down"
    assert h.signer(h.direction("thumb"))[1] < -0.4, "Q's thumb does not point down"


def check_r(h: Pose) -> None:
    _up(h, ("index", "middle"))
    _fist(h, ("ring", "pinky"))
    # The index starts on the thumb side of the middle finger and ends on the other side of it ...
    assert h.joint("index", 0)[0] > h.joint("middle", 0)[0] and h.tip("index")[0] < h.tip("middle")[0], "not crossed"
    # ... passing in front of it where they cross.
    index = (h.joint("index", 1) + h.joint("index", 2)) / 2
    middle = (h.joint("middle", 1) + h.joint("middle", 2)) / 2
    assert index[2] > middle[2] + 8 * h.mm, "index not in front of the middle finger"
    _palm_forward(h)


def check_s(h: Pose) -> None:
    _fist(h)
    _palm_forward(h)
    fronts = [h.joint(f, 1)[2] for f in ("index", "middle")]
    assert h.thumb[2] > max(fronts) + 8 * h.mm, "thumb tip not in front of the fingers"
    assert h.p[3][2] > h.joint("index", 1)[2], "thumb does not cross in front of the index"
    assert h.between(h.thumb[0], h.joint("index", 0)[0], h.joint("ring", 0)[0]), "thumb not across the fingers"
    assert h.thumb[1] < h.joint("index", 1)[1], "thumb above the fist"
    _seen_from_the_front(h, "thumb tip")
    _seen_from_the_front(h, "thumb's last phalanx", (h.p[3] + h.thumb) / 2)


def check_t(h: Pose) -> None:
    _palm_forward(h)
    _fist(h, ("middle", "ring", "pinky"))
    _thumb_under(h, ("index",), ("middle", "index"))


def check_u(h: Pose) -> None:
    _up(h, ("index", "middle"))
    _fist(h, ("ring", "pinky"))
    _palm_forward(h)
    _together(h, "index", "middle")
    _thumb_holds(h, "ring")


def check_v(h: Pose) -> None:
    _up(h, ("index", "middle"))
    _fist(h, ("ring", "pinky"))
    _palm_forward(h)
    assert np.linalg.norm(h.tip("index") - h.tip("middle")) > 40 * h.mm, "index and middle together"
    assert h.tip("index")[0] > h.tip("middle")[0], "index and middle crossed"
    _thumb_holds(h, "ring")


def check_w(h: Pose) -> None:
    _up(h, ("index", "middle", "ring"))
    _fist(h, ("pinky",))
    _palm_forward(h)
    assert np.linalg.norm(h.tip("index") - h.tip("ring")) > 55 * h.mm, "W not spread"
    assert np.linalg.norm(h.thumb - h.tip("pinky")) < 30 * h.mm, "thumb does not hold the little finger"


def check_x(h: Pose) -> None:
    _fist(h, ("middle", "ring", "pinky"))
    index = [h.joint("index", k) for k in range(4)]
    assert _angle(index[1] - index[0], index[2] - index[1]) > 60, "index not hooked at the PIP"
    assert index[2][1] > h.joint("middle", 1)[1] and index[1][1] > index[0][1] + 25 * h.mm, "index not raised"
    assert index[3][2] > index[0][2] + 20 * h.mm, "index tip curled into the palm"
    _thumb_holds(h, "middle")


def check_y(h: Pose) -> None:
    _up(h, ("pinky",), along=0.6)
    _fist(h, ("index", "middle", "ring"))
    assert h.extended("thumb") and h.thumb[0] > h.joint("index", 0)[0] + 40 * h.mm, "thumb not out"
    assert h.direction("pinky")[0] < -0.15, "little finger not spread away"


def check_z(h: Pose) -> None:
    _up(h, ("index",))
    _fist(h, ("middle", "ring", "pinky"))
    assert h.shape.motion is not None, "Z needs its movement"


CHECKS = {letter: globals()[f"check_{letter}"] for letter in LETTERS}


def _check(letter: str, style: SigningStyle, hand: HandProportions) -> None:
    try:
        CHECKS[letter](Pose(letter, style, hand))
    except AssertionError as error:
        raise AssertionError(f"{letter.upper()} ({style.family}, {style.variant(letter) or 'textbook'}, "
                             f"{hand}): {error}") from None


@pytest.mark.parametrize("letter", list(LETTERS))
def test_letter_has_its_defining_features_in_every_style(letter):
    for style in STYLES:
        for hand in HANDS:
            _check(letter, style, hand)


def test_sampled_styles_keep_every_letter():
    rng = np.random.default_rng(11)
    for split in ("train", "test"):
        for _ in range(6):
            style, hand = sample_style(rng, split), sample_hand(rng, split)
            for letter in LETTERS:
                _check(letter, style, hand)


def test_held_out_split_signs_in_styles_training_never_shows():
    assert not set(SPLIT_FAMILIES["test"]) & (set(SPLIT_FAMILIES["train"]) | set(SPLIT_FAMILIES["dev"]))
    for letter in VARIANTS:
        assert not set(SPLIT_VARIANTS["test"][letter]) & set(SPLIT_VARIANTS["train"][letter])
        assert all((letter, name) in VARIANT_SPECS for name in VARIANTS[letter])
        assert VARIANT_SPECS[(letter, VARIANTS[letter][0])] is SPECS[letter]
    rng = np.random.default_rng(5)
    train = [sample_style(rng, "train") for _ in range(40)]
    test = [sample_style(rng, "test") for _ in range(40)]
    assert {s.family for s in train} == set(SPLIT_FAMILIES["train"])
    assert {s.family for s in test} == set(SPLIT_FAMILIES["test"])
    train_variants = {pair for s in train for pair in s.variants}
    assert not train_variants & {pair for s in test for pair in s.variants}


def test_styles_are_seeded_and_change_the_pose():
    a = sample_style(np.random.default_rng(3), "train")
    assert a == sample_style(np.random.default_rng(3), "train")
    hand = HandProportions()
    textbook, styled = signer_alphabet(TEXTBOOK, hand), signer_alphabet(a, hand)
    changed = [letter for letter in LETTERS
               if np.abs(np.degrees(styled[letter].angles - textbook[letter].angles)).max() > 1.0
               or np.abs(styled[letter].orientation.matrix() - textbook[letter].orientation.matrix()).max() > 0.01]
    assert len(changed) == len(LETTERS)


def test_signers_carry_their_split_style_and_build():
    from dactyl_quant.synth.scene import make_signers
    rng = np.random.default_rng(2)
    test, train = make_signers("test", 6, rng), make_signers("train", 16, rng)
    assert {s.style.family for s in test} <= set(SPLIT_FAMILIES["test"])
    assert {s.style.family for s in train} <= set(SPLIT_FAMILIES["train"])
    # Test hands are slender (long fingers, narrow palm) or stocky (short fingers, wide palm):
    # outside every training hand's ratios.
    for signer in test:
        hand = signer.proportions
        assert (hand.finger_length >= 1.06 and hand.palm_width <= 0.94) or (
            hand.finger_length <= 0.94 and hand.palm_width >= 1.06), hand
    for signer in train:
        assert 0.94 <= signer.proportions.finger_length <= 1.06 and 0.93 <= signer.proportions.palm_width <= 1.07


def test_reference_sheet_shows_every_letter_twice(tmp_path):
    from PIL import Image

    from dactyl_quant.synth.sheet import LABEL_HEIGHT, make_handshape_sheet
    path = tmp_path / "handshapes.png"
    make_handshape_sheet(path, size=48)
    image = np.asarray(Image.open(path).convert("RGB")).astype(int)
    assert image.shape == (4 * (48 + LABEL_HEIGHT), 13 * 48, 3)
    # Each tile holds a hand framed to fill most of it: skin (redder than the grey-blue studio
    # backdrop) covers a good share of every tile.
    for row in range(4):
        top = row * (48 + LABEL_HEIGHT) + LABEL_HEIGHT
        for column in range(13):
            tile = image[top:top + 48, column * 48:(column + 1) * 48]
            skin = (tile[..., 0] > tile[..., 2] + 20).mean()
            assert skin > 0.08, f"tile {row}, {column}: {skin:.2f} of it is hand"


def test_clips_are_signed_in_the_signers_style():
    from dactyl_quant.synth.clip import SynthSettings, generate_clip, pose_features
    from dactyl_quant.synth.scene import Signer
    from dactyl_quant.synth.sequence import word_sequence
    hand = HandProportions()
    settings = SynthSettings("train", 32, 32)
    textbook = generate_clip("sun", np.random.default_rng(4), settings, Signer("a", 0, hand, TEXTBOOK))
    # The clip's teacher pose is the word signed with the signer's alphabet ...
    expected = pose_features(word_sequence("sun", np.random.default_rng(4), settings.fps), hand)
    np.testing.assert_allclose(textbook.pose, expected, atol=1e-5)
    # ... so the same draw by a loose-wide signer holds other poses (looser fists, curled fingers).
    loose = generate_clip("sun", np.random.default_rng(4), settings,
                          Signer("b", 0, hand, extreme_styles("loose-wide")[0]))
    assert [s.letter for s in loose.spans] == [s.letter for s in textbook.spans]
    held = np.concatenate([np.arange(s.start, s.end) for s in textbook.spans])
    difference = np.abs(loose.pose[held, :63] - textbook.pose[held, :63]).max(axis=1)
    assert difference.min() > 0.05  # palm sizes: several millimetres on some joint in every held frame
