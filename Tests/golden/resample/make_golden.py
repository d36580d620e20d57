#!/usr/bin/env python3
"""Golden vectors of the frame-rate resampling (quantization/dactyl_quant/resample.py), which the
Swift FrameRateResampler must reproduce bit for bit (Tests/DactylPipelineTests/FrameRateResamplerTests.swift).

Run from the repository root: `python Tests/golden/resample/make_golden.py`. It writes cases.json
beside itself: per case the model's rate, the source frames' times (ns), seeded int8 features of
every source frame, and the expected ticks (source frame, previous encoded frame, weight) and
resampled features.
"""

import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "quantization"))

from dactyl_quant.resample import resample_features, source_ns  # noqa: E402

FEATURES = 6
FRAMES = 40


def clip_times(rate: tuple[int, int], frames: int = FRAMES, start: int = 0) -> list[int]:
    return [start + source_ns(i, rate) for i in range(frames)]


def camera_times(seed: int) -> list[int]:
    """A 30 frames/s camera's timestamps: ±6 ms jitter, dropped frames, a 400 ms stall, a large origin."""
    rng = np.random.default_rng(seed)
    times, t = [], 123_456_789_012_345
    for i in range(70):
        t += 33_333_333 + int(rng.integers(-6_000_000, 6_000_001))
        if i == 30:
            t += 400_000_000
        if rng.random() < 0.15:
            continue  # dropped
        times.append(t)
    return times


CASES = [(f"clip {n}/{d} fps, model 30", (30, 1), clip_times((n, d)))
         for n, d in [(15, 1), (20, 1), (25, 1), (30, 1), (50, 1), (60, 1), (30000, 1001), (24000, 1001)]]
CASES += [("clip 30 fps, model 25", (25, 1), clip_times((30, 1))),
          ("clip 60 fps, model 30000/1001", (30000, 1001), clip_times((60, 1), 90)),
          ("clip 24 fps over three seconds, model 30", (30, 1), clip_times((24, 1), 80)),
          ("camera with jitter, drops and a stall, model 30", (30, 1), camera_times(7)),
          ("a clip whose frames repeat times, model 30", (30, 1), [0, 0, 33_333_333, 33_333_333, 66_666_666, 70_000_000])]


def main() -> None:
    rng = np.random.default_rng(10)
    cases = []
    for name, rate, times in CASES:
        features = rng.integers(-128, 128, (len(times), FEATURES), dtype=np.int64).astype(np.int8)
        resampled, ticks = resample_features(features, times, rate)
        cases.append({"name": name, "model_rate": list(rate), "times_ns": times,
                      "features": features.astype(int).tolist(),
                      "ticks": [[t.frame, t.previous, t.weight] for t in ticks],
                      "resampled": resampled.astype(int).tolist()})
    out = Path(__file__).resolve().parent / "cases.json"
    out.write_text(json.dumps({"feature_size": FEATURES, "cases": cases}, separators=(",", ":")) + "\n")
    print(f"{out}: {len(cases)} cases")


if __name__ == "__main__":
    main()
