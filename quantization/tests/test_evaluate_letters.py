"""Single-letter evaluation: readings, per-letter rates, the confusion matrix and its files."""

import csv
import json
import stat
from pathlib import Path

import pytest

from dactyl_quant.train.cli import main as train_main
from dactyl_quant.train.metrics import DELETED, NOTHING, OTHER, LetterReads, WordLetters, align, edit_distance, read_as

GOLDEN = Path(__file__).resolve().parents[2] / "Tests" / "golden"


def test_read_as_names_one_letter_nothing_or_other():
    assert read_as("r") == "r" and read_as("rr") == "r"
    assert read_as("") == NOTHING
    assert read_as("ru") == OTHER and read_as(" ") == OTHER and read_as("''") == OTHER


def test_letter_reads_count_exact_contains_doubled_and_confusion():
    reads = LetterReads()
    for letter, hypothesis in (("v", "v"), ("v", "uu"), ("v", ""), ("v", "vv"), ("r", "rr"), ("r", "ur")):
        reads.add(letter, hypothesis)
    rows = {row["letter"]: row for row in reads.rows()}
    assert (rows["v"]["clips"], rows["v"]["exact"], rows["v"]["contains"], rows["v"]["doubled"]) == (4, 1, 2, 1)
    assert rows["v"]["repeated"] == 2 and rows["v"]["nothing"] == 1
    assert rows["r"]["exact_rate"] == 0.0 and rows["r"]["contains_rate"] == 1.0 and rows["r"]["doubling_rate"] == 0.5
    assert reads.matrix(["r", "u", "v", NOTHING, OTHER]) == [[1, 0, 0, 0, 1], [0, 1, 2, 1, 0]]
    summary = reads.summary()
    assert summary["clips"] == 6 and summary["exact_rate"] == pytest.approx(1 / 6)
    assert summary["doubling_rate"] == pytest.approx(2 / 6)
    assert reads.summary(["r"])["exact_rate"] == 0.0
    with pytest.raises(ValueError, match="one letter"):
        reads.add("ab", "ab")


def test_the_most_frequent_wrong_output_is_named():
    reads = LetterReads()
    for hypothesis in ("i", "ji", "ji", "", "jj"):
        reads.add("i", hypothesis)
    reads.add("b", "b")
    rows = {row["letter"]: row for row in reads.rows()}
    assert rows["i"]["most_read_instead"] == "ji (2)" and rows["b"]["most_read_instead"] == ""
    reads.add("y", "")
    assert reads.rows()[-1]["most_read_instead"] == "nothing (1)"


def fake_dactyl(folder: Path) -> Path:
    """A stand-in for `dactyl decode`: reads what the clip's name says after the last '_'
    ("v_uu.y4m" reads "uu", "v_none.y4m" nothing); fails on clips named *_fail.y4m."""
    fake = folder / "dactyl"
    fake.write_text("#!/bin/sh\n"
                    "name=$(basename \"$2\" .y4m)\n"
                    "read=${name##*_}\n"
                    "case \"$read\" in fail) echo 'cannot decode' >&2; exit 3;; none) read='';; esac\n"
                    "echo \"{\\\"letters\\\":\\\"$read\\\"}\"\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return fake


def test_evaluate_letters_writes_tables_matrix_and_counts_failures_as_nothing(tmp_path):
    clips = {"v_v": "v", "v_uu": "u", "v_fail": "v", "r_rr": "r", "r_none": "r", "j_j": "j"}
    lines = ["clip,letters,partition"]
    for name, letter in clips.items():
        (tmp_path / f"{name}.y4m").write_bytes(b"YUV4MPEG2 W2 H2\n")
        lines.append(f"{name}.y4m,{name[0]},test")
    (tmp_path / "clips.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "results"
    assert train_main(["evaluate-letters", "--data", str(tmp_path / "clips.csv"), "--dataset", "csv", "--model",
                       str(GOLDEN / "tiny.dmdl"), "--dactyl", str(fake_dactyl(tmp_path)), "--jobs", "1", "--quiet",
                       "--out", str(out), "--command-line", "evaluate-letters ..."]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["failed"] == 1
    assert summary["static"]["clips"] == 5 and summary["static"]["exact_rate"] == pytest.approx(1 / 5)
    assert summary["static"]["doubling_rate"] == pytest.approx(1 / 5)  # "rr"
    assert summary["motion"]["letters"] == "j" and summary["motion"]["exact_rate"] == 1.0
    with open(out / "confusion.csv", newline="") as stream:
        matrix = {row["true"]: row for row in csv.DictReader(stream)}
    assert (matrix["v"]["v"], matrix["v"]["u"], matrix["v"]["nothing"]) == ("1", "1", "1")  # the failure: nothing
    assert (matrix["r"]["r"], matrix["r"]["nothing"]) == ("1", "1")
    assert sum(int(v) for k, v in matrix["v"].items() if k != "true") == 3
    with open(out / "letters.csv", newline="") as stream:
        rows = {row["letter"]: row for row in csv.DictReader(stream)}
    assert rows["r"]["doubled"] == "1" and rows["v"]["exact"] == "1"
    text = (out / "letters.md").read_text()
    assert "evaluate-letters ..." in text and "| V | 3 | 33.3 % |" in text
    assert (out / "predictions.csv").read_text().count("\n") == 7
    pytest.importorskip("matplotlib")
    assert (out / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_scoring_saved_predictions_and_refusing_words(tmp_path, capsys):
    predictions = tmp_path / "predictions.csv"
    predictions.write_text("key,reference,hypothesis\na1,a,a\nb1,b,\n")
    out = tmp_path / "out"
    assert train_main(["evaluate-letters", "--from-predictions", str(predictions), "--out", str(out)]) == 0
    assert json.loads((out / "summary.json").read_text())["static"]["exact_rate"] == 0.5
    predictions.write_text("key,reference,hypothesis\nw1,ox,ox\n")
    assert train_main(["evaluate-letters", "--from-predictions", str(predictions), "--out", str(out)]) == 1
    assert "w1: label 'ox' is not a single letter" in capsys.readouterr().err


def test_groups_of_clips_are_summarised_apart(tmp_path, capsys):
    predictions = tmp_path / "predictions.csv"
    predictions.write_text("key,reference,hypothesis\ny4m/studio/p1/a,a,a\ny4m/studio/p1/b,b,bb\n"
                           "y4m/webcam/p2/a,a,\ny4m/webcam/p2/j,j,j\n")
    out = tmp_path / "out"
    assert train_main(["evaluate-letters", "--from-predictions", str(predictions), "--out", str(out),
                       "--group-by", "^y4m/([^/]+)/"]) == 0
    groups = json.loads((out / "summary.json").read_text())["groups"]
    assert groups["studio"]["clips"] == 2 and groups["studio"]["exact_rate"] == 0.5
    assert groups["studio"]["doubling_rate"] == 0.5
    assert groups["webcam"]["clips"] == 1 and groups["webcam"]["nothing_rate"] == 1.0  # J is not static
    assert "| static, webcam | 1 | 0.0 % |" in (out / "letters.md").read_text()
    assert train_main(["evaluate-letters", "--from-predictions", str(predictions), "--out", str(out),
                       "--group-by", "(unclosed"]) == 1
    assert "--group-by '(unclosed'" in capsys.readouterr().err


def test_still_clips_are_summarised_by_how_long_the_letter_was_held(tmp_path):
    corpus = tmp_path / "still"
    corpus.mkdir()
    (corpus / "ChicagoFSWild.csv").write_text(
        ",filename,label_proc,label_notes,partition\n0,still_test/s_a_0,a,held 0.40 s,test\n"
        "1,still_test/s_a_1,a,held 1.90 s,test\n2,still_test/s_b_2,b,held 1.50 s,test\n")
    predictions = tmp_path / "predictions.csv"
    predictions.write_text("key,reference,hypothesis\nstill_test/s_a_0,a,a\nstill_test/s_a_1,a,aa\n"
                           "still_test/s_b_2,b,b\n")
    out = tmp_path / "out"
    assert train_main(["evaluate-letters", "--from-predictions", str(predictions), "--data", str(corpus),
                       "--out", str(out)]) == 0
    groups = json.loads((out / "summary.json").read_text())["groups"]
    assert list(groups) == ["held 0.3-0.7 s", "held 1.2-2 s"]
    assert groups["held 0.3-0.7 s"]["doubling_rate"] == 0.0
    assert groups["held 1.2-2 s"]["clips"] == 2 and groups["held 1.2-2 s"]["doubling_rate"] == 0.5


@pytest.mark.parametrize("hypothesis,reference", [("hallo", "hello"), ("helo", "hello"), ("xhello", "hello"),
                                                  ("", "ab"), ("ab", ""), ("ttn", "ant"), ("", "")])
def test_align_is_a_cheapest_edit_script(hypothesis, reference):
    pairs = align(hypothesis, reference)
    assert "".join(h for _, h in pairs if h) == hypothesis and "".join(r for r, _ in pairs if r) == reference
    assert sum(r != h for r, h in pairs) == edit_distance(hypothesis, reference)


def test_word_letters_count_right_substituted_dropped_and_inserted():
    letters = WordLetters()
    letters.add("hallo", "hello")  # e read as a
    letters.add("helo", "hello")   # one l dropped
    letters.add("hxi", "hi")       # x inserted
    rows = {row["letter"]: row for row in letters.rows()}
    assert (rows["e"]["occurrences"], rows["e"]["correct"], rows["e"]["most_read_instead"]) == (2, 1, "a (1)")
    assert (rows["l"]["occurrences"], rows["l"]["correct"], rows["l"]["deleted"]) == (4, 3, 1)
    assert letters.inserted["x"] == 1 and rows["h"]["correct_rate"] == 1.0
    assert letters.matrix(["a", "e", DELETED])[letters.letters().index("e")] == [1, 1, 0]
