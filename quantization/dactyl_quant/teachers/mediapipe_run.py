"""Running the MediaPipe teacher over a corpus, and `mediapipe-check`."""

import math
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..corpus import Corpus, Sample, load_rgb, read_bbox, read_frames
from . import palm as palm_ops
from .files import teacher_path, write_teacher
from .mediapipe_models import ModelFiles
from .mediapipe_teacher import HandTracker, build_tracker, extract_clip
from .pose_metrics import PoseAgreement, pose_agreement

TEACHER = "mediapipe"


@dataclass
class ClipOutcome:
    key: str
    frames: int = 0
    detected: int = 0
    sources: Counter = field(default_factory=Counter)
    error: str = ""
    skipped: bool = False


_worker: dict = {}


def _init_worker(models: ModelFiles, features: str, root: str, overwrite: bool) -> None:
    _worker.update(tracker=build_tracker(models), features=features, root=root, overwrite=overwrite)


def _process(clip: Sample) -> ClipOutcome:
    outcome = ClipOutcome(clip.key)
    if not _worker["overwrite"] and teacher_path(_worker["root"], TEACHER, clip.key).exists():
        outcome.skipped = True
        return outcome
    try:
        feats, detected = extract_clip(clip, _worker["tracker"], _worker["features"],
                                       on_frame=lambda i, r: outcome.sources.update([r.source]))
        write_teacher(_worker["root"], TEACHER, clip.key, feats, detected)
        outcome.frames, outcome.detected = len(detected), int(detected.sum())
    except (OSError, ValueError, RuntimeError) as error:
        outcome.error = str(error)
    return outcome


def run_corpus(corpus: Corpus, models: ModelFiles, features: str = "embedding", workers: int = 1,
               overwrite: bool = False, log=sys.stderr) -> list[ClipOutcome]:
    """Write ROOT/teachers/mediapipe/<key>.npy (+ .detected.npy) for every clip; existing files are
    kept unless overwrite. Errors are reported per clip and do not stop the run."""
    args = (models, features, str(corpus.root), overwrite)
    total = len(corpus.samples)
    every = max(1, total // 100)
    outcomes = []
    start = time.time()

    def report(outcome: ClipOutcome) -> None:
        outcomes.append(outcome)
        n = len(outcomes)
        if outcome.error:
            print(f"[{n}/{total}] {outcome.key}: error: {outcome.error}", file=log)
        elif n % every == 0 or n == total:
            print(f"[{n}/{total}] {outcome.key}: {outcome.frames} frames, hand in {outcome.detected}"
                  + (" (existing, kept)" if outcome.skipped else "") + f", {time.time() - start:.0f} s", file=log)

    if workers <= 1:
        _init_worker(*args)
        for clip in corpus.samples:
            report(_process(clip))
    else:
        with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=args) as pool:
            for outcome in pool.map(_process, corpus.samples, chunksize=1):
                report(outcome)
    return outcomes


def summarize(outcomes: list[ClipOutcome]) -> str:
    done = [o for o in outcomes if not o.skipped and not o.error]
    frames = sum(o.frames for o in done)
    detected = sum(o.detected for o in done)
    sources = sum((o.sources for o in done), Counter())
    parts = [f"{len(done)} clips written ({frames} frames, hand present in "
             f"{detected / frames:.1%})" if frames else f"{len(done)} clips written"]
    skipped = sum(o.skipped for o in outcomes)
    errors = sum(bool(o.error) for o in outcomes)
    if skipped:
        parts.append(f"{skipped} kept (already there; --overwrite redoes them)")
    if errors:
        parts.append(f"{errors} failed")
    if sources:
        parts.append("ROIs: " + ", ".join(f"{k} {v}" for k, v in sorted(sources.items())))
    return "; ".join(parts)


# ---- mediapipe-check -----------------------------------------------------------------------------

@dataclass
class CheckReport:
    frames: int
    palm_detected: int       # the palm detector found a palm (near the BBox where there is one)
    hand_present: int        # ... and the landmark model on its ROI says a hand is there
    pose_frames_missing: int  # frames whose clip has no reference pose file
    agreement: PoseAgreement | None
    seconds: float

    def lines(self) -> list[str]:
        n = max(self.frames, 1)
        out = [f"frames checked: {self.frames}",
               f"palm detection rate: {self.palm_detected / n:.1%} ({self.palm_detected}/{self.frames})",
               f"hand presence rate (palm found and landmark presence >= 0.5): {self.hand_present / n:.1%}"]
        if self.agreement is not None:
            a = self.agreement
            out.append(f"3D agreement with the reference pose over {a.frames} frames (Procrustes: rotation, scale): "
                       f"mean joint error {a.mean_error:.3f} palm sizes, PCK@{a.threshold:g} {a.pck:.1%}; "
                       f"with reflections allowed {a.mean_error_mirror:.3f}")
        if self.pose_frames_missing:
            out.append(f"{self.pose_frames_missing} checked frames had no reference pose file")
        out.append(f"{self.seconds:.1f} s")
        return out


def sample_frames(corpus: Corpus, count: int, seed: int = 0) -> list[tuple[Sample, int]]:
    """Up to `count` (clip, frame index) pairs spread over the clips, chosen at random (seeded)."""
    rng = np.random.default_rng(seed)
    clips = [corpus.samples[i] for i in rng.permutation(len(corpus.samples))]
    per_clip = max(1, math.ceil(count / max(len(clips), 1)))
    picks = []
    for clip in clips:
        total = clip.frames if clip.frames is not None else len(read_frames(clip))
        for index in sorted(rng.choice(total, size=min(per_clip, total), replace=False)):
            picks.append((clip, int(index)))
            if len(picks) >= count:
                return picks
    return picks


def _frame(clip: Sample, index: int, cache: dict) -> np.ndarray:
    if clip.numbered_jpeg:
        return load_rgb(clip.frame_files()[index])
    if clip.key not in cache:
        cache.clear()
        cache[clip.key] = read_frames(clip)
    return cache[clip.key][index]


def check(corpus: Corpus, models: ModelFiles, frames: int = 200, pose_teacher: str | None = "synthpose",
          seed: int = 0, tracker: HandTracker | None = None) -> CheckReport:
    """Palm detector + landmark model on single frames (no tracking): detection rate, and the world
    landmarks' agreement with a reference pose ROOT/teachers/<pose_teacher>/<key>.npy (first 63
    values of a row = 21 keypoints x, y, z)."""
    start = time.time()
    tracker = tracker or build_tracker(models)
    picks = sample_frames(corpus, frames, seed)
    palm_found = present = missing = 0
    preds, refs = [], []
    poses: dict[str, np.ndarray | None] = {}
    frame_cache: dict = {}
    for clip, index in picks:
        image = _frame(clip, index, frame_cache)
        bbox = read_bbox(Path(clip.bbox_dir) / f"{index + 1:04d}.txt") if clip.bbox_dir else None
        detection = tracker.detect(image, bbox)
        if detection is None:
            continue
        palm_found += 1
        result = tracker.landmarker.run(image, palm_ops.palm_to_roi(detection))
        if not result.present:
            continue
        present += 1
        if not pose_teacher:
            continue
        if clip.key not in poses:
            path = teacher_path(corpus.root, pose_teacher, clip.key)
            poses[clip.key] = np.load(path) if path.exists() else None
        pose = poses[clip.key]
        if pose is None or index >= len(pose) or pose.shape[1] < 63:
            missing += 1
            continue
        preds.append(result.world)
        refs.append(pose[index, :63].reshape(21, 3))
    agreement = pose_agreement(preds, refs) if preds else None
    return CheckReport(len(picks), palm_found, present, missing, agreement, time.time() - start)

