"""Box quality of an exported localiser, through the numpy int8 reference (the runtime's arithmetic).

- Composed frames of a split (held-out in kind for `test`): IoU of the read box with the true crop
  in frame pixels (mean over frames with a hand; a frame said empty counts with its box all the
  same), detection rate (said present and IoU ≥ 0.5), misses, false positives on frames without a
  hand.
- Real photos (the real-photo check's still clips, evaluation only): the first frame of each clip
  against MediaPipe's palm detector + hand landmark model as the reference (its landmarks framed by
  the same rule as the training targets, data.crop_box_from_landmarks): agreement on presence and
  IoU where both see a hand.
"""

import csv
import math
from pathlib import Path

import numpy as np

from ..export import Localiser, Model
from ..reference import read_box, run_localiser
from ..y4m import Y4MReader, yuv_to_rgb
from .data import Shard, iterate_boxes
from .targets import iou


def _pixels(box: tuple[float, float, float, float], width: int, height: int) -> tuple[float, float, float, float]:
    return box[0] * width, box[1] * height, box[2] * width, box[3] * height


def composed_quality(localiser: Localiser, shard: Shard) -> dict:
    """Box quality on cached composed frames (stored at the localiser's input size: the reference's
    resize of such a frame is the identity, so this is what the runtime computes on the full frame)."""
    ious, detected, missed, hands, empties, false_positive = [], 0, 0, 0, 0, 0
    for frame, truth_row, info in zip(shard.frames, shard.boxes, shard.info):
        width, height = info.get("size", [frame.shape[1], frame.shape[0]])
        heat, box = run_localiser(localiser, frame)
        read = read_box(localiser, heat, box, width, height)
        truths = [_pixels(t, width, height) for t in iterate_boxes(truth_row)]
        if not truths:
            empties += 1
            false_positive += read.present
            continue
        hands += 1
        best = max(iou((read.centre_x, read.centre_y, read.width, read.height), t) for t in truths)
        ious.append(best)
        detected += read.present and best >= 0.5
        missed += not read.present
    return {"frames": len(shard.frames), "hand_frames": hands, "empty_frames": empties,
            "mean_iou": float(np.mean(ious)) if ious else math.nan,
            "detection_rate": detected / hands if hands else math.nan,
            "miss_rate": missed / hands if hands else math.nan,
            "false_positive_rate": false_positive / empties if empties else math.nan}


def _first_frame(path: Path) -> np.ndarray:
    reader = Y4MReader(path)
    for frame in reader:
        return yuv_to_rgb(frame, reader.format)
    raise ValueError(f"{path}: no frames")


def real_photo_quality(localisers: dict[str, Localiser], folder: Path, limit: int | None = None,
                       log=print) -> dict[str, dict]:
    """The real-photo check's clips (folder/clips.csv) against MediaPipe's teacher, for each localiser
    (the teacher runs once per photo)."""
    from ..teachers.mediapipe_models import find_models
    from ..teachers.mediapipe_teacher import build_tracker
    from .data import crop_box_from_landmarks
    tracker = build_tracker(find_models(), track=False)
    with open(folder / "clips.csv", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    if limit:
        rows = rows[:limit]
    counts = {name: {"both": 0, "ours_only": 0, "teacher_only": 0, "neither": 0, "ious": []} for name in localisers}
    for number, row in enumerate(rows, 1):
        if number % 100 == 0:
            log(f"{number}/{len(rows)} photos")
        rgb = _first_frame(folder / row["clip"])
        height, width = rgb.shape[:2]
        tracker.reset()
        record = tracker.step(rgb)
        teacher = crop_box_from_landmarks(record.result.landmarks[:, :2]) if record.detected else None
        for name, localiser in localisers.items():
            heat, box = run_localiser(localiser, rgb)
            read = read_box(localiser, heat, box, width, height)
            count = counts[name]
            if teacher is not None and read.present:
                count["both"] += 1
                cx, cy, side = teacher
                count["ious"].append(iou((read.centre_x, read.centre_y, read.width, read.height), (cx, cy, side, side)))
            elif teacher is not None:
                count["teacher_only"] += 1
            elif read.present:
                count["ours_only"] += 1
            else:
                count["neither"] += 1
    results = {}
    for name, count in counts.items():
        ious = count.pop("ious")
        teacher_hands = count["both"] + count["teacher_only"]
        results[name] = {"photos": len(rows), "teacher_found": teacher_hands, **count,
                         "recall_vs_teacher": count["both"] / teacher_hands if teacher_hands else math.nan,
                         "mean_iou_vs_teacher": float(np.mean(ious)) if ious else math.nan,
                         "iou_at_least_0.5": float(np.mean(np.array(ious) >= 0.5)) if ious else math.nan}
    return results


def model_localiser(model: Model) -> Localiser:
    if model.localiser is None:
        raise ValueError("the model file has no localiser (LMET, LTEN, LOPS)")
    return model.localiser
