"""Real photographs as backgrounds: where they come from, the cache they are collected into, crops.

The photos are free-licensed pictures that install here: desktop backgrounds from Debian
packages and the sample images inside the scikit-image wheel (`SOURCES`, with each author and
licence; docs/backgrounds.md says the same). `collect` copies them, scaled down to
`STORED_SHORT_SIDE` pixels, into the cache folder (`photo_dir()`: $DACTYL_BACKGROUNDS, else
$DACTYL_CACHE/backgrounds, else ~/.cache/dactyl/backgrounds), one sub-folder per pool:

    train/<name>.jpg   drawn by the train and dev splits
    test/<name>.jpg    held out: drawn only by the test split
    sources.json       every stored photo: pool, source, original path, author, licence

Nothing here is needed to generate: without the cache the generator uses its procedural rooms
alone (`pool_photos` returns an empty list). `python -m dactyl_quant.synth backgrounds` collects.
"""

import json
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

STORED_SHORT_SIDE = 480  # enough for crops down to a quarter of the photo at 128x128 frames
POOLS = ("train", "test")
SKIMAGE_VERSION = "0.26.0"


@dataclass(frozen=True)
class PhotoSource:
    name: str      # stored as <pool>/<name>.jpg
    origin: str    # a Debian package, or "scikit-image wheel"
    path: str      # the file in the package (absolute) or in the wheel
    author: str
    licence: str   # SPDX identifier
    pool: str      # "train" or "test"


_LOMIRI = "/usr/share/backgrounds"
_MATE = "/usr/share/backgrounds/mate/nature"


def _lomiri(file: str, author: str, licence: str, pool: str = "train") -> PhotoSource:
    return PhotoSource(Path(file).stem.split("_by_")[0].lower(), "lomiri-wallpapers-16.04", f"{_LOMIRI}/{file}",
                       author, licence, pool)


def _mate(file: str, author: str, pool: str = "train") -> PhotoSource:
    return PhotoSource(Path(file).stem.lower(), "mate-backgrounds", f"{_MATE}/{file}", author, "GPL-2.0-or-later",
                       pool)


def _skimage(file: str, author: str, licence: str, pool: str = "train") -> PhotoSource:
    return PhotoSource(Path(file).stem, "scikit-image wheel", f"skimage/data/{file}", author, licence, pool)


# Photographs only (the packages' illustrations and renders are left out); about a third of
# them, indoor and outdoor alike, are reserved for the held-out test split.
SOURCES: tuple[PhotoSource, ...] = (
    _lomiri("aitzgorri_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi", "CC-BY-4.0"),
    _lomiri("analogpattern_by_Peter_Nerlich.jpg", "Peter Nerlich", "CC-BY-SA-4.0"),
    _lomiri("Bridge_by_Sander_Klootwijk.jpg", "Sander Klootwijk", "CC-BY-SA-4.0"),
    _lomiri("Dragonfly_by_Bolly.jpg", "\"Bolly\"", "CC-BY-SA-4.0"),
    _lomiri("free_by_Peter_Nerlich.jpg", "Peter Nerlich", "CC-BY-SA-4.0"),
    _lomiri("life_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi", "CC-BY-4.0"),
    _lomiri("picosdeeuropa_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi", "CC-BY-4.0"),
    _lomiri("Picture_0B_by_freespace.jpg", "Trevor \"Freespace\"", "CC-BY-4.0"),
    _lomiri("seeding_by_Clements_Engelhardt.jpg", "Clemens Engelhardt", "CC0-1.0"),
    _lomiri("umang_by_Abhishek_Mudgal.jpg", "Abhishek Mudgal", "CC-BY-4.0"),
    _lomiri("friends_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi", "CC-BY-4.0", "test"),
    _lomiri("Picture_1A_by_freespace.jpg", "Trevor \"Freespace\"", "CC-BY-4.0", "test"),
    _lomiri("sunset_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi", "CC-BY-4.0", "test"),
    _lomiri("Wine_by_Jakkub_Mede.jpg", "Jakub Mede", "CC-BY-4.0", "test"),
    _mate("Aqua.jpg", "Charles Barbin"),
    _mate("Blinds.jpg", "Lennart Poettering, Andrea Cimitan"),
    _mate("Dune.jpg", "Marco Cogoni, Hylke Bons"),
    _mate("FreshFlower.jpg", "Jens Ansorg"),
    _mate("Garden.jpg", "Charles Barbin"),
    _mate("GreenMeadow.jpg", "Timothy Schellhase, Lapo Calamandrei"),
    _mate("RainDrops.jpg", "\"blackcombwhistler07\""),
    _mate("TwoWings.jpg", "Charles Barbin, Hylke Bons"),
    _mate("YellowFlower.jpg", "Charles Barbin"),
    _mate("LadyBird.jpg", "Charles Barbin", "test"),
    _mate("Storm.jpg", "Sergey Nazarov", "test"),
    _mate("Wood.jpg", "Jean-François Fortin Tam", "test"),
    _skimage("coffee.png", "Rachel Michetti", "CC0-1.0"),
    _skimage("brick.png", "CC0Textures", "CC0-1.0"),
    _skimage("astronaut.png", "NASA", "LicenseRef-public-domain", "test"),
    _skimage("chelsea.png", "Stefan van der Walt", "CC0-1.0", "test"),
)
DEBIAN_PACKAGES = ("lomiri-wallpapers-16.04", "mate-backgrounds")


def photo_dir() -> Path:
    explicit = os.environ.get("DACTYL_BACKGROUNDS")
    if explicit:
        return Path(explicit)
    base = os.environ.get("DACTYL_CACHE")
    return (Path(base) if base else Path.home() / ".cache" / "dactyl") / "backgrounds"


@lru_cache(maxsize=8)
def _pool_listing(folder: str, pool: str) -> tuple[Path, ...]:
    return tuple(sorted((Path(folder) / pool).glob("*.jpg")))


def pool_photos(split: str, folder: Path | None = None) -> tuple[Path, ...]:
    """The photos a split may draw: the test pool for test, the train pool for train and dev."""
    return _pool_listing(str(folder or photo_dir()), "test" if split == "test" else "train")


@lru_cache(maxsize=64)
def _decoded(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def photo_crop(rng: np.random.Generator, photos: tuple[Path, ...], height: int, width: int) -> np.ndarray:
    """A random crop of a random photo, scaled to the frame: sRGB float [height, width, 3] in [0, 1].

    The crop covers 30-100 % of the photo's short side (a wall a metre away or a room across),
    is mirrored half of the time and is resampled with a box filter, as a camera's scaler does.
    """
    photo = _decoded(photos[rng.integers(len(photos))])
    rows, columns, _ = photo.shape
    scale = rng.uniform(0.3, 1.0) * min(rows / height, columns / width)
    crop_h, crop_w = max(2, int(height * scale)), max(2, int(width * scale))
    top, left = int(rng.integers(0, rows - crop_h + 1)), int(rng.integers(0, columns - crop_w + 1))
    crop = Image.fromarray(photo[top:top + crop_h, left:left + crop_w]).resize((width, height), Image.Resampling.BOX)
    image = np.asarray(crop, dtype=np.float64) / 255.0
    return image[:, ::-1] if rng.random() < 0.5 else image


def _skimage_wheel(work: Path) -> zipfile.ZipFile:
    """scikit-image's wheel, which ships the sample photos: an installed copy is not needed."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "--quiet",
                    "--disable-pip-version-check", "-d", str(work), f"scikit-image=={SKIMAGE_VERSION}"], check=True)
    wheel = next(work.glob("scikit_image-*.whl"), None)
    if wheel is None:
        raise FileNotFoundError(f"{work}: pip download left no scikit-image wheel")
    return zipfile.ZipFile(wheel)


def _store(image: Image.Image, dest: Path) -> None:
    image = image.convert("RGB")
    scale = STORED_SHORT_SIDE / min(image.size)
    if scale < 1:
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
    dest.parent.mkdir(parents=True, exist_ok=True)
    image.save(dest, quality=92)


def collect(out: Path | None = None, sources: tuple[PhotoSource, ...] = SOURCES, skimage: bool = True,
            log=print) -> list[PhotoSource]:
    """Copy every available photo of `sources` into `out` (default `photo_dir()`), scaled down.

    Debian photos are taken where their package is installed (others are skipped and named);
    scikit-image's from its wheel, fetched with pip when `skimage` is set.
    """
    out = Path(out or photo_dir())
    stored: list[PhotoSource] = []
    missing_packages: set[str] = set()
    for source in sources:
        if source.origin == "scikit-image wheel":
            continue
        if not Path(source.path).exists():
            missing_packages.add(source.origin)
            continue
        with Image.open(source.path) as image:
            image.draft("RGB", (STORED_SHORT_SIDE * 2, STORED_SHORT_SIDE * 2))  # JPEG: decode at a lower scale
            _store(image, out / source.pool / f"{source.name}.jpg")
        stored.append(source)
    wheel_sources = [s for s in sources if s.origin == "scikit-image wheel"]
    if skimage and wheel_sources:
        with tempfile.TemporaryDirectory() as work:
            with _skimage_wheel(Path(work)) as wheel:
                for source in wheel_sources:
                    with wheel.open(source.path) as stream, Image.open(stream) as image:
                        _store(image, out / source.pool / f"{source.name}.jpg")
                    stored.append(source)
    for package in sorted(missing_packages):
        log(f"{package}: not installed, its photos skipped (apt-get install {package})")
    (out / "sources.json").write_text(json.dumps([asdict(s) for s in stored], indent=1) + "\n")
    _pool_listing.cache_clear()
    return stored
