"""Single letters held still: the clips of the still-letter split (`generate --kind still`).

A box's user often holds a letter for longer than a fingerspelling pace (a learner, a pause to
think, the last letter of a word): the box must read it once, however long it is held. A still
clip is one letter signed as a one-letter word (rest, transition, the letter, transition, rest)
whose hold is stretched to a chosen length, from `HOLD_SECONDS` (0.3 to 2 s). The stretched hold
keeps the generator's physiological tremor, so the hand is "still" as a real hand is.

J and Z are motion letters: their movement runs at the word pace, then the hand stays in the
movement's end pose for the chosen time (a held J is a J, then a still hand, never "jj").
"""

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .alphabet_shapes import LETTER_SHAPES, LETTERS
from .alphabet_shapes import LetterShape, signer_alphabet
from .clip import RenderedClip, SynthSettings, render_sequence
from .scene import Signer, random_signer
from .sequence import TREMOR_ANGLE, TREMOR_MM, LetterSpan, PoseSequence, _low_pass_noise, word_sequence

HOLD_SECONDS = (0.3, 2.0)
MOTION_LETTERS = "".join(letter for letter in LETTERS if LETTER_SHAPES[letter].motion is not None)  # "jz"
STATIC_LETTERS = "".join(letter for letter in LETTERS if letter not in MOTION_LETTERS)


def _insert(values: np.ndarray, at: int, count: int, noise: np.ndarray | None = None) -> np.ndarray:
    """`values` with `count` copies of values[at] inserted after index `at` (plus `noise`, if given)."""
    copies = np.repeat(values[at:at + 1], count, axis=0)
    if noise is not None:
        copies = copies + noise
    return np.concatenate([values[:at + 1], copies, values[at + 1:]])


def held_letter_sequence(letter: str, hold_frames: int, rng: np.random.Generator, fps: int,
                         shapes: Mapping[str, LetterShape] = LETTER_SHAPES) -> PoseSequence:
    """A one-letter word whose letter is held for `hold_frames` frames (a motion letter: its
    movement, then `hold_frames` frames in its end pose), signed with `shapes` (a signer's alphabet)."""
    letter = letter.lower()
    if letter not in LETTER_SHAPES:
        raise ValueError(f"cannot hold {letter!r}: expected one letter a-z")
    if hold_frames < 1:
        raise ValueError(f"hold of {hold_frames} frames: expected at least one frame")
    sequence = word_sequence(letter, rng, fps, shapes=shapes)
    (span,) = sequence.spans
    motion = letter in MOTION_LETTERS
    if motion:
        # The end pose of the movement (the last frame of the hold), then the still hold.
        at, extra = span.end - 1, hold_frames
    else:
        at, extra = (span.start + span.end - 1) // 2, hold_frames - (span.end - span.start)
    if extra < 0:  # a hold already longer than asked: drop frames from its middle
        keep = np.r_[0:at + 1 + extra, at + 1:sequence.num_frames]
        return PoseSequence(sequence.angles[keep], sequence.orientations[keep], sequence.positions[keep],
                            sequence.forearm_follow[keep], (LetterSpan(letter, span.start, span.end + extra),))
    # Fresh tremor on the inserted frames, faded in and out so that they join their neighbours.
    fade = np.sin(np.linspace(0.0, np.pi, extra + 2)[1:-1])[:, None]
    angles = _insert(sequence.angles, at, extra,
                     fade * TREMOR_ANGLE * _low_pass_noise(rng, (extra, sequence.angles.shape[1]), 2.0))
    positions = _insert(sequence.positions, at, extra, fade * TREMOR_MM * _low_pass_noise(rng, (extra, 3), 2.0))
    return PoseSequence(angles, _insert(sequence.orientations, at, extra), positions,
                        _insert(sequence.forearm_follow, at, extra),
                        (LetterSpan(letter, span.start, span.end + extra),))


@dataclass(frozen=True)
class StillClip:
    clip: RenderedClip
    hold_seconds: float


def render_still_clip(letter: str, rng: np.random.Generator, settings: SynthSettings = SynthSettings(),
                      signer: Signer | None = None, hold_seconds: float | None = None) -> StillClip:
    """`letter` held for `hold_seconds` (drawn from HOLD_SECONDS when None)."""
    if hold_seconds is None:
        hold_seconds = float(rng.uniform(*HOLD_SECONDS))
    hold_frames = max(1, round(hold_seconds * settings.fps))
    if signer is None:
        signer = random_signer(settings.split, rng)
    shapes = signer_alphabet(signer.style, signer.proportions)
    sequence = held_letter_sequence(letter, hold_frames, rng, settings.fps, shapes)
    clip = render_sequence(sequence, letter, rng, settings, signer)
    return StillClip(clip, hold_frames / settings.fps)


def still_letters(clips: int) -> list[str]:
    """The letter of each still clip: the alphabet in order, again and again (every letter equally often)."""
    return [LETTERS[index % len(LETTERS)] for index in range(clips)]


__all__ = ["HOLD_SECONDS", "MOTION_LETTERS", "STATIC_LETTERS", "StillClip", "held_letter_sequence",
           "render_sequence", "render_still_clip", "still_letters"]
