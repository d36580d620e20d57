"""The MediaPipe teacher under LiteRT: both real models on synthetic images, and the CLI.

Needs a TFLite runtime (ai-edge-litert) and the two .tflite files: from the cache, an installed
mediapipe, or a one-time `pip download mediapipe==0.10.14` (set DACTYL_NO_DOWNLOAD=1 to forbid it;
the tests are then skipped where the models are not cached).
"""

import json
import os

import numpy as np
import pytest

from dactyl_quant.teachers import mediapipe_teacher as mt
from dactyl_quant.teachers import palm as P
from dactyl_quant.teachers.cli import main
from dactyl_quant.corpus import read_corpus
from dactyl_quant.teachers.files import teacher_path
from dactyl_quant.teachers.mediapipe_models import ModelsUnavailable, find_models
from dactyl_quant.teachers.roi import Rect
from dactyl_quant.y4m import Y4MFormat, write_rgb


@pytest.fixture(scope="module")
def models():
    try:
        __import__("ai_edge_litert.interpreter")
    except ImportError:
        pytest.skip("no TFLite runtime (pip install ai-edge-litert)")
    try:
        return find_models(download=not os.environ.get("DACTYL_NO_DOWNLOAD"))
    except ModelsUnavailable as error:
        pytest.skip(f"MediaPipe models unavailable: {error}")


@pytest.fixture(scope="module")
def tracker(models):
    return mt.build_tracker(models)


def _image(seed=0, size=(120, 160)):
    rng = np.random.default_rng(seed)
    base = rng.random((size[0] // 8, size[1] // 8, 3))
    return (np.kron(base, np.ones((8, 8, 1))) * 255).astype(np.uint8)


def test_palm_model_outputs_and_deterministic_decoding(tracker):
    palm = tracker.palm
    tensor = np.random.default_rng(1).random((192, 192, 3), dtype=np.float32)
    boxes, scores = palm.raw(tensor)
    assert boxes.shape == (2016, 18) and scores.shape == (2016,)
    boxes2, scores2 = palm.raw(tensor)
    np.testing.assert_array_equal(boxes, boxes2)
    np.testing.assert_array_equal(scores, scores2)
    # decode everything (threshold 0) twice: same detections, same order
    options = P.DecodeOptions(min_score_thresh=0.0)
    a = P.weighted_nms(P.decode_detections(boxes, scores, palm.anchors, options))
    b = P.weighted_nms(P.decode_detections(boxes2, scores2, palm.anchors, options))
    assert len(a) == len(b) > 0
    for x, y in zip(a, b):
        assert x.score == y.score
        np.testing.assert_array_equal(x.box, y.box)
    assert [d.score for d in a] == sorted((d.score for d in a), reverse=True)


def test_landmark_model_outputs_and_embedding_feeds_the_heads(tracker):
    lm = tracker.landmarker
    assert lm.embedding_name == mt.EMBEDDING_TENSOR
    tensor = np.random.default_rng(2).random((224, 224, 3), dtype=np.float32)
    out = lm.raw(tensor)
    assert out["embedding"].shape == (mt.EMBEDDING_DIM,)
    assert out["landmarks"].shape == (21, 3) and out["world"].shape == (21, 3)
    assert 0.0 <= float(out["presence"]) <= 1.0 and 0.0 <= float(out["handedness"]) <= 1.0
    # the embedding is the input of the fully connected heads: the model's own landmark-head
    # weights applied to it give the landmark output
    it = lm.interpreter
    details = {d["name"]: d["index"] for d in it.get_tensor_details()}
    weights = it.get_tensor(details["model_1/model/conv_landmarks/MatMul"]).astype(np.float32)
    bias = it.get_tensor(details["model_1/model/conv_landmarks/BiasAdd/ReadVariableOp/resource"]).astype(np.float32)
    np.testing.assert_allclose(out["embedding"] @ weights.T + bias, out["landmarks"].reshape(-1), atol=1e-3)
    again = lm.raw(tensor)
    np.testing.assert_array_equal(again["embedding"], out["embedding"])


def test_landmarks_project_through_the_roi(tracker):
    image = _image()
    roi = Rect(80.0, 60.0, 64.0, 64.0, 0.4)
    result = tracker.landmarker.run(image, roi)
    raw = tracker.landmarker.raw(mt.CropTransform(roi, 224).crop(image, border="replicate"))
    q = raw["landmarks"][:, :2] / 224 - 0.5
    np.testing.assert_allclose(result.landmarks[:, :2], roi.to_image(q), atol=1e-3)
    c, s = np.cos(0.4), np.sin(0.4)
    w = raw["world"]
    np.testing.assert_allclose(result.world[:, 0], c * w[:, 0] - s * w[:, 1], atol=1e-6)
    assert result.features("embedding").shape == (1152,)
    assert result.features("landmarks").shape == (63,)
    assert result.features("both").shape == (1215,)


def test_tracker_fallbacks(tracker):
    image = _image(3)
    tracker.reset()
    first = tracker.step(image)
    assert first.source == "centre" and not first.palm_detected  # noise: no palm
    assert first.result.roi == Rect(80.0, 60.0, 120.0, 120.0, 0.0)
    second = tracker.step(image)
    assert second.source in ("previous", "track")
    boxed = tracker.step(image, np.array([10.0, 10.0, 40.0, 50.0]))
    if boxed.source == "bbox":
        assert boxed.result.roi == Rect(25.0, 30.0, 60.0, 60.0, 0.0)


def _y4m_corpus(root, clips=(("a", 3), ("b", 2))):
    lines = [",filename,url,start_time,number_of_frames,width,height,label_proc,label_raw,label_notes,"
             "partition,signer\n"]
    for i, (name, count) in enumerate(clips):
        frames = np.stack([_image(10 * i + t, (48, 64)) for t in range(count)])
        (root / "y4m").mkdir(exist_ok=True)
        write_rgb(root / "y4m" / f"{name}.y4m", Y4MFormat(64, 48, "444"), frames)
        lines.append(f"{i},{name},u,0,{count},64,48,ab,AB,,train,s\n")
    (root / "ChicagoFSWild.csv").write_text("".join(lines))


def test_cli_writes_teacher_files(tmp_path, models, capsys):
    _y4m_corpus(tmp_path)
    assert main(["mediapipe", "--data", str(tmp_path), "--model-dir", str(models.palm.parent)]) == 0
    a = np.load(teacher_path(tmp_path, "mediapipe", "a"))
    assert a.shape == (3, 1152) and a.dtype == np.float32
    detected = np.load(teacher_path(tmp_path, "mediapipe", "a", ".detected.npy"))
    assert detected.shape == (3,) and detected.dtype == bool
    assert np.load(teacher_path(tmp_path, "mediapipe", "b")).shape == (2, 1152)
    assert "2 clips written (5 frames" in capsys.readouterr().out
    # existing files are kept; --overwrite with landmarks replaces them, two workers
    assert main(["mediapipe", "--data", str(tmp_path), "--model-dir", str(models.palm.parent)]) == 0
    assert "2 kept" in capsys.readouterr().out
    assert main(["mediapipe", "--data", str(tmp_path), "--model-dir", str(models.palm.parent), "--overwrite",
                 "--features", "landmarks", "--workers", "2"]) == 0
    landmarks = np.load(teacher_path(tmp_path, "mediapipe", "a"))
    assert landmarks.shape == (3, 63)
    np.testing.assert_allclose(landmarks[:, :3], 0.0, atol=1e-6)  # wrist-relative


def test_extract_clip_matches_the_tracker(tmp_path, tracker):
    _y4m_corpus(tmp_path, (("c", 2),))
    clip = read_corpus(tmp_path, alphabet=None).samples[0]
    feats, detected = mt.extract_clip(clip, tracker, "both")
    assert feats.shape == (2, 1215) and detected.shape == (2,)
    feats2, _ = mt.extract_clip(clip, tracker, "both")
    np.testing.assert_array_equal(feats, feats2)  # reset between clips: deterministic


def test_check_reports_rates(tmp_path, models, capsys):
    _y4m_corpus(tmp_path)
    assert main(["mediapipe-check", "--data", str(tmp_path), "--frames", "4",
                 "--model-dir", str(models.palm.parent), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["frames"] == 4 and 0 <= report["palm_detected"] <= 4
    assert main(["mediapipe-check", "--data", str(tmp_path), "--frames", "2",
                 "--model-dir", str(models.palm.parent)]) == 0
    assert "palm detection rate" in capsys.readouterr().out
