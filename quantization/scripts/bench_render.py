"""Render speed of the synthetic generator: clips and frames per second of CPU time (one core).

    python3 scripts/bench_render.py [--clips 20] [--split train]

Renders words of the split's list with `render_clip` at 128x128 (nothing written), seeds
(7, i); CPU time, so that other processes on a shared machine matter less. Run from
`quantization/`; to compare with an older generator, run this file with that checkout's
`quantization/` as the working folder.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path.cwd()))  # the generator of the folder it is run from

import numpy as np  # noqa: E402

from dactyl_quant.synth import SynthSettings, render_clip  # noqa: E402
from dactyl_quant.synth.corpus import DEFAULT_WORDS, read_words  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--split", default="train")
    args = parser.parse_args()
    words = read_words(DEFAULT_WORDS[args.split])
    render_clip("ab", np.random.default_rng(0), SynthSettings(args.split))  # imports, caches, photos decoded
    started, frames = time.process_time(), 0
    for i in range(args.clips):
        frames += len(render_clip(words[i % len(words)], np.random.default_rng([7, i]), SynthSettings(args.split)).frames)
    elapsed = time.process_time() - started
    print(f"{args.split}: {args.clips / elapsed:.2f} clips/s, {frames / elapsed:.0f} frames/s (CPU time, one core)")


if __name__ == "__main__":
    main()
