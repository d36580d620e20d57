#!/usr/bin/env python3
"""Per-layer and whole-encoder speed of every kernel path side by side, in one run.

Runs `dactyl bench --json --layers` for each path, interleaved (path A, B, C, A, B, C, ...),
RUNS times, and prints the median of the runs' medians per layer and for the whole frame, with
each path's speed-up over the first path (the scalar reference by default).

usage: scripts/compare-kernels.py [--dactyl BIN] [--model FILE] [--input HxW] [--paths scalar,avx2,vnni]
                                  [--threads N] [--frames N] [--runs N]
"""
import argparse
import json
import statistics
import subprocess
import sys


def bench(dactyl, model, size, path, threads, frames):
    command = [dactyl, "bench", "--model", model, "--kernel", path, "--threads", str(threads),
               "--frames", str(frames), "--layers", "--json"]
    if size:
        command += ["--input", size]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"compare-kernels: {' '.join(command)} failed: {result.stderr.strip()}")
    return json.loads(result.stdout)


def table(results, paths):
    """results[path] = list of bench JSON objects; returns the printed lines."""
    first = paths[0]
    layers = results[first][0]["layers"]
    lines = []
    head = f"{'op':>3} {'name':<18}{'output':<14}{'MMAC':>7}"
    for path in paths:
        head += f" {path + ' ms':>11}"
    for path in paths[1:]:
        head += f" {'x ' + path:>9}"
    lines.append(head)

    def median_of(path, key, index=None):
        values = [(run["layers"][index][key] if index is not None else run[key]) for run in results[path]]
        return statistics.median(values)

    for index, layer in enumerate(layers):
        line = f"{index:>3} {layer['name']:<18}{layer['output']:<14}{layer['macs'] / 1e6:>7.1f}"
        times = {path: median_of(path, "ms_median", index) for path in paths}
        for path in paths:
            line += f" {times[path]:>11.4f}"
        for path in paths[1:]:
            line += f" {times[first] / times[path] if times[path] > 0 else float('inf'):>9.1f}"
        lines.append(line)
    sums = {path: sum(median_of(path, "ms_median", i) for i in range(len(layers))) for path in paths}
    frames = {path: median_of(path, "frame_ms_median") for path in paths}
    line = f"{'':>3} {'sum of layers':<18}{'':<14}{layers and sum(l['macs'] for l in layers) / 1e6:>7.1f}"
    line += "".join(f" {sums[p]:>11.4f}" for p in paths) + "".join(f" {sums[first] / sums[p]:>9.1f}" for p in paths[1:])
    lines.append(line)
    line = f"{'':>3} {'whole frame':<18}{'':<14}{'':>7}"
    line += "".join(f" {frames[p]:>11.4f}" for p in paths) + "".join(f" {frames[first] / frames[p]:>9.1f}" for p in paths[1:])
    lines.append(line)
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dactyl", default=".build/release/dactyl")
    parser.add_argument("--model", default="models/default.dmdl")
    parser.add_argument("--input", default="")
    parser.add_argument("--paths", default="scalar,avx2,vnni")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    paths = args.paths.split(",")
    results = {path: [] for path in paths}
    for _ in range(args.runs):
        for path in paths:
            results[path].append(bench(args.dactyl, args.model, args.input, path, args.threads, args.frames))
    sample = results[paths[0]][0]
    print(f"model {args.model}, input {sample['input']}, {args.threads} thread(s), {args.runs} interleaved runs of "
          f"{args.frames} frames; medians; 'x PATH' = {paths[0]} time / PATH time")
    for line in table(results, paths):
        print(line)


if __name__ == "__main__":
    main()
