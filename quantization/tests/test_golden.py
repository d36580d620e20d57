"""The committed golden vectors (Tests/golden) and default model (models/) are what the code makes."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from dactyl_quant import ctc
from dactyl_quant.export import read_model
from dactyl_quant.preprocess import Crop
from dactyl_quant.reference import run_clip

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "Tests" / "golden"


def _load_script(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def make_golden():
    return _load_script(GOLDEN / "make_golden.py")


@pytest.fixture(scope="module")
def regenerated(make_golden, tmp_path_factory):
    out = tmp_path_factory.mktemp("golden")
    expected, problems = make_golden.generate(out, make_golden.SEED)
    return out, expected, problems


def _strip_scores(expected: dict) -> tuple[dict, list[float]]:
    scores = []
    for clip in expected["clips"]:
        for span in clip["greedy_spans"]:
            scores.append(span.pop("score"))
    return expected, scores


def test_golden_files_are_reproducible(regenerated):
    out, _, problems = regenerated
    assert problems == []
    committed = sorted(p.name for p in GOLDEN.iterdir() if p.name != "make_golden.py" and p.is_file())
    assert sorted(p.name for p in out.iterdir()) == committed
    for name in committed:
        fresh, stored = (out / name).read_bytes(), (GOLDEN / name).read_bytes()
        if name.endswith(".logprobs.bin"):
            # fp32 head: bit-exact on one machine, not across BLAS builds (the format says so).
            np.testing.assert_allclose(np.frombuffer(fresh, "<f4"), np.frombuffer(stored, "<f4"), atol=1e-6)
        elif name == "expected.json":
            fresh_json, fresh_scores = _strip_scores(json.loads(fresh))
            stored_json, stored_scores = _strip_scores(json.loads(stored))
            assert fresh_json == stored_json
            np.testing.assert_allclose(fresh_scores, stored_scores, atol=2e-6)
        else:
            assert fresh == stored, f"{name} differs from the committed golden file"


def test_golden_files_are_small_and_self_consistent(make_golden):
    assert sum(p.stat().st_size for p in GOLDEN.iterdir()) < 1_000_000
    expected = json.loads((GOLDEN / "expected.json").read_text())
    model = read_model(GOLDEN / expected["model"]["file"])
    assert "untrained" in model.info
    assert expected["model"]["feature_dim"] == model.feature_dim
    assert expected["model"]["num_classes"] == model.num_classes == 32
    sources = set()
    for clip in expected["clips"]:
        sources.add(clip["crop_source"])
        crop = clip["crop"]
        features, log_probs = run_clip(model, GOLDEN / clip["file"],
                                       Crop(crop["x"], crop["y"], crop["width"], crop["height"]))
        assert features.shape == tuple(clip["features"]["shape"]) == (clip["frames"], model.feature_dim)
        stored = np.fromfile(GOLDEN / clip["features"]["file"], np.int8).reshape(features.shape)
        assert np.array_equal(features, stored)
        stored_lp = np.fromfile(GOLDEN / clip["logprobs"]["file"], "<f4").reshape(log_probs.shape)
        np.testing.assert_allclose(log_probs, stored_lp, atol=1e-6)
        input0 = np.fromfile(GOLDEN / clip["input0"]["file"], np.int8)
        assert input0.size == model.input_height * model.input_width * 3
        assert model.alphabet.decode(ctc.greedy(stored_lp)) == clip["greedy"]
        assert len(clip["greedy"]) >= 2
        assert model.alphabet.decode(ctc.beam_search(stored_lp, expected["beam_width"])) == clip["beam"]
        assert "".join(s["letter"] for s in clip["greedy_spans"]) == clip["greedy"]
        assert make_golden.ambiguities(stored_lp) == []
    assert sources == {"model default", "explicit"}


def sample_expectations() -> dict[str, str]:
    """samples/sample.txt: the held-out word signed in samples/sample.y4m and what the shipped
    model reads there (`dactyl decode samples/sample.y4m`, the README's first command)."""
    lines = (REPO / "samples" / "sample.txt").read_text().splitlines()
    return dict(line.split(" ", 1) for line in lines)


def test_default_model_is_trained_and_the_sample_is_a_held_out_word():
    model = read_model(REPO / "models" / "default.dmdl")
    assert "KD" in model.info and "untrained" not in model.info
    expected = sample_expectations()
    words_dir = REPO / "quantization" / "dactyl_quant" / "synth" / "words"
    assert expected["word"] in (words_dir / "test.txt").read_text().split()
    assert expected["word"] not in (words_dir / "train.txt").read_text().split()
    assert (REPO / "samples" / "sample.y4m").stat().st_size < 2_000_000
    # The numpy int8 reference reads what the Swift runtime prints (CommandLineTests checks that side).
    _, log_probs = run_clip(model, REPO / "samples" / "sample.y4m")
    assert model.alphabet.decode(ctc.greedy(log_probs)) == expected["decoded"]
    # The README's first command prints the right word.
    assert expected["decoded"] == expected["word"]
