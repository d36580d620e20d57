#!/usr/bin/env python3
"""Export a random-weight ResNet34 student at 112x112 (for `dactyl inspect` and benchmark sizes).

    python quantization/scripts/export_resnet34.py OUT.dmdl [--frames N] [--seed S]

Calibrates on a synthetic 160x120 clip; takes seconds on two cores. The model is untrained and
its INFO says so; the file (~27 MB) is not meant to be committed.
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dactyl_quant.build import build  # noqa: E402
from dactyl_quant.export import write_model  # noqa: E402
from dactyl_quant.student import CONFIGS  # noqa: E402
from dactyl_quant.synthclip import make_frames  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, metavar="OUT.dmdl")
    parser.add_argument("--frames", type=int, default=16, help="calibration frames (default 16)")
    parser.add_argument("--seed", type=int, default=0, help="weight seed (default 0)")
    args = parser.parse_args()
    if args.frames < 1:
        parser.error("--frames must be at least 1")
    started = time.monotonic()
    clip = make_frames(160, 120, args.frames, seed=args.seed)
    info = f"resnet34 student @112x112, untrained (random weights, seed {args.seed}): for size and speed measurements"
    built = build(CONFIGS["resnet34"], [clip], info, seed=args.seed)
    write_model(built.model, args.out)
    model = built.model
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes): {len(model.encoder_ops)} encoder ops, "
          f"feature {model.feature_dim}, {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
