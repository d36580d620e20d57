#!/usr/bin/env python3
"""The repository's default model and sample clip.

Run from the repository root: `python models/make_default.py`. It writes

- samples/sample.y4m: 2 s of a synthetic 160x120 clip, 30 fps, 4:2:0 limited range;
- models/default.dmdl: the tiny student with seeded random weights, calibrated on the sample.

The model is untrained (its INFO says so): a placeholder that lets `dactyl` run end to end until a
trained student is exported with `python -m dactyl_quant export --checkpoint ...`. Both files are
deterministic, like the golden vectors.
"""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "quantization"))

from dactyl_quant.build import build  # noqa: E402
from dactyl_quant.export import write_model  # noqa: E402
from dactyl_quant.student import CONFIGS  # noqa: E402
from dactyl_quant.synthclip import write_clip  # noqa: E402
from dactyl_quant.y4m import read_rgb  # noqa: E402

SAMPLE = REPO / "samples" / "sample.y4m"
MODEL = REPO / "models" / "default.dmdl"
SEED = 5  # the golden vectors' seed (Tests/golden/make_golden.py)
SAMPLE_SEED = 2025


def make(sample: Path, model: Path) -> None:
    sample.parent.mkdir(parents=True, exist_ok=True)
    write_clip(sample, 160, 120, 60, SAMPLE_SEED, "420jpeg", full_range=False, fps=(30, 1))
    info = (f"tiny student, untrained (random weights, seed {SEED}): placeholder default model, "
            "it does not recognise fingerspelling")
    built = build(CONFIGS["tiny"], [read_rgb(sample)[1]], info, seed=SEED)
    write_model(built.model, model)


def main() -> int:
    make(SAMPLE, MODEL)
    print(f"wrote {SAMPLE.relative_to(REPO)} and {MODEL.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
