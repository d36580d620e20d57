"""The corpus reader: ChicagoFSWild / ChicagoFSWild+ in their published layout, a generic clip CSV,
or one .y4m file; and each clip's frames and signing-hand boxes.

One reader for the trainer (`train`: labels, the clip cache, teacher files checked against clips)
and the teachers (`teachers`: they write the teacher files and need no labels). It lives at the
top of the package because both use it and neither package should import the other; it imports
numpy and the alphabet only (no torch: the cache's worker processes import it).

ChicagoFSWild layout (ChicagoFSWild+ alike, with `ChicagoFSWildPlus` for `ChicagoFSWild`):

    DIR/ChicagoFSWild.csv                      pandas-written: an unnamed index column, then
                                               filename, url, start_time, number_of_frames, width,
                                               height, label_proc, label_raw, label_notes,
                                               partition (train/dev/test), signer
    DIR/ChicagoFSWild-Frames/<filename>/0001.jpg ...   (4 digits, from 1; <filename> may hold '/')
    DIR/BBox/<filename>/0001.txt ...           optional hand boxes, one line per hand x1,y1,x2,y2,flag
                                               (flag 1: the signing hand)
    DIR/y4m/<filename>.y4m                     optional: the clip as Y4M (`--frames y4m`; what the
                                               synthetic generator writes, readable without Pillow)
    DIR/teachers/<teacher>/<filename>.npy      per-frame teacher embeddings, float32 [T, D]

Generic CSV (`--dataset csv`, e.g. the Greek corpus): columns `clip,letters[,partition]`, `clip` a
.y4m file or a folder of frame images, relative to the CSV's folder; a missing partition column
puts every row in `train`. Teacher files: `<CSV folder>/teachers/<teacher>/<clip without .y4m>.npy`.
A single .y4m file (for the teachers only: it has no letters) is a corpus of one clip named after
its stem, teacher files beside it.

Labels map through the model's alphabet. A character outside it is an error naming the row and the
character; with `skip_bad` such rows (and missing clips, teacher mismatches, ...) are skipped and
counted instead. Rows with an empty `label_proc` are always skipped and counted: the corpus has
some, and they carry nothing to train on. With `alphabet=None` (the teachers) letters are neither
required nor checked, and no row is skipped for its label.
"""

import csv
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .alphabet import CHICAGO, Alphabet
from .y4m import Y4MReader, yuv_to_rgb
from .holdout import refuse_evaluation_only

PARTITIONS = ("train", "dev", "test")
CHICAGO_STEMS = ("ChicagoFSWild", "ChicagoFSWildPlus")
CHICAGO_REQUIRED = ("filename", "number_of_frames", "label_proc", "partition")
CSV_CLIP_COLUMNS = ("clip", "path")
CSV_LETTER_COLUMNS = ("letters", "label", "text")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
SIGNING_HAND_FLAG = 1
NEEDS_PILLOW = ("reading JPEG/PNG frames needs Pillow (pip install pillow); without it use "
                "--frames y4m, or build the cache where Pillow is installed and carry it")


class DataError(ValueError):
    """A problem with the corpus, naming the file and row."""


@dataclass(frozen=True)
class Sample:
    key: str  # names the clip's teacher file and cache entry (ChicagoFSWild: its `filename`)
    source: str  # a .y4m file, or a folder of frames
    letters: str
    labels: tuple[int, ...]  # () where the corpus was read without an alphabet
    partition: str
    where: str  # "ChicagoFSWild.csv line 12 (aslized/x)": for messages
    frames: int | None = None  # the frame count the corpus states (ChicagoFSWild's number_of_frames)
    numbered_jpeg: bool = False  # frames are exactly 0001.jpg .. NNNN.jpg (ChicagoFSWild)
    bbox_dir: str | None = None

    @property
    def is_y4m(self) -> bool:
        return self.source.lower().endswith(".y4m")

    def frame_files(self) -> list[str]:
        """The image files of a folder clip, in order."""
        if self.numbered_jpeg:
            return [os.path.join(self.source, f"{i:04d}.jpg") for i in range(1, (self.frames or 0) + 1)]
        names = sorted(n for n in os.listdir(self.source) if n.lower().endswith(IMAGE_SUFFIXES))
        return [os.path.join(self.source, n) for n in names]


@dataclass
class Skipped:
    """Rows left out, by reason; with `skip_bad` False only the always-skipped reasons occur."""

    skip_bad: bool = False
    counts: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def bad(self, reason: str, message: str) -> None:
        """A bad row: an error, or with skip_bad counted and remembered."""
        if not self.skip_bad:
            raise DataError(message + " (use --skip-bad to skip and count such rows)")
        self.skip(reason, message)

    def skip(self, reason: str, message: str) -> None:
        self.counts[reason] += 1
        self.notes.append(message)

    def merge(self, other: "Skipped") -> None:
        self.counts.update(other.counts)
        self.notes.extend(other.notes)

    def summary(self) -> str:
        if not self.counts:
            return "no rows skipped"
        return "skipped " + ", ".join(f"{count} ({reason})" for reason, count in sorted(self.counts.items()))


@dataclass
class Corpus:
    name: str
    root: Path  # teacher files live under root/teachers
    samples: list[Sample]
    skipped: Skipped

    def split(self, partition: str) -> list[Sample]:
        return [s for s in self.samples if s.partition == partition]


def _row_labels(alphabet: Alphabet | None, letters: str, where: str, skipped: Skipped,
                column: str) -> tuple[int, ...] | None:
    """A row's class labels, or None when the row is skipped: an empty label (counted as such)
    or letters outside the alphabet (see `_encode`). Without an alphabet: () for every row."""
    if alphabet is None:
        return ()
    if not letters.strip():
        skipped.skip("empty label", f"{where}: empty {column}")
        return None
    return _encode(alphabet, letters, where, skipped)


def _encode(alphabet: Alphabet, letters: str, where: str, skipped: Skipped) -> tuple[int, ...] | None:
    try:
        return tuple(alphabet.encode(letters))
    except ValueError as error:
        skipped.bad("bad label", f"{where}: label {letters!r}: {error}")
        return None


def find_chicago_csv(root: Path, csv_name: str | None) -> Path:
    if csv_name:
        path = root / csv_name
        if not path.is_file():
            raise DataError(f"{path}: no such CSV file")
        return path
    found = [root / f"{stem}.csv" for stem in CHICAGO_STEMS if (root / f"{stem}.csv").is_file()]
    if not found:
        raise DataError(f"{root}: neither ChicagoFSWild.csv, ChicagoFSWildPlus.csv nor clips.csv is there")
    if len(found) > 1:
        raise DataError(f"{root}: both ChicagoFSWild.csv and ChicagoFSWildPlus.csv are there; choose one with --csv")
    return found[0]


def chicago_frames_kind(root: Path, csv_path: Path, frames: str) -> str:
    """'jpg' or 'y4m': `frames` itself, or for 'auto' whichever folder exists (JPEG first)."""
    if frames in ("jpg", "y4m"):
        return frames
    if frames != "auto":
        raise ValueError(f"frames {frames!r}: expected jpg, y4m or auto")
    if (root / f"{csv_path.stem}-Frames").is_dir():
        return "jpg"
    if (root / "y4m").is_dir():
        return "y4m"
    return "jpg"  # nothing there: a carried cache may still hold every clip


def read_chicagofswild(root: str | Path, frames: str = "auto", partitions: tuple[str, ...] | None = None,
                       alphabet: Alphabet | None = CHICAGO, skip_bad: bool = False,
                       csv_name: str | None = None) -> Corpus:
    """The rows of ChicagoFSWild.csv / ChicagoFSWildPlus.csv in `partitions` (all if None or empty).

    Clip files are not opened here (the cache may hold a clip whose frames are not on this machine):
    a missing or unreadable clip is found when the cache is built.
    """
    root = Path(root)
    csv_path = find_chicago_csv(root, csv_name)
    kind = chicago_frames_kind(root, csv_path, frames)
    frames_dir = root / f"{csv_path.stem}-Frames"
    skipped = Skipped(skip_bad)
    samples = []
    with open(csv_path, newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        missing = [c for c in CHICAGO_REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{csv_path}: no column {', '.join(missing)} in the header {reader.fieldnames}")
        for row in reader:
            filename = (row["filename"] or "").strip()
            where = f"{csv_path.name} line {reader.line_num} ({filename or 'no filename'})"
            partition = (row["partition"] or "").strip()
            if partitions and partition not in partitions:
                continue
            if partition not in PARTITIONS:
                skipped.bad("bad row", f"{where}: partition {partition!r} is not one of {', '.join(PARTITIONS)}")
                continue
            if not filename or filename.startswith("/") or ".." in Path(filename).parts:
                skipped.bad("bad row", f"{where}: filename {filename!r} is not a relative clip name")
                continue
            count_text = (row["number_of_frames"] or "").strip()
            if not count_text.isdigit() or int(count_text) < 1:
                skipped.bad("bad row", f"{where}: number_of_frames {count_text!r} is not a positive integer")
                continue
            letters = row["label_proc"] or ""
            labels = _row_labels(alphabet, letters, where, skipped, "label_proc")
            if labels is None:
                continue
            if kind == "jpg":
                source, numbered = str(frames_dir / filename), True
            else:
                source, numbered = str(root / "y4m" / f"{filename}.y4m"), False
            bbox = root / "BBox" / filename
            samples.append(Sample(key=filename, source=source, letters=letters, labels=labels, partition=partition,
                                  where=where, frames=int(count_text), numbered_jpeg=numbered,
                                  bbox_dir=str(bbox) if bbox.is_dir() else None))
    return Corpus(csv_path.stem, root, samples, skipped)


def _column(fieldnames: list[str], choices: tuple[str, ...], path: Path, required: bool) -> str | None:
    for name in choices:
        if name in fieldnames:
            return name
    if required:
        raise DataError(f"{path}: expected a column named {' or '.join(choices)}, the header is {fieldnames}")
    return None


def clip_key(clip: str) -> str:
    """The teacher/cache name of a clip path: without a .y4m suffix, '/'-separated, no leading '/'."""
    key = clip.replace(os.sep, "/").lstrip("/")
    return key[:-4] if key.lower().endswith(".y4m") else key


def read_csv_corpus(path: str | Path, partitions: tuple[str, ...] | None = None,
                    alphabet: Alphabet | None = CHICAGO, skip_bad: bool = False) -> Corpus:
    """A CSV of `clip,letters[,partition]` (a folder holding `clips.csv` may be given instead);
    without an alphabet the letters column may be absent."""
    path = Path(path)
    if path.is_dir():
        path = path / "clips.csv"
    if not path.is_file():
        raise DataError(f"{path}: no such CSV file")
    root = path.parent
    skipped = Skipped(skip_bad)
    samples = []
    with open(path, newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        fieldnames = [name.strip() for name in (reader.fieldnames or [])]
        reader.fieldnames = fieldnames
        clip_column = _column(fieldnames, CSV_CLIP_COLUMNS, path, True)
        letter_column = _column(fieldnames, CSV_LETTER_COLUMNS, path, alphabet is not None)
        partition_column = _column(fieldnames, ("partition", "split"), path, False)
        for row in reader:
            clip = (row[clip_column] or "").strip()
            where = f"{path.name} line {reader.line_num} ({clip or 'no clip'})"
            partition = (row[partition_column] or "").strip() if partition_column else "train"
            if partitions and partition not in partitions:
                continue
            if partition not in PARTITIONS:
                skipped.bad("bad row", f"{where}: partition {partition!r} is not one of {', '.join(PARTITIONS)}")
                continue
            if not clip:
                skipped.bad("bad row", f"{where}: empty clip path")
                continue
            letters = (row[letter_column] or "") if letter_column else ""
            labels = _row_labels(alphabet, letters, where, skipped, "letters")
            if labels is None:
                continue
            source = Path(clip) if Path(clip).is_absolute() else root / clip
            samples.append(Sample(key=clip_key(clip), source=str(source), letters=letters, labels=labels,
                                  partition=partition, where=where))
    return Corpus(path.stem, root, samples, skipped)


def detect_dataset(data: str | Path) -> str:
    """'y4m' for a .y4m file; 'csv' for a .csv file (other than ChicagoFSWild(Plus).csv) or a folder
    with clips.csv and no ChicagoFSWild CSV; else 'chicagofswild'."""
    data = Path(data)
    if data.suffix.lower() == ".y4m":
        return "y4m"
    if data.suffix.lower() == ".csv":
        return "chicagofswild" if data.stem in CHICAGO_STEMS else "csv"
    if data.is_dir() and (data / "clips.csv").is_file() and not any(
            (data / f"{s}.csv").is_file() for s in CHICAGO_STEMS):
        return "csv"
    return "chicagofswild"


def read_corpus(data: str | Path, dataset: str = "auto", frames: str = "auto",
                partitions: tuple[str, ...] | None = None, alphabet: Alphabet | None = CHICAGO,
                skip_bad: bool = False, csv_name: str | None = None, evaluation: bool = False) -> Corpus:
    """A ChicagoFSWild(+) folder (or its CSV), a clip CSV (or a folder with clips.csv), or with
    `alphabet=None` also a single .y4m file. Evaluation-only sets (the real-photo check) are
    refused unless `evaluation` (holdout.py): they never reach training or teacher features."""
    if not evaluation:
        refuse_evaluation_only(data)
    data = Path(data)
    if dataset == "auto":
        dataset = detect_dataset(data)
    if dataset == "chicagofswild":
        if data.suffix.lower() == ".csv":  # the CSV itself: its folder is the corpus
            data, csv_name = data.parent, data.name
        if not data.is_dir():
            raise DataError(f"{data}: no such corpus folder, CSV or .y4m file")
        return read_chicagofswild(data, frames, partitions, alphabet, skip_bad, csv_name)
    if dataset == "csv":
        return read_csv_corpus(data / csv_name if csv_name else data, partitions, alphabet, skip_bad)
    if dataset == "y4m":
        if alphabet is not None:
            raise DataError(f"{data}: a single .y4m clip has no letters; name it in a clips CSV")
        if not data.is_file():
            raise DataError(f"{data}: no such .y4m file")
        sample = Sample(data.stem, str(data), "", (), "train", str(data))
        return Corpus(data.stem, data.parent, [sample], Skipped(skip_bad))
    raise ValueError(f"dataset {dataset!r}: expected chicagofswild, csv or auto")


# ---- frames and hand boxes -------------------------------------------------------------------------

def pillow():
    """PIL.Image, or None where Pillow is not installed."""
    try:
        from PIL import Image
    except ImportError:
        return None
    return Image


def load_rgb(path: str | Path) -> np.ndarray:
    """An image file as RGB uint8 [H, W, 3] (needs Pillow)."""
    image_module = pillow()
    if image_module is None:
        raise DataError(NEEDS_PILLOW)
    with image_module.open(path) as image:
        return np.array(image.convert("RGB"), dtype=np.uint8)


def iter_rgb_frames(sample: Sample) -> Iterator[np.ndarray]:
    """uint8 RGB frames [h, w, 3] of a clip in order: a .y4m file or a folder of images."""
    if sample.is_y4m:
        reader = Y4MReader(sample.source)
        for frame in reader:
            yield yuv_to_rgb(frame, reader.format)
        return
    if pillow() is None:
        raise DataError(NEEDS_PILLOW)
    for path in sample.frame_files():
        if not os.path.isfile(path):
            raise DataError(f"{sample.where}: frame {path} is missing")
        yield load_rgb(path)


def read_frames(sample: Sample) -> list[np.ndarray]:
    """All frames of a clip; their count checked against the one the corpus states."""
    frames = list(iter_rgb_frames(sample))
    if not frames:
        raise DataError(f"{sample.where}: {sample.source} has no frames")
    if sample.frames is not None and len(frames) != sample.frames:
        raise DataError(f"{sample.where}: {sample.source} has {len(frames)} frames, the corpus says {sample.frames}")
    return frames


def read_bbox(path: str | Path) -> np.ndarray | None:
    """The signing hand's box (x1, y1, x2, y2; the first line flagged 1 with a positive size) in a
    BBox file, float64; None if the file or such a line is absent. A line that is not
    x1,y1,x2,y2,flag (commas or spaces) is an error naming the file and line."""
    try:
        stream = open(path, encoding="utf-8")
    except FileNotFoundError:
        return None
    with stream:
        for number, line in enumerate(stream, 1):
            fields = line.replace(",", " ").split()
            if not fields:
                continue
            try:
                if len(fields) < 5:
                    raise ValueError
                x1, y1, x2, y2, flag = (float(v) for v in fields[:5])
            except ValueError:
                raise DataError(f"{path} line {number}: expected x1,y1,x2,y2,flag, found {line.strip()!r}") from None
            if int(flag) == SIGNING_HAND_FLAG and x2 > x1 and y2 > y1:
                return np.array([x1, y1, x2, y2], dtype=np.float64)
    return None


def signing_boxes(bbox_dir: str | None, count: int) -> list[np.ndarray | None]:
    """Per frame of the first `count`, the signing hand's box in BBox/<filename>/NNNN.txt (a
    sample's `bbox_dir`), or None where there is none."""
    if bbox_dir is None:
        return [None] * count
    return [read_bbox(os.path.join(bbox_dir, f"{i + 1:04d}.txt")) for i in range(count)]
