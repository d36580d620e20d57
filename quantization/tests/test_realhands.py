"""Real hand photos for training (dactyl_quant/realhands): the manifest and sha256-checked fetch from
a mirror the test makes, the MediaPipe labeller and the KD crops on generated hands pasted into
larger photos, and the trainer's --kd-only-data (KD loss only, never CTC) on a miniature corpus."""

import csv
import io
import json
import os
import shutil
import subprocess
from dataclasses import replace

import numpy as np
import pytest
import torch
from minicorpus import standard_clips, write_chicago
from PIL import Image

from dactyl_quant.realhands import crops, fetch, sources
from dactyl_quant.realhands.cli import main as realhands_main
from dactyl_quant.realhands.label import read_labels
from dactyl_quant.teachers.palm import iou
from dactyl_quant.train import loop
from dactyl_quant.train.cli import main as train_main
from dactyl_quant.y4m import Y4MFormat, read_rgb, write_rgb


def jpeg(image: np.ndarray) -> bytes:
    stream = io.BytesIO()
    Image.fromarray(image).save(stream, format="JPEG", quality=95)
    return stream.getvalue()


def make_mirror(root, repo: str, files: dict[str, bytes]) -> str:
    """A bare clone at ROOT/owner+name/repo, as `fetch` leaves it; its commit."""
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
    return subprocess.run(git + ["rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()


def rendered_hand(seed: int, canvas=(240, 320), at=(150, 70)):
    """A generated open hand (letter b) pasted into a grey photo; the photo and the hand's true box."""
    from dactyl_quant.synth.clip import SynthSettings, render_clip
    clip = render_clip("b", np.random.default_rng(seed), SynthSettings(width=128, height=128))
    middle = len(clip.frames) // 2
    photo = np.full((*canvas, 3), 90, dtype=np.uint8)
    x, y = at
    photo[y:y + 128, x:x + 128] = clip.frames[middle]
    return photo, clip.boxes[middle] + np.array([x, y, x, y])


@pytest.fixture(scope="module")
def models():
    try:
        __import__("ai_edge_litert.interpreter")
    except ImportError:
        pytest.skip("no TFLite runtime (pip install ai-edge-litert)")
    from dactyl_quant.teachers.mediapipe_models import ModelsUnavailable, find_models
    try:
        return find_models(download=not os.environ.get("DACTYL_NO_DOWNLOAD"))
    except ModelsUnavailable as error:
        pytest.skip(f"MediaPipe models unavailable: {error}")


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory):
    """A fake SubhiH/HandsDataset: two bursts, copies under images/train, an 11k Hands photo; three
    of the photos are generated hands (truth boxes returned)."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root = tmp_path_factory.mktemp("realhands")
    files, truth = {}, {}
    for n in range(5):
        hand_seed = {0: 0, 2: 1, 4: 4}.get(n)  # renders MediaPipe finds, in the photo and in its crops (not seeds 2, 3, 5 of 0-6)
        photo, box = rendered_hand(hand_seed) if hand_seed is not None else (np.full((60, 80, 3), 40 * n, np.uint8), None)
        files[f"images/2_pic{n:05d}.jpg"] = jpeg(photo)
        files[f"images/train/2_pic{n:05d}.jpg"] = files[f"images/2_pic{n:05d}.jpg"]  # a byte-identical copy
        truth[f"images/2_pic{n:05d}.jpg"] = box
    files["images/996_pic00001.jpg"] = jpeg(np.full((60, 80, 3), 200, np.uint8))
    files["images/Hand_0000002.jpg"] = jpeg(np.full((60, 80, 3), 120, np.uint8))
    files["README.md"] = b"HandsDataset is released under the Apache license.\n"
    commit = make_mirror(root, "SubhiH/HandsDataset", files)
    return root, commit, truth


@pytest.fixture()
def at_test_commit(mirrored, monkeypatch):
    _, commit, _ = mirrored
    monkeypatch.setitem(sources.SOURCES, "subhih", replace(sources.SOURCES["subhih"], commit=commit))


def test_selection_takes_every_other_picture_of_each_burst_and_leaves_out_copies_and_11k_hands():
    paths = [f"images/2_pic{n:05d}.jpg" for n in range(5)] + ["images/train/2_pic00000.jpg",
                                                             "images/996_pic00001.jpg", "images/Hand_0000002.jpg",
                                                             "images/2_pic00001.xml"]
    assert sources.select_subhih(paths) == ["images/2_pic00000.jpg", "images/2_pic00002.jpg",
                                            "images/2_pic00004.jpg", "images/996_pic00001.jpg"]


def test_the_committed_manifest_matches_its_sources():
    manifest = fetch.read_manifest()
    assert set(manifest["sources"]) == set(sources.SOURCES)
    for name, source in sources.SOURCES.items():
        assert manifest["sources"][name]["commit"] == source.commit
        assert manifest["sources"][name]["licence"] == source.licence
    assert len({f["sha256"] for f in manifest["files"]}) == len(manifest["files"])  # each photo once
    assert all(f["path"].startswith("images/") and "/train/" not in f["path"] and "Hand_" not in f["path"]
               for f in manifest["files"])


def test_manifest_then_fetch_checks_every_sha256(mirrored, at_test_commit, tmp_path, capsys):
    root, commit, _ = mirrored
    manifest_file, cache = tmp_path / "manifest.json", tmp_path / "cache"
    assert realhands_main(["manifest", "--mirror", str(root / "mirror"), "--manifest", str(manifest_file)]) == 0
    manifest = fetch.read_manifest(manifest_file)
    assert [f["path"] for f in manifest["files"]] == ["images/2_pic00000.jpg", "images/2_pic00002.jpg",
                                                      "images/2_pic00004.jpg", "images/996_pic00001.jpg"]
    assert manifest["sources"]["subhih"]["commit"] == commit and manifest["sources"]["subhih"]["licence"] == "Apache-2.0"
    args = ["--mirror", str(root / "mirror"), "--manifest", str(manifest_file), "--cache", str(cache)]
    assert realhands_main(["fetch", *args]) == 0
    for entry in manifest["files"]:
        assert fetch.sha256(fetch.image_path(cache, "subhih", entry["path"]).read_bytes()) == entry["sha256"]
    assert "4 images written" in capsys.readouterr().out
    assert realhands_main(["fetch", *args]) == 0
    assert "0 images written, 4 already there" in capsys.readouterr().out
    # A manifest whose hash the mirror does not match: a one-line error naming the file, nothing written.
    manifest["files"][1]["sha256"] = "0" * 64
    manifest_file.write_text(fetch.manifest_text(manifest))
    shutil.rmtree(cache)
    assert realhands_main(["fetch", *args]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "images/2_pic00002.jpg: sha256" in error
    assert not fetch.image_path(cache, "subhih", "images/2_pic00002.jpg").exists()


def test_a_missing_mirror_is_a_one_line_error(tmp_path, capsys):
    assert realhands_main(["fetch", "--mirror", str(tmp_path), "--cache", str(tmp_path / "cache")]) == 1
    assert "no fetched mirror of SubhiH/HandsDataset" in capsys.readouterr().err


@pytest.fixture(scope="module")
def labelled(mirrored, models, tmp_path_factory):
    root, commit, truth = mirrored
    cache = tmp_path_factory.mktemp("cache")
    saved = sources.SOURCES["subhih"]
    sources.SOURCES["subhih"] = replace(saved, commit=commit)
    try:
        manifest_file = cache / "manifest.json"
        assert realhands_main(["manifest", "--mirror", str(root / "mirror"), "--manifest", str(manifest_file)]) == 0
        args = ["--manifest", str(manifest_file), "--cache", str(cache)]
        assert realhands_main(["fetch", "--mirror", str(root / "mirror"), *args]) == 0
        assert realhands_main(["label", *args]) == 0
    finally:
        sources.SOURCES["subhih"] = saved
    return cache, truth


def test_labels_find_the_generated_hands_where_they_are(labelled):
    cache, truth = labelled
    records = read_labels(cache / "labels.jsonl")
    found = 0
    assert [r["image"] for r in records] == [f"images/subhih/images/{p}" for p in
                                             ("2_pic00000.jpg", "2_pic00002.jpg", "2_pic00004.jpg", "996_pic00001.jpg")]
    for record in records:
        assert (record["width"], record["height"], record["licence"]) == (
            (320, 240, "Apache-2.0") if "2_pic" in record["image"] else (80, 60, "Apache-2.0"))
        box = truth.get(record["image"].split("subhih/")[1])
        if box is None:  # a flat grey photo: no hand
            assert record["hands"] == []
            continue
        assert len(record["hands"]) <= 1
        if not record["hands"]:
            continue
        found += 1
        hand = record["hands"][0]
        x, y, w, h = hand["landmark_box"]
        assert iou(np.array([x, y, x + w, y + h]), box.astype(float)) > 0.3
        points = np.array(hand["landmarks"])
        assert points.shape == (21, 2)
        assert np.allclose([points[:, 0].min(), points[:, 1].min(), np.ptp(points[:, 0]), np.ptp(points[:, 1])],
                           hand["landmark_box"], atol=0.02)
        px, py, pw, ph = hand["palm_box"]
        assert px < points[0, 0] + 0.5 * pw and 0.5 <= hand["score"] <= 1 and hand["presence"] >= 0.5
        assert hand["handedness"] in ("left", "right") and 0 <= hand["handedness_score"] <= 1
    assert found >= 2  # of the 3 generated hands


def test_crop_box_frames_the_hand_as_the_generator_does():
    # An upright open hand: wrist at (100, 200), middle fingertip at (100, 20), palm 80 px high.
    landmarks = np.zeros((21, 2))
    landmarks[:, 0] = 100
    landmarks[:, 1] = np.linspace(200, 20, 21)
    landmarks[0] = (100, 200)
    landmarks[9] = (100, 120)
    for i in (5, 13, 17):
        landmarks[i] = (100 + (i - 11) * 3, 120)
    assert crops.hand_length(landmarks) == pytest.approx(180)  # the extent beats 1.9 x the 80 px palm
    fist = landmarks.copy()
    fist[:, 1] = np.clip(fist[:, 1], 110, 200)  # fingers curled down onto the palm: only 90 px tall
    assert crops.hand_length(fist) == pytest.approx(1.9 * 80)
    x1, y1, x2, y2 = crops.crop_box(landmarks, 0.6, (0.0, 0.0))
    palm_centre = landmarks[[0, 5, 9, 13, 17]].mean(axis=0)
    assert x2 - x1 == pytest.approx(300, abs=1) and y2 - y1 == pytest.approx(300, abs=1)
    assert ((x1 + x2) / 2, (y1 + y2) / 2) == pytest.approx(tuple(palm_centre), abs=1)
    x1, y1, x2, y2 = crops.crop_box(landmarks, 0.6, (0.1, -0.1))  # palm right of and above the centre
    assert (palm_centre[0] - (x1 + x2) / 2, palm_centre[1] - (y1 + y2) / 2) == pytest.approx((30, -30), abs=1)


def test_crops_make_a_kd_only_corpus_with_mediapipe_features(labelled, models, tmp_path):
    cache, truth = labelled
    out = tmp_path / "kd"
    assert realhands_main(["crops", "--cache", str(cache), "--out", str(out), "--crops-per-hand", "2"]) == 0
    with open(out / "clips.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) in (4, 6) and all(r["letters"] == "" and r["partition"] == "train" for r in rows)
    for row in rows:
        fmt, frames = read_rgb(out / row["clip"])
        assert frames.shape == (1, 128, 128, 3)
        key = row["clip"][:-4]
        features = np.load(out / "teachers" / "mediapipe" / f"{key}.npy")
        assert features.shape == (1, 1152) and np.isfinite(features).all()
    detected = [np.load(out / "teachers" / "mediapipe" / f"{r['clip'][:-4]}.detected.npy")[0] for r in rows]
    assert sum(detected) >= 4  # MediaPipe sees the hand in its own crops
    assert json.loads((out / "sources.json").read_text())["subhih"]["licence"] == "Apache-2.0"


# ---- the trainer's KD-only data ------------------------------------------------------------------

FAST = ["--config", "tiny", "--batch", "2", "--device", "cpu", "--workers", "0", "--cache-workers", "0", "--quiet"]


def write_kd_only(root, count: int = 5, dim: int = 6, teacher: str = "mediapipe") -> None:
    """Still 1-frame clips without letters and their teacher files (the layout realhands crops writes)."""
    rng = np.random.default_rng(1)
    rows = []
    for n in range(count):
        clip = f"y4m/real/hand{n}.y4m"
        (root / clip).parent.mkdir(parents=True, exist_ok=True)
        write_rgb(root / clip, Y4MFormat(64, 48), rng.integers(0, 255, (1, 48, 64, 3), dtype=np.uint8))
        path = root / "teachers" / teacher / f"y4m/real/hand{n}.npy"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, rng.random((1, dim), dtype=np.float32))
        rows.append({"clip": clip, "letters": "", "partition": "train"})
    with open(root / "clips.csv", "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=["clip", "letters", "partition"])
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    root = tmp_path_factory.mktemp("mini")
    write_chicago(root / "synth", standard_clips(), jpg=False, teacher="mediapipe")
    write_kd_only(root / "real")
    return root


def fit(mini, out, *extra):
    return train_main(["fit", "--data", str(mini / "synth"), "--frames", "y4m", "--out", str(out), *FAST,
                       "--teacher", "mediapipe", "--epochs", "1", "--seed", "3", *extra])


def test_kd_only_clips_get_kd_and_never_ctc(mini, tmp_path, monkeypatch):
    seen = []
    real_ctc = loop.ctc_loss

    def recording_ctc(log_probs, lengths, targets, target_lengths):
        seen.append((log_probs.shape[0], int(lengths.sum()), int(target_lengths.min())))
        return real_ctc(log_probs, lengths, targets, target_lengths)

    monkeypatch.setattr(loop, "ctc_loss", recording_ctc)
    assert fit(mini, tmp_path / "mixed", "--kd-only-data", str(mini / "real"), "--kd-only-batch", "3",
               "--kd-only-weight", "0.5") == 0
    # Two training steps of 2 labelled clips and the dev split's 2 clips: CTC saw those, never the 3
    # letterless KD-only clips that joined each step (a batch of 5 clips, or one with no letters).
    assert len(seen) == 3 and all(clips == 2 and letters >= 1 for clips, _, letters in seen)
    with open(tmp_path / "mixed" / "log.csv", newline="") as stream:
        row = next(csv.DictReader(stream))
    assert float(row["train_kd_only"]) > 0
    args = torch.load(tmp_path / "mixed" / "last.pt", weights_only=True)["args"]
    assert (args["kd_only_data"], args["kd_only_batch"], args["kd_only_weight"]) == (str(mini / "real"), 3, 0.5)
    # The real crops change what is learnt: same seed and data otherwise.
    assert fit(mini, tmp_path / "plain") == 0
    mixed = torch.load(tmp_path / "mixed" / "last.pt", weights_only=True)["model"]
    plain = torch.load(tmp_path / "plain" / "last.pt", weights_only=True)["model"]
    assert any(not torch.equal(mixed[k], plain[k]) for k in plain)
    with open(tmp_path / "plain" / "log.csv", newline="") as stream:
        assert next(csv.DictReader(stream))["train_kd_only"] == "nan"


def test_kd_only_errors(mini, tmp_path, capsys):
    assert train_main(["fit", "--data", str(mini / "synth"), "--frames", "y4m", "--out", str(tmp_path / "a"), *FAST,
                       "--epochs", "1", "--kd-only-data", str(mini / "real")]) == 1
    assert "--kd-only-data is distilled" in capsys.readouterr().err
    wrong = tmp_path / "wrong"
    write_kd_only(wrong, dim=9)
    assert fit(mini, tmp_path / "b", "--kd-only-data", str(wrong)) == 1
    assert "dimension 9, the training clips' 6" in capsys.readouterr().err
