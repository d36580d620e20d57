"""KD-only samples from labelled real hands: a crop per hand, framed as the generator frames its
clips, and the MediaPipe teacher's features of that crop.

The generator draws a 128x128 frame whose hand is 0.42-0.88 of the frame high (wrist to the
fingertips of the upright hand, synth/scene.py HAND_HEIGHT) with the palm within ±0.14 of the frame
from its centre; the recogniser's crop is that whole frame. A real hand's size is taken from its
landmarks as max(long side of the landmark box, HAND_LENGTH_PER_PALM x wrist-to-middle-MCP), so that a
fist is framed as large as the open hand it belongs to; each crop draws its share and offset from
ranges inside the generator's (the middle, where the training clips are most often), so the hand's
crops differ in framing. Where the square leaves the photo it is filled with the photo's border
colour (realcheck.frame_photo's rule).

The corpus (`python -m dactyl_quant.realhands crops`):

    OUT/clips.csv                      clip,letters,partition,source: letters empty, partition train
    OUT/y4m/<source>/<image stem>_h<hand>_c<crop>.y4m     a still clip (FRAMES frames, 30 frames/s)
    OUT/teachers/mediapipe/<key>.npy   the MediaPipe teacher on the crop (+ .detected.npy), as
                                       `python -m dactyl_quant.teachers mediapipe --features F` writes it
    OUT/sources.json                   the sources and licences of the photos

The teacher runs on the 128x128 crop, exactly as it runs on the generator's 128x128 clips, so the
KD targets of real and generated samples come from the same view of a hand.
`train fit --kd-only-data OUT` mixes these into training: KD loss only, never CTC.
"""

import csv
import json
from pathlib import Path

import numpy as np

from ..corpus import read_corpus
from ..realcheck import frame_photo, write_still_clip
from ..teachers.mediapipe_models import ModelFiles
from ..teachers.mediapipe_run import run_corpus, summarize
from .label import load_image, read_labels

SIZE = 128                  # the generator's frame size
HAND_SHARE = (0.5, 0.75)    # hand length / frame side: the middle of synth/scene.py's HAND_HEIGHT (0.42-0.88)
OFFSET = 0.1                # palm centre from the frame centre, share of the frame (the generator: 0.14)
HAND_LENGTH_PER_PALM = 1.9  # wrist to middle fingertip / wrist to middle MCP, an open adult hand
PALM_POINTS = (0, 5, 9, 13, 17)  # wrist and the four finger MCPs: the palm's centre
MIN_HAND_PIXELS = 24        # hands smaller than this in the photo are too blurred once enlarged


def hand_length(landmarks: np.ndarray) -> float:
    """The hand's wrist-to-fingertip length in pixels, from its 21 image landmarks."""
    points = np.asarray(landmarks, dtype=np.float64)
    extent = float((points.max(axis=0) - points.min(axis=0)).max())
    palm = float(np.linalg.norm(points[9] - points[0]))
    return max(extent, HAND_LENGTH_PER_PALM * palm)


def crop_box(landmarks: np.ndarray, share: float, offset: tuple[float, float]) -> tuple[int, int, int, int]:
    """The square (x1, y1, x2, y2) whose side is hand length / share, with the palm centre at
    `offset` (share of the side) from its centre."""
    points = np.asarray(landmarks, dtype=np.float64)
    side = hand_length(points) / share
    centre = points[list(PALM_POINTS)].mean(axis=0) - np.asarray(offset) * side
    x1, y1 = centre - side / 2
    return int(round(x1)), int(round(y1)), int(round(x1 + side)), int(round(y1 + side))


def hand_crops(image: np.ndarray, landmarks: np.ndarray, count: int, rng: np.random.Generator,
               size: int = SIZE) -> list[np.ndarray]:
    """`count` size x size frames of one hand at framings drawn from HAND_SHARE and OFFSET."""
    frames = []
    for _ in range(count):
        share = float(rng.uniform(*HAND_SHARE))
        offset = (float(rng.uniform(-OFFSET, OFFSET)), float(rng.uniform(-OFFSET, OFFSET)))
        box = crop_box(landmarks, share, offset)
        # frame_photo's hand_share = 1: the box is already the whole frame.
        frames.append(frame_photo(image, box, size, hand_share=1.0))
    return frames


def make_kd_corpus(labels_path: Path, out: Path, models: ModelFiles, features: str = "embedding",
                   crops_per_hand: int = 2, frames: int = 1, seed: int = 0, limit: int | None = None,
                   min_presence: float = 0.5) -> str:
    """Write the KD-only corpus (crops, clips.csv, teacher files); a one-line summary."""
    if crops_per_hand < 1 or frames < 1:
        raise ValueError("--crops-per-hand and --frames must be at least 1")
    records = read_labels(labels_path)[:limit]
    root = labels_path.parent
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    rows, licences, small = [], {}, 0
    for record in records:
        hands = [h for h in record["hands"] if h.get("presence", 1.0) >= min_presence]
        if not hands:
            continue
        image_file = Path(record["image"]) if Path(record["image"]).is_absolute() else root / record["image"]
        image = load_image(image_file)
        stem = Path(record["image"]).stem
        for h, hand in enumerate(hands):
            landmarks = np.asarray(hand["landmarks"], dtype=np.float64)
            if hand_length(landmarks) < MIN_HAND_PIXELS:
                small += 1
                continue
            for c, frame in enumerate(hand_crops(image, landmarks, crops_per_hand, rng)):
                clip = f"y4m/{record['source']}/{stem}_h{h}_c{c}.y4m"
                write_still_clip(out / clip, frame, frames)
                rows.append({"clip": clip, "letters": "", "partition": "train", "source": record["source"]})
        licences[record["source"]] = record["licence"]
    if not rows:
        raise ValueError(f"{labels_path}: no labelled hand to crop")
    with open(out / "clips.csv", "w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=["clip", "letters", "partition", "source"])
        writer.writeheader()
        writer.writerows(rows)
    sources_file = root / "sources.json"
    sources = json.loads(sources_file.read_text(encoding="utf-8")) if sources_file.is_file() else licences
    (out / "sources.json").write_text(json.dumps(sources, indent=1) + "\n", encoding="utf-8")
    corpus = read_corpus(out, "csv", alphabet=None)
    outcomes = run_corpus(corpus, models, features, overwrite=True)
    failed = sum(bool(o.error) for o in outcomes)
    if failed:
        raise RuntimeError(f"{out}: the MediaPipe teacher failed on {failed} crops")
    return (f"{out}: {len(rows)} crops of {len(rows) // crops_per_hand} hands ({small} hands under "
            f"{MIN_HAND_PIXELS} px left out); teacher mediapipe ({features}): {summarize(outcomes)}")
