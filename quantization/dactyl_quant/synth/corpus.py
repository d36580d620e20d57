"""A synthetic corpus on disk, in the ChicagoFSWild layout so that the same reader trains on it.

    DIR/ChicagoFSWild.csv                       unnamed index column, then filename, url, start_time,
                                                number_of_frames, width, height, label_proc, label_raw,
                                                label_notes, partition, signer
    DIR/ChicagoFSWild-Frames/<filename>/0001.jpg …  RGB frames, JPEG quality 90
    DIR/BBox/<filename>/0001.txt …              "x1,y1,x2,y2,1": the hand (no forearm), pixel edges
    DIR/teachers/synthpose/<filename>.npy       float32 [T, 69]: the generator's 3D pose (clip.py)
    DIR/y4m/<filename>.y4m                      the clip as 4:2:0 limited-range Y4M at the corpus frame rate
                                                (always for test, for other splits with --y4m)
    DIR/synth.json                              how each split was generated, and each clip's lighting set-up,
                                                camera kind, background, hand and framing ("looks")

`filename` is `synth_<split>/<signer>_<index>`. Writing a split replaces that split's clips and
rows and keeps the others', so train, dev and test can be generated into one folder one after the
other. Every clip draws from its own random stream, seeded by (seed, split, clip index): the
output does not depend on the number of workers.
"""

import csv
import json
import multiprocessing
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image

from ..y4m import Y4MFormat, write_rgb
from .clip import POSE_DIM, SynthSettings, render_clip
from .scene import OFFSET, SPLITS, Signer, make_signers
from .sequence import SPELLABLE

CSV_NAME = "ChicagoFSWild.csv"
CSV_COLUMNS = ("filename", "url", "start_time", "number_of_frames", "width", "height", "label_proc", "label_raw",
               "label_notes", "partition", "signer")
FRAMES_DIR = "ChicagoFSWild-Frames"
BBOX_DIR = "BBox"
TEACHER_DIR = "teachers/synthpose"
Y4M_DIR = "y4m"
MANIFEST = "synth.json"
JPEG_QUALITY = 90
SIGNERS = {"train": 16, "dev": 4, "test": 6}  # default signer pool of each split
WORDS_DIR = Path(__file__).parent / "words"
# Default word lists: dev and test words are disjoint from train's and from each other.
DEFAULT_WORDS = {"train": WORDS_DIR / "train.txt", "dev": WORDS_DIR / "dev.txt", "test": WORDS_DIR / "test.txt"}
# Separate random streams, under the same seed, for each split's clips, signer pool and word order.
_SPLIT_STREAM = {split: index for index, split in enumerate(SPLITS)}
_CLIP_STREAM, _SIGNER_STREAM, _WORD_ORDER_STREAM = 0, 1, 2


def read_words(path: str | Path) -> list[str]:
    """The words of a list: one per line, case ignored; blank lines and lines starting with # skipped."""
    words = []
    with open(path, encoding="utf-8") as stream:
        for number, line in enumerate(stream, 1):
            word = " ".join(line.split()).lower()
            if not word or word.startswith("#"):
                continue
            unknown = sorted(set(word) - SPELLABLE)
            if unknown:
                raise ValueError(f"{path}: line {number}: {word!r} has {''.join(unknown)!r}; the generator "
                                 "spells only letters a-z (a space is a pause)")
            words.append(word)
    if not words:
        raise ValueError(f"{path}: no words")
    return words


def clip_words(words: Sequence[str], clips: int | None, rng: np.random.Generator) -> list[str]:
    """The word of every clip: the list once in order, or `clips` words from shuffled passes over it."""
    if clips is None:
        return list(words)
    if clips < 1:
        raise ValueError(f"--clips {clips}: expected a positive number of clips")
    chosen: list[str] = []
    while len(chosen) < clips:
        chosen.extend(words[i] for i in rng.permutation(len(words)))
    return chosen[:clips]


@dataclass(frozen=True)
class _Job:
    out: Path
    seed: int
    settings: SynthSettings
    words: tuple[str, ...]
    signers: tuple[Signer, ...]
    write_y4m: bool


def _rng(seed: int, split: str, *stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, _SPLIT_STREAM[split], *stream])


def _write_clip(job: _Job, index: int) -> dict[str, str | int]:
    settings = job.settings
    rng = _rng(job.seed, settings.split, _CLIP_STREAM, index)
    signer = job.signers[rng.integers(len(job.signers))]
    word = job.words[index]
    clip = render_clip(word, rng, settings, signer)
    filename = f"synth_{settings.split}/{signer.id}_{index:05d}"

    frames_dir = job.out / FRAMES_DIR / filename
    boxes_dir = job.out / BBOX_DIR / filename
    frames_dir.mkdir(parents=True, exist_ok=True)
    boxes_dir.mkdir(parents=True, exist_ok=True)
    for number, (frame, box) in enumerate(zip(clip.frames, clip.boxes), 1):
        Image.fromarray(frame).save(frames_dir / f"{number:04d}.jpg", quality=JPEG_QUALITY)
        (boxes_dir / f"{number:04d}.txt").write_text(",".join(str(int(v)) for v in box) + ",1\n")
    teacher = job.out / TEACHER_DIR / f"{filename}.npy"
    teacher.parent.mkdir(parents=True, exist_ok=True)
    np.save(teacher, clip.pose)
    if job.write_y4m:
        clip_path = job.out / Y4M_DIR / f"{filename}.y4m"
        clip_path.parent.mkdir(parents=True, exist_ok=True)
        write_rgb(clip_path, Y4MFormat(settings.width, settings.height, fps=(settings.fps, 1)), clip.frames)
    return {"filename": filename, "url": f"synthetic://dactyl_quant.synth/{settings.split}/{job.seed}/{index}",
            "start_time": "0:00:00.000", "number_of_frames": len(clip.frames), "width": settings.width,
            "height": settings.height, "label_proc": word, "label_raw": word.upper(), "label_notes": "",
            "partition": settings.split, "signer": signer.id, "look": _look_record(clip)}


def _look_record(clip) -> dict[str, str | bool]:
    """How a clip looks, for evaluating by kind (synth.json's "looks"; not a CSV column)."""
    look = clip.look
    return {"lighting": look.lighting_setup, "camera": look.camera_kind, "background": look.background_kind,
            "left_handed": clip.signer.left_handed,
            "off_centre": bool(max(abs(v) for v in clip.viewpoint.offset) > OFFSET)}


def _other_splits_rows(csv_path: Path, split: str) -> list[dict[str, str]]:
    if not csv_path.exists():
        return []
    with open(csv_path, newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        missing = set(CSV_COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{csv_path}: not a ChicagoFSWild CSV (no {', '.join(sorted(missing))} column); "
                             "write the synthetic corpus to another folder")
        return [{column: row[column] for column in CSV_COLUMNS} for row in reader if row["partition"] != split]


def _write_csv(csv_path: Path, rows: Iterable[dict]) -> None:
    # pandas' to_csv layout, which ChicagoFSWild.csv has: an unnamed index column first.
    with open(csv_path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(("",) + CSV_COLUMNS)
        for index, row in enumerate(rows):
            writer.writerow([index] + [row[column] for column in CSV_COLUMNS])


def _update_manifest(out: Path, split: str, entry: dict) -> None:
    path = out / MANIFEST
    manifest = json.loads(path.read_text()) if path.exists() else {}
    manifest[split] = entry
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def write_corpus(words: Sequence[str], out: str | Path, seed: int, settings: SynthSettings = SynthSettings(),
                 clips: int | None = None, write_y4m: bool = False, workers: int = 1,
                 progress: Callable[[int, int], None] | None = None, signers: int | None = None) -> list[dict]:
    """Render and write one split (see the module doc); returns its CSV rows.

    `clips` clips are drawn from shuffled passes over `words` (each word once, in order, when None),
    signed by a pool of `signers` people (default SIGNERS[split]).
    The test split always gets its Y4M clips: `dactyl decode` is evaluated on them.
    """
    out = Path(out)
    split = settings.split
    write_y4m = write_y4m or split == "test"
    if seed < 0:
        raise ValueError(f"seed {seed}: expected a non-negative integer")
    chosen = clip_words(words, clips, _rng(seed, split, _WORD_ORDER_STREAM))
    if signers is not None and signers < 1:
        raise ValueError(f"--signers {signers}: expected a positive number of signers")
    signers = make_signers(split, signers or SIGNERS[split], _rng(seed, split, _SIGNER_STREAM))
    csv_path = out / CSV_NAME
    kept = _other_splits_rows(csv_path, split)
    for folder in (FRAMES_DIR, BBOX_DIR, TEACHER_DIR, Y4M_DIR):
        shutil.rmtree(out / folder / f"synth_{split}", ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)

    job = _Job(out, seed, settings, tuple(chosen), tuple(signers), write_y4m)
    write_one = partial(_write_clip, job)
    rows = []
    if workers > 1:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for row in pool.imap(write_one, range(len(chosen)), chunksize=4):
                rows.append(row)
                if progress:
                    progress(len(rows), len(chosen))
    else:
        for index in range(len(chosen)):
            rows.append(write_one(index))
            if progress:
                progress(len(rows), len(chosen))

    _write_csv(csv_path, kept + rows)
    _update_manifest(out, split, {
        "seed": seed, "clips": len(rows), "frames": sum(int(r["number_of_frames"]) for r in rows),
        "width": settings.width, "height": settings.height, "fps": settings.fps, "speed": list(settings.speed),
        "hold": list(settings.hold) if settings.hold else None, "pose_dim": POSE_DIM,
        "y4m": write_y4m, "signers": [asdict(signer) for signer in signers],
        "looks": {row["filename"]: row["look"] for row in rows}})
    return rows
