"""Still single letters: the held-letter pose sequence, the still split and still clips in training."""

import csv

import numpy as np
import pytest

from dactyl_quant.synth.cli import main
from dactyl_quant.synth.still import HOLD_SECONDS, held_letter_sequence, still_letters


def read_rows(out):
    with open(out / "ChicagoFSWild.csv", newline="") as stream:
        return list(csv.DictReader(stream))


@pytest.mark.parametrize("hold", [9, 45, 60])
def test_a_static_letter_is_held_for_the_asked_frames_and_stays_still(hold):
    sequence = held_letter_sequence("v", hold, np.random.default_rng(hold), 30)
    (span,) = sequence.spans
    assert span.letter == "v" and span.end - span.start == hold
    assert 0 < span.start and span.end < sequence.num_frames  # rest and transitions around it
    held = sequence.angles[span.start + 2:span.end - 2]
    # Still: only tremor (about a degree) moves the joints during the hold, while the transitions
    # from and to the rest pose move them by tens of degrees.
    assert np.degrees(held.std(axis=0)).max() < 3.0
    assert np.degrees(np.abs(sequence.angles[0] - held.mean(axis=0)).max()) > 20.0
    positions = sequence.positions[span.start + 2:span.end - 2]
    assert np.abs(positions - positions.mean(axis=0)).max() < 8.0  # millimetres


def test_a_short_hold_is_shortened_not_refused():
    sequence = held_letter_sequence("a", 1, np.random.default_rng(1), 30)
    (span,) = sequence.spans
    assert span.end - span.start == 1 and len(sequence.angles) == sequence.num_frames == len(sequence.positions)


def test_a_motion_letter_moves_then_holds_its_end_pose():
    hold = 30
    sequence = held_letter_sequence("z", hold, np.random.default_rng(2), 30)
    (span,) = sequence.spans
    moving = span.end - span.start - hold
    assert moving >= 8  # the movement at the word pace (MOTION_HOLD_FRAMES), then the hold
    track = sequence.positions[span.start:span.end]
    travel = np.linalg.norm(np.diff(track, axis=0), axis=1)
    assert travel[:moving - 1].sum() > 3 * travel[moving + 1:].sum()  # it moves, then stays


def test_bad_letters_and_holds_are_refused():
    with pytest.raises(ValueError, match="one letter"):
        held_letter_sequence("ab", 10, np.random.default_rng(0), 30)
    with pytest.raises(ValueError, match="at least one frame"):
        held_letter_sequence("a", 0, np.random.default_rng(0), 30)


def test_still_letters_cycle_through_the_alphabet():
    letters = still_letters(53)
    assert letters[:26] == list("abcdefghijklmnopqrstuvwxyz") and letters[26:52] == letters[:26]
    assert letters[52] == "a"


def test_still_split_writes_single_letter_clips_beside_the_words(tmp_path):
    out = tmp_path / "corpus"
    words = tmp_path / "words.txt"
    words.write_text("ox\nivy\n")
    assert main(["generate", "--words", str(words), "--out", str(out), "--seed", "5", "--split", "test",
                 "--size", "32x32"]) == 0
    assert main(["generate", "--kind", "still", "--out", str(out), "--seed", "5", "--split", "test",
                 "--clips", "3", "--size", "32x32"]) == 0
    rows = read_rows(out)
    words_rows = [r for r in rows if r["filename"].startswith("synth_test/")]
    still = [r for r in rows if r["filename"].startswith("still_test/")]
    assert [r["label_proc"] for r in words_rows] == ["ox", "ivy"]  # kept
    assert [r["label_proc"] for r in still] == ["a", "b", "c"] and all(r["partition"] == "test" for r in still)
    for row in still:
        assert row["filename"].split("/")[1].split("_")[1] == row["label_proc"]
        held = float(row["label_notes"].split()[1])
        assert HOLD_SECONDS[0] - 0.02 <= held <= HOLD_SECONDS[1] + 0.02
        # The clip is at least its hold long, plus the lead-in and lead-out.
        assert int(row["number_of_frames"]) > round(held * 30)
        assert (out / "y4m" / f"{row['filename']}.y4m").is_file()  # the test split always gets Y4M


def test_still_fraction_puts_still_letters_into_a_training_split(tmp_path, capsys):
    out = tmp_path / "corpus"
    words = tmp_path / "words.txt"
    words.write_text("ox\nivy\n")
    assert main(["generate", "--words", str(words), "--out", str(out), "--seed", "6", "--clips", "8",
                 "--still-fraction", "0.25", "--size", "24x24"]) == 0
    rows = read_rows(out)
    assert [r["partition"] for r in rows] == ["train"] * 8
    assert [r["label_proc"] for r in rows if r["filename"].startswith("still_train/")] == ["a", "b"]
    assert len([r for r in rows if r["filename"].startswith("synth_train/")]) == 6
    assert main(["generate", "--words", str(words), "--out", str(out), "--seed", "6", "--still-fraction", "1"]) == 1
    assert "--still-fraction 1" in capsys.readouterr().err
