"""A minimal reader of the corpora the teachers run over, and the teacher files they write.

ChicagoFSWild layout (ChicagoFSWild+ alike, `ChicagoFSWildPlus` for `ChicagoFSWild`), under ROOT:

    ChicagoFSWild.csv                     unnamed index column, then filename, url, start_time,
                                          number_of_frames, width, height, label_proc, label_raw,
                                          label_notes, partition, signer
    ChicagoFSWild-Frames/<filename>/0001.jpg ... NNNN.jpg   (4 digits from 1, N = number_of_frames)
    y4m/<filename>.y4m                    the clip as Y4M instead (what the synthetic generator writes)
    BBox/<filename>/0001.txt ...          optional; lines "x1,y1,x2,y2,flag", flag 1 = signing hand
    teachers/<teacher>/<filename>.npy     what the teachers write: float32 [T, D], one row per frame

A generic CSV (`clip,letters[,partition]`, e.g. ROOT/clips.csv) names clips relative to its folder:
a .y4m file or a folder of images; its teacher files are teachers/<clip without .y4m>.npy there.
A single .y4m file is a corpus of one clip named after its stem, teachers beside it.

`filename` may hold slashes (ChicagoFSWild's do: "aslized/elsie_stecker_0291"); the teacher files
then sit in matching sub-folders. This is the teachers' own small reader; the trainer has a fuller
one (dactyl_quant/train/corpus.py) with the same layout rules.
"""

import csv
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..train.holdout import refuse_evaluation_only

CHICAGO_STEMS = ("ChicagoFSWild", "ChicagoFSWildPlus")
TEACHERS_DIR = "teachers"
SIGNING_HAND_FLAG = 1
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class Clip:
    key: str                   # names the teacher file: ChicagoFSWild's `filename`
    source: Path               # a .y4m file or a folder of frames
    frames: int | None = None  # the frame count the corpus states (number_of_frames)
    numbered_jpeg: bool = False  # frames are exactly 0001.jpg .. NNNN.jpg
    bbox_dir: Path | None = None
    partition: str = ""

    @property
    def is_y4m(self) -> bool:
        return self.source.suffix.lower() == ".y4m"

    def frame_files(self) -> list[Path]:
        if self.numbered_jpeg:
            return [self.source / f"{i:04d}.jpg" for i in range(1, (self.frames or 0) + 1)]
        return sorted(p for p in self.source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)

    def iter_frames(self) -> Iterator[np.ndarray]:
        """RGB uint8 [H, W, 3] frames in order."""
        if self.is_y4m:
            from ..y4m import read_rgb
            yield from read_rgb(self.source)[1]
            return
        for path in self.frame_files():
            if not path.is_file():
                raise FileNotFoundError(f"{self.key}: frame {path} is missing")
            yield load_rgb(path)

    def read_frames(self) -> list[np.ndarray]:
        """All frames; T = their count, checked against the stated count."""
        frames = list(self.iter_frames())
        if self.frames is not None and len(frames) != self.frames:
            raise ValueError(f"{self.key}: {self.source} has {len(frames)} frames, the corpus says {self.frames}")
        if not frames:
            raise ValueError(f"{self.key}: {self.source} has no frames")
        return frames

    def bboxes(self, count: int) -> list[np.ndarray | None]:
        """Per frame, the signing hand's box (x1, y1, x2, y2) in pixels, or None where there is none."""
        if self.bbox_dir is None:
            return [None] * count
        return [read_bbox(self.bbox_dir / f"{i + 1:04d}.txt") for i in range(count)]


def load_rgb(path: str | Path) -> np.ndarray:
    """An image file as RGB uint8 [H, W, 3] (needs Pillow)."""
    try:
        from PIL import Image
    except ImportError as error:
        raise RuntimeError("reading JPEG/PNG frames needs Pillow: pip install pillow") from error
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


def read_bbox(path: Path) -> np.ndarray | None:
    """The first box flagged as the signing hand in a BBox file; None if the file or such a box is absent."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    for line in text.splitlines():
        fields = line.replace(",", " ").split()
        if len(fields) < 5:
            continue
        try:
            x1, y1, x2, y2, flag = (float(v) for v in fields[:5])
        except ValueError:
            continue
        if int(flag) == SIGNING_HAND_FLAG and x2 > x1 and y2 > y1:
            return np.array([x1, y1, x2, y2], dtype=np.float64)
    return None


@dataclass(frozen=True)
class Corpus:
    root: Path  # teacher files go under root/teachers
    clips: list[Clip]


def _chicago_csv(root: Path) -> Path | None:
    found = [root / f"{stem}.csv" for stem in CHICAGO_STEMS if (root / f"{stem}.csv").is_file()]
    if len(found) > 1:
        raise ValueError(f"{root}: both ChicagoFSWild.csv and ChicagoFSWildPlus.csv are there")
    return found[0] if found else None


def read_chicago(root: Path, csv_path: Path, partitions: set[str] | None) -> Corpus:
    frames_dir = root / f"{csv_path.stem}-Frames"
    use_jpeg = frames_dir.is_dir() or not (root / "y4m").is_dir()
    clips = []
    with open(csv_path, newline="", encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            partition = (row.get("partition") or "").strip()
            if partitions and partition not in partitions:
                continue
            key = (row["filename"] or "").strip()
            count = int(float(row["number_of_frames"]))
            source = frames_dir / key if use_jpeg else root / "y4m" / f"{key}.y4m"
            bbox = root / "BBox" / key
            clips.append(Clip(key, source, count, use_jpeg, bbox if bbox.is_dir() else None, partition))
    return Corpus(root, clips)


def read_clip_csv(path: Path, partitions: set[str] | None) -> Corpus:
    root = path.parent
    clips = []
    with open(path, newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        reader.fieldnames = [name.strip() for name in (reader.fieldnames or [])]
        column = next((c for c in ("clip", "path") if c in reader.fieldnames), None)
        if column is None:
            raise ValueError(f"{path}: expected a column named clip or path, the header is {reader.fieldnames}")
        for row in reader:
            partition = (row.get("partition") or row.get("split") or "train").strip()
            if partitions and partition not in partitions:
                continue
            clip = (row[column] or "").strip()
            key = clip.replace(os.sep, "/").lstrip("/")
            key = key[:-4] if key.lower().endswith(".y4m") else key
            source = Path(clip) if Path(clip).is_absolute() else root / clip
            clips.append(Clip(key, source, partition=partition))
    return Corpus(root, clips)


def read_corpus(data: str | Path, partitions: set[str] | None = None) -> Corpus:
    """A ChicagoFSWild(+) root, a generic clip CSV (or a folder with clips.csv), or one .y4m file."""
    refuse_evaluation_only(data)  # teacher features are training data: never of the real-photo check
    data = Path(data)
    if data.suffix.lower() == ".y4m":
        return Corpus(data.parent, [Clip(data.stem, data)])
    if data.suffix.lower() == ".csv":
        if data.stem in CHICAGO_STEMS:
            return read_chicago(data.parent, data, partitions)
        return read_clip_csv(data, partitions)
    if not data.is_dir():
        raise FileNotFoundError(f"{data}: no such corpus folder, CSV or .y4m file")
    chicago = _chicago_csv(data)
    if chicago is not None:
        return read_chicago(data, chicago, partitions)
    if (data / "clips.csv").is_file():
        return read_clip_csv(data / "clips.csv", partitions)
    raise FileNotFoundError(f"{data}: neither ChicagoFSWild.csv, ChicagoFSWildPlus.csv nor clips.csv is there")


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
