"""The teachers' corpus reader, teacher files, and where the MediaPipe models come from."""

import zipfile

import numpy as np
import pytest

from dactyl_quant.teachers import mediapipe_models as mm
from dactyl_quant.teachers.corpus import read_bbox, read_corpus, teacher_path, write_teacher
from dactyl_quant.y4m import Y4MFormat, write_rgb

HEADER = ",filename,url,start_time,number_of_frames,width,height,label_proc,label_raw,label_notes,partition,signer\n"


def _frames(count, seed=0, size=(24, 32)):
    rng = np.random.default_rng(seed)
    return (rng.random((count, *size, 3)) * 255).astype(np.uint8)


def make_chicago(root, clips, jpeg=True, bbox=True):
    """A tiny ChicagoFSWild layout: clips = [(filename, frames, partition)]."""
    lines = [HEADER]
    for i, (name, frames, partition) in enumerate(clips):
        lines.append(f"{i},{name},http://x,0:00,{len(frames)},32,24,ab,AB,,{partition},s{i}\n")
        if jpeg:
            from PIL import Image
            folder = root / "ChicagoFSWild-Frames" / name
            folder.mkdir(parents=True)
            for t, frame in enumerate(frames):
                Image.fromarray(frame).save(folder / f"{t + 1:04d}.jpg", quality=95)
        else:
            path = root / "y4m" / f"{name}.y4m"
            path.parent.mkdir(parents=True, exist_ok=True)
            write_rgb(path, Y4MFormat(frames.shape[2], frames.shape[1], "444"), frames)
        if bbox:
            folder = root / "BBox" / name
            folder.mkdir(parents=True)
            (folder / "0001.txt").write_text("1,2,10,12,0\n4,5,20,22,1\n")
    (root / "ChicagoFSWild.csv").write_text("".join(lines))


def test_chicago_jpeg_layout(tmp_path):
    pytest.importorskip("PIL")
    make_chicago(tmp_path, [("aslized/a_001", _frames(3), "train"), ("b_002", _frames(2, 1), "dev")])
    corpus = read_corpus(tmp_path)
    assert [c.key for c in corpus.clips] == ["aslized/a_001", "b_002"]
    clip = corpus.clips[0]
    assert clip.frames == 3 and clip.numbered_jpeg and clip.partition == "train"
    frames = clip.read_frames()
    assert len(frames) == 3 and frames[0].shape == (24, 32, 3)
    boxes = clip.bboxes(3)
    np.testing.assert_array_equal(boxes[0], [4, 5, 20, 22])  # the flag-1 line
    assert boxes[1] is None and boxes[2] is None
    assert [c.key for c in read_corpus(tmp_path, {"dev"}).clips] == ["b_002"]


def test_chicago_y4m_layout_and_frame_count_check(tmp_path):
    make_chicago(tmp_path, [("c_003", _frames(4), "test")], jpeg=False, bbox=False)
    clip = read_corpus(tmp_path).clips[0]
    assert clip.is_y4m and clip.bbox_dir is None
    assert len(clip.read_frames()) == 4
    (tmp_path / "ChicagoFSWild.csv").write_text(HEADER + "0,c_003,u,0,5,32,24,ab,AB,,test,s\n")
    with pytest.raises(ValueError, match="has 4 frames, the corpus says 5"):
        read_corpus(tmp_path).clips[0].read_frames()


def test_clip_csv_and_single_y4m(tmp_path):
    clip_path = tmp_path / "clips" / "one.y4m"
    clip_path.parent.mkdir()
    write_rgb(clip_path, Y4MFormat(32, 24, "444"), _frames(2))
    (tmp_path / "clips.csv").write_text("clip,letters,partition\nclips/one.y4m,ab,train\n")
    corpus = read_corpus(tmp_path)
    assert corpus.root == tmp_path and [c.key for c in corpus.clips] == ["clips/one"]
    single = read_corpus(clip_path)
    assert single.root == clip_path.parent and single.clips[0].key == "one"
    with pytest.raises(FileNotFoundError, match="neither"):
        read_corpus(tmp_path / "clips")


def test_read_bbox_formats(tmp_path):
    path = tmp_path / "b.txt"
    path.write_text("junk\n1 2 3 4 1\n")
    np.testing.assert_array_equal(read_bbox(path), [1, 2, 3, 4])
    path.write_text("1,2,3,4,0\n")
    assert read_bbox(path) is None
    assert read_bbox(tmp_path / "missing.txt") is None


def test_write_teacher(tmp_path):
    feats = np.arange(12, dtype=np.float64).reshape(3, 4)
    path = write_teacher(tmp_path, "mediapipe", "dir/clip", feats, np.array([1, 0, 1]))
    assert path == teacher_path(tmp_path, "mediapipe", "dir/clip")
    loaded = np.load(path)
    assert loaded.dtype == np.float32 and loaded.shape == (3, 4)
    detected = np.load(teacher_path(tmp_path, "mediapipe", "dir/clip", ".detected.npy"))
    assert detected.dtype == bool and detected.tolist() == [True, False, True]
    assert not list(path.parent.glob("*.tmp"))
    with pytest.raises(ValueError, match="do not match"):
        write_teacher(tmp_path, "t", "c", feats, np.ones(2))
    with pytest.raises(ValueError, match=r"\[T, D\]"):
        write_teacher(tmp_path, "t", "c", np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        write_teacher(tmp_path, "t", "c", np.full((2, 2), np.nan))


# ---- model files ---------------------------------------------------------------------------------

FAKE_TFLITE = b"\x1c\x00\x00\x00TFL3" + b"\x00" * 8


def _fake_wheel(path, members=mm.MEMBERS.values()):
    with zipfile.ZipFile(path, "w") as archive:
        for member in members:
            archive.writestr(member, FAKE_TFLITE)
        archive.writestr("mediapipe/__init__.py", "")
    return path


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("DACTYL_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("DACTYL_MEDIAPIPE_MODELS", raising=False)
    monkeypatch.setattr(mm, "_from_installed_mediapipe", lambda: None)
    return tmp_path


def test_models_from_a_wheel_go_to_the_cache(isolated):
    wheel = _fake_wheel(isolated / "mediapipe-0.10.14-cp311-cp311-linux_x86_64.whl")
    found = mm.find_models(wheel=wheel, download=False)
    assert found.palm == isolated / "cache" / "mediapipe" / mm.PALM_MODEL
    assert found.landmark.read_bytes() == FAKE_TFLITE and not found.known_build()
    again = mm.find_models(download=False)  # now from the cache, no wheel needed
    assert again.source.startswith("cache")


def test_wheel_without_the_models(isolated):
    wheel = _fake_wheel(isolated / "mediapipe-1.0.whl", members=[])
    with pytest.raises(mm.ModelsUnavailable, match="only the mediapipe 0.10.x wheels"):
        mm.find_models(wheel=wheel, download=False)
    with pytest.raises(mm.ModelsUnavailable, match="not a readable wheel"):
        mm.extract_from_wheel(isolated / "mediapipe-1.0.whl.missing", isolated / "out")


def test_no_models_without_download(isolated):
    with pytest.raises(mm.ModelsUnavailable, match="not found"):
        mm.find_models(download=False)


def test_models_from_a_folder_and_the_environment(isolated, monkeypatch):
    folder = isolated / "models"
    folder.mkdir()
    with pytest.raises(mm.ModelsUnavailable, match="expected"):
        mm.find_models(model_dir=folder)
    for name in (mm.PALM_MODEL, mm.LANDMARK_MODEL):
        (folder / name).write_bytes(FAKE_TFLITE)
    assert mm.find_models(model_dir=folder).palm == folder / mm.PALM_MODEL
    monkeypatch.setenv("DACTYL_MEDIAPIPE_MODELS", str(folder))
    assert mm.find_models(download=False).source.startswith("$DACTYL_MEDIAPIPE_MODELS")


def test_models_from_an_installed_mediapipe(tmp_path, monkeypatch):
    package = tmp_path / "site" / "mediapipe"
    for member in mm.MEMBERS.values():
        path = tmp_path / "site" / member
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(FAKE_TFLITE)
    (package / "__init__.py").write_text("raise ImportError('must not be imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    found = mm._from_installed_mediapipe()
    assert found is not None and found.palm.parent == package / "modules" / "palm_detection"


def test_download_failure_is_reported(isolated, monkeypatch):
    class Failed:
        returncode = 1
        stdout = ""
        stderr = "ERROR: Could not find a version that satisfies the requirement mediapipe==0.10.14\n"

    monkeypatch.setattr(mm.subprocess, "run", lambda *a, **k: Failed())
    with pytest.raises(mm.ModelsUnavailable, match="Could not find a version"):
        mm.find_models()
