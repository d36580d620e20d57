"""CenterNet targets and losses, a short training run, and `localiser export` end to end."""

import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from dactyl_quant.export import read_model
from dactyl_quant.localiser.data import compose_shard
from dactyl_quant.localiser.targets import box_loss, decode, encode_box, encode_boxes, focal_loss, iou
from dactyl_quant.localiser.train import TrainSettings, box_quality, choose_presence_logit, fit
from dmdl_file import section_bytes

ROOT = Path(__file__).resolve().parents[2]
GOLDEN_RECOGNISER = ROOT / "Tests" / "golden" / "tiny.dmdl"


def test_box_targets_decode_back():
    box = (0.37, 0.81, 0.25, 0.33)
    heat, target, cell = encode_box(box, 12, 16)
    assert heat.max() == 1.0 and (heat == 1.0).sum() == 1
    assert tuple(cell) == (9, 5) and heat[9, 5] == 1.0
    box_map = np.zeros((4, 12, 16), np.float32)
    box_map[:, 9, 5] = target
    peak, decoded = decode(heat, box_map)
    assert peak == 1.0
    np.testing.assert_allclose(decoded, box, atol=1e-6)
    # A centre outside the frame (a hand cut by the edge) is pulled onto the edge cell.
    _, _, edge_cell = encode_box((-0.05, 0.5, 0.3, 0.4), 12, 16)
    assert tuple(edge_cell) == (6, 0)
    empty, _, none = encode_box(None, 12, 16)
    assert empty.max() == 0 and tuple(none) == (-1, -1)
    two, targets, cells = encode_boxes([box, (0.1, 0.1, 0.2, 0.2)], 12, 16, 4)
    assert (two == 1.0).sum() == 2 and (cells[:, 0] >= 0).sum() == 2


def test_losses_prefer_the_right_answer():
    heat_target = torch.from_numpy(encode_box((0.5, 0.5, 0.3, 0.4), 6, 8)[0])[None]
    right = torch.where(heat_target >= 1.0, 4.0, -4.0)
    assert focal_loss(right, heat_target) < focal_loss(-right, heat_target)
    assert focal_loss(torch.full((1, 6, 8), -6.0), torch.zeros(1, 6, 8)) < 0.01
    box = torch.zeros(2, 4, 6, 8)
    box[0, :, 3, 4] = torch.tensor([0.5, 0.5, 0.3, 0.4])
    target = torch.tensor([[0.5, 0.5, 0.3, 0.4], [0.0, 0.0, 0.0, 0.0]])
    cells = torch.tensor([[3, 4], [-1, -1]])
    assert box_loss(box, target, cells) == 0  # the frame without a hand is left out
    assert box_loss(box, target + 0.1, cells) == pytest.approx(0.1)


def test_box_quality_and_presence_threshold():
    boxes = np.full((3, 4, 4), np.nan, np.float32)
    boxes[0, 0] = (0.5, 0.5, 0.2, 0.2)
    boxes[1, 0] = (0.2, 0.2, 0.2, 0.2)
    predictions = [(2.0, (0.5, 0.5, 0.2, 0.2)), (1.0, (0.8, 0.8, 0.2, 0.2)), (-1.0, (0.5, 0.5, 0.1, 0.1))]
    threshold = choose_presence_logit(predictions, boxes)
    assert -1.0 < threshold <= 1.0
    quality = box_quality(predictions, boxes, threshold)
    assert quality["detection_rate"] == 0.5 and quality["false_positive_rate"] == 0.0
    assert quality["mean_iou"] == pytest.approx(0.5)
    assert iou((0, 0, 2, 2), (1, 0, 2, 2)) == pytest.approx(1 / 3)


def test_short_training_run_and_export(tmp_path):
    shard = compose_shard(4, "dev", 0, 8, 48, 64)
    result = fit(shard, shard, tmp_path / "run", TrainSettings(config="tiny", batch=4, time_budget_min=0.2,
                                                               max_epochs=2), log=lambda _: None)
    assert len(result["history"]) >= 1
    for name in ("best.pt", "last.pt", "log.jsonl"):
        assert (tmp_path / "run" / name).exists()
    out = tmp_path / "with-localiser.dmdl"
    done = subprocess.run([sys.executable, "-m", "dactyl_quant", "localiser", "export", "--recogniser",
                           str(GOLDEN_RECOGNISER), "--localiser", str(tmp_path / "run" / "best.pt"), "--out", str(out),
                           "--calib-count", "4", "--interval", "5"],
                          capture_output=True, text=True, cwd=ROOT / "quantization", timeout=300)
    assert done.returncode == 0, done.stderr
    model = read_model(out)
    assert model.localiser is not None and model.localiser.interval == 5
    assert (model.localiser.input_width, model.localiser.input_height) == (64, 48)
    assert struct.unpack_from("<HH", out.read_bytes(), 8) == (1, 2)
    # The recogniser's sections are the input's byte for byte (its DATA arrays come first).
    ours, theirs = section_bytes(out.read_bytes()), section_bytes(GOLDEN_RECOGNISER.read_bytes())
    for tag in (b"META", b"ALPH", b"INFO", b"RATE", b"TENS", b"OPS "):
        assert ours.get(tag) == theirs.get(tag), tag
    assert ours[b"DATA"][:len(theirs[b"DATA"])] == theirs[b"DATA"]
