"""The localiser's evaluation support: composed word clips with their true crops, the decoded-results
parser and table, scripts/localiser_eval.sh (with a stand-in for `dactyl decode`)."""

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import numpy as np
import pytest

from dactyl_quant.localiser.clips import SIDECAR, compose_clip, read_sidecar
from dactyl_quant.localiser.score import letters_of, read_decoded, score_clips, table
from dactyl_quant.y4m import Y4MFormat, write_rgb

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "quantization" / "scripts" / "localiser_eval.sh"


def test_composed_clip_keeps_the_true_crop_inside_the_frame():
    frames, crop = compose_clip(np.random.default_rng(4), "ab", 160, 120)
    x, y, w, h = crop
    assert frames.dtype == np.uint8 and frames.shape[1:] == (120, 160, 3) and len(frames) > 5
    assert w == h and 0 <= x and 0 <= y and x + w <= 160 and y + h <= 120
    # The hand moves inside its square: frames differ there more than outside it.
    change = np.abs(frames[1:].astype(int) - frames[:-1]).mean(axis=(0, 3))
    inside = np.zeros_like(change, dtype=bool)
    inside[y:y + h, x:x + w] = True
    assert change[inside].mean() > change[~inside].mean()


def _sidecar(folder: Path, clips: list[tuple[str, str, list[int]]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SIDECAR).write_text(json.dumps({"clips": [{"clip": c, "letters": w, "crop": crop, "frames": 2}
                                                        for c, w, crop in clips]}))


def test_score_counts_edits_failures_and_missing_clips(tmp_path):
    _sidecar(tmp_path, [("a.y4m", "hello", [0, 0, 8, 8]), ("b.y4m", "abc", [1, 1, 8, 8]),
                        ("c.y4m", "xy", [0, 0, 4, 4])])
    (tmp_path / "auto.tsv").write_text("a.y4m\thelo\nb.y4m\t!exit status 1: no localiser\n")
    (tmp_path / "true.tsv").write_text("a.y4m\thello\nb.y4m\tabc\nc.y4m\txz\n")
    scores = score_clips(tmp_path, {"auto": tmp_path / "auto.tsv", "true": tmp_path / "true.tsv"})
    # auto: one deletion, b failed (3 letters), c missing (2 letters): 6 edits of 10 letters.
    assert scores["auto"]["edits"] == 6 and scores["auto"]["failed"] == 2
    assert scores["auto"]["letter_accuracy"] == pytest.approx(0.4)
    assert scores["true"]["letter_accuracy"] == pytest.approx(0.9) and scores["true"]["words_correct"] == 2
    text = table({"seed-1": scores, "seed-2": {k: {**v, "letter_accuracy": v["letter_accuracy"] - 0.1}
                                               for k, v in scores.items()}})
    assert "| seed-1 | 40.0 % (2 failed) | 90.0 % (0 failed) |" in text
    assert "| mean ± sd | 35.0 ± 7.1 % | 85.0 ± 7.1 % |" in text


def test_parsers_name_bad_input(tmp_path):
    (tmp_path / "bad.tsv").write_text("a.y4m hello\n")
    with pytest.raises(ValueError, match="bad.tsv: line 1"):
        read_decoded(tmp_path / "bad.tsv")
    _sidecar(tmp_path / "s", [("a.y4m", "x", [0, 0, 4])])
    with pytest.raises(ValueError, match="clip 0"):
        read_sidecar(tmp_path / "s" / SIDECAR)
    assert letters_of('{"frame": 1}\n{"letters": "abc", "words": 1}\n') == "abc"
    with pytest.raises(ValueError, match="no 'letters'"):
        letters_of('{"frame": 1}\n')


def test_localiser_eval_script_prints_the_table(tmp_path):
    if shutil.which("bash") is None:
        pytest.skip("no bash")
    # A stand-in dactyl: with --crop auto it reads the clip name's last letter wrong, with a true crop right.
    fake = tmp_path / "dactyl"
    fake.write_text('#!/bin/sh\nname=$(basename "$2" .y4m)\nword=${name#*_}\n'
                    'for a; do last=$a; done\n'
                    'if [ "$last" = auto ]; then word="${word%?}q"; fi\n'
                    'echo "{\\"letters\\":\\"$word\\"}"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    work = tmp_path / "work"
    for seed in (1, 2, 3):
        folder = work / f"seed-{seed}"
        _sidecar(folder, [("c0_abcd.y4m", "abcd", [0, 0, 16, 16]), ("c1_xy.y4m", "xy", [2, 2, 8, 8])])
        for name in ("c0_abcd.y4m", "c1_xy.y4m"):
            write_rgb(folder / name, Y4MFormat(16, 16), [np.zeros((16, 16, 3), np.uint8)])
    environment = dict(os.environ, SEEDS="1 2 3")
    done = subprocess.run(["bash", str(SCRIPT), str(fake), str(ROOT / "Tests" / "golden" / "localiser" /
                                                                   "tiny-localiser.dmdl"), str(work)],
                          capture_output=True, text=True, env=environment, timeout=300)
    assert done.returncode == 0, done.stderr
    # true: all 6 letters right; auto: one letter wrong per clip, 2 of 6.
    assert "| 1 |" not in done.stdout
    assert "| seed-1 | 100.0 % (0 failed) | 66.7 % (0 failed) |" in done.stdout
    assert "| mean ± sd | 100.0 ± 0.0 % | 66.7 ± 0.0 % |" in done.stdout


def test_composed_quality_on_the_golden_frames():
    """The golden localiser finds its blobs (IoU ≥ 0.5, present) and says nothing on the empty frame."""
    from dactyl_quant.export import read_model
    from dactyl_quant.localiser.data import Shard
    from dactyl_quant.localiser.evaluate import composed_quality
    from dactyl_quant.y4m import read_rgb
    golden = ROOT / "Tests" / "golden" / "localiser"
    expected = json.loads((golden / "expected.json").read_text())
    _, frames = read_rgb(golden / expected["clip"]["file"])
    boxes = np.full((len(frames), 4, 4), np.nan, np.float32)
    for index, entry in enumerate(expected["frames"]):
        truth = entry["true_box"]
        if truth:
            boxes[index, 0] = (truth["centre_x"] / 160, truth["centre_y"] / 120, truth["width"] / 160,
                               truth["height"] / 120)
    shard = Shard(frames, boxes, [{"size": [160, 120]}] * len(frames))
    quality = composed_quality(read_model(golden / expected["model"]).localiser, shard)
    assert quality["hand_frames"] == 2 and quality["empty_frames"] == 1
    assert quality["detection_rate"] == 1.0 and quality["false_positive_rate"] == 0.0
    assert 0.6 < quality["mean_iou"] < 1.0
