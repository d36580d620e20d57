"""The localiser's data: composed frames and their targets, the framing rule shared with real photos,
the teacher-labelled photo loader."""

import json

import numpy as np
import pytest
from PIL import Image

from dactyl_quant.holdout import EvaluationOnlyError, mark_evaluation_only
from dactyl_quant.localiser.compose import (CANONICAL_HAND_HEIGHT, MIN_VISIBLE, box_fractions, compose_frame,
                                            render_signing_hand)
from dactyl_quant.localiser.data import (compose_shard, crop_box_from_landmarks, read_real_labels, real_shard,
                                         split_real)
from dactyl_quant.synth.hand import NUM_ANGLES, HandProportions, forward_kinematics, palm_centre
from dactyl_quant.synth.scene import random_signer, sample_look


def test_signing_hand_is_framed_as_a_clip():
    """The palm centre lies on the rendered hand, and the hand's projected length is the clip's framing
    (HAND_HEIGHT 0.42-0.88 of the clip's side, give or take the hand's depth as it signs)."""
    rng = np.random.default_rng(5)
    for _ in range(3):
        signer = random_signer("train", rng)
        look = sample_look(rng, "train", signer, 160, 160)
        hand = render_signing_hand(rng, "train", signer, look, 80, "hello")
        assert hand.alpha.shape == (160, 160)
        ys, xs = np.nonzero(hand.alpha)
        assert xs.min() - 3 <= hand.palm[0] <= xs.max() + 3 and ys.min() - 3 <= hand.palm[1] <= ys.max() + 3
        assert 0.3 * 80 < hand.hand_length < 1.1 * 80


def test_composed_frames_have_boxes_on_visible_hands():
    rng = np.random.default_rng(8)
    words = ["hello", "ab"]
    with_hand = compose_frame(rng, "train", words, size=(160, 120), hand=True)
    assert with_hand.frame.shape == (120, 160, 3) and with_hand.frame.dtype == np.uint8
    cx, cy, w, h = box_fractions(with_hand)
    assert w == pytest.approx(h * 120 / 160)  # a square in pixels
    assert with_hand.info["visible"] >= MIN_VISIBLE
    x, y, side = with_hand.canvas_box
    # The canonical crop sits near the pasted clip square (the palm within ±14 % of its centre, or a
    # cut-off framing's 32 %), at a side within the framing's range of the square's.
    assert abs(cx * 160 - (x + side / 2)) < 0.45 * side and abs(cy * 120 - (y + side / 2)) < 0.45 * side
    assert 0.42 / CANONICAL_HAND_HEIGHT * 0.7 < w * 160 / side < 0.88 / CANONICAL_HAND_HEIGHT * 1.3
    empty = compose_frame(rng, "train", words, size=(160, 120), hand=False)
    assert empty.box is None and box_fractions(empty) is None and "word" not in empty.info


def test_shards_are_reproducible_by_frame():
    a = compose_shard(3, "dev", 5, 2, 48, 64)
    b = compose_shard(3, "dev", 6, 1, 48, 64)
    np.testing.assert_array_equal(a.frames[1], b.frames[0])
    np.testing.assert_array_equal(a.boxes[1], b.boxes[0])
    assert a.frames.shape == (2, 48, 64, 3) and a.boxes.shape == (2, 4, 4)


def test_landmark_framing_matches_the_generators():
    """Landmarks of the generator's open hand seen flat give its canonical crop: the palm centre and
    the open hand's length over CANONICAL_HAND_HEIGHT."""
    proportions = HandProportions()
    points = forward_kinematics(np.zeros(NUM_ANGLES), proportions).points
    landmarks = points[:, :2] * 2.0 + [100.0, 50.0]  # 2 pixels per mm, shifted
    cx, cy, side = crop_box_from_landmarks(landmarks)
    centre = palm_centre(proportions)[:2] * 2.0 + [100.0, 50.0]
    assert (cx, cy) == (pytest.approx(centre[0]), pytest.approx(centre[1]))
    assert side == pytest.approx(2.0 * points[12, 1] / CANONICAL_HAND_HEIGHT, rel=0.02)
    # A fist foreshortens the finger chain; the palm still gives the size.
    fist = landmarks.copy()
    fist[10:13] = fist[9]
    assert crop_box_from_landmarks(fist)[2] == pytest.approx(side, rel=0.05)
    with pytest.raises(ValueError, match="21 landmarks"):
        crop_box_from_landmarks(landmarks[:20])


def _landmarks_at(x: float, y: float, scale: float) -> list:
    points = forward_kinematics(np.zeros(NUM_ANGLES), HandProportions()).points[:, :2]
    return (points * [1, -1] * scale + [x, y]).round(2).tolist()  # fingers up


def _labels(folder, entries):
    (folder / "labels.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries))
    return folder / "labels.jsonl"


def test_real_labels_load_and_frame_to_four_by_three(tmp_path):
    (tmp_path / "images").mkdir()
    Image.new("RGB", (80, 60), (30, 60, 90)).save(tmp_path / "images" / "wide.jpg")
    Image.new("RGB", (64, 64), (90, 60, 30)).save(tmp_path / "images" / "square.jpg")
    hand = {"palm_box": [0, 0, 1, 1], "landmark_box": [0, 0, 1, 1], "score": 0.9, "handedness": "right"}
    path = _labels(tmp_path, [
        {"image": "images/wide.jpg", "width": 160, "height": 120, "source": "s", "licence": "CC0-1.0",
         "hands": [{**hand, "landmarks": _landmarks_at(80, 100, 0.25)},
                   {**hand, "score": 0.2, "landmarks": _landmarks_at(20, 100, 0.25)}]},
        {"image": "images/square.jpg", "width": 64, "height": 64, "source": "s", "licence": "CC0-1.0",
         "hands": [{**hand, "landmarks": _landmarks_at(32, 60, 0.1)}]},
        {"image": "images/square.jpg", "width": 64, "height": 64, "source": "s", "licence": "CC0-1.0", "hands": []},
    ])
    images = read_real_labels(path)
    assert len(images) == 2  # the image without a hand is left out
    assert len(images[0].crops) == 1  # the low-scored hand is left out
    shard = real_shard(images, 48, 64, np.random.default_rng(0))
    assert shard.frames.shape == (2, 48, 64, 3)
    # The 4:3 image is whole: the labels' pixels (160x120) scale to the file's (80x60).
    cx, cy, side = images[0].crops[0]
    np.testing.assert_allclose(shard.boxes[0, 0], [cx / 160, cy / 120, side / 160, side / 120], rtol=1e-5)
    assert np.isnan(shard.boxes[0, 1:]).all()
    # The square image is cut to 4:3 keeping the hand's centre.
    assert 0 <= shard.boxes[1, 0, 0] <= 1 and 0 <= shard.boxes[1, 0, 1] <= 1
    np.testing.assert_allclose(shard.frames[1].reshape(-1, 3).mean(axis=0), [90, 60, 30], atol=3)
    train, held = split_real(images, 0.5)
    assert train == images[:1] and held == images[1:]
    with pytest.raises(ValueError, match="hold-out share"):
        split_real(images, 1.0)


def test_real_labels_errors_name_the_line_and_evaluation_only_is_refused(tmp_path):
    path = _labels(tmp_path, [{"image": "a.jpg", "width": 10, "height": 10, "hands": []},
                              {"image": "b.jpg", "width": 10, "hands": []}])
    with pytest.raises(ValueError, match="line 2"):
        read_real_labels(path)
    bad = _labels(tmp_path, [{"image": "a.jpg", "width": 10, "height": 10, "hands": [{"landmarks": [[0, 0]]}]}])
    with pytest.raises(ValueError, match="line 1"):
        read_real_labels(bad)
    mark_evaluation_only(tmp_path, "test")
    with pytest.raises(EvaluationOnlyError):
        read_real_labels(path)
