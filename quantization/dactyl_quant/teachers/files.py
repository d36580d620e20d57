"""The files the teachers write: ROOT/teachers/<teacher>/<key>.npy, float32 [T, D], one row per
frame, and the optional <key>.detected.npy (bool [T]). `key` may hold slashes (ChicagoFSWild's
filenames do: "aslized/elsie_stecker_0291"); the files then sit in matching sub-folders.

The corpus they run over is read by dactyl_quant/corpus.py (`read_corpus(..., alphabet=None)`),
the trainer's reader too.
"""

import os
import tempfile
from pathlib import Path

import numpy as np

TEACHERS_DIR = "teachers"


def teacher_path(root: str | Path, teacher: str, key: str, suffix: str = ".npy") -> Path:
    """ROOT/teachers/<teacher>/<key><suffix>."""
    return Path(root) / TEACHERS_DIR / teacher / (key + suffix)


def save_array(path: Path, array: np.ndarray) -> None:
    """Write a .npy file atomically (a half-written file never has the final name)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            np.save(stream, array)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_teacher(root: str | Path, teacher: str, key: str, features: np.ndarray,
                  detected: np.ndarray | None = None) -> Path:
    """Write one clip's teacher file (float32 [T, D]) and, if given, its `.detected.npy` sidecar
    (bool [T]); the main file last, so that its presence means both are complete."""
    features = np.ascontiguousarray(features, dtype=np.float32)
    if features.ndim != 2:
        raise ValueError(f"{key}: teacher features must be [T, D], got shape {features.shape}")
    if not np.all(np.isfinite(features)):
        raise ValueError(f"{key}: teacher features hold NaN or infinite values")
    path = teacher_path(root, teacher, key)
    if detected is not None:
        detected = np.asarray(detected, dtype=bool)
        if detected.shape != (features.shape[0],):
            raise ValueError(f"{key}: detected flags {detected.shape} do not match {features.shape[0]} frames")
        save_array(teacher_path(root, teacher, key, ".detected.npy"), detected)
    save_array(path, features)
    return path
