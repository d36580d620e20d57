"""Continuous sessions: several words signed one after another, with idle stretches between them.

A session is what a camera on the box sees for a while: one signer, one camera, one room. It
starts and ends idle; between words the signer rests in one of three ways (`IDLE_KINDS`):

- `hand-still`: the hand stays in the frame in a relaxed rest pose, nearly still (tremor only);
- `hand-down`: the hand is lowered out of the frame (it moves down and out, then comes back);
- `empty`: nobody there: the hand goes down, the signer leaves, the frame shows the room alone.

Timings (one JSON per session, `write_sessions`):
- each word's `first_frame` / `last_frame`: the first frame of its first letter's hold and the
  last frame of its last letter's hold (inclusive, frames from 0); its letters' holds likewise;
- each idle stretch's `kind` and `first_frame` / `last_frame`: only frames that are truly idle
  (the hand held still, out of the frame, or nobody there); the movements between (raising or
  lowering the hand, moving from rest to the first letter) belong to neither.

    python -m dactyl_quant.synth session --out DIR --seed S --split test --sessions N [--y4m]
"""

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..y4m import Y4MFormat, write_rgb
from .alphabet_shapes import signer_alphabet
from .background import room, signer_body
from .clip import FrameRenderer, SynthSettings
from .imaging import gaussian_blur
from .photos import pool_photos
from .render import linear_to_srgb
from .rotation import Rotation
from .scene import PHOTO_SHARE, SKIN_TONES, SPLIT_RANGES, SPLITS, Signer, make_signers, sample_look, sample_viewpoint
from .sequence import FPS, REST, TREMOR_ANGLE, TREMOR_MM, _low_pass_noise, _smoothstep, word_sequence

IDLE_KINDS = ("hand-still", "hand-down", "empty")
IDLE_FRAMES = (15, 30)       # an idle stretch at 30 frames/s
MOVE_FRAMES = (6, 10)        # lowering or raising the hand, leaving or coming back
SETTLE_FRAMES = (3, 6)       # from the end of a word (or a rest) into the next pose
WORDS_PER_SESSION = (3, 4)
SIGNERS = {"train": 16, "dev": 4, "test": 6}
_SESSION_STREAM = 3  # beside corpus.py's clip, signer and word-order streams


@dataclass(frozen=True)
class _Pose:
    angles: np.ndarray
    quaternion: np.ndarray
    position: np.ndarray
    follow: float


@dataclass(frozen=True)
class Session:
    frames: np.ndarray             # uint8 [T, height, width, 3] RGB
    words: list[dict]              # text, first_frame, last_frame, letters
    idle: list[dict]               # kind, first_frame, last_frame
    hand_pixels: np.ndarray        # int [T]: pixels the hand or arm covers (0: out of the frame)
    occupied: np.ndarray           # bool [T]: the signer is in the room
    signer: Signer


class _Timeline:
    """Poses frame by frame, and whether the signer is there."""

    def __init__(self):
        self.poses: list[_Pose | None] = []  # None: the hand is out of the frame
        self.occupied: list[bool] = []

    def __len__(self) -> int:
        return len(self.poses)

    def add(self, pose: _Pose | None, occupied: bool = True) -> None:
        self.poses.append(pose)
        self.occupied.append(occupied)


def _blend(a: _Pose, b: _Pose, w: float) -> _Pose:
    rotation = Rotation.from_quaternion(a.quaternion).slerp(Rotation.from_quaternion(b.quaternion), w)
    return _Pose(a.angles + (b.angles - a.angles) * w, rotation.quaternion, a.position + (b.position - a.position) * w,
                 a.follow + (b.follow - a.follow) * w)


def _move(timeline: _Timeline, a: _Pose, b: _Pose, frames: int) -> None:
    for step in range(frames):
        timeline.add(_blend(a, b, float(_smoothstep(np.array((step + 1) / (frames + 1))))))


def _frames(rng: np.random.Generator, bounds: tuple[int, int], fps: int) -> int:
    low, high = (max(1, round(b * fps / FPS)) for b in bounds)
    return int(rng.integers(low, high + 1))


def _rest_pose(rng: np.random.Generator) -> _Pose:
    angles = REST.angles + rng.normal(0.0, np.radians(3.0), REST.angles.shape)
    return _Pose(angles, REST.orientation.quaternion, np.array([0.0, -25.0, 0.0]), REST.forearm_follow)


def _backgrounds(rng: np.random.Generator, split: str, signer: Signer, clothing: np.ndarray, height: int, width: int,
                 defocus: float) -> tuple[np.ndarray, np.ndarray]:
    """The room alone, and the room with the signer's body in it (the split's backgrounds)."""
    ranges = SPLIT_RANGES[split]
    photos = pool_photos(split) if rng.random() < PHOTO_SHARE else ()
    empty, _ = room(rng, height, width, ranges.backgrounds, ranges.clutter, photos)
    with_body = signer_body(rng, empty, SKIN_TONES[signer.skin_tone], clothing)
    return (np.clip(gaussian_blur(empty, defocus), 0.0, 1.0), np.clip(gaussian_blur(with_body, defocus), 0.0, 1.0))


def render_session(words: list[str], rng: np.random.Generator, settings: SynthSettings, signer: Signer,
                   idle_frames: tuple[int, int] = IDLE_FRAMES) -> Session:
    """Render `words` signed one after another by `signer`, with idle stretches before, between and after."""
    fps, width, height = settings.fps, settings.width, settings.height
    viewpoint = sample_viewpoint(rng, settings.split)
    look = sample_look(rng, settings.split, signer, height, width)
    clothing = np.clip(linear_to_srgb(np.asarray(look.material.sleeve)), 0.0, 1.0)
    empty_room, occupied_room = _backgrounds(rng, settings.split, signer, clothing, height, width,
                                             float(rng.uniform(0.3, 2.0)) * height / 128)
    renderers = {True: FrameRenderer(signer.proportions, viewpoint, dataclasses.replace(look, background=occupied_room),
                                     width, height, signer.left_handed),
                 False: FrameRenderer(signer.proportions, viewpoint, dataclasses.replace(look, background=empty_room),
                                      width, height, signer.left_handed)}
    # Far enough below the frame that neither hand nor forearm shows: the frame spans about
    # height · distance / focal millimetres at the hand.
    camera = renderers[True]
    frame_mm = height * camera.camera_offset[2] / camera.camera.focal
    lowered = np.array([0.0, -(1.5 * frame_mm + 250.0), 0.0])

    # Idle kinds cycle through a shuffled order so that every session of 3+ rests has each.
    stretches = len(words) + 1
    order = [IDLE_KINDS[i] for i in rng.permutation(len(IDLE_KINDS))]
    kinds = [order[i % len(order)] for i in range(stretches)]

    timeline = _Timeline()
    idle: list[dict] = []
    word_marks: list[dict] = []
    hand: _Pose | None = None  # the current pose; None while the hand is out of the frame

    def rest_stretch(kind: str, current: _Pose | None, next_pose: _Pose | None) -> None:
        """An idle stretch of `kind` from `current` (None: the session starts) towards `next_pose`
        (None: the session ends), with its movements."""
        length = _frames(rng, idle_frames, fps)
        if kind == "hand-still":
            still = current if current is not None else _rest_pose(rng)  # a session may start at rest
            first = len(timeline)
            tremor_angles = TREMOR_ANGLE * _low_pass_noise(rng, (length, len(still.angles)), 2.0)
            tremor_position = TREMOR_MM * _low_pass_noise(rng, (length, 3), 2.0)
            for f in range(length):
                timeline.add(_Pose(still.angles + tremor_angles[f], still.quaternion, still.position + tremor_position[f],
                                   still.follow))
            idle.append({"kind": kind, "first_frame": first, "last_frame": len(timeline) - 1})
            if next_pose is not None:
                _move(timeline, timeline.poses[-1], next_pose, _frames(rng, SETTLE_FRAMES, fps))
            return
        # hand-down and empty: lower the hand out of the frame (unless the session starts so).
        if current is not None:
            _move(timeline, current, dataclasses.replace(current, position=current.position + lowered),
                  _frames(rng, MOVE_FRAMES, fps))
        if kind == "empty":
            away = _frames(rng, (2, 4), fps) if current is not None else 0
            for _ in range(away):  # the hand is down; the signer turns to leave
                timeline.add(None)
            first = len(timeline)
            for _ in range(length):
                timeline.add(None, occupied=False)
            idle.append({"kind": kind, "first_frame": first, "last_frame": len(timeline) - 1})
            if next_pose is not None:
                for _ in range(_frames(rng, (2, 4), fps)):  # back in the chair, hand still down
                    timeline.add(None)
        else:
            first = len(timeline)
            for _ in range(length):
                timeline.add(None)
            idle.append({"kind": kind, "first_frame": first, "last_frame": len(timeline) - 1})
        if next_pose is not None:
            _move(timeline, dataclasses.replace(next_pose, position=next_pose.position + lowered), next_pose,
                  _frames(rng, MOVE_FRAMES, fps))

    for index, word in enumerate(words):
        sequence = word_sequence(word, rng, fps, settings.signer_timing(signer),
                               signer_alphabet(signer.style, signer.proportions))
        first_pose = _Pose(sequence.angles[0], sequence.orientations[0], sequence.positions[0],
                           float(sequence.forearm_follow[0]))
        rest_stretch(kinds[index], hand, first_pose)
        start = len(timeline)
        for f in range(sequence.num_frames):
            timeline.add(_Pose(sequence.angles[f], sequence.orientations[f], sequence.positions[f],
                               float(sequence.forearm_follow[f])))
        spans = sequence.spans
        word_marks.append({
            "text": word, "first_frame": start + spans[0].start, "last_frame": start + spans[-1].end - 1,
            "letters": [{"letter": s.letter, "first_frame": start + s.start, "last_frame": start + s.end - 1}
                        for s in spans if s.letter != " "]})
        hand = timeline.poses[-1]
    rest_stretch(kinds[-1], hand, None)

    frames = np.empty((len(timeline), height, width, 3), dtype=np.uint8)
    hand_pixels = np.zeros(len(timeline), dtype=np.int64)
    for f, (pose, occupied) in enumerate(zip(timeline.poses, timeline.occupied)):
        renderer = renderers[occupied]
        shown = pose if pose is not None else dataclasses.replace(hand or first_pose,
                                                                  position=(hand or first_pose).position + lowered)
        frames[f], _ = renderer.render(shown.angles, Rotation.from_quaternion(shown.quaternion), shown.position,
                                       shown.follow, rng)
        hand_pixels[f] = _covered_pixels(renderer, shown)
    return Session(frames, word_marks, idle, hand_pixels, np.array(timeline.occupied), signer)


def _covered_pixels(renderer: FrameRenderer, pose: _Pose) -> int:
    from .render import rasterise
    prims = renderer.primitives(pose.angles, Rotation.from_quaternion(pose.quaternion), pose.position, pose.follow)
    return int(len(rasterise(prims, renderer.camera).pixel))


def session_words(words: list[str], count: int, rng: np.random.Generator,
                  per_session: tuple[int, int] = WORDS_PER_SESSION) -> list[list[str]]:
    """The words of each session, drawn from shuffled passes over `words` (no repeats in a session)."""
    pool: list[str] = []
    sessions = []
    for _ in range(count):
        size = int(rng.integers(per_session[0], per_session[1] + 1))
        chosen: list[str] = []
        while len(chosen) < size:
            if not pool:
                pool = [words[i] for i in rng.permutation(len(words))]
            word = pool.pop()
            if word not in chosen:
                chosen.append(word)
        sessions.append(chosen)
    return sessions


def write_sessions(words: list[str], out: str | Path, seed: int, settings: SynthSettings, sessions: int,
                   write_y4m: bool = True, idle_frames: tuple[int, int] = IDLE_FRAMES,
                   per_session: tuple[int, int] = WORDS_PER_SESSION, first_index: int = 0) -> list[dict]:
    """Render and write `sessions` sessions as DIR/session-NNNNN.json (+ .y4m, + .npy frames without y4m)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    split = settings.split
    split_index = SPLITS.index(split)
    signers = make_signers(split, SIGNERS[split], np.random.default_rng([seed, split_index, _SESSION_STREAM]))
    chosen = session_words(words, sessions + first_index,
                           np.random.default_rng([seed, split_index, _SESSION_STREAM, 1 << 20]), per_session)
    written = []
    for index in range(first_index, first_index + sessions):
        rng = np.random.default_rng([seed, split_index, _SESSION_STREAM, index])
        signer = signers[rng.integers(len(signers))]
        session = render_session(chosen[index], rng, settings, signer, idle_frames)
        name = f"session-{index:05d}"
        if write_y4m:
            write_rgb(out / f"{name}.y4m", Y4MFormat(settings.width, settings.height, fps=(settings.fps, 1)),
                      session.frames)
        else:
            np.save(out / f"{name}.npy", session.frames)
        record = {"clip": f"{name}.y4m" if write_y4m else f"{name}.npy", "frames": len(session.frames),
                  "width": settings.width, "height": settings.height, "fps": settings.fps, "split": split,
                  "seed": seed, "index": index, "signer": signer.id, "words": session.words, "idle": session.idle}
        (out / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n")
        written.append(record)
    return written
