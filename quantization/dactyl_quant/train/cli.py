"""`python -m dactyl_quant.train COMMAND`: fit, pretrain, evaluate, evaluate-dactyl, report, cache, configs.

    fit              KD + CTC training (torchrun for several GPUs) → RUN/best.pt, last.pt, log.csv, *.png
    pretrain         warm-up: KD on single frames, then the head on frozen features → RUN/pretrained.pt (fit --init)
    evaluate         fp32 letter accuracy of a checkpoint on a split (greedy or beam)
    evaluate-dactyl  int8 letter accuracy of a .dmdl through the Swift `dactyl decode` (or the numpy reference)
    evaluate-letters per-letter exact-read, doubling and confusion on single-letter clips (still split, real photos)
    evaluate-seeds   evaluate-dactyl on the held-out word split of several generator seeds: mean and spread
    evaluate-sessions  the segmenter of `dactyl run` on generated sessions: word boundaries and letters
    report           markdown table of evaluation results (JSON files from the two above)
    cache            decode + crop + resize clips into the cache only (e.g. where Pillow is installed)
    configs          the student configs with their MACs per frame
"""

import argparse
import os

from ..commands import run_command
from ..corpus import DataError

TEACHER_HELP = "teacher features under DATA/teachers/NAME/ (synthpose, mediapipe, hamer), or none"


def _data_options(parser: argparse.ArgumentParser, required: bool = False) -> None:
    group = parser.add_argument_group("data")
    group.add_argument("--data", required=required, metavar="DIR|CSV",
                       help="ChicagoFSWild-layout folder (ChicagoFSWild.csv or ChicagoFSWildPlus.csv), or a CSV of "
                            "clip,letters[,partition]")
    group.add_argument("--dataset", choices=("auto", "chicagofswild", "csv"),
                       help="corpus layout (default: auto, from --data)")
    group.add_argument("--csv", metavar="NAME", help="which CSV in --data (default: the one there)")
    group.add_argument("--frames", choices=("auto", "jpg", "y4m"),
                       help="ChicagoFSWild layout: JPEG frames (needs Pillow) or DATA/y4m/<filename>.y4m "
                            "(default: auto, JPEG if its folder exists)")
    group.add_argument("--crop-policy", choices=("fixed", "bbox"),
                       help="fixed: the config's default_crop, as the board (default; required for synthetic "
                            "data); bbox: a fixed crop per clip around the signing hand's BBox boxes")
    group.add_argument("--bbox-margin", type=float, metavar="F", help="bbox crop side / hand box side (1.6)")
    group.add_argument("--cache", metavar="DIR", help="clip cache (default: DATA/cache)")
    group.add_argument("--cache-workers", type=int, metavar="N", help="processes building the cache (default: cores)")
    group.add_argument("--skip-bad", action="store_true",
                       help="skip and count bad rows (unknown letter, missing or unreadable clip, teacher mismatch) "
                            "instead of stopping at the first")


def _result_options(parser: argparse.ArgumentParser) -> None:
    """Where an evaluation writes its result, for `report`."""
    parser.add_argument("--json", metavar="FILE", help="write the result (for `report`)")
    parser.add_argument("--predictions", metavar="FILE.csv", help="write key, reference, hypothesis per clip")
    parser.add_argument("--label", help="row label for `report`")


def _fit(args) -> None:
    from .config import FitConfig
    from .loop import fit
    fit(FitConfig.from_namespace(args))


def _pretrain(args) -> None:
    from .pretrain import pretrain
    pretrain(args)


def _kd_options(parser: argparse.ArgumentParser, teacher_default: str | None) -> argparse._ArgumentGroup:
    """The student and the KD head: fit's and pretrain's, which must agree for `fit --init`."""
    group = parser.add_argument_group("model and losses")
    group.add_argument("--config", help="student config (default: pi; see `configs`)")
    group.add_argument("--teacher", metavar="NAME",
                       help=TEACHER_HELP + (f" (default: {teacher_default})" if teacher_default else ""))
    group.add_argument("--teachers-dir", metavar="DIR", help="folder holding the teacher folders (default: DATA/teachers)")
    group.add_argument("--kd-loss", choices=("mse", "cosine", "l1", "smooth-l1"),
                       help="KD distance to the standardised teacher embedding (default: mse)")
    group.add_argument("--kd-hidden", type=int, metavar="N", help="hidden units of the KD projection head (256)")
    group.add_argument("--kd-all-frames", dest="kd_mask", action="store_const", const=False,
                       help="distil every frame, ignoring the teacher's <filename>.detected.npy (default: only the "
                            "frames where the teacher saw a hand, when that file exists)")
    return group


def _evaluate(args) -> None:
    from .loop import evaluate
    evaluate(args)


def _evaluate_dactyl(args) -> None:
    from .evaluate_dactyl import evaluate_model_file
    evaluate_model_file(args)


def _evaluate_letters(args) -> None:
    from .evaluate_letters import evaluate_letters
    evaluate_letters(args)


def _evaluate_seeds(args) -> None:
    from .evaluate_seeds import evaluate_seeds
    evaluate_seeds(args)


def _engine_options(parser: argparse.ArgumentParser, model_required: bool = True) -> None:
    """How a .dmdl model file is run on clips: evaluate-dactyl's, evaluate-letters' and evaluate-seeds'."""
    parser.add_argument("--model", required=model_required, metavar="M.dmdl")
    parser.add_argument("--dactyl", metavar="PATH", help="the dactyl binary (default: $DACTYL, "
                                                         ".build/release/dactyl, or dactyl on PATH)")
    parser.add_argument("--engine", choices=("dactyl", "reference"), default="dactyl",
                        help="the Swift binary, or the numpy int8 reference (bit-exact encoder, slower)")
    parser.add_argument("--jobs", type=int, metavar="N", help="clips decoded at once (default: cores)")
    parser.add_argument("--quiet", action="store_true")


def _vocabulary_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lexicon", metavar="FILE", help="word list constraining the beam search (needs --beam)")
    parser.add_argument("--lm", metavar="FILE.dclm", help="character n-gram model (python -m dactyl_quant.charlm "
                                                          "train; needs --beam)")
    parser.add_argument("--lm-weight", type=float, metavar="W", help="the LM's weight (dactyl's default: 0.3)")
    parser.add_argument("--insertion-bonus", type=float, metavar="B",
                        help="added per extension with --lexicon or --lm (default: 0)")


def _evaluate_sessions(args) -> None:
    from .evaluate_sessions import evaluate_sessions
    evaluate_sessions(args)


def _report(args) -> None:
    from .report import write_report
    text = write_report(args.results, args.out, args.title)
    if not args.out:
        print(text, end="")
    else:
        print(f"{args.out}: {len(args.results)} rows")


def _cache(args) -> None:
    from ..student import CONFIGS
    from .cache import CacheSpec, ClipCache, default_workers
    from ..corpus import read_corpus
    config = CONFIGS[args.config]
    corpus = read_corpus(args.data, args.dataset or "auto", args.frames or "auto", partitions=tuple(args.splits),
                         skip_bad=args.skip_bad, csv_name=args.csv)
    spec = CacheSpec(config.input_height, config.input_width, config.default_crop, args.crop_policy or "fixed",
                     args.bbox_margin or 1.6)
    cache = ClipCache(args.cache or os.path.join(corpus.root, "cache"), spec)
    workers = args.cache_workers if args.cache_workers is not None else default_workers()
    samples, entries = cache.ensure(corpus.samples, corpus.skipped, workers)
    frames = sum(entry.frames for entry in entries.values())
    print(f"{cache.dir}: {len(entries)} clips, {frames} frames; {corpus.skipped.summary()}")


def _configs(args) -> None:
    from ..student import CONFIGS
    from .model import macs_per_frame
    print("| config | input | blocks | width | feature | temporal | GRU | encoder MACs/frame | head MACs/frame "
          "| crop | window |")
    print("|---|---|---|---:|---:|---|---:|---:|---:|---|---:|")
    for name, c in CONFIGS.items():
        encoder, head = macs_per_frame(c)
        print(f"| {name} | {c.input_width}x{c.input_height} | {c.blocks} | {c.width} | {c.feature_dim} | "
              f"{c.temporal} | {c.gru_hidden} | {encoder:,} | {head:,} | {c.default_crop} | {c.default_window} |")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dactyl_quant.train",
                                     description="Train and evaluate the Dactyl student (KD + CTC).")
    commands = parser.add_subparsers(dest="command", required=True)

    fit = commands.add_parser("fit", help="train a student (KD + CTC)",
                              description="Train a student. Options left out of a --resume take the run's values.")
    _data_options(fit)
    model = _kd_options(fit, teacher_default="none")
    model.add_argument("--kd-weight", type=float, metavar="W",
                       help="weight of the KD loss next to CTC (default: 1 with a teacher, 0 without: the no-KD ablation)")
    model.add_argument("--init", metavar="PRETRAINED.pt",
                       help="start from the weights of a KD warm-up (`pretrain`'s RUN/pretrained.pt) instead of random ones")
    model.add_argument("--kd-only-data", metavar="DIR|CSV",
                       help="KD-only clips without letters, e.g. real hand crops (`python -m dactyl_quant.realhands "
                            "crops`: quantization/.realhands/kd), with teacher files of the same --teacher; mixed into "
                            "every step, KD loss only, never CTC")
    model.add_argument("--kd-only-weight", type=float, metavar="W", help="weight of their KD loss (default 1)")
    model.add_argument("--kd-only-batch", type=int, metavar="N", help="KD-only clips added to each step (default 16)")
    optimisation = fit.add_argument_group("optimisation")
    optimisation.add_argument("--epochs", type=int, help="epochs (default 30)")
    optimisation.add_argument("--batch", type=int, help="clips per batch and process (default 32)")
    optimisation.add_argument("--lr", type=float, help="peak learning rate of AdamW (default 1e-3)")
    optimisation.add_argument("--weight-decay", type=float, help="AdamW weight decay on weights (default 0.01)")
    optimisation.add_argument("--warmup", type=float, metavar="FRACTION",
                              help="linear warmup, fraction of all steps (default 0.05); cosine decay after")
    optimisation.add_argument("--clip-grad", type=float, metavar="NORM", help="gradient norm clip (default 1; 0: off)")
    optimisation.add_argument("--seed", type=int, help="seed of weights, data order, augmentation (default 0)")
    optimisation.add_argument("--no-augment", action="store_const", const=True,
                              help="no brightness/contrast/colour/shift/speed augmentation")
    optimisation.add_argument("--train-split", help="partition to train on (default train)")
    optimisation.add_argument("--dev-split", help="partition evaluated every epoch, choosing best.pt (default dev)")
    run = fit.add_argument_group("run")
    run.add_argument("--out", required=True, metavar="RUN_DIR", help="checkpoints, log.csv, plots")
    run.add_argument("--resume", action="store_true", help="continue RUN_DIR/last.pt")
    run.add_argument("--time-budget", type=float, metavar="MINUTES",
                     help="stop cleanly (evaluated and saved) within this many minutes of the start; a fresh run "
                          "also fits its learning-rate schedule into them")
    run.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    run.add_argument("--amp", choices=("auto", "off"), help="bf16 autocast on CUDA (auto) or fp32 (off)")
    run.add_argument("--workers", type=int, metavar="N", help="DataLoader worker processes per training process")
    run.add_argument("--eval-batch", type=int, metavar="N", help="clips per evaluation batch (default 2x --batch)")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    fit.set_defaults(run=_fit)

    pretrain = commands.add_parser(
        "pretrain", help="warm-up: KD on single frames, then the temporal head on the frozen encoder",
        description="Stage 1: KD on batches of single frames drawn from all training clips (--steps or "
                    "--time-budget). Stage 2: CTC on the temporal head over the frozen encoder's features "
                    "(--head-steps). Continue with `fit --init RUN/pretrained.pt`. One process.")
    _data_options(pretrain)
    _kd_options(pretrain, teacher_default=None)
    pretrain.set_defaults(dataset="auto", frames="auto", crop_policy="fixed", bbox_margin=1.6, kd_mask=True,
                          config="pi", kd_loss="mse", kd_hidden=256)
    options = pretrain.add_argument_group("optimisation")
    options.add_argument("--steps", type=int, help="optimiser steps (or give --time-budget)")
    options.add_argument("--time-budget", type=float, metavar="MINUTES",
                         help="end stage 1 within this many minutes, its learning-rate schedule fitted into them "
                              "(stage 2 follows: about a minute per 1,000 head steps on one CPU core)")
    options.add_argument("--batch", type=int, default=128, help="frames per batch (default 128)")
    options.add_argument("--lr", type=float, default=2e-3, help="peak learning rate of AdamW (default 2e-3)")
    options.add_argument("--weight-decay", type=float, default=0.01)
    options.add_argument("--warmup", type=float, default=0.03, metavar="FRACTION",
                         help="linear warmup, fraction of the steps (default 0.03)")
    options.add_argument("--clip-grad", type=float, default=1.0, metavar="NORM")
    options.add_argument("--seed", type=int, default=0)
    options.add_argument("--no-augment", action="store_true",
                         help="no brightness/contrast/colour/shift augmentation")
    options.add_argument("--train-split", default="train")
    options.add_argument("--dev-split", default="dev", help="frames whose KD loss is reported ('' for none)")
    options.add_argument("--eval-minutes", type=float, default=5.0, metavar="M",
                         help="report the dev KD loss every M minutes (default 5)")
    head = pretrain.add_argument_group("temporal head on the frozen encoder (stage 2)")
    head.add_argument("--head-steps", type=int, default=2000, help="CTC steps of the head after the frames (0: none)")
    head.add_argument("--head-batch", type=int, default=32, help="clips per head step (default 32)")
    head.add_argument("--head-lr", type=float, default=3e-3, help="peak learning rate of the head (default 3e-3)")
    options.add_argument("--out", required=True, metavar="RUN_DIR", help="pretrained.pt, pretrain.csv")
    options.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    options.add_argument("--quiet", action="store_true", help="no progress bar")
    pretrain.set_defaults(run=_pretrain)

    evaluate = commands.add_parser("evaluate", help="fp32 letter accuracy of a checkpoint on a split")
    _data_options(evaluate)
    evaluate.add_argument("--checkpoint", required=True, help="RUN/best.pt or RUN/last.pt (or a bare state_dict)")
    evaluate.add_argument("--config", help="student config (default: the checkpoint's)")
    evaluate.add_argument("--split", default="test")
    evaluate.add_argument("--beam", type=int, default=0, metavar="N", help="prefix beam search width (0: greedy)")
    evaluate.add_argument("--batch", type=int, default=16)
    evaluate.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    evaluate.add_argument("--workers", type=int, metavar="N")
    _result_options(evaluate)
    evaluate.set_defaults(run=_evaluate)

    dactyl = commands.add_parser("evaluate-dactyl", help="int8 letter accuracy of a .dmdl model file on a split")
    _data_options(dactyl, required=True)
    _engine_options(dactyl)
    dactyl.add_argument("--split", default="test")
    dactyl.add_argument("--beam", type=int, default=0, metavar="N")
    _vocabulary_options(dactyl)
    _result_options(dactyl)
    dactyl.set_defaults(run=_evaluate_dactyl, crop_policy=None, bbox_margin=None)

    letters = commands.add_parser(
        "evaluate-letters", help="per-letter exact read, doubling and confusion matrix on single-letter clips",
        description="Single-letter clips (the still-letter split: synth generate --kind still; the real-photo "
                    "check: scripts/build_real_photo_check.py) through dactyl decode: exact-read, contains and "
                    "doubling rates per letter, and the confusion matrix (CSV, PNG, markdown) in --out.")
    _data_options(letters)
    _engine_options(letters, model_required=False)
    letters.add_argument("--split", default="test")
    letters.add_argument("--beam", type=int, default=0, metavar="N")
    _vocabulary_options(letters)
    letters.add_argument("--from-predictions", metavar="FILE.csv",
                         help="score this predictions CSV (key,reference,hypothesis) instead of decoding")
    letters.add_argument("--out", required=True, metavar="DIR", help="letters.csv, confusion.csv/.png, letters.md, "
                                                                    "summary.json, predictions.csv")
    letters.add_argument("--title", help="title of the tables and the matrix")
    letters.add_argument("--group-by", metavar="REGEX",
                         help="also summarise groups of clips: what this expression's one group finds in each "
                              "clip's key (the real-photo check: '^y4m/([^/]+)/', its two photo sources)")
    letters.add_argument("--command-line", metavar="TEXT", help="the command to print with the tables")
    letters.set_defaults(run=_evaluate_letters, crop_policy=None, bbox_margin=None)

    seeds = commands.add_parser(
        "evaluate-seeds", help="evaluate-dactyl on the held-out word split of several generator seeds",
        description="Generates the held-out test split for each seed (unless DIR/seed-S exists), runs "
                    "evaluate-dactyl on each with each decoder (greedy, beam, beam + lexicon), failed clips "
                    "counted as errors, and reports per seed and the mean and spread over the seeds.")
    _engine_options(seeds)
    seeds.add_argument("--work", required=True, metavar="DIR", help="DIR/seed-S corpora, results.json, results.md")
    seeds.add_argument("--seeds", type=int, nargs="+", default=[13, 14, 15], metavar="S",
                       help="generator seeds (at least 3; default 13 14 15: 13 is the README's split)")
    seeds.add_argument("--split", default="test")
    seeds.add_argument("--beam", type=int, default=8, metavar="N", help="beam width of the beam decoders (8)")
    seeds.add_argument("--lexicon", metavar="FILE",
                       help="lexicon of the beam + lexicon row (default: the training and test word lists, "
                            "the vocabulary a user would give; 'none': no lexicon row)")
    seeds.add_argument("--workers", type=int, default=1, metavar="N", help="processes rendering each split")
    seeds.add_argument("--size", default="128x128", metavar="WxH", help="frame size of generated splits")
    seeds.set_defaults(run=_evaluate_seeds)

    sessions = commands.add_parser("evaluate-sessions",
                                   help="word-boundary and letter accuracy of `dactyl run` on generated sessions")
    sessions.add_argument("--data", required=True, metavar="DIR",
                          help="session-*.json and .y4m (python -m dactyl_quant.synth session --y4m)")
    sessions.add_argument("--dactyl", metavar="PATH", help="the dactyl binary (default: $DACTYL, "
                                                           ".build/release/dactyl, or dactyl on PATH)")
    sessions.add_argument("--model", metavar="M.dmdl", help="passed to dactyl run (default: its default model)")
    sessions.add_argument("--lexicon", metavar="FILE", help="passed to dactyl run")
    sessions.add_argument("--run-arg", action="append", metavar="ARG",
                          help="one more argument for dactyl run (repeat: --run-arg=--beam --run-arg=8)")
    sessions.add_argument("--jobs", type=int, metavar="N", help="sessions run at once (default: cores)")
    sessions.add_argument("--timeout", type=float, default=600, metavar="S", help="seconds per session (600)")
    sessions.add_argument("--json", metavar="FILE", help="write the metrics and per-session results")
    sessions.add_argument("--quiet", action="store_true", help="do not print failed runs")
    sessions.set_defaults(run=_evaluate_sessions)

    report = commands.add_parser("report", help="markdown table of evaluation results")
    report.add_argument("results", nargs="+", metavar="[LABEL=]RESULT.json")
    report.add_argument("--out", metavar="FILE.md", help="write here (default: print)")
    report.add_argument("--title", default="Letter accuracy")
    report.set_defaults(run=_report)

    cache = commands.add_parser("cache", help="build the clip cache only")
    _data_options(cache, required=True)
    cache.add_argument("--config", default="pi", help="student config: its input size and default crop")
    cache.add_argument("--splits", nargs="+", default=["train", "dev", "test"])
    cache.set_defaults(run=_cache)

    configs = commands.add_parser("configs", help="the student configs and their MACs per frame")
    configs.set_defaults(run=_configs)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in ("evaluate-dactyl", "evaluate-letters"):
        args.crop_policy = args.crop_policy or "fixed"
        args.bbox_margin = args.bbox_margin or 1.6
    return run_command(args, (DataError, ValueError, OSError))
