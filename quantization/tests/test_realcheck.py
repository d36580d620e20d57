"""The real-photo check's builder (on tiny images the test draws) and the guard that keeps it out of training."""

import csv
import io
import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from dactyl_quant import realcheck
from dactyl_quant.train.cli import main as train_main
from dactyl_quant.corpus import read_corpus
from dactyl_quant.holdout import MARKER, EvaluationOnlyError
from dactyl_quant.y4m import read_rgb


def hand_photo(width: int, height: int, box: tuple[int, int, int, int], background=(0, 0, 0)) -> np.ndarray:
    image = np.zeros((height, width, 3), dtype=np.uint8)
    image[:] = background
    x1, y1, x2, y2 = box
    image[y1:y2, x1:x2] = (220, 170, 140)
    return image


def jpeg(image: np.ndarray) -> bytes:
    stream = io.BytesIO()
    Image.fromarray(image).save(stream, format="JPEG", quality=95)
    return stream.getvalue()


def skin_box(frame: np.ndarray) -> tuple[int, int, int, int]:
    mask = (frame[..., 0] > 150) & (frame[..., 2] < 190) & (frame[..., 0] - frame[..., 2] > 40)
    rows, columns = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return columns[0], rows[0], columns[-1] + 1, rows[-1] + 1


def test_foreground_box_finds_a_hand_on_black():
    assert realcheck.foreground_box(hand_photo(50, 40, (10, 5, 30, 35))) == (10, 5, 30, 35)
    assert realcheck.foreground_box(np.zeros((8, 6, 3), np.uint8)) == (0, 0, 6, 8)


@pytest.mark.parametrize("box", [(40, 30, 80, 90), (0, 0, 30, 30), (70, 50, 100, 100)])
def test_frame_photo_centres_the_hand_at_the_share_of_the_frame(box):
    image = hand_photo(100, 100, box, background=(40, 60, 80))
    frame = realcheck.frame_photo(image, box, size=64, hand_share=0.5)
    assert frame.shape == (64, 64, 3)
    x1, y1, x2, y2 = skin_box(frame)
    assert abs(max(x2 - x1, y2 - y1) - 32) <= 2  # the longer side is half the frame
    assert abs((x1 + x2) / 2 - 32) <= 1.5 and abs((y1 + y2) / 2 - 32) <= 1.5
    # Where the crop leaves the photo it is filled with the border colour, not smeared skin.
    assert np.abs(frame[0, 0].astype(int) - (40, 60, 80)).max() <= 6 or box[0] > 0


def test_frame_photo_refuses_an_empty_box():
    with pytest.raises(ValueError, match="hand box"):
        realcheck.frame_photo(np.zeros((10, 10, 3), np.uint8), (5, 5, 5, 8))


def make_mirror(root, repo: str, files: dict[str, bytes]):
    """A fetched mirror as `fetch` leaves it: a bare repository at ROOT/owner+name/repo."""
    work = root / "work" / repo.replace("/", "+")
    for path, data in files.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_bytes(data)
    git = ["git", "-C", str(work), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    subprocess.run(git + ["add", "."], check=True)
    subprocess.run(git + ["commit", "-q", "-m", "photos"], check=True)
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(root / "mirror" / repo.replace("/", "+") / "repo")],
                   check=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root = tmp_path_factory.mktemp("realcheck")
    massey = {}
    for person in (1, 2):
        for letter in ("a", "v", "j"):
            for variant in ("bot", "top", "left"):
                massey[f"Dataset/nqm_dataset/asl_dataset/{letter}/hand{person}_{letter}_{variant}_seg_1_cropped.jpeg"] = \
                    jpeg(hand_photo(60, 60, (10 + person, 5, 50, 58)))
    make_mirror(root, "quangminh141005/ASL_Detection", massey)
    webcam = {"datasets/user_3/user_3_loc.csv":
              b"image,top_left_x,top_left_y,bottom_right_x,bottom_right_y\n"
              b"user_3\\A0.jpg,20,10,50,40\nuser_3\\A1.jpg,22,12,52,42\nuser_3\\Z0.jpg,20,10,50,40\n"
              b"user_3\\B0.jpg,20,10,50,40\n",  # B0.jpg is not there: left out
              "datasets/user_3/A0.jpg": jpeg(hand_photo(80, 60, (20, 10, 50, 40), (200, 200, 200))),
              "datasets/user_3/A1.jpg": jpeg(hand_photo(80, 60, (22, 12, 52, 42), (200, 200, 200))),
              "datasets/user_3/Z0.jpg": jpeg(hand_photo(80, 60, (20, 10, 50, 40), (200, 200, 200)))}
    make_mirror(root, "SahilKuchlous/SignFlow", webcam)
    out = root / "check"
    assert realcheck.main(["--out", str(out), "--mirror", str(root / "mirror"), "--per-person", "2",
                           "--size", "32", "--frames", "5"]) == 0
    return out


def test_the_builder_writes_still_clips_of_the_static_letters(built):
    with open(built / "clips.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    # Massey: 2 people x 2 static letters (J moves: left out) x 2 of 3 photos; webcam: A0, A1 (Z moves, B0 missing).
    assert sorted((r["source"], r["person"], r["letters"]) for r in rows) == sorted(
        [("massey", f"massey-{p}", letter) for p in (1, 2) for letter in "av" for _ in range(2)]
        + [("webcam", "user-3", "a")] * 2)
    assert all(r["partition"] == "test" for r in rows)
    picked = [r["photo"] for r in rows if r["person"] == "massey-1" and r["letters"] == "a"]
    assert [p.rsplit("/", 1)[1].split("_")[2] for p in picked] == ["bot", "top"]  # first and last in name order
    fmt, frames = read_rgb(built / rows[0]["clip"])
    assert frames.shape == (5, 32, 32, 3) and fmt.fps == (30, 1)
    assert (frames == frames[0]).all()  # a still clip
    assert (built / MARKER).is_file() and "quangminh141005/ASL_Detection" in (built / "sources.json").read_text()


def test_nothing_that_trains_can_read_the_check(built, capsys):
    with pytest.raises(EvaluationOnlyError, match="evaluation-only"):
        read_corpus(built, "csv")
    with pytest.raises(EvaluationOnlyError):
        read_corpus(built / "clips.csv", "csv")  # the CSV inside it, too
    with pytest.raises(EvaluationOnlyError):
        read_corpus(built, alphabet=None)  # as the teachers read it: teacher features are training data
    assert train_main(["cache", "--data", str(built), "--splits", "test"]) == 1
    assert "evaluation-only" in capsys.readouterr().err
    assert train_main(["fit", "--data", str(built), "--out", str(built.parent / "run"), "--epochs", "1"]) == 1
    assert "evaluation-only" in capsys.readouterr().err
    # Evaluation reads it.
    corpus = read_corpus(built, "csv", evaluation=True)
    assert len(corpus.split("test")) == 10


def test_a_missing_mirror_is_a_one_line_error(tmp_path, capsys):
    assert realcheck.main(["--out", str(tmp_path / "out"), "--mirror", str(tmp_path)]) == 1
    assert "no fetched mirror of" in capsys.readouterr().err
