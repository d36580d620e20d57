"""Command line: `python -m dactyl_quant export ...`, `python -m dactyl_quant decode MODEL CLIP` and
`python -m dactyl_quant localiser ...` (localiser/cli.py)."""

import argparse

from . import ctc
from .commands import run_command
from .build import build
from .export import read_model, write_model
from .preprocess import Crop
from .reference import run_clip
from .student import CONFIGS
from .y4m import read_rgb


def _export(args: argparse.Namespace) -> None:
    clips = [read_rgb(path)[1] for path in args.calib]
    built = build(CONFIGS[args.config], clips, args.info, seed=args.seed, checkpoint=args.checkpoint)
    write_model(built.model, args.out)
    model = built.model
    print(f"{args.out}: {args.config}, {len(model.encoder_ops)} encoder ops, {len(model.head_ops)} temporal ops, "
          f"feature {model.feature_dim}, input {model.input_width}x{model.input_height}")


def _decode(args: argparse.Namespace) -> None:
    model = read_model(args.model)
    crop = Crop.parse(args.crop) if args.crop else None
    _, log_probs = run_clip(model, args.clip, crop)
    labels = ctc.beam_search(log_probs, args.beam) if args.beam else ctc.greedy(log_probs)
    print(model.alphabet.decode(labels))
    if args.spans:
        for span in ctc.letter_spans(log_probs, labels):
            print(f"{model.alphabet.decode([span.label])!r} frames {span.start}-{span.end} score {span.score:.4f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dactyl_quant",
                                     description="Dactyl student: int8 export and the numpy reference.")
    commands = parser.add_subparsers(dest="command", required=True)

    export = commands.add_parser("export", help="quantise a student and write a .dmdl model file")
    export.add_argument("--config", choices=sorted(CONFIGS), required=True, help="student architecture")
    weights = export.add_mutually_exclusive_group(required=True)
    weights.add_argument("--seed", type=int, help="random weights from this seed (an untrained model)")
    weights.add_argument("--checkpoint", help="trained weights: a PyTorch state_dict file")
    export.add_argument("--calib", nargs="+", required=True, metavar="CLIP.y4m",
                        help="calibration clips (cropped with the config's default crop)")
    export.add_argument("--out", required=True, metavar="FILE.dmdl")
    export.add_argument("--info", required=True, help="INFO text: the model's name and how it was trained")
    export.set_defaults(run=_export)

    decode = commands.add_parser("decode", help="run the numpy int8 reference on a clip and print the letters")
    decode.add_argument("model", metavar="MODEL.dmdl")
    decode.add_argument("clip", metavar="CLIP.y4m")
    decode.add_argument("--crop", metavar="X,Y,W,H", help="hand crop in pixels (default: the model's)")
    decode.add_argument("--beam", type=int, metavar="WIDTH", help="prefix beam search instead of greedy")
    decode.add_argument("--spans", action="store_true", help="also print each letter's frame span and score")
    decode.set_defaults(run=_decode)

    from .localiser.cli import add_commands as add_localiser_commands
    add_localiser_commands(commands)

    return run_command(parser.parse_args(argv))
