import json
from pathlib import Path

import numpy as np

from dactyl_quant.resample import encoded_frames, interpolate, plan, resample_features, source_ns

GOLDEN = Path(__file__).resolve().parents[2] / "Tests" / "golden" / "resample" / "cases.json"


def test_the_committed_golden_vectors_are_what_the_reference_computes():
    cases = json.loads(GOLDEN.read_text())["cases"]
    assert len(cases) >= 10
    for case in cases:
        features = np.array(case["features"], dtype=np.int8)
        resampled, ticks = resample_features(features, case["times_ns"], tuple(case["model_rate"]))
        assert [[t.frame, t.previous, t.weight] for t in ticks] == case["ticks"], case["name"]
        assert resampled.astype(int).tolist() == case["resampled"], case["name"]


def test_a_60_fps_clip_encodes_every_other_frame_and_a_15_fps_clip_is_interpolated():
    sixty = plan([source_ns(i, (60, 1)) for i in range(120)], (30, 1))
    assert encoded_frames(sixty) == list(range(0, 120, 2))
    assert {t.weight for t in sixty} == {256}
    fifteen = plan([source_ns(i, (15, 1)) for i in range(30)], (30, 1))
    assert len(fifteen) == 59 and [t.weight for t in fifteen[:5]] == [256, 128, 256, 128, 256]
    assert [(t.previous, t.frame) for t in fifteen[1:3]] == [(0, 1), (0, 1)]


def test_interpolation_rounds_half_up_and_stays_in_int8():
    low, high = np.array([-128, -1, 0, 127], np.int8), np.array([127, 0, 1, -128], np.int8)
    assert interpolate(low, high, 256).tolist() == high.tolist()
    assert interpolate(low, high, 0).tolist() == low.tolist()
    assert interpolate(low, high, 128).tolist() == [0, 0, 1, 0]  # -0.5 → 0, 0.5 → 1 (half up)


def test_a_long_gap_restarts_the_grid():
    ticks = plan([0, 33_333_333, 33_333_333 + 300_000_000], (30, 1))
    assert [(t.frame, t.previous, t.weight) for t in ticks] == [(0, 0, 256), (1, 0, 256), (2, 2, 256)]
