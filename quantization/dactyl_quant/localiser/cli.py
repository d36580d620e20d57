"""`python -m dactyl_quant localiser ...` (also `python -m dactyl_quant.localiser ...`).

    localiser macs                                     MACs per frame of each config, and per frame at its interval
    localiser compose --split train --count 6000 --seed 1 [--cache DIR]
    localiser train --out runs/loc [--config small] [--minutes 25] [--train-seed 1 --train-count 6000]
        [--valid-seed 2 --valid-count 300] [--real LABELS.jsonl --real-share 0.2] [--cache DIR]
    localiser export --recogniser ../models/default.dmdl --localiser runs/loc/best.pt --out M.dmdl
        [--calib-count 128] [--presence-logit X] [--interval N]
    localiser evaluate --model M.dmdl [--split test --seed 3 --count 600] [--real-photos DIR] [--json F]
    localiser clips --out DIR --seed S [--count 20] [--size 640x480]
    localiser decode-clips --dactyl PATH --model M.dmdl --clips DIR --crop true|auto|model --out RESULTS.tsv
    localiser score --clips DIR --decoded NAME RESULTS.tsv [--decoded NAME2 RESULTS2.tsv]
    localiser table SCORES.json ...                    seeds side by side, mean ± sd
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from ..commands import run_command
from ..export import read_model
from .data import (Shard, build_cache, compose_shard, default_cache_dir, load_shards, read_real_labels,
                   real_shard, split_real)
from .config import CONFIGS, macs_per_frame

RECOGNISER_MACS = 6.6e6  # the default recogniser's encoder (pi64 at 64x64, docs/default-model.md)


def _macs(args: argparse.Namespace) -> None:
    for config in CONFIGS.values():
        macs = macs_per_frame(config)
        print(f"{config.name}: {config.input_width}x{config.input_height} input, {config.cells[1]}x{config.cells[0]} "
              f"cells, {macs / 1e6:.2f} M MACs per run, interval {config.interval}: {macs / config.interval / 1e6:.2f} M "
              f"per frame ({macs / config.interval / RECOGNISER_MACS:.0%} of the recogniser's 6.6 M)")


def _cache(args: argparse.Namespace) -> Path:
    return Path(args.cache) if args.cache else default_cache_dir() / "cache"


def _compose(args: argparse.Namespace) -> None:
    config = CONFIGS[args.config]
    build_cache(_cache(args), args.seed, args.split, args.count, config.input_height, config.input_width)


def _load(args, split: str, seed: int, count: int) -> Shard:
    config = CONFIGS[args.config]
    return load_shards(build_cache(_cache(args), seed, split, count, config.input_height, config.input_width))


def _train(args: argparse.Namespace) -> None:
    from .train import TrainSettings, fit
    config = CONFIGS[args.config]
    train = _load(args, "train", args.train_seed, args.train_count)
    valid = _load(args, "dev", args.valid_seed, args.valid_count)
    real = None
    if args.real:
        images, held_out = split_real(read_real_labels(args.real), args.real_holdout)
        real = real_shard(images, config.input_height, config.input_width, np.random.default_rng(args.seed))
        print(f"{args.real}: training on {len(images)} photos with {sum(len(i.crops) for i in images)} hands "
              f"({len(held_out)} held out)")
    settings = TrainSettings(config=args.config, batch=args.batch, lr=args.lr, time_budget_min=args.minutes,
                             real_share=args.real_share if real is not None else 0.0, seed=args.seed,
                             threads=args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "settings.json").write_text(json.dumps({**vars(settings), "train_seed": args.train_seed,
                                                   "train_count": args.train_count, "valid_seed": args.valid_seed,
                                                   "valid_count": args.valid_count, "real": args.real}, indent=1))
    result = fit(train, valid, out, settings, real=real)
    print(f"{out}: best validation detection rate {result['best_detection_rate']:.3f}")


def _export(args: argparse.Namespace) -> None:
    from .build import export_localiser, load_checkpoint
    net, _ = load_checkpoint(args.localiser)
    config = net.config
    calibration = compose_shard(args.calib_seed, "train", 0, args.calib_count, config.input_height,
                                config.input_width).frames
    model = export_localiser(args.recogniser, args.localiser, list(calibration), args.out, args.presence_logit,
                             args.interval)
    localiser = model.localiser
    print(f"{args.out}: version 1.2, recogniser of {args.recogniser} unchanged, localiser {config.name} "
          f"{localiser.input_width}x{localiser.input_height}, {len(localiser.ops)} ops, presence_logit "
          f"{localiser.presence_logit:.3f}, interval {localiser.interval}")


def _evaluate(args: argparse.Namespace) -> None:
    from .evaluate import composed_quality, model_localiser, real_photo_quality
    localisers = {path: model_localiser(read_model(path)) for path in args.model}
    first = next(iter(localisers.values()))
    height, width = first.input_height, first.input_width
    shard = load_shards(build_cache(_cache(args), args.seed, args.split, args.count, height, width))
    held = None
    if args.real_labels:
        _, held_out = split_real(read_real_labels(args.real_labels), args.real_holdout)
        held = real_shard(held_out, height, width, np.random.default_rng(0))
    results = {path: {f"composed_{args.split}": composed_quality(localiser, shard)}
               for path, localiser in localisers.items()}
    if held is not None:
        for path, localiser in localisers.items():
            results[path]["real_labels_held_out"] = composed_quality(localiser, held)
    if args.real_photos:
        for path, quality in real_photo_quality(localisers, Path(args.real_photos), args.real_limit).items():
            results[path]["real_photo_check"] = quality
    text = json.dumps(results, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


def _clips(args: argparse.Namespace) -> None:
    from .clips import write_clips
    width, height = (int(v) for v in args.size.lower().split("x"))
    write_clips(Path(args.out), args.seed, args.count, width, height)


def _score(args: argparse.Namespace) -> None:
    from .score import score_clips
    print(json.dumps(score_clips(Path(args.clips), {name: Path(path) for name, path in args.decoded}), indent=1))


def _decode_clips(args: argparse.Namespace) -> None:
    from .score import decode_clips
    decode_clips(args.dactyl, args.model, Path(args.clips), args.crop, Path(args.out))


def _table(args: argparse.Namespace) -> None:
    from .score import table
    per_seed = {}
    for path in args.scores:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        per_seed[Path(path).stem] = data
    print(table(per_seed))


def add_commands(commands) -> None:
    """The `localiser` group on a parent parser's sub-commands."""
    parser = commands.add_parser("localiser", help="the hand localiser: data, training, export, evaluation")
    sub = parser.add_subparsers(dest="localiser_command", required=True)

    def common(p):
        p.add_argument("--config", choices=sorted(CONFIGS), default="small")
        p.add_argument("--cache", help="composed-frame cache (default quantization/.localiser/cache)")

    p = sub.add_parser("macs", help="MACs per frame of each localiser config")
    p.set_defaults(run=_macs)

    p = sub.add_parser("compose", help="compose frames of a split into the cache")
    common(p)
    p.add_argument("--split", choices=("train", "dev", "test"), required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--seed", type=int, required=True)
    p.set_defaults(run=_compose)

    p = sub.add_parser("train", help="train a localiser on composed frames (and real photos)")
    common(p)
    p.add_argument("--out", required=True)
    p.add_argument("--minutes", type=float, default=25.0, help="time budget (the cosine schedule spans it)")
    p.add_argument("--train-seed", type=int, default=1)
    p.add_argument("--train-count", type=int, default=6000)
    p.add_argument("--valid-seed", type=int, default=2)
    p.add_argument("--valid-count", type=int, default=300)
    p.add_argument("--real", metavar="LABELS.jsonl", help="real photos labelled by the teacher (realhands)")
    p.add_argument("--real-share", type=float, default=0.2)
    p.add_argument("--real-holdout", type=float, default=0.15, help="last share of the photos kept for evaluation")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(run=_train)

    p = sub.add_parser("export", help="quantise a localiser and add it to a recogniser's model file")
    p.add_argument("--recogniser", required=True, metavar="MODEL.dmdl")
    p.add_argument("--localiser", required=True, metavar="CKPT.pt")
    p.add_argument("--out", required=True, metavar="FILE.dmdl")
    p.add_argument("--calib-count", type=int, default=128, help="composed train frames to calibrate on")
    p.add_argument("--calib-seed", type=int, default=11)
    p.add_argument("--presence-logit", type=float, help="default: the checkpoint's (chosen on validation)")
    p.add_argument("--interval", type=int, help="default: the config's")
    p.set_defaults(run=_export)

    p = sub.add_parser("evaluate", help="box quality of a model file's localiser (numpy int8 reference)")
    common(p)
    p.add_argument("--model", required=True, action="append", help="a model file with a localiser (repeatable)")
    p.add_argument("--split", choices=("dev", "test"), default="test")
    p.add_argument("--seed", type=int, default=3)
    p.add_argument("--count", type=int, default=600)
    p.add_argument("--real-photos", metavar="DIR", help="the real-photo check folder (.real-photo-check)")
    p.add_argument("--real-limit", type=int, help="at most this many photos")
    p.add_argument("--real-labels", metavar="LABELS.jsonl", help="also the teacher-labelled photos held out of training")
    p.add_argument("--real-holdout", type=float, default=0.15)
    p.add_argument("--json")
    p.set_defaults(run=_evaluate)

    p = sub.add_parser("clips", help="composed 640x480 evaluation clips of held-out words, with true crops")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--count", type=int, default=20)
    p.add_argument("--size", default="640x480")
    p.set_defaults(run=_clips)

    p = sub.add_parser("score", help="letter accuracy of decoded evaluation clips against their sidecar")
    p.add_argument("--clips", required=True, help="the folder with clips.json")
    p.add_argument("--decoded", nargs=2, action="append", required=True, metavar=("NAME", "FILE"),
                   help="a decoder's results: lines 'CLIP<TAB>LETTERS' or 'CLIP<TAB>!error'")
    p.set_defaults(run=_score)

    p = sub.add_parser("decode-clips", help="run `dactyl decode` on every evaluation clip with a crop rule")
    p.add_argument("--dactyl", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--clips", required=True)
    p.add_argument("--crop", choices=("true", "auto", "model"), required=True)
    p.add_argument("--out", required=True)
    p.set_defaults(run=_decode_clips)

    p = sub.add_parser("table", help="per-seed score files (score's JSON) as one table with mean ± sd")
    p.add_argument("scores", nargs="+", metavar="SEED.json")
    p.set_defaults(run=_table)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dactyl_quant.localiser")
    add_commands(parser.add_subparsers(dest="command", required=True))
    return run_command(parser.parse_args(["localiser", *(sys.argv[1:] if argv is None else argv)]))
