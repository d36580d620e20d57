"""Agreement of two 21-keypoint hand poses: similarity Procrustes, error in palm units, PCK."""

from dataclasses import dataclass

import numpy as np

WRIST, MIDDLE_MCP = 0, 9
NUM_KEYPOINTS = 21


def palm_size(pose: np.ndarray) -> float:
    """Wrist to middle-finger MCP distance (MediaPipe / OpenPose hand keypoint order)."""
    return float(np.linalg.norm(pose[MIDDLE_MCP] - pose[WRIST]))


def wrist_relative(pose: np.ndarray) -> np.ndarray:
    """[21, 3] -> [63]: relative to the wrist, in palm units (the landmark features of the teachers)."""
    pose = np.asarray(pose, dtype=np.float64).reshape(NUM_KEYPOINTS, 3)
    size = palm_size(pose)
    rel = pose - pose[WRIST]
    return (rel / size if size > 0 else rel).reshape(-1)


def procrustes_align(pred: np.ndarray, ref: np.ndarray, allow_reflection: bool = False) -> np.ndarray:
    """pred [N, 3] moved onto ref [N, 3] by the best translation, rotation and uniform scale
    (least squares, Umeyama); with allow_reflection, an improper rotation may be used too."""
    pred = np.asarray(pred, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    mu_p, mu_r = pred.mean(axis=0), ref.mean(axis=0)
    p, r = pred - mu_p, ref - mu_r
    var_p = (p ** 2).sum()
    if var_p == 0:
        return np.broadcast_to(mu_r, ref.shape).copy()
    u, s, vt = np.linalg.svd(r.T @ p)
    d = np.ones(3)
    if not allow_reflection and np.linalg.det(u @ vt) < 0:
        d[-1] = -1
    rot = u @ np.diag(d) @ vt
    scale = (s * d).sum() / var_p
    return scale * p @ rot.T + mu_r


@dataclass(frozen=True)
class PoseAgreement:
    frames: int
    mean_error: float        # mean per-joint error after alignment, in reference palm sizes
    pck: float               # fraction of joints within `threshold` palm sizes
    threshold: float
    mean_error_mirror: float  # the same with reflections allowed (much lower: a handedness/axis mismatch)


def pose_agreement(preds: list[np.ndarray], refs: list[np.ndarray], threshold: float = 0.2) -> PoseAgreement:
    """Per frame: align pred to ref (rotation + scale), per-joint error / ref palm size; averaged."""
    errors, mirror = [], []
    for pred, ref in zip(preds, refs):
        pred = np.asarray(pred, dtype=np.float64).reshape(NUM_KEYPOINTS, 3)
        ref = np.asarray(ref, dtype=np.float64).reshape(NUM_KEYPOINTS, 3)
        size = palm_size(ref)
        if not size > 0:
            continue
        errors.append(np.linalg.norm(procrustes_align(pred, ref) - ref, axis=1) / size)
        mirror.append(np.linalg.norm(procrustes_align(pred, ref, allow_reflection=True) - ref, axis=1) / size)
    if not errors:
        return PoseAgreement(0, float("nan"), float("nan"), threshold, float("nan"))
    e = np.stack(errors)
    return PoseAgreement(len(errors), float(e.mean()), float((e < threshold).mean()), threshold,
                         float(np.stack(mirror).mean()))
