"""Reference of the runtime's frame-rate resampling (Swift: DactylPipeline/Resample/FrameRateResampler.swift).

The model's frames ("ticks") lie at origin + k / rate; tick k is filled by the first source frame
at or after t_k - period/4, with the linear interpolation of the int8 features of the last encoded
frame (time s_e) and this one (time s), weight w/256 on this one:

    w = clamp(((t_k - s_e) * 256 + (s - s_e) // 2) // (s - s_e), 0, 256)
    feature[k] = (previous * (256 - w) + current * w + 128) >> 8

A frame that fills no tick is not encoded. After a gap of more than 250 ms the grid restarts at
the next frame (no interpolation across it); the first frame fills tick 0 with w = 256. All times
are integer nanoseconds, so Python and Swift agree bit for bit (docs/frame-rate.md).
"""

from dataclasses import dataclass

import numpy as np

MAXIMUM_GAP_NS = 250_000_000
WEIGHT_ONE = 256


def tick_ns(index: int, rate: tuple[int, int]) -> int:
    """When frame `index` of a stream at rate (numerator, denominator) starts, ns after frame 0, rounded down."""
    numerator, denominator = rate
    return index * denominator * 1_000_000_000 // numerator


def source_ns(frame: int, rate: tuple[int, int]) -> int:
    """Frame `frame`'s time, with whole seconds counted apart (as the Swift code does: the same value)."""
    numerator, denominator = rate
    return (frame // numerator) * denominator * 1_000_000_000 + tick_ns(frame % numerator, rate)


@dataclass(frozen=True)
class Tick:
    frame: int     # the source frame that filled it (the later of the two interpolated)
    previous: int  # the previous encoded source frame (== frame when weight is 256 at a restart)
    weight: int    # 0 ... 256, on `frame`'s feature


def plan(times_ns: list[int], rate: tuple[int, int]) -> list[Tick]:
    """Which source frames fill which model frames, for source frames at `times_ns` (non-decreasing)."""
    numerator, denominator = rate
    tolerance = tick_ns(1, rate) // 4
    ticks: list[Tick] = []
    origin = next_tick = last_time = 0
    last_frame = -1
    for frame, time in enumerate(times_ns):
        if last_frame < 0 or time - last_time > MAXIMUM_GAP_NS:
            origin, next_tick, last_time, last_frame = time, 1, time, frame
            ticks.append(Tick(frame, frame, WEIGHT_ONE))
            continue
        count = 0
        while origin + tick_ns(next_tick + count, rate) - tolerance <= time:
            count += 1
        if count == 0:
            continue  # not encoded
        span = time - last_time
        for index in range(count):
            if span <= 0:
                weight = WEIGHT_ONE
            else:
                tick_time = origin + tick_ns(next_tick + index, rate)
                weight = min(max(((tick_time - last_time) * 256 + span // 2) // span, 0), WEIGHT_ONE)
            ticks.append(Tick(frame, last_frame, weight))
        next_tick += count
        last_time, last_frame = time, frame
        if next_tick >= numerator:
            origin += denominator * 1_000_000_000
            next_tick -= numerator
    return ticks


def interpolate(previous: np.ndarray, current: np.ndarray, weight: int) -> np.ndarray:
    """(previous * (256 - w) + current * w + 128) >> 8 on int8 features."""
    mixed = (previous.astype(np.int32) * (WEIGHT_ONE - weight) + current.astype(np.int32) * weight + 128) >> 8
    return mixed.astype(np.int8)


def resample_features(features: np.ndarray, times_ns: list[int], rate: tuple[int, int]) -> tuple[np.ndarray, list[Tick]]:
    """int8 features [T_source, F] (every frame's; those not encoded are ignored) onto the model's grid."""
    ticks = plan(times_ns, rate)
    out = np.stack([interpolate(features[t.previous], features[t.frame], t.weight) for t in ticks])
    return out, ticks


def encoded_frames(ticks: list[Tick]) -> list[int]:
    """The source frames the runtime encodes (those that fill at least one tick)."""
    return sorted({t.frame for t in ticks})
