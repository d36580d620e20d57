"""MediaPipe's hand models: `palm_detection_full.tflite` and `hand_landmark_full.tflite`.

They ship inside the `mediapipe` 0.10.x wheels on PyPI (the 1.x wheels no longer carry them). We do
not install mediapipe (its numpy/protobuf pins); a wheel is a zip, so the two files are taken out of
it. Where they come from, in order:

1. a folder given explicitly (`model_dir`) or in $DACTYL_MEDIAPIPE_MODELS, holding the two files;
2. the cache folder ($DACTYL_CACHE/mediapipe, default ~/.cache/dactyl/mediapipe) from an earlier run;
3. an installed mediapipe package (found without importing it);
4. a wheel file given by path;
5. `pip download mediapipe==0.10.14 --no-deps` (a fixed cp311 manylinux wheel, whatever this
   machine is: the .tflite files are the same in every platform's wheel) into a temporary folder,
   then the two files are extracted into the cache.
"""

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

PALM_MODEL = "palm_detection_full.tflite"
LANDMARK_MODEL = "hand_landmark_full.tflite"
MEMBERS = {
    PALM_MODEL: "mediapipe/modules/palm_detection/palm_detection_full.tflite",
    LANDMARK_MODEL: "mediapipe/modules/hand_landmark/hand_landmark_full.tflite",
}
# The files in mediapipe 0.10.14's wheels. Other 0.10.x versions may carry other builds of the
# models; those load too, with a note.
KNOWN_SHA256 = {
    PALM_MODEL: "1b14e9422c6ad006cde6581a46c8b90dd573c07ab7f3934b5589e7cea3f89a54",
    LANDMARK_MODEL: "11c272b891e1a99ab034208e23937a8008388cf11ed2a9d776ed3d01d0ba00e3",
}
WHEEL_VERSION = "0.10.14"
# pip selects a wheel for these tags whatever the host is.
WHEEL_TAGS = ["--platform", "manylinux_2_17_x86_64", "--python-version", "3.11", "--implementation", "cp",
              "--abi", "cp311", "--only-binary=:all:"]


class ModelsUnavailable(RuntimeError):
    pass


@dataclass(frozen=True)
class ModelFiles:
    palm: Path
    landmark: Path
    source: str  # where they were found, for messages

    def known_build(self) -> bool:
        return all(sha256(p) == KNOWN_SHA256[p.name] for p in (self.palm, self.landmark))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_dir() -> Path:
    base = os.environ.get("DACTYL_CACHE")
    return (Path(base) if base else Path.home() / ".cache" / "dactyl") / "mediapipe"


def _is_tflite(path: Path) -> bool:
    try:
        with open(path, "rb") as stream:
            return stream.read(8)[4:8] == b"TFL3"
    except OSError:
        return False


def _from_folder(folder: Path, source: str) -> ModelFiles | None:
    palm, landmark = folder / PALM_MODEL, folder / LANDMARK_MODEL
    if _is_tflite(palm) and _is_tflite(landmark):
        return ModelFiles(palm, landmark, source)
    return None


def _from_installed_mediapipe() -> ModelFiles | None:
    try:
        spec = importlib.util.find_spec("mediapipe")  # imports nothing of mediapipe itself
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        root = Path(location)
        palm = root / "modules" / "palm_detection" / PALM_MODEL
        landmark = root / "modules" / "hand_landmark" / LANDMARK_MODEL
        if _is_tflite(palm) and _is_tflite(landmark):
            return ModelFiles(palm, landmark, f"installed mediapipe at {root}")
    return None


def extract_from_wheel(wheel: str | Path, dest: Path) -> ModelFiles:
    """Take the two .tflite files out of a mediapipe wheel into dest."""
    wheel = Path(wheel)
    try:
        archive = zipfile.ZipFile(wheel)
    except (OSError, zipfile.BadZipFile) as error:
        raise ModelsUnavailable(f"{wheel}: not a readable wheel (zip): {error}") from error
    with archive:
        names = set(archive.namelist())
        missing = [m for m in MEMBERS.values() if m not in names]
        if missing:
            raise ModelsUnavailable(f"{wheel}: has no {', '.join(missing)} (only the mediapipe 0.10.x wheels "
                                    f"carry the hand models; try mediapipe=={WHEEL_VERSION})")
        dest.mkdir(parents=True, exist_ok=True)
        for name, member in MEMBERS.items():
            handle, tmp = tempfile.mkstemp(dir=dest, prefix=name + ".", suffix=".tmp")
            with os.fdopen(handle, "wb") as out, archive.open(member) as src:
                shutil.copyfileobj(src, out)
            os.chmod(tmp, 0o644)
            os.replace(tmp, dest / name)
    found = _from_folder(dest, f"wheel {wheel.name}")
    if found is None:
        raise ModelsUnavailable(f"{wheel}: the extracted files are not TFLite models")
    return found


def download_wheel(dest: Path, version: str = WHEEL_VERSION) -> Path:
    """`pip download mediapipe==VERSION --no-deps` into dest; the wheel's path."""
    dest.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pip", "download", f"mediapipe=={version}", "--no-deps",
               "--disable-pip-version-check", "-d", str(dest), *WHEEL_TAGS]
    result = subprocess.run(command, capture_output=True, text=True)
    wheels = sorted(dest.glob(f"mediapipe-{version}-*.whl"))
    if result.returncode != 0 or not wheels:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise ModelsUnavailable(f"`{' '.join(command[2:])}` failed: " + " / ".join(tail))
    return wheels[0]


def find_models(model_dir: str | Path | None = None, wheel: str | Path | None = None,
                download: bool = True) -> ModelFiles:
    """The two model files, obtained as the module doc says; ModelsUnavailable with the reasons if not."""
    tried = []
    if model_dir is not None:
        found = _from_folder(Path(model_dir), f"folder {model_dir}")
        if found is None:
            raise ModelsUnavailable(f"{model_dir}: expected {PALM_MODEL} and {LANDMARK_MODEL} there")
        return found
    env = os.environ.get("DACTYL_MEDIAPIPE_MODELS")
    if env:
        found = _from_folder(Path(env), f"$DACTYL_MEDIAPIPE_MODELS={env}")
        if found:
            return found
        tried.append(f"$DACTYL_MEDIAPIPE_MODELS={env} has no models")
    cache = cache_dir()
    found = _from_folder(cache, f"cache {cache}")
    if found:
        return found
    found = _from_installed_mediapipe()
    if found:
        return found
    tried.append("no installed mediapipe with the models")
    if wheel is not None:
        return extract_from_wheel(wheel, cache)
    if not download:
        raise ModelsUnavailable("MediaPipe hand models not found: " + "; ".join(tried + [f"nothing in {cache}"]))
    with tempfile.TemporaryDirectory(prefix="dactyl-mediapipe-") as tmp:
        path = download_wheel(Path(tmp))
        return extract_from_wheel(path, cache)
