#!/usr/bin/env python3
"""Frames per second of `dactyl run --fast` with and without the hand localiser, side by side
(issue 14): the same model and clip with `--crop model` (the fixed crop, no localiser planned)
and `--crop auto` (the localiser every LMET interval, or --interval N). Runs alternate so that a
busy machine affects both alike; prints the median of each.

    python3 scripts/localiser-fps.py [--model models/default.dmdl] [--clip samples/session.y4m]
                                     [--frames 3000] [--repeats 3] [--interval N] [--kernel PATH] [--threads N]
"""
import argparse
import os
import statistics
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(args, crop):
    command = [args.dactyl, "run", args.clip, "--fast", "--loop", "--max-frames", str(args.frames),
               "--model", args.model, "--crop", crop, "--sinks", "stdout"]
    if crop == "auto" and args.interval:
        command += ["--localiser-interval", str(args.interval)]
    if args.kernel:
        command += ["--kernel", args.kernel]
    if args.threads:
        command += ["--threads", str(args.threads)]
    started = time.monotonic()
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return args.frames / (time.monotonic() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dactyl", default=os.path.join(ROOT, ".build/release/dactyl"))
    parser.add_argument("--model", default=os.path.join(ROOT, "models/default.dmdl"))
    parser.add_argument("--clip", default=os.path.join(ROOT, "samples/session.y4m"))
    parser.add_argument("--frames", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--interval", type=int)
    parser.add_argument("--kernel")
    parser.add_argument("--threads", type=int)
    args = parser.parse_args()
    results = {"model": [], "auto": []}
    for _ in range(args.repeats):
        for crop in results:
            results[crop].append(run(args, crop))
    names = {"model": "fixed crop (no localiser)", "auto": "--crop auto (localiser)"}
    for crop, values in results.items():
        print(f"{names[crop]:>28}: {statistics.median(values):7.1f} frames/s (runs: {', '.join(f'{v:.1f}' for v in values)})")
    ratio = statistics.median(results["auto"]) / statistics.median(results["model"])
    print(f"{'with / without':>28}: {ratio:.3f}")


if __name__ == "__main__":
    main()
