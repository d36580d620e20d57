"""Image statistics of generated frames against real photographs (docs/backgrounds.md).

    python3 scripts/image_stats.py --corpus LABEL=DIR[:PARTITION] ... [--photos DIR ...] [--frames 300]

For each set, the median over its 128x128 images of statistics that tell camera images from
renders: the slope of the luma power spectrum (natural images fall as about 1/f^2, slope -2;
flat shading and smooth gradients fall faster), the kurtosis of luma gradients (heavy-tailed in
natural images), the noise level (Immerkaer's estimator), colourfulness (Hasler and Suesstrunk),
JPEG blockiness (mean step across 8-pixel block edges over the step inside blocks) and the
share of clipped pixels. Corpus frames are sampled evenly from a ChicagoFSWild-layout folder;
photos are cut into 128x128 crops after scaling their short side to 256 pixels.
Run from `quantization/`.
"""

import argparse
import csv
from pathlib import Path

import numpy as np
from PIL import Image

SIZE = 128


def luma(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float64) @ [0.299, 0.587, 0.114]


def spectral_slope(y: np.ndarray) -> float:
    window = np.outer(np.hanning(y.shape[0]), np.hanning(y.shape[1]))
    power = np.abs(np.fft.fftshift(np.fft.fft2((y - y.mean()) * window))) ** 2
    fy, fx = np.indices(power.shape)
    radius = np.hypot(fy - power.shape[0] // 2, fx - power.shape[1] // 2).astype(int)
    radial = np.bincount(radius.ravel(), power.ravel()) / np.maximum(np.bincount(radius.ravel()), 1)
    band = np.arange(4, 48)
    return float(np.polyfit(np.log(band), np.log(radial[band] + 1e-9), 1)[0])


def gradient_kurtosis(y: np.ndarray) -> float:
    d = np.diff(y, axis=1).ravel()
    d = d - d.mean()
    return float((d ** 4).mean() / max((d ** 2).mean() ** 2, 1e-12))


def noise_sigma(y: np.ndarray) -> float:
    """Immerkaer (1996): noise sigma from the response to a mask that cancels smooth structure."""
    mask = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)
    h, w = y.shape
    response = sum(mask[i, j] * y[i:h - 2 + i, j:w - 2 + j] for i in range(3) for j in range(3))
    return float(np.sqrt(np.pi / 2) * np.abs(response).sum() / (6 * (w - 2) * (h - 2)))


def colourfulness(image: np.ndarray) -> float:
    r, g, b = (image[..., c].astype(np.float64) for c in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def blockiness(y: np.ndarray) -> float:
    steps = np.abs(np.diff(y, axis=1))
    edges = steps[:, 7::8].mean()
    inside = np.delete(steps, np.s_[7::8], axis=1).mean()
    return float(edges / max(inside, 1e-9))


def clipped(image: np.ndarray) -> float:
    return float(((image == 0) | (image == 255)).any(axis=2).mean())


STATS = {"spectrum slope": lambda im: spectral_slope(luma(im)), "gradient kurtosis": lambda im: gradient_kurtosis(luma(im)),
         "noise sigma": lambda im: noise_sigma(luma(im)), "colourfulness": colourfulness,
         "JPEG blockiness": lambda im: blockiness(luma(im)), "clipped %": lambda im: 100 * clipped(im)}


def corpus_frames(folder: Path, partition: str | None, count: int) -> list[np.ndarray]:
    with open(folder / "ChicagoFSWild.csv", newline="") as stream:
        rows = [r for r in csv.DictReader(stream) if partition is None or r["partition"] == partition]
    paths = [folder / "ChicagoFSWild-Frames" / r["filename"] / f"{n:04d}.jpg" for r in rows
             for n in range(1, int(r["number_of_frames"]) + 1)]
    picked = [paths[i] for i in np.linspace(0, len(paths) - 1, min(count, len(paths))).astype(int)]
    return [np.asarray(Image.open(p).convert("RGB").resize((SIZE, SIZE))) for p in picked]


def photo_crops(folders: list[Path], rng: np.random.Generator, per_photo: int = 4) -> list[np.ndarray]:
    crops = []
    for path in sorted(p for folder in folders for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".png")):
        image = Image.open(path).convert("RGB")
        scale = 2 * SIZE / min(image.size)
        image = np.asarray(image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BOX))
        for _ in range(per_photo):
            top, left = rng.integers(0, image.shape[0] - SIZE + 1), rng.integers(0, image.shape[1] - SIZE + 1)
            crops.append(image[top:top + SIZE, left:left + SIZE])
    return crops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", action="append", default=[], metavar="LABEL=DIR[:PARTITION]")
    parser.add_argument("--photos", action="append", default=[], type=Path, metavar="DIR",
                        help="real photographs (jpg/png), searched recursively")
    parser.add_argument("--frames", type=int, default=300, help="frames sampled per corpus (default 300)")
    args = parser.parse_args()
    sets: dict[str, list[np.ndarray]] = {}
    for spec in args.corpus:
        label, _, where = spec.partition("=")
        folder, _, partition = where.partition(":")
        sets[label] = corpus_frames(Path(folder), partition or None, args.frames)
    if args.photos:
        sets["real photos"] = photo_crops(args.photos, np.random.default_rng(0))
    print("| set | images | " + " | ".join(STATS) + " |")
    print("|---|---:|" + "---:|" * len(STATS))
    for label, images in sets.items():
        values = [np.median([stat(im) for im in images]) for stat in STATS.values()]
        print(f"| {label} | {len(images)} | " + " | ".join(f"{v:.2f}" for v in values) + " |")


if __name__ == "__main__":
    main()
