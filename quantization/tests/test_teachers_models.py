"""Where the MediaPipe models come from (mediapipe_models.py)."""

import zipfile

import pytest

from dactyl_quant.teachers import mediapipe_models as mm

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
