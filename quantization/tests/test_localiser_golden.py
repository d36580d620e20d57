"""The committed localiser golden vectors (Tests/golden/localiser) are what the code makes."""

import importlib.util
import json
from pathlib import Path

import pytest

from dactyl_quant.export import read_model
from dactyl_quant.reference import localiser_input, read_box, run_localiser
from dactyl_quant.y4m import read_rgb

GOLDEN = Path(__file__).resolve().parents[2] / "Tests" / "golden" / "localiser"
SCRIPT = "make_localiser_golden.py"


@pytest.fixture(scope="module")
def expected():
    return json.loads((GOLDEN / "expected.json").read_text())


def test_reference_reproduces_the_committed_tensors(expected):
    model = read_model(GOLDEN / expected["model"])
    localiser = model.localiser
    _, frames = read_rgb(GOLDEN / expected["clip"]["file"])
    cells = (expected["localiser"]["cells_h"], expected["localiser"]["cells_w"])
    for entry, rgb in zip(expected["frames"], frames, strict=True):
        heat, box = run_localiser(localiser, rgb)
        assert heat.shape == (*cells, 1) and box.shape == (*cells, 4)
        assert localiser_input(localiser, rgb).tobytes() == (GOLDEN / entry["input"]).read_bytes()
        assert heat.tobytes() == (GOLDEN / entry["heat"]).read_bytes()
        assert box.tobytes() == (GOLDEN / entry["box"]).read_bytes()
        read = read_box(localiser, heat, box, rgb.shape[1], rgb.shape[0])
        assert list(read.cell) == entry["peak_cell"] and read.present == entry["present"]
        for key in ("centre_x", "centre_y", "width", "height", "peak_logit"):
            assert getattr(read, key) == pytest.approx(entry[key], abs=1e-3)


def test_golden_boxes_find_the_blob(expected):
    """The golden model is a working localiser: present where the blob is, near its true box, absent
    on the empty frame (with a clear margin from presence_logit either way)."""
    threshold = expected["localiser"]["presence_logit"]
    for entry in expected["frames"]:
        truth = entry["true_box"]
        if truth is None:
            assert not entry["present"] and entry["peak_logit"] < threshold - 1
            continue
        assert entry["present"] and entry["peak_logit"] > threshold + 1
        assert abs(entry["centre_x"] - truth["centre_x"]) < 8 and abs(entry["centre_y"] - truth["centre_y"]) < 8
        assert 0.7 < entry["width"] / truth["width"] < 1.3


def test_golden_files_are_reproducible(tmp_path):
    spec = importlib.util.spec_from_file_location("make_localiser_golden", GOLDEN / SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.generate(tmp_path)
    committed = sorted(p.name for p in GOLDEN.iterdir() if p.is_file() and p.name != SCRIPT)
    assert sorted(p.name for p in tmp_path.iterdir()) == committed
    for name in committed:
        assert (tmp_path / name).read_bytes() == (GOLDEN / name).read_bytes(), name
