"""A fingerspelled word as a pose per frame: holds, transitions, coarticulation, J and Z, tremor.

Each letter is held for a few frames and the hand moves to the next letter over a few more, with
eased joint angles and slerped wrist rotation; a temporal Gaussian then blends neighbouring
letters into each other, so that short holds never quite reach their target pose, as in real
fast fingerspelling. A repeated letter (the "ll" of "hello") is signed twice with a small slide
of the hand between, as signers do. A space is a pause in a relaxed hand.

Time: the trajectory is built at INTERNAL_FPS (120) and sampled at the clip's frame rate, so one
seed gives the same signing at 15, 30 or 60 frames/s (only the sampling differs), and the random
draws do not depend on the rate. `Timing` sets the pace: `speed` divides every duration (1 is the
generator's pace, near ChicagoFSWild's 100-250 ms per letter; 2 twice as fast), and `hold`, when
given, draws each letter's hold log-uniformly from (low, high) seconds instead (e.g. 0.1 to 2 s,
a letter held still as people do at a word's end or when unsure).
"""

import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .alphabet_shapes import FRONT, LETTER_SHAPES, LETTERS, LetterShape
from .hand import HandProportions, forward_kinematics, palm_centre
from .rotation import Rotation

FPS = 30
INTERNAL_FPS = 120  # the rate the trajectory is built at, before sampling at the clip's rate
SPELLABLE = set(LETTERS + " ")
SPEED_RANGE = (0.25, 4.0)  # what Timing accepts
HOLD_RANGE = (0.02, 5.0)   # seconds


@dataclass(frozen=True)
class Timing:
    """A signer's pace: `speed` x the generator's (every duration divided by it); `hold`: each
    letter's hold drawn log-uniformly from (low, high) seconds, not divided by `speed` (None: the
    pace's own holds, 3-8 frames at 30 frames/s). J and Z keep their movement's own time / speed."""

    speed: float = 1.0
    hold: tuple[float, float] | None = None

    def __post_init__(self):
        if not SPEED_RANGE[0] <= self.speed <= SPEED_RANGE[1]:
            raise ValueError(f"signing speed {self.speed}: expected {SPEED_RANGE[0]} to {SPEED_RANGE[1]} x the "
                             "generator's pace")
        if self.hold is not None:
            low, high = self.hold
            if not HOLD_RANGE[0] <= low <= high <= HOLD_RANGE[1]:
                raise ValueError(f"letter hold {low}-{high} s: expected {HOLD_RANGE[0]} <= low <= high <= "
                                 f"{HOLD_RANGE[1]} seconds")


def signer_speed(signer_key: str, speed_range: tuple[float, float]) -> float:
    """A signer's own speed in `speed_range` (log-uniform over signers), fixed by `signer_key`:
    the same signer signs every word at the same pace, without drawing from any random stream."""
    low, high = speed_range
    if not SPEED_RANGE[0] <= low <= high <= SPEED_RANGE[1]:
        raise ValueError(f"signing speed {low}-{high}: expected {SPEED_RANGE[0]} <= low <= high <= {SPEED_RANGE[1]}")
    if low == high:
        return low
    share = zlib.crc32(signer_key.encode("utf-8")) / 2 ** 32
    return float(low * (high / low) ** share)

# Frame counts at 30 frames/s (ChicagoFSWild's signers hold a letter for about 100-250 ms).
HOLD_FRAMES = (3, 8)
MOTION_HOLD_FRAMES = (8, 12)  # J and Z need time for their movement
TRANSITION_FRAMES = (3, 6)
PAUSE_FRAMES = (6, 10)
LEAD_FRAMES = (0, 4)          # relaxed hand before the first and after the last letter

# Per-instance variation of a letter: nobody signs a letter the same way twice.
ANGLE_JITTER = np.radians(4.0)
ORIENTATION_JITTER = np.radians(6.0)
POSITION_JITTER_MM = 3.0
TREMOR_ANGLE = np.radians(1.0)
TREMOR_MM = 1.0
DOUBLE_LETTER_SLIDE_MM = 20.0  # towards the signer's right, the viewer's left

REST = LetterShape(" ", np.radians([-15, 30, 20, 15, 10] + [20, 0, 25, 10] * 4), Rotation.hand_facing(*FRONT))
REST_DROP_MM = 25.0  # a relaxed hand sinks a little


@dataclass(frozen=True)
class LetterSpan:
    letter: str
    start: int  # first frame of the letter's hold
    end: int    # one past its last frame


@dataclass(frozen=True)
class PoseSequence:
    angles: np.ndarray          # [T, NUM_ANGLES] joint angles, radians
    orientations: np.ndarray    # [T, 4] unit quaternions of the hand in the signer frame
    positions: np.ndarray       # [T, 3] palm centre in the signer frame, mm
    forearm_follow: np.ndarray  # [T] share of the orientation taken by the forearm
    spans: tuple[LetterSpan, ...]

    @property
    def num_frames(self) -> int:
        return len(self.angles)

    def orientation(self, frame: int) -> Rotation:
        return Rotation.from_quaternion(self.orientations[frame])

    def hand_keypoints(self, proportions: HandProportions) -> np.ndarray:
        """[T, 21, 3] keypoints in the hand frame (wrist at the origin), mm."""
        return np.stack([forward_kinematics(a, proportions).points for a in self.angles])

    def signer_keypoints(self, proportions: HandProportions) -> np.ndarray:
        """[T, 21, 3] keypoints in the signer frame, mm."""
        local = self.hand_keypoints(proportions) - palm_centre(proportions)
        rotations = np.stack([self.orientation(f).matrix() for f in range(self.num_frames)])
        return np.einsum("tij,tkj->tki", rotations, local) + self.positions[:, None, :]


@dataclass(frozen=True)
class _Hold:
    start: int
    end: int
    shape: LetterShape
    angles: np.ndarray
    orientation: Rotation
    position: np.ndarray

    def pose_at(self, frame: int) -> tuple[np.ndarray, Rotation, np.ndarray]:
        """Angles, orientation and position at a frame of the hold (its motion applied)."""
        if self.shape.motion is None:
            return self.angles, self.orientation, self.position
        phase = np.array([(frame - self.start) / max(self.end - self.start - 1, 1)])
        offsets, rotations = self.shape.motion.at(np.clip(phase, 0.0, 1.0))
        return self.angles, Rotation.from_rotvec(rotations[0]) * self.orientation, self.position + offsets[0]


def _frames(rng: np.random.Generator, bounds: tuple[int, int], fps: int) -> int:
    low, high = (max(0, round(b * fps / FPS)) for b in bounds)
    return int(rng.integers(low, high + 1))


def _internal_frames(rng: np.random.Generator, bounds: tuple[int, int], speed: float) -> int:
    """A duration drawn as the generator's pace draws it (frames at 30 frames/s), in internal frames at `speed`."""
    return int(round(_frames(rng, bounds, FPS) * (INTERNAL_FPS / FPS) / speed))


def _hold_frames(rng: np.random.Generator, hold: tuple[float, float]) -> int:
    low, high = hold
    seconds = math.exp(rng.uniform(math.log(low), math.log(high)))
    return max(1, int(round(seconds * INTERNAL_FPS)))


def _jittered_rotation(rng: np.random.Generator, base: Rotation, sigma: float) -> Rotation:
    return Rotation.from_rotvec(rng.normal(0.0, sigma, 3)) * base


def _smoothstep(x: np.ndarray) -> np.ndarray:
    return x * x * (3 - 2 * x)


def _gaussian_smooth(values: np.ndarray, sigma: float) -> np.ndarray:
    """Smooth along axis 0 with edge replication."""
    if sigma <= 0:
        return values
    radius = int(np.ceil(3 * sigma))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.concatenate([np.repeat(values[:1], radius, 0), values, np.repeat(values[-1:], radius, 0)])
    return sum(w * padded[i:i + len(values)] for i, w in enumerate(kernel))


def _low_pass_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    """Noise of roughly unit standard deviation that varies over a few frames (physiological tremor)."""
    noise = _gaussian_smooth(rng.normal(0.0, 1.0, shape), sigma)
    return noise / max(float(noise.std()), 1e-9)


def word_sequence(word: str, rng: np.random.Generator, fps: int = FPS, timing: Timing = Timing(),
                  shapes: Mapping[str, LetterShape] = LETTER_SHAPES) -> PoseSequence:
    """The pose sequence of a word of letters a-z and spaces (a space is a pause), at `fps` frames/s,
    signed with `shapes` (a signer's alphabet, `alphabet_shapes.signer_alphabet`)."""
    if fps < 1:
        raise ValueError(f"frame rate {fps}: expected a positive number of frames per second")
    return _sample(_internal_sequence(word, rng, timing, shapes), fps)


def _internal_sequence(word: str, rng: np.random.Generator, timing: Timing,
                       shapes: Mapping[str, LetterShape]) -> PoseSequence:
    """The word's trajectory at INTERNAL_FPS."""
    speed = timing.speed
    word = word.lower()
    unknown = sorted(set(word) - SPELLABLE)
    if unknown or not word.strip():
        raise ValueError(f"cannot fingerspell {word!r}: only letters a-z and spaces are supported"
                         + (f", found {''.join(unknown)!r}" if unknown else ""))
    holds: list[_Hold] = []
    frame = 0
    position = np.zeros(3)
    # Signers drift sideways as they spell; the rate varies between people and words.
    drift = np.array([rng.uniform(-6.0, 2.0), rng.uniform(-2.0, 2.0), 0.0])

    def add_hold(shape: LetterShape, length: int, position: np.ndarray) -> None:
        nonlocal frame
        angles = shape.angles + rng.normal(0.0, ANGLE_JITTER, shape.angles.shape)
        orientation = _jittered_rotation(rng, shape.orientation, ORIENTATION_JITTER)
        holds.append(_Hold(frame, frame + length, shape, angles, orientation,
                           position + rng.normal(0.0, POSITION_JITTER_MM, 3)))
        frame += length

    rest_offset = np.array([0.0, -REST_DROP_MM, 0.0])
    add_hold(REST, _internal_frames(rng, LEAD_FRAMES, speed), position + rest_offset)
    previous = None
    for letter in word:
        frame += _internal_frames(rng, TRANSITION_FRAMES, speed)
        position = position + drift
        if letter == previous and letter != " ":
            position = position + [-DOUBLE_LETTER_SLIDE_MM, 0.0, 0.0]
        if letter == " ":
            add_hold(REST, _internal_frames(rng, PAUSE_FRAMES, speed), position + rest_offset)
        else:
            shape = shapes[letter]
            if shape.motion or timing.hold is None:
                length = _internal_frames(rng, MOTION_HOLD_FRAMES if shape.motion else HOLD_FRAMES, speed)
            else:
                length = _hold_frames(rng, timing.hold)
            add_hold(shape, max(1, length), position)
        previous = letter
    frame += _internal_frames(rng, TRANSITION_FRAMES, speed)
    add_hold(REST, _internal_frames(rng, LEAD_FRAMES, speed), position + rest_offset)

    num_frames = frame
    angles = np.empty((num_frames, len(REST.angles)))
    quaternions = np.empty((num_frames, 4))
    positions = np.empty((num_frames, 3))
    follow = np.empty(num_frames)
    for hold, following in zip(holds, holds[1:] + [None]):
        for f in range(hold.start, hold.end):
            pose_angles, pose_rotation, positions[f] = hold.pose_at(f)
            angles[f], quaternions[f], follow[f] = pose_angles, pose_rotation.quaternion, hold.shape.forearm_follow
        if following is None:
            break
        # Transition frames between this hold's last pose and the next hold's first.
        angles_a, rotation_a, position_a = hold.pose_at(hold.end - 1)
        angles_b, rotation_b, position_b = following.pose_at(following.start)
        gap = following.start - hold.end
        for step, f in enumerate(range(hold.end, following.start)):
            w = float(_smoothstep(np.array((step + 1) / (gap + 1))))
            angles[f] = angles_a + (angles_b - angles_a) * w
            quaternions[f] = rotation_a.slerp(rotation_b, w).quaternion
            positions[f] = position_a + (position_b - position_a) * w
            follow[f] = hold.shape.forearm_follow + (following.shape.forearm_follow - hold.shape.forearm_follow) * w

    # Coarticulation: neighbouring letters bleed into each other (over less time when signing
    # faster); tremor varies over about 70 ms whatever the pace.
    scale = INTERNAL_FPS / FPS
    sigma = rng.uniform(0.6, 1.2) * scale / speed
    angles = _gaussian_smooth(angles, sigma) + TREMOR_ANGLE * _low_pass_noise(rng, angles.shape, 2.0 * scale)
    positions = _gaussian_smooth(positions, sigma) + TREMOR_MM * _low_pass_noise(rng, positions.shape, 2.0 * scale)
    for f in range(1, num_frames):  # q and −q are the same rotation: keep neighbours on one side
        if quaternions[f] @ quaternions[f - 1] < 0:
            quaternions[f] = -quaternions[f]
    quaternions = _gaussian_smooth(quaternions, sigma)
    quaternions /= np.linalg.norm(quaternions, axis=1, keepdims=True)
    spans = tuple(LetterSpan(letter, hold.start, hold.end) for letter, hold in zip(word, holds[1:-1]))
    return PoseSequence(angles, quaternions, positions, follow, spans)


def _sample(sequence: PoseSequence, fps: int) -> PoseSequence:
    """`sequence` (at INTERNAL_FPS) sampled at `fps`: frame k shows time k / fps, linearly
    interpolated between the internal frames around it (quaternions normalised: neighbours differ
    by a fraction of a degree)."""
    count = max(1, int(round(sequence.num_frames * fps / INTERNAL_FPS)))
    position = np.minimum(np.arange(count) * (INTERNAL_FPS / fps), sequence.num_frames - 1)
    low = np.floor(position).astype(int)
    high = np.minimum(low + 1, sequence.num_frames - 1)
    w = (position - low)[:, None]

    def mix(values: np.ndarray) -> np.ndarray:
        shaped = values.reshape(len(values), -1)
        return (shaped[low] * (1 - w) + shaped[high] * w).reshape((count,) + values.shape[1:])

    quaternions = mix(sequence.orientations)
    quaternions /= np.linalg.norm(quaternions, axis=1, keepdims=True)

    def frame_at(internal: int) -> int:
        return int(math.ceil(internal * fps / INTERNAL_FPS - 1e-9))

    spans = tuple(LetterSpan(span.letter, frame_at(span.start), max(frame_at(span.start) + 1, frame_at(span.end)))
                  for span in sequence.spans)
    return PoseSequence(mix(sequence.angles), quaternions, mix(sequence.positions), mix(sequence.forearm_follow), spans)
