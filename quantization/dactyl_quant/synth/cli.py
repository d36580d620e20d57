"""Command line: `python -m dactyl_quant.synth generate ...` writes a corpus, `... sheet` a contact sheet."""

import argparse
import sys
import time

from ..commands import run_command
from .clip import SynthSettings
from .corpus import DEFAULT_WORDS, KINDS, STILL_CLIPS_PER_LETTER, read_words, write_corpus
from .scene import SPLITS
from .sequence import FPS
from .sheet import make_handshape_sheet, make_sheet


def _frame_size(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    if not (width.isdigit() and height.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r}: expected WIDTHxHEIGHT, e.g. 128x128")
    return int(width), int(height)


def _seconds_range(text: str, what: str, example: str) -> tuple[float, float]:
    low, _, high = text.partition(",")
    try:
        values = (float(low), float(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected {what}, e.g. {example}") from None
    if not (0 < values[0] <= values[1] < float("inf")):
        raise argparse.ArgumentTypeError(f"{text!r}: expected {what} with 0 < LOW <= HIGH, e.g. {example}")
    return values


def _speed(text: str) -> tuple[float, float]:
    return _seconds_range(text, "SPEED or LOW,HIGH times the generator's pace", "0.5,2")


def _hold(text: str) -> tuple[float, float]:
    return _seconds_range(text, "LOW,HIGH seconds", "0.1,2")


def _settings(args: argparse.Namespace) -> SynthSettings:
    width, height = args.size
    return SynthSettings(args.split, width, height, args.fps, args.speed, args.hold)


def _generate(args: argparse.Namespace) -> None:
    words = read_words(args.words or DEFAULT_WORDS[args.split]) if args.kind == "words" else []
    width, height = args.size
    settings = _settings(args)
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if done == total or done % 50 == 0:
            print(f"\r{args.split}: {done}/{total} clips", end="\n" if done == total else "", file=sys.stderr,
                  flush=True)

    rows = write_corpus(words, args.out, args.seed, settings, args.clips, args.y4m, args.workers, progress,
                        args.signers, args.kind, args.still_fraction)
    frames = sum(row["number_of_frames"] for row in rows)
    elapsed = time.perf_counter() - started
    print(f"{args.out}: {len(rows)} {args.split} clips, {frames} frames of {width}x{height} at {args.fps} frames/s "
          f"({frames / elapsed:.0f} frames/s with {args.workers} worker{'s' if args.workers > 1 else ''})")


def _pair(text: str) -> tuple[int, int]:
    low, _, high = text.partition(",")
    if not (low.isdigit() and high.isdigit()) or int(low) > int(high) or int(low) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: expected MIN,MAX, e.g. 15,30")
    return int(low), int(high)


def _session(args: argparse.Namespace) -> None:
    from .session import write_sessions
    words = read_words(args.words or DEFAULT_WORDS[args.split])
    settings = _settings(args)
    started = time.perf_counter()
    records = write_sessions(words, args.out, args.seed, settings, args.sessions, args.y4m, args.idle_frames,
                             args.words_per_session, args.first)
    frames = sum(r["frames"] for r in records)
    print(f"{args.out}: {len(records)} {args.split} sessions, {sum(len(r['words']) for r in records)} words, "
          f"{frames} frames ({time.perf_counter() - started:.0f} s)")


def _backgrounds(args: argparse.Namespace) -> None:
    from .photos import collect, photo_dir
    out = args.out or photo_dir()
    stored = collect(out, skimage=not args.no_skimage, log=lambda line: print(line, file=sys.stderr))
    pools = {pool: sum(s.pool == pool for s in stored) for pool in ("train", "test")}
    print(f"{out}: {len(stored)} photos ({pools['train']} train and dev, {pools['test']} test only)")


def _sheet(args: argparse.Namespace) -> None:
    if args.handshapes:
        make_handshape_sheet(args.out, args.size or 160)
    else:
        make_sheet(args.out, args.size or 128, args.seed)
    print(args.out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dactyl_quant.synth",
                                     description="Synthetic fingerspelling clips in the ChicagoFSWild layout.")
    commands = parser.add_subparsers(dest="command", required=True)

    generate = commands.add_parser("generate", help="render a split of a synthetic corpus into a folder")
    generate.add_argument("--words", metavar="FILE",
                          help="word list, one per line (default: the committed list of the split, "
                               "dactyl_quant/synth/words/SPLIT.txt)")
    generate.add_argument("--out", required=True, metavar="DIR")
    generate.add_argument("--seed", type=int, required=True, help="the same seed gives the same corpus")
    generate.add_argument("--split", choices=SPLITS, default="train",
                          help="partition to write; test uses the held-out skin tones, viewpoints, "
                               "backgrounds, background photos, lighting set-ups and camera kinds (default: train)")
    generate.add_argument("--clips", type=int, metavar="N",
                          help=f"number of clips (default: one per word; --kind still: {STILL_CLIPS_PER_LETTER} "
                               "per letter)")
    generate.add_argument("--kind", choices=KINDS, default="words",
                          help="words: fingerspelled words; still: single letters a-z, each held still for "
                               "0.3-2 s and labelled with that one letter (still_<split>/ rows beside the "
                               "words' synth_<split>/ ones) (default: words)")
    generate.add_argument("--still-fraction", type=float, default=0.0, metavar="F",
                          help="with --kind words: this share of the clips are still single letters instead, "
                               "so that a model trained on them reads a held letter once (default: 0)")
    generate.add_argument("--signers", type=int, metavar="N",
                          help="signers (hand proportions; skin tones cycle through the split's) "
                               "(default: train 16, dev 4, test 6)")
    generate.add_argument("--size", type=_frame_size, default=(128, 128), metavar="WxH",
                          help="frame size (default: 128x128)")
    generate.add_argument("--fps", type=int, default=FPS,
                          help=f"frame rate; the same seed gives the same signing at any rate (default: {FPS})")
    generate.add_argument("--speed", type=_speed, default=(1.0, 1.0), metavar="SPEED|LOW,HIGH",
                          help="signing speed, times the generator's pace: one for every signer, or each signer's "
                               "own, log-uniform in LOW,HIGH (default: 1)")
    generate.add_argument("--hold", type=_hold, metavar="LOW,HIGH",
                          help="hold each letter LOW to HIGH seconds, log-uniform (default: the pace's own, "
                               "0.1-0.27 s at speed 1)")
    generate.add_argument("--y4m", action="store_true", help="also write .y4m clips (always done for test)")
    generate.add_argument("--workers", type=int, default=1, metavar="N", help="processes to render with")
    generate.set_defaults(run=_generate)

    session = commands.add_parser("session", help="render continuous sessions: words with idle stretches between, "
                                                   "and their timings (session.py)")
    session.add_argument("--out", required=True, metavar="DIR")
    session.add_argument("--seed", type=int, required=True)
    session.add_argument("--split", choices=SPLITS, default="test",
                         help="whose words, signers, skin tones, viewpoints and backgrounds (default: test)")
    session.add_argument("--sessions", type=int, default=1, metavar="N")
    session.add_argument("--first", type=int, default=0, metavar="I", help="index of the first session (default: 0)")
    session.add_argument("--words", metavar="FILE", help="word list (default: the split's)")
    session.add_argument("--words-per-session", type=_pair, default=(3, 4), metavar="MIN,MAX",
                         help="words in a session (default: 3,4)")
    session.add_argument("--idle-frames", type=_pair, default=(15, 30), metavar="MIN,MAX",
                         help="frames of each idle stretch at 30 frames/s (default: 15,30)")
    session.add_argument("--size", type=_frame_size, default=(128, 128), metavar="WxH")
    session.add_argument("--fps", type=int, default=FPS)
    session.add_argument("--speed", type=_speed, default=(1.0, 1.0), metavar="SPEED|LOW,HIGH",
                         help="signing speed, times the generator's pace: one for every signer, or each signer's "
                              "own, log-uniform in LOW,HIGH (default: 1)")
    session.add_argument("--hold", type=_hold, metavar="LOW,HIGH",
                         help="hold each letter LOW to HIGH seconds, log-uniform (default: the pace's own, "
                              "0.1-0.27 s at speed 1)")
    session.add_argument("--y4m", action="store_true",
                         help="write .y4m clips (else the RGB frames as .npy, for tests and training)")
    session.set_defaults(run=_session)

    backgrounds = commands.add_parser(
        "backgrounds", help="collect the free-licensed background photos into the cache (photos.py, "
                            "docs/backgrounds.md); generating works without them")
    backgrounds.add_argument("--out", metavar="DIR",
                             help="cache folder (default: $DACTYL_BACKGROUNDS, else ~/.cache/dactyl/backgrounds)")
    backgrounds.add_argument("--no-skimage", action="store_true",
                             help="skip the scikit-image sample photos (they come from its wheel, via pip)")
    backgrounds.set_defaults(run=_backgrounds)

    sheet = commands.add_parser("sheet", help="draw every letter and frames of two words into a PNG")
    sheet.add_argument("--out", required=True, metavar="FILE.png")
    sheet.add_argument("--size", type=int, help="tile size in pixels (default: 128; 160 with --handshapes)")
    sheet.add_argument("--handshapes", action="store_true",
                       help="the reference sheet instead: every letter from the front and from three-quarters "
                            "(docs/handshapes.png)")
    sheet.add_argument("--seed", type=int, default=0, help="seed of the word clips (default: 0)")
    sheet.set_defaults(run=_sheet)

    return run_command(parser.parse_args(argv))

