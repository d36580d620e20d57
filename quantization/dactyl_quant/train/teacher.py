"""Teacher features: the one interface between the trainer and every teacher.

A teacher is a folder of per-frame embedding files, `<root>/teachers/<teacher>/<key>.npy`,
float32 (float16 accepted) [T, D], T the clip's frame count, D the same for every clip. The
teachers (MediaPipe, HaMeR, the synthetic generator's pose) write them; the trainer only reads
them and never runs a teacher itself.

An optional sidecar `<key>.detected.npy`, bool [T], marks the frames where the teacher saw a hand
(MediaPipe, HaMeR write it); KD then uses only those frames, and so do the statistics below.

KD targets are the embeddings standardised per dimension with the training set's mean and std,
so that one KD weight means the same for teachers whose embeddings differ in scale (HaMeR's
1024-d token, MediaPipe's landmarks in pixels, the generator's joint angles).
"""

import os
from pathlib import Path

import numpy as np

from ..corpus import DataError, Sample, Skipped

TEACHERS = ("synthpose", "mediapipe", "hamer")
STATS_CLIPS = 2000  # clips sampled for the mean/std: plenty for a per-dimension estimate


def teacher_dir(root: str | Path, teacher: str, teachers_dir: str | Path | None = None) -> Path:
    return Path(teachers_dir) / teacher if teachers_dir else Path(root) / "teachers" / teacher


def teacher_path(directory: Path, key: str) -> str:
    return str(directory / f"{key}.npy")


def mask_path(directory: Path, key: str) -> str | None:
    """The `.detected.npy` sidecar of a clip's teacher file, if there is one."""
    path = directory / f"{key}.detected.npy"
    return str(path) if path.is_file() else None


def check_teacher(samples: list[Sample], directory: Path, frames: dict[str, int],
                  skipped: Skipped) -> tuple[list[Sample], int]:
    """The samples whose teacher file exists and has one row per frame; and the embedding size D."""
    kept = []
    dim = None
    for sample in samples:
        path = teacher_path(directory, sample.key)
        if not os.path.isfile(path):
            skipped.bad("teacher missing", f"{sample.where}: teacher file {path} does not exist")
            continue
        try:
            array = np.load(path, mmap_mode="r")
        except (ValueError, OSError) as error:
            skipped.bad("teacher unreadable", f"{sample.where}: teacher file {path}: {error}")
            continue
        if array.ndim != 2 or array.dtype not in (np.float32, np.float16):
            skipped.bad("teacher shape", f"{sample.where}: teacher file {path} is {array.dtype} {array.shape}, "
                                         "expected float32 [frames, dim]")
            continue
        expected = frames[sample.key]
        if array.shape[0] != expected:
            skipped.bad("teacher frames", f"{sample.where}: teacher file {path} has {array.shape[0]} frames, "
                                          f"the clip has {expected}")
            continue
        mask = mask_path(directory, sample.key)
        if mask is not None:
            flags = np.load(mask, mmap_mode="r")
            if flags.shape != (expected,):
                skipped.bad("teacher frames", f"{sample.where}: {mask} has shape {flags.shape}, "
                                              f"the clip has {expected} frames")
                continue
        if dim is None:
            dim = int(array.shape[1])
        elif array.shape[1] != dim:
            raise DataError(f"{sample.where}: teacher file {path} has dimension {array.shape[1]}, "
                            f"earlier files {dim}")
        kept.append(sample)
    if dim is None:
        raise DataError(f"{directory}: no usable teacher file for any of the {len(samples)} clips")
    return kept, dim


def teacher_stats(paths: list[str], seed: int = 0,
                  masks: list[str | None] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-dimension mean and std (float32) over the (detected) frames of up to STATS_CLIPS clips."""
    rng = np.random.default_rng(seed)
    masks = masks or [None] * len(paths)
    if len(paths) > STATS_CLIPS:
        chosen = sorted(rng.choice(len(paths), STATS_CLIPS, replace=False))
        paths, masks = [paths[i] for i in chosen], [masks[i] for i in chosen]
    total = None
    total_sq = None
    count = 0
    for path, mask in zip(paths, masks):
        array = np.load(path).astype(np.float64)
        if not np.all(np.isfinite(array)):
            raise DataError(f"teacher file {path} holds NaN or infinite values")
        if mask is not None:
            array = array[np.load(mask).astype(bool)]
        total = array.sum(0) if total is None else total + array.sum(0)
        total_sq = (array ** 2).sum(0) if total_sq is None else total_sq + (array ** 2).sum(0)
        count += len(array)
    if count == 0:
        raise DataError("the teacher saw a hand in none of the sampled training frames (.detected.npy)")
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean ** 2, 0.0))
    # A constant dimension (e.g. a fixed wrist joint) would divide by 0: leave it unscaled.
    std = np.where(std > 1e-6 * max(1.0, float(np.abs(mean).max())), std, 1.0)
    return mean.astype(np.float32), std.astype(np.float32)
