"""evaluate-dactyl: the lexicon and LM options reach `dactyl decode`; failed decodes count as errors."""

import json
import stat
from pathlib import Path

import pytest

from dactyl_quant.train.cli import main as train_main

GOLDEN = Path(__file__).resolve().parents[2] / "Tests" / "golden"


def test_options_reach_dactyl_and_failures_count_as_errors(tmp_path):
    for name in ("one", "two"):
        (tmp_path / f"{name}.y4m").write_bytes(b"YUV4MPEG2 W2 H2\n")
    (tmp_path / "clips.csv").write_text("clip,letters,partition\none.y4m,he,test\ntwo.y4m,coin,test\n")
    fake = tmp_path / "dactyl"
    # A stand-in for `dactyl decode`: reads "he" right, fails on the second clip.
    fake.write_text("#!/bin/sh\n"
                    "echo \"$@\" >> \"$(dirname \"$0\")/arguments\"\n"
                    "case \"$2\" in *two.y4m) echo 'broken clip' >&2; exit 1;; esac\n"
                    "echo '{\"letters\":\"he\"}'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    result_file = tmp_path / "result.json"
    assert train_main(["evaluate-dactyl", "--data", str(tmp_path / "clips.csv"), "--dataset", "csv", "--model",
                       str(GOLDEN / "tiny.dmdl"), "--dactyl", str(fake), "--split", "test", "--beam", "8",
                       "--lexicon", "words.txt", "--lm", "lm.dclm", "--lm-weight", "0.25", "--jobs", "1", "--quiet",
                       "--json", str(result_file)]) == 0
    result = json.loads(result_file.read_text())
    assert result["failed"] == 1 and result["clips"] == 2 and result["words_correct"] == 1
    assert result["letter_accuracy"] == pytest.approx(1 - 4 / 6)  # "coin" wholly wrong, "he" right
    first = (tmp_path / "arguments").read_text().splitlines()[0].split()
    assert first[first.index("--beam"):] == ["--beam", "8", "--lexicon", "words.txt", "--lm", "lm.dclm",
                                             "--lm-weight", "0.25"]


def test_a_lexicon_without_the_beam_search_is_an_error(tmp_path, capsys):
    (tmp_path / "clips.csv").write_text("clip,letters,partition\n")
    assert train_main(["evaluate-dactyl", "--data", str(tmp_path / "clips.csv"), "--dataset", "csv", "--model",
                       str(GOLDEN / "tiny.dmdl"), "--lexicon", "words.txt"]) == 1
    assert "need the beam search" in capsys.readouterr().err
