"""How one signer executes the letters: a signing style.

Real signers differ in more than bone lengths: some make tight fists and crisp straight fingers,
others keep every finger a little curled; some spread V and W wide, others barely; wrists are
held bent or turned in different ways; the thumb rests a little higher or lower; and several
letters have accepted variants (an E with the fingertips on the thumb or curled above it, a K
with the middle finger forward or out at 45°, an O round or flattened). A `SigningStyle` holds one
signer's choices; `alphabet_shapes.signer_alphabet` turns it into that signer's 26 poses, each
still the letter (tests/test_synth_handshapes.py checks every letter's defining features for
every family).

Held out in kind: styles come in families, and the test split's signers use families and letter
variants that train and dev never show (`SPLIT_FAMILIES`, `SPLIT_VARIANTS`), so a held-out signer
signs differently, not only with other bone lengths.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StyleFamily:
    """Ranges (low, high) of a family's style parameters."""

    closed_flex: tuple[float, float]    # multiplier of the curled fingers' flexion (tight or loose fists)
    open_curl: tuple[float, float]      # degrees of curl of the extended fingers (crisp or relaxed)
    spread: tuple[float, float]         # multiplier of the spread of V, W, Y, F ...
    # Wrist bend about the hand's x (flexion towards the palm positive), y (roll about the fingers)
    # and z (sideways, about the palm's normal) axes, degrees: the family's habit and how far a
    # signer strays from it.
    wrist: tuple[float, float, float]
    wrist_bias: tuple[float, float, float]
    thumb_shift: float                  # mm: how far the thumb tip may sit from the textbook place


FAMILIES: dict[str, StyleFamily] = {
    # train and dev
    "crisp": StyleFamily((0.97, 1.03), (0.0, 5.0), (0.95, 1.15), (5.0, 5.0, 5.0), (0.0, 0.0, 0.0), 2.0),
    "relaxed": StyleFamily((0.88, 0.95), (8.0, 15.0), (1.0, 1.25), (7.0, 6.0, 6.0), (-4.0, 0.0, 0.0), 3.0),
    "compact": StyleFamily((1.0, 1.06), (0.0, 6.0), (0.75, 0.9), (5.0, 5.0, 5.0), (3.0, 0.0, -3.0), 2.0),
    # test only
    "loose-wide": StyleFamily((0.84, 0.89), (15.0, 22.0), (1.3, 1.5), (6.0, 6.0, 6.0), (-8.0, 5.0, 4.0), 3.0),
    "bent-wrist": StyleFamily((0.93, 1.0), (4.0, 10.0), (0.85, 1.05), (5.0, 5.0, 5.0), (12.0, -6.0, -8.0), 2.5),
}
SPLIT_FAMILIES = {"train": ("crisp", "relaxed", "compact"), "dev": ("crisp", "relaxed", "compact"),
                  "test": ("loose-wide", "bent-wrist")}

# Accepted variants of some letters (alphabet_shapes.VARIANT_SHAPES); the first of each letter is
# the textbook one. Train and dev draw from the first two, test only from the last.
VARIANTS: dict[str, tuple[str, ...]] = {
    "a": ("thumb-on-side", "thumb-raised", "thumb-apart"),
    "e": ("tips-on-thumb", "tips-on-thumb-low", "open-e"),
    "k": ("middle-forward", "middle-45", "middle-out"),
    "o": ("round", "round-small", "flat-o"),
    "s": ("thumb-on-knuckles", "thumb-on-middle", "thumb-low"),
    "x": ("hook", "hook-tight", "hook-open"),
    "y": ("thumb-out", "thumb-up", "thumb-wide"),
}
SPLIT_VARIANTS = {"train": {letter: names[:2] for letter, names in VARIANTS.items()},
                  "dev": {letter: names[:2] for letter, names in VARIANTS.items()},
                  "test": {letter: names[2:] for letter, names in VARIANTS.items()}}


@dataclass(frozen=True)
class SigningStyle:
    family: str = "crisp"
    closed_flex: float = 1.0
    open_curl: float = 0.0                      # degrees
    spread: float = 1.0
    wrist: tuple[float, float, float] = (0.0, 0.0, 0.0)        # rotation vector in the hand frame, degrees
    thumb_shift: tuple[float, float, float] = (0.0, 0.0, 0.0)  # mm at mean hand size, hand frame
    variants: tuple[tuple[str, str], ...] = ()  # (letter, variant) where not the textbook one

    def variant(self, letter: str) -> str:
        return dict(self.variants).get(letter, VARIANTS[letter][0] if letter in VARIANTS else "")


TEXTBOOK = SigningStyle()


def extreme_styles(name: str) -> tuple[SigningStyle, SigningStyle]:
    """The two corners of a family's ranges (every parameter at its low, then at its high end,
    the thumb shifted as far as the family allows): what tests check the letters against."""
    family = FAMILIES[name]
    corners = []
    for end, sign in ((0, -1.0), (1, 1.0)):
        corners.append(SigningStyle(
            name, family.closed_flex[end], family.open_curl[end], family.spread[end],
            tuple(bias + sign * limit for bias, limit in zip(family.wrist_bias, family.wrist)),
            tuple(sign * family.thumb_shift / np.sqrt(3.0) * np.ones(3))))
    return corners[0], corners[1]


def sample_style(rng: np.random.Generator, split: str, family_name: str | None = None) -> SigningStyle:
    """A signer's style from one of the split's families (or the one named) and the split's variants."""
    families = SPLIT_FAMILIES[split]
    name = families[rng.integers(len(families))] if family_name is None else family_name
    family = FAMILIES[name]
    wrist = tuple(float(bias + rng.uniform(-limit, limit)) for bias, limit in zip(family.wrist_bias, family.wrist))
    shift = rng.normal(0.0, 1.0, 3)
    shift *= family.thumb_shift * rng.uniform(0.0, 1.0) / max(float(np.linalg.norm(shift)), 1e-9)
    variants = tuple((letter, str(names[rng.integers(len(names))]))
                     for letter, names in sorted(SPLIT_VARIANTS[split].items()))
    return SigningStyle(name, float(rng.uniform(*family.closed_flex)), float(rng.uniform(*family.open_curl)),
                        float(rng.uniform(*family.spread)), wrist, tuple(float(v) for v in shift), variants)
