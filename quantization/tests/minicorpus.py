"""Miniature corpora in the exact published layouts, for the training tests.

ChicagoFSWild: `ChicagoFSWild.csv` as pandas writes it (an unnamed index column first), frames
`ChicagoFSWild-Frames/<filename>/0001.jpg...`, hand boxes `BBox/<filename>/0001.txt` (one line per
hand, `x1,y1,x2,y2,flag`), and the extras the synthetic generator adds: `y4m/<filename>.y4m` and
teacher features `teachers/<name>/<filename>.npy`.
"""

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dactyl_quant.synthclip import make_frames
from dactyl_quant.y4m import Y4MFormat, read_rgb, write_rgb

HEADER = ["", "filename", "url", "start_time", "number_of_frames", "width", "height", "label_proc", "label_raw",
          "label_notes", "partition", "signer"]


@dataclass
class Clip:
    filename: str
    letters: str
    partition: str = "train"
    frames: int = 8
    width: int = 64
    height: int = 48


def teacher_features(rgb: np.ndarray, dim: int = 6) -> np.ndarray:
    """A per-frame 'pose' that depends on the frame: mean colour of two halves (learnable)."""
    left = rgb[:, :, : rgb.shape[2] // 2].reshape(len(rgb), -1, 3).mean(1)
    right = rgb[:, :, rgb.shape[2] // 2:].reshape(len(rgb), -1, 3).mean(1)
    return np.concatenate([left, right], axis=1)[:, :dim].astype(np.float32) / 255.0


def write_chicago(root: Path, clips: list[Clip], csv_name: str = "ChicagoFSWild.csv", jpg: bool = True,
                  y4m: bool = True, bbox: bool = True, teacher: str | None = "synthpose",
                  seed: int = 0) -> dict[str, np.ndarray]:
    """Writes the corpus; returns each clip's RGB frames as stored (after the Y4M round trip when
    y4m, else as generated)."""
    root.mkdir(parents=True, exist_ok=True)
    stem = csv_name[:-4]
    frames_by_name = {}
    with open(root / csv_name, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(HEADER)
        for index, clip in enumerate(clips):
            writer.writerow([index, clip.filename, f"https://example.org/{index}", "0:00:01.0", clip.frames,
                             clip.width, clip.height, clip.letters, clip.letters.upper(), "", clip.partition,
                             f"signer{index % 2}"])
            rgb = make_frames(clip.width, clip.height, clip.frames, seed + index)
            if y4m:
                path = root / "y4m" / f"{clip.filename}.y4m"
                path.parent.mkdir(parents=True, exist_ok=True)
                write_rgb(path, Y4MFormat(clip.width, clip.height), rgb)
                rgb = read_rgb(path)[1]
            if jpg:
                from PIL import Image
                folder = root / f"{stem}-Frames" / clip.filename
                folder.mkdir(parents=True, exist_ok=True)
                for t, frame in enumerate(rgb, 1):
                    # PNG-compressed content in a .jpg name would be cheating; real JPEG, top quality.
                    Image.fromarray(frame).save(folder / f"{t:04d}.jpg", quality=100)
            if bbox:
                folder = root / "BBox" / clip.filename
                folder.mkdir(parents=True, exist_ok=True)
                for t in range(1, clip.frames + 1):
                    # Two hands: the other one (flag 0) on the left, the signing hand (flag 1) on the right.
                    (folder / f"{t:04d}.txt").write_text(
                        f"2,4,12,16,0\n{clip.width - 22 + t % 2},10,{clip.width - 6 + t % 2},30,1\n")
            if teacher:
                path = root / "teachers" / teacher / f"{clip.filename}.npy"
                path.parent.mkdir(parents=True, exist_ok=True)
                np.save(path, teacher_features(rgb))
            frames_by_name[clip.filename] = rgb
    return frames_by_name


def standard_clips() -> list[Clip]:
    return [Clip("aslized/alice_0001", "abc"), Clip("aslized/alice_0002", "hello"),
            Clip("deafvideo_1/bob_0003", "a b"), Clip("deafvideo_1/bob_0004", "it's"),
            Clip("aslized/carol_0005", "ok", "dev"), Clip("aslized/carol_0006", "no.", "dev"),
            Clip("aslized/dan_0007", "x@y", "test"), Clip("aslized/dan_0008", "b&q", "test")]
