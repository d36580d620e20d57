"""`python -m dactyl_quant.realhands COMMAND ...`: real hand photos for training (docs/real-hands-sources.md).

    fetch      the manifest's images out of the fetched mirrors into the cache (sha256-checked)
    label      MediaPipe's palm detector + landmark model on each -> CACHE/labels.jsonl
    crops      a hand crop per labelled hand + its MediaPipe teacher features -> CACHE/kd (a KD-only corpus)
    manifest   (for whoever adds a source) record the selection of each source into manifest.json
"""

import argparse
import sys
from pathlib import Path

from ..commands import run_command
from .fetch import DEFAULT_CACHE, MANIFEST, build_manifest, fetch, fetched_images, manifest_text, open_mirrors, read_manifest
from .sources import SOURCES


def _fetch(args) -> int:
    manifest = read_manifest(args.manifest)
    written, kept = fetch(manifest, args.mirror, args.cache, args.sources, args.limit)
    total = len(fetched_images(manifest, args.cache, args.sources))
    print(f"{args.cache}: {written} images written, {kept} already there (sha256 checked); {total} in the cache")
    return 0


def _manifest(args) -> int:
    names = args.sources or sorted(SOURCES)
    manifest = build_manifest(open_mirrors(args.mirror, names))
    Path(args.manifest).write_text(manifest_text(manifest), encoding="utf-8")
    counts = {n: sum(1 for f in manifest["files"] if f["source"] == n) for n in names}
    print(f"{args.manifest}: " + ", ".join(f"{n} {c}" for n, c in counts.items()))
    return 0


def _models(args):
    from ..teachers.mediapipe_models import find_models
    return find_models(model_dir=args.model_dir, download=not args.no_download)


def _label(args) -> int:
    from ..teachers.mediapipe_teacher import HandLandmarker, PalmDetector
    from .label import LABELS, label_images
    manifest = read_manifest(args.manifest)
    images = fetched_images(manifest, args.cache, args.sources)[:args.limit]
    if not images:
        raise ValueError(f"{args.cache}: no fetched images (run `python -m dactyl_quant.realhands fetch` first)")
    models = _models(args)
    out = Path(args.out) if args.out else Path(args.cache) / LABELS
    print(f"labelling {len(images)} images with {models.source} -> {out}", file=sys.stderr)
    counts = label_images(images, {n: s["licence"] for n, s in manifest["sources"].items()},
                          PalmDetector(models.palm), HandLandmarker(models.landmark), out)
    print(f"{out}: {counts['images']} images, {counts['with_hand']} with a hand, {counts['hands']} hands"
          + (f", {counts['errors']} unreadable" if counts["errors"] else ""))
    return 1 if counts["errors"] else 0


def _crops(args) -> int:
    from .crops import make_kd_corpus
    models = _models(args)
    summary = make_kd_corpus(Path(args.labels) if args.labels else Path(args.cache) / "labels.jsonl",
                             Path(args.out) if args.out else Path(args.cache) / "kd", models, args.features,
                             args.crops_per_hand, args.frames, args.seed, args.limit)
    print(summary)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dactyl_quant.realhands", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--cache", default=str(DEFAULT_CACHE), metavar="DIR",
                       help="the images, labels and crops (default quantization/.realhands, git-ignored)")
        p.add_argument("--manifest", default=str(MANIFEST), metavar="FILE", help="default: the committed manifest.json")
        p.add_argument("--sources", nargs="+", choices=sorted(SOURCES), help="only these sources (default all)")
        p.add_argument("--limit", type=int, metavar="N", help="only the first N images (of each source for fetch)")

    def models(p: argparse.ArgumentParser) -> None:
        p.add_argument("--model-dir", metavar="DIR", help="palm_detection_full.tflite and hand_landmark_full.tflite "
                       "(default: the cache, an installed mediapipe, or a download; see teachers fetch-models)")
        p.add_argument("--no-download", action="store_true", help="never pip-download the mediapipe wheel")

    fe = commands.add_parser("fetch", help="copy the manifest's images from the mirrors into the cache")
    common(fe)
    fe.add_argument("--mirror", default="/work/.mirror", metavar="DIR",
                    help="fetched repositories, MIRROR/owner+name/repo (default /work/.mirror)")
    fe.set_defaults(run=_fetch)

    la = commands.add_parser("label", help="palm detector + hand landmarks on every fetched image -> labels.jsonl")
    common(la)
    models(la)
    la.add_argument("--out", metavar="FILE.jsonl", help="default CACHE/labels.jsonl")
    la.set_defaults(run=_label)

    cr = commands.add_parser("crops", help="hand crops + MediaPipe teacher features: a KD-only corpus")
    common(cr)
    models(cr)
    cr.add_argument("--labels", metavar="FILE.jsonl", help="default CACHE/labels.jsonl")
    cr.add_argument("--out", metavar="DIR", help="the KD-only corpus (default CACHE/kd)")
    cr.add_argument("--features", choices=("embedding", "landmarks", "both"), default="embedding",
                    help="the MediaPipe teacher's features, as `teachers mediapipe --features` (default embedding)")
    cr.add_argument("--crops-per-hand", type=int, default=2, metavar="N",
                    help="crops of each hand at different framings (default 2)")
    cr.add_argument("--frames", type=int, default=1, metavar="N", help="frames of each still crop clip (default 1)")
    cr.add_argument("--seed", type=int, default=0)
    cr.set_defaults(run=_crops)

    ma = commands.add_parser("manifest", help="record each source's selection and sha256s into the manifest")
    ma.add_argument("--mirror", default="/work/.mirror", metavar="DIR")
    ma.add_argument("--manifest", default=str(MANIFEST), metavar="FILE")
    ma.add_argument("--sources", nargs="+", choices=sorted(SOURCES))
    ma.set_defaults(run=_manifest)

    args = parser.parse_args(argv)
    from ..teachers.mediapipe_models import ModelsUnavailable
    return run_command(args, (ValueError, OSError, ModelsUnavailable, RuntimeError))
