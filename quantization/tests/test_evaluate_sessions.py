"""evaluate-sessions: parsing `dactyl run` JSON lines and scoring them against session timings."""

import json
import stat

import pytest

from dactyl_quant.train.cli import main as train_main
from dactyl_quant.corpus import DataError
from dactyl_quant.train.evaluate_sessions import Word, parse_commits, score_session

TRUTH = [Word("canoe", 20, 60), Word("he", 90, 110), Word("coin", 150, 190)]


def commit(segment: int, text: str, start: int, end: int, piece: int = 0) -> str:
    return json.dumps({"type": "commit", "segment": segment, "piece": piece, "text": text, "start_frame": start,
                       "end_frame": end, "letters": [], "t_ms": 1, "latency_ms": 2.0})


def test_commit_lines_are_read_and_pieces_of_a_segment_joined():
    lines = ['{"type":"status","status":"idle","message":"","t_ms":12}',
             '{"type":"partial","segment":0,"text":"ca","t_ms":840}',
             commit(0, "can", 18, 40), "", commit(0, "oe", 41, 62, piece=1), commit(1, "he", 88, 112),
             '{"type":"stats","frames":300}']
    assert parse_commits(lines) == [Word("canoe", 18, 62), Word("he", 88, 112)]
    with pytest.raises(DataError, match="run.out: line 2: not a JSON object"):
        parse_commits([commit(0, "a", 0, 1), "dactyl: oops"], "run.out")
    with pytest.raises(DataError, match="line 1: a commit needs"):
        parse_commits(['{"type":"commit","segment":0,"text":"a"}'])


def test_a_perfect_run_scores_every_word_and_letter():
    score = score_session(TRUTH, [Word("canoe", 18, 62), Word("he", 90, 112), Word("coin", 150, 188)])
    summary = score.summary()
    assert summary["boundary_accuracy"] == 1.0 and summary["letter_accuracy"] == 1.0
    assert sorted(score.start_errors + score.end_errors) == [0, 0, 2, 2, 2, 2]
    assert summary["median_boundary_error"] == 2.0 and summary["median_start_error"] == 0.0
    assert (score.split, score.merged, score.missed, score.misplaced, score.spurious) == (0, 0, 0, 0, 0)


def test_split_merged_missed_misplaced_and_spurious_words_are_counted():
    truth = TRUTH + [Word("cold", 230, 270), Word("beach", 300, 340)]
    hypotheses = [Word("ca", 20, 38), Word("noe", 42, 60),     # canoe split in two
                  Word("hecoin", 92, 188),                     # he and coin merged
                  Word("x", 200, 205),                         # spurious: in an idle stretch
                  Word("bea", 300, 312)]                       # beach: overlapped, IoU < 0.5; cold: missed
    score = score_session(truth, hypotheses)
    assert (score.matched, score.split, score.merged, score.missed, score.misplaced, score.spurious) == (0, 1, 2, 1, 1, 1)
    reference = "canoe he coin cold beach"
    assert score.letters == len(reference)
    # "ca noe hecoin x bea": a space too many, one missing, "x" for "cold" (4), "ch" missing (2).
    assert score.edits == 8


def test_a_failed_run_counts_as_all_errors():
    score = score_session(TRUTH, None)
    assert score.failed == 1 and score.missed == 3 and score.edits == score.letters == len("canoe he coin")
    total = score_session(TRUTH, [Word("canoe", 20, 60), Word("he", 90, 110), Word("coin", 150, 190)])
    total.add(score)
    assert total.summary()["letter_accuracy"] == pytest.approx(0.5)
    assert total.summary()["boundary_accuracy"] == pytest.approx(0.5)


def test_the_command_runs_dactyl_on_every_session(tmp_path, capsys):
    for index, words in enumerate([TRUTH, TRUTH[:2]]):
        (tmp_path / f"session-{index:05d}.y4m").write_bytes(b"YUV4MPEG2 W2 H2\n")
        (tmp_path / f"session-{index:05d}.json").write_text(json.dumps({
            "clip": f"session-{index:05d}.y4m",
            "words": [{"text": w.text, "first_frame": w.first, "last_frame": w.last} for w in words]}))
    # A stand-in for `dactyl run`: session 0 reads everything right, session 1 fails.
    fake = tmp_path / "dactyl"
    fake.write_text("#!/bin/sh\n"
                    "case \"$2\" in *session-00001*) echo 'no camera' >&2; exit 1;; esac\n"
                    f"echo '{commit(0, 'canoe', 20, 60)}'\necho '{commit(1, 'he', 90, 110)}'\n"
                    f"echo '{commit(2, 'coin', 150, 190)}'\n"
                    "echo \"$@\" > \"$(dirname \"$0\")/arguments\"\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    result_file = tmp_path / "result.json"
    assert train_main(["evaluate-sessions", "--data", str(tmp_path), "--dactyl", str(fake), "--lexicon", "words.txt",
                       "--jobs", "1", "--json", str(result_file)]) == 0
    result = json.loads(result_file.read_text())
    assert result["failed"] == 1 and result["words"] == 5 and result["matched"] == 3
    assert result["letter_accuracy"] == pytest.approx(1 - len("canoe he") / (len("canoe he coin") + len("canoe he")))
    assert (tmp_path / "arguments").read_text().split()[1:] == [
        str(tmp_path / "session-00000.y4m"), "--fast", "--sink", "stdout", "--format", "jsonl", "--lexicon", "words.txt"]
    assert "exit status 1: no camera" in capsys.readouterr().out
