"""The real-photo development check: labelled photos of real hands spelling the 24 static letters,
each played as a still clip, for evaluation only (docs/real-photo-check.md).

Sources (public GitHub repositories that commit small image sets, read from a `fetch`ed mirror
with git, never copied into this repository):
- `massey`: Massey University's 2D static ASL hand gesture images (5 people, studio shots on
  black), as committed in quangminh141005/ASL_Detection (Dataset/nqm_dataset/asl_dataset/<letter>/);
- `webcam`: the webcam frames of mon95's sign-language tutorial set (7 people in an office, a hand
  box per photo in user_N_loc.csv), as committed in SahilKuchlous/SignFlow (datasets/user_N/).

Each photo is framed as the generator frames a hand (`frame_photo`): a square crop centred on the
hand's box (the set's own box, or on black backgrounds the box of the non-black pixels) whose
side is the box's longer side / `hand_share`, filled with the photo's border colour where it
leaves the photo, resized to SIZE x SIZE; then written as a FRAMES-frame still Y4M clip (4:2:0, 30 frames/s).
The folder gets `clips.csv` (clip, letters, partition=test, source, person, photo), `sources.json`
and an `EVALUATION_ONLY` marker: every training reader refuses the folder (train/holdout.py).

    python -m dactyl_quant.realcheck --out .real-photo-check [--per-person 2] [--mirror /work/.mirror]
"""

import argparse
import csv
import io
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .holdout import mark_evaluation_only
from .y4m import Y4MFormat, write_rgb

STATIC_LETTERS = "abcdefghiklmnopqrstuvwxy"  # the 24 letters without movement (J and Z move)
SIZE = 128          # the generator's frame size: the model sees the same framing
FRAMES = 20         # a still clip: the photo held for 20 frames (2/3 s at 30 frames/s)
HAND_SHARE = 0.62   # hand box side / frame side: the middle of the generator's 0.5-0.75 (scene.HAND_HEIGHT)
BLACK_THRESHOLD = 40  # a pixel brighter than this (any channel) is the hand on a black background


@dataclass(frozen=True)
class Source:
    name: str
    repo: str        # owner/name on GitHub
    licence: str     # as far as it could be established (docs/real-photo-check.md)
    setting: str


SOURCES = {
    "massey": Source("massey", "quangminh141005/ASL_Detection",
                     "repository: MIT (2025, qminhqminh); images: Massey University's ASL gesture dataset "
                     "(Barczak et al. 2011), published for research use with citation, redistributed via Kaggle "
                     "(ayuraj/asl-dataset); evaluation only, not redistributed",
                     "studio, black background, 5 people, 5 lighting set-ups"),
    "webcam": Source("webcam", "SahilKuchlous/SignFlow",
                     "no licence file (neither here nor in its origin mon95/Sign-Language-and-Static-gesture-"
                     "recognition-using-sklearn, shared with a freeCodeCamp tutorial); evaluation only, not "
                     "redistributed",
                     "office webcam 320x240, 7 people, hand box per photo"),
}


@dataclass(frozen=True)
class Photo:
    source: str
    person: str
    letter: str
    path: str        # inside the repository
    box: tuple[int, int, int, int] | None  # x1, y1, x2, y2; None: find it (black background)


def foreground_box(image: np.ndarray, threshold: int = BLACK_THRESHOLD) -> tuple[int, int, int, int]:
    """The box of the pixels brighter than `threshold` (a hand on black); the whole image if none."""
    mask = image.max(axis=2) > threshold
    if not mask.any():
        return 0, 0, image.shape[1], image.shape[0]
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return int(columns[0]), int(rows[0]), int(columns[-1]) + 1, int(rows[-1]) + 1


def frame_photo(image: np.ndarray, box: tuple[int, int, int, int], size: int = SIZE,
                hand_share: float = HAND_SHARE) -> np.ndarray:
    """A size x size RGB frame with the box centred and its longer side `hand_share` of the frame."""
    x1, y1, x2, y2 = box
    if not (x2 > x1 and y2 > y1):
        raise ValueError(f"hand box {box}: expected x1 < x2 and y1 < y2")
    if not 0.05 <= hand_share <= 1.0:
        raise ValueError(f"hand share {hand_share}: expected 0.05 to 1")
    side = max(2, round(max(x2 - x1, y2 - y1) / hand_share))
    left = round((x1 + x2) / 2 - side / 2)
    top = round((y1 + y2) / 2 - side / 2)
    height, width = image.shape[:2]
    pad = max(0, -left, -top, left + side - width, top + side - height)
    if pad:  # filled with the photo's border colour: repeating the edge would smear a hand cut by it
        border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
        padded = np.empty((height + 2 * pad, width + 2 * pad, 3), dtype=image.dtype)
        padded[:] = np.median(border, axis=0).astype(image.dtype)
        padded[pad:pad + height, pad:pad + width] = image
    else:
        padded = image
    crop = padded[top + pad:top + pad + side, left + pad:left + pad + side]
    return np.asarray(Image.fromarray(crop).resize((size, size), Image.LANCZOS))


def write_still_clip(path: Path, frame: np.ndarray, frames: int = FRAMES, fps: int = 30) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_rgb(path, Y4MFormat(frame.shape[1], frame.shape[0], fps=(fps, 1)), np.repeat(frame[None], frames, axis=0))


# Reading a fetched mirror (a bare git repository) ------------------------------------------------

def git_dir(mirror: Path, repo: str) -> Path:
    folder = mirror / repo.replace("/", "+") / "repo"
    for candidate in (folder, folder / ".git"):
        if (candidate / "objects").is_dir():
            return candidate
    raise FileNotFoundError(f"{folder}: no fetched mirror of {repo} (fetch github:{repo} first)")


def _git(directory: Path, *arguments: str) -> bytes:
    done = subprocess.run(["git", "--git-dir", str(directory), *arguments], capture_output=True)
    if done.returncode:
        raise OSError(f"git --git-dir {directory} {' '.join(arguments)}: {done.stderr.decode().strip()}")
    return done.stdout


class Mirror:
    """The files of one commit of a fetched repository."""

    def __init__(self, directory: Path, commit: str = "HEAD"):
        self.directory = directory
        self.commit = _git(directory, "rev-parse", commit).decode().strip()
        self.paths = _git(directory, "ls-tree", "-r", "--name-only", "-z", self.commit).decode().split("\0")

    def read(self, path: str) -> bytes:
        return _git(self.directory, "show", f"{self.commit}:{path}")


def list_massey(paths: list[str]) -> list[Photo]:
    pattern = re.compile(r"^Dataset/nqm_dataset/asl_dataset/([a-z])/hand(\d+)_([a-z])_\w+\.jpe?g$")
    photos = []
    for path in paths:
        match = pattern.match(path)
        if match and match.group(1) == match.group(3) and match.group(1) in STATIC_LETTERS:
            photos.append(Photo("massey", f"massey-{match.group(2)}", match.group(1), path, None))
    return photos


def list_webcam(paths: list[str], read) -> list[Photo]:
    """mon95's user_N folders; the boxes come from user_N_loc.csv (image,top_left_x,top_left_y,...)."""
    photos = []
    for csv_path in sorted(p for p in paths if re.fullmatch(r"datasets/user_\d+/user_\d+_loc\.csv", p)):
        folder = csv_path.rsplit("/", 1)[0]
        rows = csv.DictReader(io.StringIO(read(csv_path).decode("utf-8-sig")))
        for row in rows:
            name = row["image"].replace("\\", "/").rsplit("/", 1)[-1]
            match = re.fullmatch(r"([A-Z])(\d+)\.jpg", name)
            if not match or match.group(1).lower() not in STATIC_LETTERS or f"{folder}/{name}" not in paths:
                continue
            box = tuple(int(float(row[k])) for k in ("top_left_x", "top_left_y", "bottom_right_x", "bottom_right_y"))
            photos.append(Photo("webcam", folder.rsplit("/", 1)[1].replace("_", "-"), match.group(1).lower(),
                                f"{folder}/{name}", box))
    return photos


def choose(photos: list[Photo], per_person: int) -> list[Photo]:
    """`per_person` photos of each (person, letter), evenly spaced in name order (all when fewer)."""
    groups: dict[tuple[str, str], list[Photo]] = {}
    for photo in sorted(photos, key=lambda p: p.path):
        groups.setdefault((photo.person, photo.letter), []).append(photo)
    chosen = []
    for key in sorted(groups):
        group = groups[key]
        picks = sorted({round(i) for i in np.linspace(0, len(group) - 1, min(per_person, len(group)))})
        chosen.extend(group[i] for i in picks)
    return chosen


def build(out: str | Path, photos_by_source: dict[str, tuple[list[Photo], object, str]], size: int = SIZE,
          frames: int = FRAMES, hand_share: float = HAND_SHARE) -> list[dict]:
    """Write the clips of the chosen photos; `photos_by_source[name]` = (photos, read(path) -> bytes, commit)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, (photos, read, _) in photos_by_source.items():
        for photo in photos:
            image = np.asarray(Image.open(io.BytesIO(read(photo.path))).convert("RGB"))
            box = photo.box or foreground_box(image)
            stem = Path(photo.path).stem
            clip = f"y4m/{photo.source}/{photo.person}/{photo.letter}_{stem}.y4m"
            write_still_clip(out / clip, frame_photo(image, box, size, hand_share), frames)
            rows.append({"clip": clip, "letters": photo.letter, "partition": "test", "source": photo.source,
                         "person": photo.person, "photo": photo.path})
    with open(out / "clips.csv", "w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=["clip", "letters", "partition", "source", "person", "photo"])
        writer.writeheader()
        writer.writerows(rows)
    sources = {name: {"repo": SOURCES[name].repo if name in SOURCES else name, "commit": commit,
                      "licence": SOURCES[name].licence if name in SOURCES else "", "photos": len(photos),
                      "people": len({p.person for p in photos})}
               for name, (photos, _, commit) in photos_by_source.items()}
    (out / "sources.json").write_text(json.dumps(sources, indent=1) + "\n", encoding="utf-8")
    mark_evaluation_only(out, "Real photos of fingerspelled letters from public repositories "
                              "(docs/real-photo-check.md): for evaluation only, never for training.")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dactyl_quant.realcheck", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, metavar="DIR", help="the check's folder (keep it out of git)")
    parser.add_argument("--mirror", default="/work/.mirror", metavar="DIR", help="where fetched repositories are")
    parser.add_argument("--sources", nargs="+", choices=sorted(SOURCES), default=sorted(SOURCES))
    parser.add_argument("--per-person", type=int, default=2, metavar="N",
                        help="photos per person and letter (default 2: 12 people x 24 letters x 2 = 576 clips)")
    parser.add_argument("--size", type=int, default=SIZE, help=f"frame side in pixels (default {SIZE})")
    parser.add_argument("--frames", type=int, default=FRAMES, help=f"frames per still clip (default {FRAMES})")
    parser.add_argument("--hand-share", type=float, default=HAND_SHARE,
                        help=f"hand box side / frame side (default {HAND_SHARE})")
    args = parser.parse_args(argv)
    if args.per_person < 1 or args.frames < 1 or args.size < 16:
        parser.error("--per-person and --frames must be positive, --size at least 16")
    try:
        chosen = {}
        for name in args.sources:
            mirror = Mirror(git_dir(Path(args.mirror), SOURCES[name].repo))
            photos = list_massey(mirror.paths) if name == "massey" else list_webcam(mirror.paths, mirror.read)
            if not photos:
                raise ValueError(f"{SOURCES[name].repo} at {mirror.commit}: none of the expected photos")
            chosen[name] = (choose(photos, args.per_person), mirror.read, mirror.commit)
        rows = build(args.out, chosen, args.size, args.frames, args.hand_share)
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    people = len({(r["source"], r["person"]) for r in rows})
    print(f"{args.out}: {len(rows)} still clips of {len({r['letters'] for r in rows})} letters by {people} people "
          f"({', '.join(f'{n}: {len(p)}' for n, (p, _, _) in chosen.items())})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
