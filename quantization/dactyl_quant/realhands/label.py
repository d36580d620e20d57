"""MediaPipe's palm detector + hand landmark model on every fetched image -> labels.jsonl.

One JSON object per line, one line per image (docs/real-hands-sources.md, "labels.jsonl"):

    {"image": "images/subhih/images/2_pic00084.jpg",   # relative to the labels file's folder
     "width": 800, "height": 600,                      # after Pillow's decode and EXIF orientation
     "source": "subhih", "licence": "Apache-2.0",
     "hands": [{"palm_box": [x, y, w, h],              # the palm detector's box (pixels; may leave the image)
                "landmark_box": [x, y, w, h],          # tight box of the 21 landmarks (pixels)
                "landmarks": [[x, y], ... 21],         # pixels, MediaPipe's keypoint order
                "score": 0.97,                         # palm detector score
                "presence": 0.99,                      # landmark model's hand presence
                "handedness": "right",                 # the person's own hand (the image is not mirrored)
                "handedness_score": 0.93}]}            # P(right hand) by the landmark model

Pixel coordinates are continuous: pixel (i, j) covers [i, i+1) x [j, j+1). `hands` is empty where
the teacher found no hand; these are photos of hands, so that is the teacher's miss, not a
negative example.

A hand is kept when the landmark model, run on the palm's ROI, reports presence >= 0.5; its
landmarks are then refined once from their own ROI (MediaPipe's tracking step) when that run
also sees the hand. Hands whose landmark boxes overlap by IoU > 0.5 are one hand (the better
presence kept).
"""

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ..teachers import palm as palm_ops
from ..teachers.mediapipe_teacher import HandLandmarker, HandResult, PalmDetector

LABELS = "labels.jsonl"
SAME_HAND_IOU = 0.5


def load_image(path: str | Path) -> np.ndarray:
    """RGB uint8 [H, W, 3] as a viewer shows it (EXIF orientation applied): the labels' pixels."""
    with Image.open(path) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))


@dataclass
class Hand:
    result: HandResult
    palm: palm_ops.Detection

    @property
    def landmark_box(self) -> np.ndarray:
        """x1, y1, x2, y2 of the 21 landmarks."""
        xy = self.result.landmarks[:, :2]
        return np.concatenate([xy.min(axis=0), xy.max(axis=0)])

    def record(self) -> dict:
        def xywh(box) -> list[float]:
            return [round(float(box[0]), 2), round(float(box[1]), 2), round(float(box[2] - box[0]), 2),
                    round(float(box[3] - box[1]), 2)]
        right = float(self.result.handedness)  # MediaPipe's "Left" for a mirrored image: the right hand here
        return {"palm_box": xywh(self.palm.box), "landmark_box": xywh(self.landmark_box),
                "landmarks": [[round(float(x), 2), round(float(y), 2)] for x, y in self.result.landmarks[:, :2]],
                "score": round(float(self.palm.score), 4), "presence": round(float(self.result.presence), 4),
                "handedness": "right" if right >= 0.5 else "left", "handedness_score": round(right, 4)}


def find_hands(image: np.ndarray, palm: PalmDetector, landmarker: HandLandmarker, refine: bool = True) -> list[Hand]:
    """Every hand the palm detector finds and the landmark model confirms, best palm first."""
    hands: list[Hand] = []
    for detection in palm.detect(image):
        result = landmarker.run(image, palm_ops.palm_to_roi(detection))
        if not result.present:
            continue
        if refine:
            again = landmarker.run(image, palm_ops.landmarks_to_roi(result.landmarks[:, :2]))
            if again.present:
                result = again
        hand = Hand(result, detection)
        same = [h for h in hands if palm_ops.iou(h.landmark_box, hand.landmark_box) > SAME_HAND_IOU]
        if not same:
            hands.append(hand)
        elif hand.result.presence > same[0].result.presence:
            hands[hands.index(same[0])] = hand
    return hands


def label_images(images: list[tuple[dict, Path]], licences: dict[str, str], palm: PalmDetector,
                 landmarker: HandLandmarker, out: str | Path, log=sys.stderr) -> dict:
    """Label every (manifest entry, image file) and write `out` (labels.jsonl, atomically); counts."""
    out = Path(out)
    root = out.parent.resolve()
    temporary = out.with_name(out.name + ".tmp")
    counts = {"images": 0, "with_hand": 0, "hands": 0, "errors": 0}
    start = time.time()
    with open(temporary, "w", encoding="utf-8") as stream:
        for n, (entry, path) in enumerate(images, 1):
            try:
                image = load_image(path)
            except OSError as error:
                print(f"{path}: unreadable image: {error}", file=log)
                counts["errors"] += 1
                continue
            hands = find_hands(image, palm, landmarker)
            try:
                name = str(Path(path).resolve().relative_to(root))
            except ValueError:
                name = str(Path(path).resolve())
            record = {"image": name, "width": int(image.shape[1]), "height": int(image.shape[0]),
                      "source": entry["source"], "licence": licences[entry["source"]],
                      "hands": [h.record() for h in hands]}
            stream.write(json.dumps(record, separators=(",", ":")) + "\n")
            counts["images"] += 1
            counts["with_hand"] += bool(hands)
            counts["hands"] += len(hands)
            if n % 100 == 0 or n == len(images):
                print(f"[{n}/{len(images)}] {counts['with_hand']} with a hand, {counts['hands']} hands, "
                      f"{time.time() - start:.0f} s", file=log)
    temporary.replace(out)
    return counts


def read_labels(path: str | Path) -> list[dict]:
    """labels.jsonl as a list of records; a bad line is an error naming it."""
    records = []
    with open(path, encoding="utf-8") as stream:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                for key in ("image", "width", "height", "source", "licence", "hands"):
                    if key not in record:
                        raise ValueError(f"no {key!r}")
            except (json.JSONDecodeError, ValueError) as error:
                raise ValueError(f"{path} line {number}: {error}") from error
            records.append(record)
    return records
