"""The localiser's training data: composed frames cached at the localiser's input size, and real
photos labelled by a teacher (MediaPipe's hand landmarks, `realhands`' labels.jsonl).

A cache is one .npz per shard (`frames` uint8 [N, H, W, 3] already resized to the localiser's
input by the format's integer bilinear rule, so training sees the runtime's pixels; `boxes` float32
[N, K, 4] of (cx, cy, w, h) in frame fractions, NaN rows for no box; `info` JSON per frame). Frame i
of a split is composed from its own random stream (seed, split, i), so a cache can be built in
pieces or in parallel and is the same either way.
"""

import json
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..holdout import refuse_evaluation_only
from ..preprocess import Crop, crop_and_resize, resize_bilinear
from ..synth.corpus import read_words
from .compose import CANONICAL_HAND_HEIGHT, box_fractions, compose_frame

MAX_BOXES = 4  # hands per frame kept (real photos may show several)
WORDS_DIR = Path(__file__).resolve().parents[1] / "synth" / "words"


def default_cache_dir() -> Path:
    """quantization/.localiser (ignored by git), or $DACTYL_LOCALISER_CACHE."""
    explicit = os.environ.get("DACTYL_LOCALISER_CACHE")
    return Path(explicit) if explicit else Path(__file__).resolve().parents[2] / ".localiser"


def frame_rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(split.encode()), index])


def split_words(split: str) -> list[str]:
    return read_words(WORDS_DIR / f"{split}.txt")


def to_input(frame: np.ndarray, height: int, width: int) -> np.ndarray:
    """The whole frame at the localiser's input size, by the format's resize (what the runtime feeds it)."""
    return crop_and_resize(frame, Crop(0, 0, frame.shape[1], frame.shape[0]), height, width)


@dataclass
class Shard:
    frames: np.ndarray  # uint8 [N, H, W, 3]
    boxes: np.ndarray   # float32 [N, MAX_BOXES, 4], NaN: no box
    info: list[dict]

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, frames=self.frames, boxes=self.boxes, info=np.array(json.dumps(self.info)))
        tmp.replace(path)

    @staticmethod
    def load(path: Path) -> "Shard":
        with np.load(path) as data:
            return Shard(data["frames"], data["boxes"], json.loads(str(data["info"])))


def _boxes_array(boxes: list[tuple[float, float, float, float]]) -> np.ndarray:
    out = np.full((MAX_BOXES, 4), np.nan, dtype=np.float32)
    for k, box in enumerate(boxes[:MAX_BOXES]):
        out[k] = box
    return out


def compose_shard(seed: int, split: str, first: int, count: int, height: int, width: int) -> Shard:
    """Composed frames first ... first + count − 1 of a split."""
    words = split_words(split)
    frames, boxes, info = [], [], []
    for index in range(first, first + count):
        composed = compose_frame(frame_rng(seed, split, index), split, words)
        frames.append(to_input(composed.frame, height, width))
        box = box_fractions(composed)
        boxes.append(_boxes_array([box] if box else []))
        info.append({**composed.info, "index": index})
    return Shard(np.stack(frames), np.stack(boxes), info)


def build_cache(out: Path, seed: int, split: str, count: int, height: int, width: int, shard_size: int = 500,
                log=print) -> list[Path]:
    """Compose `count` frames of `split` into out/<split>-<seed>-<first>.npz shards (existing shards kept)."""
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for first in range(0, count, shard_size):
        path = out / f"{split}-{seed}-{height}x{width}-{first:06d}.npz"
        size = min(shard_size, count - first)
        if not path.exists() or len(Shard.load(path).frames) != size:
            compose_shard(seed, split, first, size, height, width).save(path)
            log(f"{path}: {size} frames")
        paths.append(path)
    return paths


def load_shards(paths: list[Path]) -> Shard:
    shards = [Shard.load(p) for p in paths]
    return Shard(np.concatenate([s.frames for s in shards]), np.concatenate([s.boxes for s in shards]),
                 [i for s in shards for i in s.info])


# ---------------------------------------------------------------------------------------------
# Real photos labelled by a teacher


def crop_box_from_landmarks(landmarks: np.ndarray) -> tuple[float, float, float]:
    """The recogniser's crop around a hand from its 21 landmarks (pixels): (cx, cy, side).

    The generator's framing rule (compose.py): centred on the palm centre (55 % of the way from the
    wrist to the middle finger's knuckle, synth.hand.palm_centre) with a side of the open hand's length
    over CANONICAL_HAND_HEIGHT. The open hand's length (wrist to middle fingertip, 188 mm on the mean
    hand) is estimated from whichever 2D measure foreshortening shrinks least: 2.02 x the palm's
    length (wrist to middle knuckle, 93 mm), 3.48 x the knuckles' width (index to little finger, 54 mm),
    or the middle finger's chain as seen."""
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape != (21, 2):
        raise ValueError(f"expected 21 landmarks (x, y), got shape {points.shape}")
    wrist, middle_mcp = points[0], points[9]
    centre = wrist + 0.55 * (middle_mcp - wrist)
    palm = np.linalg.norm(middle_mcp - wrist)
    knuckles = np.linalg.norm(points[5] - points[17])
    chain = sum(np.linalg.norm(points[b] - points[a]) for a, b in ((0, 9), (9, 10), (10, 11), (11, 12)))
    length = max(188.0 / 93.2 * palm, 188.0 / 54.0 * knuckles, chain)
    return float(centre[0]), float(centre[1]), float(length / CANONICAL_HAND_HEIGHT)


@dataclass(frozen=True)
class RealImage:
    path: Path
    width: int
    height: int
    crops: tuple[tuple[float, float, float], ...]  # (cx, cy, side) per hand, pixels
    source: str
    licence: str


def read_real_labels(path: str | Path, min_score: float = 0.5) -> list[RealImage]:
    """labels.jsonl of realhands: one JSON object per image; "image" is relative to the file's folder.
    Hands scored below `min_score` are left out; an image left with no hand is dropped (the photos
    all show hands, so the teacher's "none" is a miss, not a negative). Lines that are not valid are
    errors naming the line."""
    path = Path(path)
    refuse_evaluation_only(path)
    images = []
    with open(path, encoding="utf-8") as stream:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                hands = entry["hands"]
                crops = tuple(crop_box_from_landmarks(np.array(h["landmarks"])) for h in hands
                              if float(h.get("score", 1.0)) >= min_score)
                image = RealImage(path.parent / entry["image"], int(entry["width"]), int(entry["height"]), crops,
                                  str(entry.get("source", "")), str(entry.get("licence", "")))
            except (KeyError, TypeError, ValueError) as error:
                raise ValueError(f"{path}: line {number}: {error!r} (expected image, width, height and hands "
                                 "with 21 landmarks)") from None
            if not crops:
                continue
            images.append(image)
    return images


def split_real(images: list[RealImage], holdout_share: float) -> tuple[list[RealImage], list[RealImage]]:
    """(training images, held-out images): the last `holdout_share` of the file order is held out, a
    contiguous block, so that near-duplicate neighbours (bursts of one scene) stay on one side."""
    if not 0 <= holdout_share < 1:
        raise ValueError(f"real hold-out share {holdout_share}: expected 0 <= share < 1")
    cut = len(images) - int(round(len(images) * holdout_share))
    return images[:cut], images[cut:]


def real_shard(images: list[RealImage], height: int, width: int, rng: np.random.Generator) -> Shard:
    """Each image cut to the localiser's aspect ratio (a window that keeps the hands' centres) and resized."""
    from PIL import Image
    aspect = width / height
    frames, boxes, info = [], [], []
    for image in images:
        with Image.open(image.path) as opened:
            rgb = np.asarray(opened.convert("RGB"))
        h, w = rgb.shape[:2]
        sx, sy = w / image.width, h / image.height  # the labels' pixels to the file's
        crops = [(cx * sx, cy * sy, side * sx) for cx, cy, side in image.crops]
        if w / h > aspect:
            win_w, win_h = int(round(h * aspect)), h
        else:
            win_w, win_h = w, int(round(w / aspect))
        xs = [c[0] for c in crops] or [w / 2]
        ys = [c[1] for c in crops] or [h / 2]
        x_low, x_high = max(0, int(max(xs)) - win_w + 1), min(w - win_w, int(min(xs)))
        y_low, y_high = max(0, int(max(ys)) - win_h + 1), min(h - win_h, int(min(ys)))
        x0 = int(rng.integers(x_low, x_high + 1)) if x_low <= x_high else (w - win_w) // 2
        y0 = int(rng.integers(y_low, y_high + 1)) if y_low <= y_high else (h - win_h) // 2
        window = np.ascontiguousarray(rgb[y0:y0 + win_h, x0:x0 + win_w])
        frames.append(resize_bilinear(window, height, width))
        boxes.append(_boxes_array([((cx - x0) / win_w, (cy - y0) / win_h, side / win_w, side / win_h)
                                   for cx, cy, side in crops]))
        info.append({"image": str(image.path.name), "source": image.source, "licence": image.licence})
    return Shard(np.stack(frames), np.stack(boxes), info)


def iterate_boxes(boxes: np.ndarray) -> Iterator[tuple[float, float, float, float]]:
    """The real (non-NaN) boxes of one frame's [MAX_BOXES, 4] row."""
    for row in boxes:
        if not np.isnan(row[0]):
            yield tuple(float(v) for v in row)
