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

`filename` is `synth_<split>/<signer>_<index>` for word clips and `still_<split>/<signer>_<letter>_<index>`
for still-letter clips (`kind="still"`, still.py: one letter held 0.3-2 s, labelled with that letter).
Writing a split of a kind replaces that split's clips and rows of that kind and keeps the others',
so train, dev, test and the still-letter clips can be generated into one folder one after the
other (a training split with still clips in it: `still_fraction`, or a still split beside it).
Every clip draws from its own random stream, seeded by (seed, split, kind, clip index): the output
does not depend on the number of workers.
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
from .alphabet_shapes import LETTERS
from .clip import POSE_DIM, SynthSettings, render_clip
from .scene import OFFSET, SPLITS, Signer, make_signers
from .sequence import SPELLABLE
from .still import render_still_clip, still_letters

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
_STILL_CLIP_STREAM = 4  # (3 is session.py's)
KINDS = ("words", "still")


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
    kind: str = "words"  # or "still": `words` are then the held letters


def _prefix(kind: str, split: str) -> str:
    return f"{'still' if kind == 'still' else 'synth'}_{split}"


def _rng(seed: int, split: str, *stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, _SPLIT_STREAM[split], *stream])


def _write_clip(job: _Job, index: int) -> dict[str, str | int]:
    settings = job.settings
    still = job.kind == "still"
    rng = _rng(job.seed, settings.split, _STILL_CLIP_STREAM if still else _CLIP_STREAM, index)
    signer = job.signers[rng.integers(len(job.signers))]
    word = job.words[index]
    notes = ""
    if still:
        held = render_still_clip(word, rng, settings, signer)
        clip, notes = held.clip, f"held {held.hold_seconds:.2f} s"
        filename = f"{_prefix(job.kind, settings.split)}/{signer.id}_{word}_{index:05d}"
    else:
        clip = render_clip(word, rng, settings, signer)
        filename = f"{_prefix(job.kind, settings.split)}/{signer.id}_{index:05d}"

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
    return {"filename": filename,
            "url": f"synthetic://dactyl_quant.synth/{settings.split}{'/still' if still else ''}/{job.seed}/{index}",
            "start_time": "0:00:00.000", "number_of_frames": len(clip.frames), "width": settings.width,
            "height": settings.height, "label_proc": word, "label_raw": word.upper(), "label_notes": notes,
            "partition": settings.split, "signer": signer.id, "look": _look_record(clip)}


def _look_record(clip) -> dict[str, str | bool]:
    """How a clip looks, for evaluating by kind (synth.json's "looks"; not a CSV column)."""
    look = clip.look
    return {"lighting": look.lighting_setup, "camera": look.camera_kind, "background": look.background_kind,
            "left_handed": clip.signer.left_handed,
            "off_centre": bool(max(abs(v) for v in clip.viewpoint.offset) > OFFSET)}


def _other_rows(csv_path: Path, prefixes: tuple[str, ...]) -> list[dict[str, str]]:
    """The rows of other splits and kinds: those whose filename starts with none of `prefixes`."""
    if not csv_path.exists():
        return []
    with open(csv_path, newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        missing = set(CSV_COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{csv_path}: not a ChicagoFSWild CSV (no {', '.join(sorted(missing))} column); "
                             "write the synthetic corpus to another folder")
        return [{column: row[column] for column in CSV_COLUMNS} for row in reader
                if not row["filename"].startswith(prefixes)]


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


def _render_rows(job: _Job, workers: int, progress: Callable[[int], None]) -> list[dict]:
    out, prefix = job.out, _prefix(job.kind, job.settings.split)
    for folder in (FRAMES_DIR, BBOX_DIR, TEACHER_DIR, Y4M_DIR):
        shutil.rmtree(out / folder / prefix, ignore_errors=True)
    write_one = partial(_write_clip, job)
    rows = []
    if workers > 1:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for row in pool.imap(write_one, range(len(job.words)), chunksize=4):
                rows.append(row)
                progress(1)
    else:
        for index in range(len(job.words)):
            rows.append(write_one(index))
            progress(1)
    return rows


STILL_CLIPS_PER_LETTER = 8  # default size of a still split: 208 clips


def write_corpus(words: Sequence[str], out: str | Path, seed: int, settings: SynthSettings = SynthSettings(),
                 clips: int | None = None, write_y4m: bool = False, workers: int = 1,
                 progress: Callable[[int, int], None] | None = None, signers: int | None = None,
                 kind: str = "words", still_fraction: float = 0.0) -> list[dict]:
    """Render and write one split (see the module doc); returns its CSV rows.

    kind "words": `clips` clips are drawn from shuffled passes over `words` (each word once, in
    order, when None), signed by a pool of `signers` people (default SIGNERS[split]); with
    `still_fraction` F, that share of the `clips` are still-letter clips instead (still.py), so
    that a model trained on the split learns that a held letter reads once.
    kind "still": `clips` still-letter clips (default 8 per letter), every letter a-z equally
    often, `words` unused.
    The test split always gets its Y4M clips: `dactyl decode` is evaluated on them.
    """
    out = Path(out)
    split = settings.split
    write_y4m = write_y4m or split == "test"
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r}: expected one of {', '.join(KINDS)}")
    if seed < 0:
        raise ValueError(f"seed {seed}: expected a non-negative integer")
    if not 0.0 <= still_fraction < 1.0 or (still_fraction and kind == "still"):
        raise ValueError(f"--still-fraction {still_fraction}: expected a share in [0, 1) of a words split")
    if signers is not None and signers < 1:
        raise ValueError(f"--signers {signers}: expected a positive number of signers")
    if kind == "still":
        word_clips, still_clips = [], still_letters(clips or STILL_CLIPS_PER_LETTER * len(LETTERS))
    else:
        word_clips = clip_words(words, clips, _rng(seed, split, _WORD_ORDER_STREAM))
        still_count = round(still_fraction * len(word_clips))
        word_clips, still_clips = word_clips[:len(word_clips) - still_count], still_letters(still_count)
    signers = make_signers(split, signers or SIGNERS[split], _rng(seed, split, _SIGNER_STREAM))
    csv_path = out / CSV_NAME
    jobs = []
    if kind == "words":
        jobs.append(_Job(out, seed, settings, tuple(word_clips), tuple(signers), write_y4m, "words"))
    if still_clips:
        jobs.append(_Job(out, seed, settings, tuple(still_clips), tuple(signers), write_y4m, "still"))
    kept = _other_rows(csv_path, tuple(_prefix(job.kind, split) + "/" for job in jobs))
    out.mkdir(parents=True, exist_ok=True)

    total = sum(len(job.words) for job in jobs)
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        if progress:
            progress(done, total)

    rows = [row for job in jobs for row in _render_rows(job, workers, advance)]
    _write_csv(csv_path, kept + rows)
    _update_manifest(out, split if kind == "words" else f"{split}-still", {
        "seed": seed, "clips": len(rows), "still_clips": len(still_clips),
        "frames": sum(int(r["number_of_frames"]) for r in rows),
        "width": settings.width, "height": settings.height, "fps": settings.fps, "speed": list(settings.speed),
        "hold": list(settings.hold) if settings.hold else None, "pose_dim": POSE_DIM,
        "y4m": write_y4m, "signers": [asdict(signer) for signer in signers],
        "looks": {row["filename"]: row["look"] for row in rows}})
    return rows
