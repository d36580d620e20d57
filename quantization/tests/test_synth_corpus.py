"""The synthetic corpus on disk (ChicagoFSWild layout), its command line and its held-out split."""

import csv

import numpy as np
import pytest

from dactyl_quant.synth.cli import main
from dactyl_quant.synth.corpus import CSV_COLUMNS, DEFAULT_WORDS, read_words
from dactyl_quant.synth.scene import SPLIT_RANGES
from dactyl_quant.y4m import read_rgb


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A tiny corpus: three train clips with Y4M, then two test clips into the same folder."""
    out = tmp_path_factory.mktemp("synth")
    words = out / "words.txt"
    words.write_text("# a comment\nox\n\nIvy\n")
    assert main(["generate", "--words", str(words), "--out", str(out), "--seed", "3", "--clips", "3",
                 "--size", "48x40", "--y4m"]) == 0
    assert main(["generate", "--words", str(words), "--out", str(out), "--seed", "3", "--split", "test",
                 "--size", "48x40"]) == 0
    return out


def read_rows(out):
    with open(out / "ChicagoFSWild.csv", newline="") as stream:
        reader = csv.reader(stream)
        header = next(reader)
        return header, [dict(zip(header, row)) for row in reader]


def test_csv_has_chicagofswild_columns_and_both_splits(corpus):
    header, rows = read_rows(corpus)
    assert header == [""] + list(CSV_COLUMNS)
    assert [row[""] for row in rows] == [str(i) for i in range(len(rows))]
    assert [row["partition"] for row in rows] == ["train"] * 3 + ["test"] * 2
    assert {row["label_proc"] for row in rows} == {"ox", "ivy"}
    for row in rows:
        assert row["label_raw"] == row["label_proc"].upper()
        assert (row["width"], row["height"]) == ("48", "40")
        assert row["filename"].startswith(f"synth_{row['partition']}/{row['signer']}_")
        assert row["signer"].startswith(f"synth-{row['partition']}-")


def test_frames_boxes_teacher_and_y4m_match_the_csv(corpus):
    _, rows = read_rows(corpus)
    for row in rows:
        count, name = int(row["number_of_frames"]), row["filename"]
        frames = sorted((corpus / "ChicagoFSWild-Frames" / name).iterdir())
        assert [f.name for f in frames] == [f"{i:04d}.jpg" for i in range(1, count + 1)]
        boxes = sorted((corpus / "BBox" / name).iterdir())
        assert len(boxes) == count
        x1, y1, x2, y2, flag = (int(v) for v in boxes[0].read_text().strip().split(","))
        assert flag == 1 and 0 <= x1 < x2 <= 48 and 0 <= y1 < y2 <= 40
        pose = np.load(corpus / "teachers" / "synthpose" / f"{name}.npy")
        assert pose.shape == (count, 69) and pose.dtype == np.float32
        fmt, clip = read_rgb(corpus / "y4m" / f"{name}.y4m")  # train with --y4m, test always
        assert clip.shape == (count, 40, 48, 3) and fmt.fps == (30, 1) and not fmt.full_range


def test_regenerating_a_split_replaces_only_that_split(corpus, tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("ox\n")
    assert main(["generate", "--words", str(words), "--out", str(corpus), "--seed", "4", "--split", "test",
                 "--clips", "1", "--size", "48x40"]) == 0
    _, rows = read_rows(corpus)
    assert [row["partition"] for row in rows] == ["train"] * 3 + ["test"]
    assert len(list((corpus / "ChicagoFSWild-Frames" / "synth_test").iterdir())) == 1


def test_signer_pool_size_is_an_option(tmp_path, capsys):
    words = tmp_path / "words.txt"
    words.write_text("ox\n")
    out = tmp_path / "out"
    assert main(["generate", "--words", str(words), "--out", str(out), "--seed", "2", "--clips", "12",
                 "--size", "24x24", "--signers", "40"]) == 0
    _, rows = read_rows(out)
    # 12 clips drawn from a pool of 40 signers: more distinct signers than the default pool of 16 could
    # give only by chance, and every id from the larger pool.
    signers = {row["signer"] for row in rows}
    numbers = [int(s.rsplit("-", 1)[1]) for s in signers]
    assert all(0 <= n < 40 for n in numbers) and max(numbers) >= 16
    assert main(["generate", "--words", str(words), "--out", str(out), "--seed", "2", "--signers", "0"]) == 1
    assert "--signers 0" in capsys.readouterr().err


def test_bad_word_lists_are_reported(tmp_path, capsys):
    words = tmp_path / "words.txt"
    words.write_text("ok\nrock'n'roll\n")
    assert main(["generate", "--words", str(words), "--out", str(tmp_path / "out"), "--seed", "1"]) == 1
    assert "line 2" in capsys.readouterr().err


def test_held_out_test_split_shares_no_words_tones_viewpoints_or_backgrounds():
    train, dev, test = (set(read_words(DEFAULT_WORDS[split])) for split in ("train", "dev", "test"))
    assert len(train) >= 400 and len(test) >= 100
    assert not train & test and not train & dev and not dev & test
    for words in (train, dev, test):
        assert set("".join(words)) == set("abcdefghijklmnopqrstuvwxyz")
        assert all(2 <= len(word) <= 10 for word in words)
    held_out, trained = SPLIT_RANGES["test"], SPLIT_RANGES["train"]
    assert not set(held_out.skin_tones) & set(trained.skin_tones)
    assert not set(held_out.backgrounds) & set(trained.backgrounds)
    assert not set(held_out.clutter) & set(trained.clutter)
    for held_bands, train_bands in ((held_out.yaw_bands, trained.yaw_bands),
                                    (held_out.pitch_bands, trained.pitch_bands)):
        for low, high in held_bands:
            assert all(high <= train_low or low >= train_high for train_low, train_high in train_bands)
