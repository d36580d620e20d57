#!/usr/bin/env python3
"""Crop jitter of `--crop auto` over a held letter (docs/localiser.md, "Jitter").

Runs `dactyl decode CLIP --crop auto --format jsonl --trace-boxes` and, over the frames FIRST..LAST
(default: from the frame where the hand was acquired, the first crop change, to the end), reports the standard deviation of the localiser's raw box (centre x, y
and width, at each run where it saw a hand) and of the crop the recogniser got (every frame), each
as a fraction of the mean size, and how often the crop changed.

    python3 scripts/crop-jitter.py CLIP [--model FILE] [--frames FIRST:LAST] [--dactyl PATH] [--interval N]
"""
import argparse
import json
import statistics
import subprocess
import sys


def sd_fraction(values, size):
    return statistics.pstdev(values) / size if len(values) > 1 and size > 0 else 0.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("clip")
    parser.add_argument("--model")
    parser.add_argument("--frames", help="FIRST:LAST, inclusive (a held letter)")
    parser.add_argument("--dactyl", default=".build/release/dactyl")
    parser.add_argument("--interval", type=int)
    args = parser.parse_args()
    command = [args.dactyl, "decode", args.clip, "--crop", "auto", "--format", "jsonl", "--trace-boxes"]
    if args.model:
        command += ["--model", args.model]
    if args.interval:
        command += ["--localiser-interval", str(args.interval)]
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(run.stderr.strip())
    report = json.loads(run.stdout.strip().splitlines()[-1])
    frames = report["frames"]
    changes = {entry[0]: entry[1:] for entry in report["crops"]}
    acquired = sorted(frame for frame in changes if frame > 0)
    first, last = (acquired[0] if acquired else 0), frames - 1
    if args.frames:
        first, last = (int(part) for part in args.frames.split(":"))
    boxes = []
    for line in run.stderr.splitlines():
        words = line.split()
        if words[:2] == ["box", "frame"] and words[3] == "present" and first <= int(words[2]) <= last:
            boxes.append([float(word) for word in words[4:8]])
    crops, current = [], None
    for frame in range(frames):
        current = changes.get(frame, current)
        if first <= frame <= last:
            crops.append(current)
    moves = sum(1 for frame in changes if first < frame <= last)
    print(f"frames {first}-{last}: {len(boxes)} localiser runs with a hand, {moves} crop changes")
    if boxes:
        size = statistics.mean(box[2] for box in boxes)
        print(f"  raw box  sd centre x {sd_fraction([b[0] for b in boxes], size):.3f}  y {sd_fraction([b[1] for b in boxes], size):.3f}"
              f"  width {sd_fraction([b[2] for b in boxes], size):.3f}  (fractions of the mean width {size:.1f} px)")
    size = statistics.mean(crop[2] for crop in crops)
    print(f"  crop     sd centre x {sd_fraction([c[0] + c[2] / 2 for c in crops], size):.3f}"
          f"  y {sd_fraction([c[1] + c[3] / 2 for c in crops], size):.3f}  width {sd_fraction([c[2] for c in crops], size):.3f}"
          f"  (fractions of the mean crop width {size:.1f} px)")


if __name__ == "__main__":
    main()
