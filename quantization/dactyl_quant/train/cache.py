"""Decode, crop and resize every clip once into a cache of uint8 arrays at the model's input size.

    <cache>/<H>x<W>-<crop policy>/<key>.npy     uint8 [T, H, W, 3], RGB
    <cache>/<H>x<W>-<crop policy>/index.json    per key: frames, crop (pixels), source stamp

The pixels are exactly the board's: YUV → RGB by `y4m.yuv_to_rgb` for .y4m clips, then
`preprocess.crop_and_resize` (the model file's fixed-point bilinear resize); training then only
normalises (and augments). Crop policies:

- `fixed`: the model's `default_crop` (thousandths of the frame), what the board uses. Synthetic
  data must use it, so that training and deployment see the same framing.
- `bbox`: for wide shots (ChicagoFSWild), a fixed square-ish crop per clip around the signing
  hand's boxes (BBox/<filename>/NNNN.txt, flag 1), falling back to `default_crop` when a clip has no
  boxes. `dactyl decode --crop` reproduces it on the board.

The cache is built in parallel worker processes (spawned: they import numpy only) and reused by
later runs; an entry is rebuilt when its source's size or modification time changed. An entry whose
source is not on this machine is trusted as it is, so a cache built where Pillow is installed can be
carried to a machine without Pillow (or without the frames).
"""

import json
import multiprocessing
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import corpus
from ..corpus import DataError, Sample, Skipped, iter_rgb_frames, signing_boxes
from ..preprocess import Crop, crop_and_resize
from .progress import Progress

INDEX = "index.json"
CACHE_VERSION = 1


@dataclass(frozen=True)
class CacheSpec:
    height: int
    width: int
    default_crop: tuple[int, int, int, int]  # thousandths of the frame
    crop_policy: str = "fixed"  # "fixed" or "bbox"
    bbox_margin: float = 1.6  # crop side / signing-hand box side

    def __post_init__(self):
        if self.crop_policy not in ("fixed", "bbox"):
            raise ValueError(f"crop policy {self.crop_policy!r}: expected fixed or bbox")

    @property
    def tag(self) -> str:
        crop = "-".join(str(v) for v in self.default_crop)
        policy = "fixed" if self.crop_policy == "fixed" else f"bbox{self.bbox_margin:g}"
        return f"{self.height}x{self.width}-{policy}-{crop}"


@dataclass(frozen=True)
class CacheEntry:
    path: str
    frames: int
    crop: tuple[int, int, int, int]  # pixels of the source frame: x, y, w, h


# ---- signing-hand crop ---------------------------------------------------------------------------

def read_signing_boxes(bbox_dir: str, frames: int) -> list[tuple[float, float, float, float]]:
    """The signing hand's box (flag 1) of every frame that has a BBox file with one."""
    return [tuple(float(v) for v in box) for box in signing_boxes(bbox_dir, frames) if box is not None]


def hand_crop(boxes: list[tuple[float, float, float, float]], frame_width: int, frame_height: int,
              aspect: float, margin: float) -> Crop:
    """One crop for the whole clip: centred on the median box centre, `margin` times the larger
    90th-percentile box side, with the model input's aspect ratio (width / height), inside the frame.
    A fixed crop per clip is what the board does (its crop does not follow the hand)."""
    b = np.asarray(boxes, dtype=np.float64)
    cx = float(np.median((b[:, 0] + b[:, 2]) / 2))
    cy = float(np.median((b[:, 1] + b[:, 3]) / 2))
    box_w = float(np.percentile(b[:, 2] - b[:, 0], 90)) * margin
    box_h = float(np.percentile(b[:, 3] - b[:, 1], 90)) * margin
    width = max(box_w, box_h * aspect, 2.0)
    height = width / aspect
    if width > frame_width:
        width, height = frame_width, frame_width / aspect
    if height > frame_height:
        width, height = frame_height * aspect, frame_height
    w = max(1, min(frame_width, round(width)))
    h = max(1, min(frame_height, round(height)))
    x = int(min(max(round(cx - w / 2), 0), frame_width - w))
    y = int(min(max(round(cy - h / 2), 0), frame_height - h))
    return Crop(x, y, w, h)


def choose_crop(spec: CacheSpec, bbox_dir: str | None, frames: int, frame_width: int, frame_height: int) -> Crop:
    if spec.crop_policy == "bbox" and bbox_dir:
        boxes = read_signing_boxes(bbox_dir, frames)
        if boxes:
            return hand_crop(boxes, frame_width, frame_height, spec.width / spec.height, spec.bbox_margin)
    return Crop.from_thousandths(spec.default_crop, frame_width, frame_height)


# ---- decoding ------------------------------------------------------------------------------------

def needs_pillow(sample: Sample) -> bool:
    return not sample.is_y4m


def load_clip(sample: Sample, spec: CacheSpec) -> tuple[np.ndarray, Crop]:
    """The clip at the model's input size, uint8 [T, H, W, 3], and the crop used."""
    out = []
    crop = None
    shape = None
    for index, rgb in enumerate(iter_rgb_frames(sample)):
        if crop is None:
            shape = rgb.shape
            crop = choose_crop(spec, sample.bbox_dir, sample.frames or 0, rgb.shape[1], rgb.shape[0])
        elif rgb.shape != shape:
            raise DataError(f"{sample.where}: frame {index + 1} is {rgb.shape[1]}x{rgb.shape[0]}, "
                            f"the first frame {shape[1]}x{shape[0]}")
        out.append(crop_and_resize(rgb, crop, spec.height, spec.width))
    if not out:
        raise DataError(f"{sample.where}: {sample.source} has no frames")
    if sample.frames is not None and len(out) != sample.frames:
        raise DataError(f"{sample.where}: {sample.source} has {len(out)} frames, the corpus says {sample.frames}")
    return np.stack(out), crop


def _stamp(source: str) -> list[int] | None:
    try:
        stat = os.stat(source)
    except OSError:
        return None
    return [int(stat.st_size), int(stat.st_mtime_ns)]


def _build_one(job: tuple[Sample, str, CacheSpec]) -> tuple[str, int, list[int], list[int] | None, str | None]:
    sample, out_path, spec = job
    try:
        stamp = _stamp(sample.source)
        clip, crop = load_clip(sample, spec)
        os.makedirs(os.path.dirname(out_path), exist_ok=True)
        temporary = f"{out_path[:-4]}.tmp{os.getpid()}.npy"
        np.save(temporary, clip)
        os.replace(temporary, out_path)
        return sample.key, len(clip), [crop.x, crop.y, crop.width, crop.height], stamp, None
    except (DataError, ValueError, OSError) as error:
        message = str(error)
        if not message.startswith(sample.where) and "Pillow" not in message:
            message = f"{sample.where}: {sample.source}: {message}"
        return sample.key, 0, [], None, message


class ClipCache:
    def __init__(self, root: str | Path, spec: CacheSpec):
        self.spec = spec
        self.dir = Path(root) / spec.tag
        self.index: dict[str, dict] = {}
        index_path = self.dir / INDEX
        if index_path.is_file():
            with open(index_path, encoding="utf-8") as stream:
                stored = json.load(stream)
            if stored.get("version") != CACHE_VERSION:
                raise DataError(f"{index_path}: cache version {stored.get('version')}, expected {CACHE_VERSION}; "
                                "delete the folder to rebuild it")
            self.index = stored["clips"]

    def path(self, key: str) -> str:
        return str(self.dir / f"{key}.npy")

    def save_index(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        temporary = self.dir / f"{INDEX}.tmp{os.getpid()}"
        with open(temporary, "w", encoding="utf-8") as stream:
            json.dump({"version": CACHE_VERSION, "spec": self.spec.__dict__, "clips": self.index}, stream)
        os.replace(temporary, self.dir / INDEX)

    def _usable(self, sample: Sample) -> bool | None:
        """True: the entry can be used; False: (re)build it; None: no entry and no source."""
        entry = self.index.get(sample.key)
        has_file = entry is not None and os.path.isfile(self.path(sample.key))
        source_stamp = _stamp(sample.source)
        if source_stamp is None:
            if not has_file:
                return None
            return sample.frames is None or entry["frames"] == sample.frames
        return has_file and entry.get("stamp") == source_stamp and (
            sample.frames is None or entry["frames"] == sample.frames)

    def ensure(self, samples: list[Sample], skipped: Skipped, workers: int = 0,
               show_progress: bool = True) -> tuple[list[Sample], dict[str, CacheEntry]]:
        """Build what is missing or stale; the samples whose clip is cached, and their entries."""
        jobs = {}
        kept = []
        for sample in samples:
            usable = self._usable(sample)
            if usable is None:
                skipped.bad("missing clip", f"{sample.where}: {sample.source} does not exist (and is not cached)")
                continue
            if usable is False and sample.key not in jobs:
                jobs[sample.key] = (sample, self.path(sample.key), self.spec)
            kept.append(sample)
        if jobs and any(needs_pillow(job[0]) for job in jobs.values()) and corpus.pillow() is None:
            raise DataError(corpus.NEEDS_PILLOW)
        failed = set()
        if jobs:
            progress = Progress(len(jobs), f"cache {self.spec.tag}", enabled=show_progress)
            try:
                for key, frames, crop, stamp, error in _run_jobs(list(jobs.values()), workers):
                    progress.update()
                    if error is not None:
                        failed.add(key)
                        if "Pillow" in error:
                            raise DataError(error)
                        skipped.bad("unreadable clip", error)
                        continue
                    self.index[key] = {"frames": frames, "crop": crop, "stamp": stamp}
                    if len(self.index) % 1000 == 0:
                        self.save_index()
            finally:
                progress.close()
                self.save_index()
        kept = [s for s in kept if s.key not in failed]
        entries = {s.key: CacheEntry(self.path(s.key), int(self.index[s.key]["frames"]),
                                     tuple(self.index[s.key]["crop"])) for s in kept}
        return kept, entries


def _run_jobs(jobs: list, workers: int):
    if workers <= 1 or len(jobs) < 2:
        for job in jobs:
            yield _build_one(job)
        return
    # spawn, not fork: the parent may already run torch threads (and CUDA), which fork would copy
    # in an undefined state.
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # inherited by the workers
        os.environ.setdefault(name, "1")
    with multiprocessing.get_context("spawn").Pool(min(workers, len(jobs))) as pool:
        yield from pool.imap_unordered(_build_one, jobs, chunksize=4)


def default_workers() -> int:
    return max(1, min(16, (os.cpu_count() or 1)))
