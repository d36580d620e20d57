"""evaluate-seeds: the held-out word split over several seeds, failures counted as errors; and
evaluate-dactyl's missing clips, which count as failed clips, never as skipped ones."""

import csv
import json
import stat
from pathlib import Path

import pytest

from dactyl_quant.train.cli import main as train_main
from dactyl_quant.train.evaluate_seeds import aggregate, spread
from minicorpus import Clip, write_chicago

GOLDEN = Path(__file__).resolve().parents[2] / "Tests" / "golden"


def fake_dactyl(folder: Path) -> Path:
    """Reads what the clip's name says after its last '_'; fails on *_fail.y4m."""
    fake = folder / "dactyl"
    fake.write_text("#!/bin/sh\n"
                    "echo \"$@\" >> \"$(dirname \"$0\")/arguments\"\n"
                    "name=$(basename \"$2\" .y4m)\n"
                    "read=${name##*_}\n"
                    "case \"$read\" in fail) echo 'cannot decode' >&2; exit 3;; esac\n"
                    "echo \"{\\\"letters\\\":\\\"$read\\\"}\"\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return fake


def test_spread_and_pooling():
    s = spread([1.0, 0.4, 0.8])
    assert s["mean"] == pytest.approx(0.7333333) and s["std"] == pytest.approx(0.3055050)
    assert (s["min"], s["max"]) == (0.4, 1.0)
    pooled = aggregate([{"edits": 0, "letters": 5, "clips": 2, "letter_accuracy": 1.0, "word_rate": 1.0,
                         "words_correct": 2, "failed": 0},
                        {"edits": 6, "letters": 10, "clips": 2, "letter_accuracy": 0.4, "word_rate": 0.5,
                         "words_correct": 1, "failed": 1}])
    assert pooled["pooled_letter_accuracy"] == pytest.approx(1 - 6 / 15) and pooled["failed"] == 1


def test_seeds_report_mean_and_spread_with_failures_as_errors(tmp_path):
    work = tmp_path / "work"
    # What each seed's clips read as (the name after '_'): seed 14 fails on "ivy", seed 15 reads "ax" for "ox".
    splits = {13: [("s_ox", "ox"), ("s_ivy", "ivy")], 14: [("s_ox", "ox"), ("s_fail", "ivy")],
              15: [("s_ax", "ox"), ("s_ivy", "ivy")]}
    for seed, clips in splits.items():
        write_chicago(work / f"seed-{seed}", [Clip(f"synth_test/{name}", word, "test") for name, word in clips],
                      jpg=False, bbox=False, teacher=None)
    assert train_main(["evaluate-seeds", "--model", str(GOLDEN / "tiny.dmdl"), "--dactyl", str(fake_dactyl(tmp_path)),
                       "--work", str(work), "--seeds", "13", "14", "15", "--jobs", "1", "--quiet"]) == 0
    results = json.loads((work / "results.json").read_text())
    assert [row["decoder"] for row in results["decoders"]] == ["greedy", "beam 8", "beam 8 + lexicon"]
    for row in results["decoders"]:
        assert row["letter_accuracy"]["values"] == pytest.approx([1.0, 0.4, 0.8])  # the failed "ivy": 3 errors
        assert row["letter_accuracy"]["mean"] == pytest.approx(0.7333333)
        assert row["failed"] == 1 and row["clips"] == 6 and row["words_correct"] == 4
        assert row["pooled_letter_accuracy"] == pytest.approx(1 - 4 / 15)
    lexicon_calls = [line for line in (tmp_path / "arguments").read_text().splitlines() if "--lexicon" in line]
    assert len(lexicon_calls) == 6 and str(work / "lexicon.txt") in lexicon_calls[0]
    assert "puzzle" in (work / "lexicon.txt").read_text()  # the held-out words are in the user's vocabulary
    assert "73.3 ± 30.6 %" in (work / "results.md").read_text()
    # Letters of the words over all seeds: "ivy" lost once (3 letters dropped), "o" read "a" once.
    with open(work / "letters-greedy" / "word-letters.csv", newline="") as stream:
        rows = {row["letter"]: row for row in csv.DictReader(stream)}
    assert (rows["o"]["occurrences"], rows["o"]["correct"], rows["o"]["most_read_instead"]) == ("3", "2", "a (1)")
    assert (rows["i"]["occurrences"], rows["i"]["correct"], rows["i"]["deleted"]) == ("3", "2", "1")


def test_fewer_than_three_seeds_is_an_error(tmp_path, capsys):
    assert train_main(["evaluate-seeds", "--model", str(GOLDEN / "tiny.dmdl"), "--work", str(tmp_path),
                       "--seeds", "1", "1", "2"]) == 1
    assert "at least 3 different seeds" in capsys.readouterr().err


def test_a_missing_clip_is_an_error_or_with_skip_bad_a_failed_clip(tmp_path, capsys):
    (tmp_path / "x_he.y4m").write_bytes(b"YUV4MPEG2 W2 H2\n")
    (tmp_path / "clips.csv").write_text("clip,letters,partition\nx_he.y4m,he,test\nmissing_he.y4m,coin,test\n")
    arguments = ["evaluate-dactyl", "--data", str(tmp_path / "clips.csv"), "--dataset", "csv", "--model",
                 str(GOLDEN / "tiny.dmdl"), "--dactyl", str(fake_dactyl(tmp_path)), "--jobs", "1", "--quiet"]
    assert train_main(arguments) == 1
    assert "missing_he.y4m is not an existing .y4m clip" in capsys.readouterr().err
    assert train_main(arguments + ["--skip-bad", "--json", str(tmp_path / "result.json")]) == 0
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["clips"] == 2 and result["failed"] == 1 and result["letters"] == 6
    assert result["letter_accuracy"] == pytest.approx(1 - 4 / 6)  # the missing "coin": all errors
