"""`python -m dactyl_quant.teachers COMMAND ...`: teacher features for knowledge distillation."""

import argparse
import json
import sys
from dataclasses import asdict

from ..commands import run_command
from ..corpus import read_corpus


def _partitions(text: str | None) -> tuple[str, ...] | None:
    return tuple(p.strip() for p in text.split(",") if p.strip()) if text else None


def _corpus(args):
    corpus = read_corpus(args.data, partitions=_partitions(args.partition), alphabet=None)
    if args.limit is not None:
        corpus.samples[:] = corpus.samples[:args.limit]
    if not corpus.samples:
        raise ValueError(f"{args.data}: no clips" + (f" in partition {args.partition}" if args.partition else ""))
    return corpus


def _models(args):
    from .mediapipe_models import find_models
    return find_models(model_dir=args.model_dir, wheel=args.wheel, download=not args.no_download)


def _mediapipe(args) -> int:
    from .mediapipe_run import run_corpus, summarize
    corpus = _corpus(args)
    models = _models(args)
    print(f"MediaPipe models: {models.source}; features {args.features}; {len(corpus.samples)} clips -> "
          f"{corpus.root / 'teachers' / 'mediapipe'}", file=sys.stderr)
    outcomes = run_corpus(corpus, models, args.features, args.workers, args.overwrite)
    print(summarize(outcomes))
    return 1 if any(o.error for o in outcomes) else 0


def _mediapipe_check(args) -> int:
    from .mediapipe_run import check
    corpus = _corpus(args)
    report = check(corpus, _models(args), args.frames, args.pose_teacher or None, args.seed)
    if args.json:
        data = asdict(report)
        print(json.dumps(data, indent=1))
    else:
        print("\n".join(report.lines()))
    return 0


def _fetch_models(args) -> int:
    models = _models(args)
    print(f"{models.palm}\n{models.landmark}\n(from {models.source}"
          + ("" if models.known_build() else "; not the mediapipe 0.10.14 build") + ")")
    return 0


def _hamer(args) -> int:
    from . import hamer
    hamer.import_hamer()  # the clear "not installed" error before anything else
    corpus = _corpus(args)
    model = hamer.load_model(args.hamer_checkpoint, args.device)  # the clear "not installed" error first
    tracker = None
    if args.detector == "mediapipe" or (args.detector == "auto" and any(c.bbox_dir is None for c in corpus.samples)):
        try:
            from .mediapipe_teacher import build_tracker
            tracker = build_tracker(_models(args))
        except Exception as error:  # noqa: BLE001 - any failure here just means no detector
            if args.detector == "mediapipe":
                raise
            print(f"no MediaPipe hand detector ({error}); frames without a BBox use the previous box or the "
                  "centre", file=sys.stderr)
    boxes = hamer.BoxSource(tracker, args.rescale)
    written, kept, failed = hamer.run_corpus(corpus, model, boxes, args.hand == "left", args.batch_size,
                                             args.device, args.overwrite)
    print(f"{written} clips written, {kept} kept (already there), {failed} failed -> "
          f"{corpus.root / 'teachers' / hamer.TEACHER}")
    return 1 if failed else 0


def _add_corpus_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, metavar="ROOT",
                        help="corpus: a ChicagoFSWild(+) folder, a clips CSV, or one .y4m file")
    parser.add_argument("--partition", metavar="P[,P]", help="only these partitions (e.g. train,dev)")
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N clips")


def _add_model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model-dir", metavar="DIR", help="a folder holding palm_detection_full.tflite and "
                        "hand_landmark_full.tflite (default: the cache, an installed mediapipe, or a download)")
    parser.add_argument("--wheel", metavar="FILE.whl", help="take the models out of this mediapipe 0.10.x wheel")
    parser.add_argument("--no-download", action="store_true", help="never pip-download the mediapipe wheel")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dactyl_quant.teachers",
                                     description="Per-frame teacher embeddings: ROOT/teachers/<teacher>/<clip>.npy, "
                                                 "float32 [frames, dim].")
    commands = parser.add_subparsers(dest="command", required=True)

    mp = commands.add_parser("mediapipe", help="MediaPipe hand landmark network (CPU, LiteRT)")
    _add_corpus_args(mp)
    _add_model_args(mp)
    mp.add_argument("--features", choices=("embedding", "landmarks", "both"), default="embedding",
                    help="embedding: the 1152-d pooled feature; landmarks: 63 world-landmark values, wrist-relative "
                         "in palm units; both: 1215 (default: embedding)")
    mp.add_argument("--workers", type=int, default=1, help="processes, one clip each at a time (default 1)")
    mp.add_argument("--overwrite", action="store_true", help="redo clips whose file exists")
    mp.set_defaults(run=_mediapipe)

    ck = commands.add_parser("mediapipe-check", help="palm detection rate and 3D agreement with a reference pose")
    _add_corpus_args(ck)
    _add_model_args(ck)
    ck.add_argument("--frames", type=int, default=200, help="frames to sample (default 200)")
    ck.add_argument("--pose-teacher", default="synthpose", metavar="NAME",
                    help="reference poses ROOT/teachers/NAME/<clip>.npy, first 63 values 21 x (x, y, z) "
                         "(default synthpose; '' for none)")
    ck.add_argument("--seed", type=int, default=0)
    ck.add_argument("--json", action="store_true", help="print the report as JSON")
    ck.set_defaults(run=_mediapipe_check)

    fm = commands.add_parser("fetch-models", help="obtain the MediaPipe .tflite files and print where they are")
    _add_model_args(fm)
    fm.set_defaults(run=_fetch_models)

    hm = commands.add_parser("hamer", help="HaMeR's MANO Transformer token (needs HaMeR installed, a GPU)")
    _add_corpus_args(hm)
    hm.add_argument("--hamer-checkpoint", required=True, metavar="PATH",
                    help="HaMeR checkpoint, e.g. _DATA/hamer_ckpts/checkpoints/hamer.ckpt")
    hm.add_argument("--device", default="cuda", help="torch device (default cuda)")
    hm.add_argument("--batch-size", type=int, default=32)
    hm.add_argument("--rescale", type=float, default=2.0, help="crop side / hand box side (HaMeR demo: 2.0)")
    hm.add_argument("--hand", choices=("right", "left"), default="right",
                    help="the signing hand; left hands are mirrored, as HaMeR does (default right)")
    hm.add_argument("--detector", choices=("auto", "bbox", "mediapipe"), default="auto",
                    help="hand boxes where the corpus has no BBox: the MediaPipe tracker (auto: if available)")
    hm.add_argument("--overwrite", action="store_true", help="redo clips whose file exists")
    _add_model_args(hm)
    hm.set_defaults(run=_hamer)

    args = parser.parse_args(argv)
    from .hamer import HamerNotInstalled
    from .mediapipe_models import ModelsUnavailable
    return run_command(args, (HamerNotInstalled, ModelsUnavailable, FileNotFoundError, ValueError, RuntimeError))
