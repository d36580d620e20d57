#!/usr/bin/env python3
"""Per-frame Pi 5 / Pi 4 time estimates from qemu instruction counts (scripts/aarch64-estimate.sh).

    python3 scripts/aarch64_estimate.py COUNTS_DIR

COUNTS_DIR holds one insn_count plugin output per run (NAME.txt) and the program's output (NAME.log).
Prints Markdown: the counts per frame, then the time estimates. Method: docs/aarch64-estimate.md.
"""

import re
import sys
from pathlib import Path

# ncnn's published Raspberry Pi figures (benchncnn, resnet18_int8 @224x224, 1.82 GMAC), ms per frame.
BOARDS = {
    "cortex-a76": {"board": "Pi 5", "clock_hz": 2.4e9, "t1_ms": 36.4, "t4_ms": 16.7},
    "cortex-a72": {"board": "Pi 4", "clock_hz": 1.8e9, "t1_ms": 158.5, "t4_ms": 83.9},
}
R18_GMAC = 1.82
# Other published benchncnn results (same README tables, 1 thread / 4 threads, ms): predicted from the
# ResNet18 fit to measure the method's error.
VALIDATION = {
    "squeezenet_int8": {"cortex-a76": (11.82, 7.21), "cortex-a72": (69.42, 42.59)},
    "mobilenet_int8": {"cortex-a76": (14.44, 8.74), "cortex-a72": (84.82, 34.37)},
    "resnet50_int8": {"cortex-a76": (80.16, 40.75), "cortex-a72": (423.96, 196.65)},
}

# Cross-check model: instructions each core can start per cycle, per resource (from the Cortex-A76
# and Cortex-A72 Software Optimization Guides, rounded; see the doc). A frame's cycles are at least
# the largest of class_count / rate over these resources.
RESOURCES = {
    "cortex-a76": {"issue": (("*",), 4), "vector": (("dot", "simd_mul", "simd_other"), 2),
                   "v0 (mul-acc)": (("simd_mul",), 1), "load/store": (("load", "store"), 2), "store": (("store",), 1),
                   "branch": (("branch",), 1), "integer": (("other",), 3)},
    "cortex-a72": {"issue": (("*",), 3), "vector": (("dot", "simd_mul", "simd_other"), 2),
                   "f0 (mul-acc)": (("simd_mul",), 1), "load": (("load",), 1), "store": (("store",), 1),
                   "branch": (("branch",), 1), "integer": (("other",), 2)},
}
CLASSES = ("dot", "simd_mul", "load", "store", "simd_other", "branch", "other")


def read_counts(path: Path) -> dict:
    counts, symbols = {}, {}
    for line in path.read_text().splitlines():
        parts = line.split(" ", 2)
        if parts[0] == "sym" and len(parts) == 3:
            symbols[parts[2]] = int(parts[1])
        elif len(parts) == 2:
            counts[parts[0]] = int(parts[1])
    counts["symbols"] = symbols
    return counts


def difference(high: dict, low: dict, divisor: float) -> dict:
    result = {key: (high[key] - low[key]) / divisor for key in high if key != "symbols"}
    names = set(high["symbols"]) | set(low["symbols"])
    result["symbols"] = {name: (high["symbols"].get(name, 0) - low["symbols"].get(name, 0)) / divisor for name in names}
    return result


def gmac_from_log(path: Path):
    match = re.search(r"([0-9.]+) GMAC a frame", path.read_text()) if path.exists() else None
    return float(match.group(1)) if match else None


def bound_cycles(frame: dict, cpu: str) -> float:
    worst = 0.0
    for classes, rate in RESOURCES[cpu].values():
        used = sum(frame[c] for c in (CLASSES if classes == ("*",) else classes))
        worst = max(worst, used / rate)
    return worst


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    folder = Path(sys.argv[1])
    runs = {}  # (label, cpu) -> per-frame counts and GMAC
    specs = [
        # label, file stem pattern, low/high suffixes, inferences between them, GMAC (None: from the log)
        ("ncnn ResNet18 @224 int8 (calibration)", "ncnn-r18-224-{cpu}", ("l1", "l5"), 4, R18_GMAC),
        ("ncnn ResNet34 student @112 int8", "ncnn-r34-112-{cpu}", ("l1", "l5"), 4, None),
        ("Dactyl ResNet34 student @112 ({kernel})", "dactyl-r34-112-{kernel}-{cpu}", ("f3", "f13"), 20, None),
        ("Dactyl default model ({kernel})", "dactyl-default-{kernel}-{cpu}", ("f3", "f13"), 20, None),
    ]
    for cpu, kernel in (("cortex-a76", "sdot"), ("cortex-a72", "neon")):
        for label, stem, (lo, hi), frames, gmac in specs:
            stem = stem.format(cpu=cpu, kernel=kernel)
            low, high = folder / f"{stem}-{lo}.txt", folder / f"{stem}-{hi}.txt"
            if not (low.exists() and high.exists()):
                continue
            frame = difference(read_counts(high), read_counts(low), frames)
            if stem.startswith("dactyl"):
                # 10 of the 20 runs also preprocess (crop, colour conversion, quantisation): not part of
                # the encoder time the ncnn rows measure, so take it out (its functions by name).
                pre = sum(v for name, v in frame["symbols"].items() if "FrameToInput" in name or "Preprocess" in name)
                scale = (frame["total"] - pre) / frame["total"]
                frame = {key: (value * scale if key != "symbols" else value) for key, value in frame.items()}
                frame["preprocess"] = pre
            if gmac is None:
                gmac = gmac_from_log(high.with_suffix(".log"))
            if gmac is None and "ncnn-r34" in stem:  # the same network: Dactyl's bench prints its MACs
                gmac = gmac_from_log(folder / f"dactyl-r34-112-{kernel}-{cpu}-{hi.replace('l5', 'f13')}.log")
            frame["gmac"] = gmac
            runs[(label.format(kernel=kernel), cpu)] = frame

    for model in VALIDATION:
        for cpu in BOARDS:
            low, high = folder / f"ncnn-{model}-{cpu}-l1.txt", folder / f"ncnn-{model}-{cpu}-l3.txt"
            if low.exists() and high.exists():
                frame = difference(read_counts(high), read_counts(low), 2)
                frame["gmac"] = None
                runs[(f"ncnn {model} (validation)", cpu)] = frame

    out = []
    out.append("## Instructions per frame (qemu-aarch64 7.2, 1 thread)\n")
    out.append("| run | -cpu | Minsn/frame | dot | simd mul | load | store | simd other | branch | other "
               "| int MAC lanes/frame (G) | model GMAC | MAC lanes per insn | loads per multiply insn |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (label, cpu), f in runs.items():
        total = f["total"]
        shares = " | ".join(f"{100 * f[c] / total:.1f}%" for c in CLASSES)
        gmac = f"{f['gmac']:.3f}" if f["gmac"] else "?"
        out.append(f"| {label} | {cpu} | {total / 1e6:.1f} | {shares} | {f['int_mac_lanes'] / 1e9:.3f} | {gmac} "
                   f"| {f['int_mac_lanes'] / total:.2f} | {f['load'] / max(f['dot'] + f['simd_mul'], 1):.2f} |")

    out.append("\n## Estimated ms per frame\n")
    out.append("A: time = instructions / (IPC x clock), one IPC per core fitted to ncnn's published ResNet18 int8 "
               "1-thread time. B: cycles = pipe-bound cycles / the same core's bound-to-actual ratio on the "
               "calibration run. 4 threads: the 1-thread time / ncnn's published 4-thread speed-up on that board.\n")
    out.append("| run | board | IPC fit | A 1 thr | B 1 thr | A 4 thr | B 4 thr "
               "| 4 thr, lowest published speed-up |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|")
    estimates = {}
    for cpu, board in BOARDS.items():
        calibration = runs.get(("ncnn ResNet18 @224 int8 (calibration)", cpu))
        if not calibration:
            continue
        cycles = board["t1_ms"] * 1e-3 * board["clock_hz"]
        ipc = calibration["total"] / cycles
        bound_ratio = bound_cycles(calibration, cpu) / cycles
        speedup = board["t1_ms"] / board["t4_ms"]
        low_speedup = min(t1 / t4 for t1, t4 in (v[cpu] for v in VALIDATION.values()))
        for (label, run_cpu), f in runs.items():
            if run_cpu != cpu:
                continue
            a = f["total"] / ipc / board["clock_hz"] * 1e3
            b = bound_cycles(f, cpu) / bound_ratio / board["clock_hz"] * 1e3
            estimates[(label, cpu)] = (a, b, speedup)
            out.append(f"| {label} | {board['board']} ({cpu}) | {ipc:.2f} | {a:.1f} | {b:.1f} | {a / speedup:.1f} "
                       f"| {b / speedup:.1f} | {min(a, b) / low_speedup:.1f}-{max(a, b) / low_speedup:.1f} |")
        out.append(f"| (calibration: published {board['t1_ms']} / {board['t4_ms']} ms, speed-up {speedup:.2f}, lowest "
                   f"published {low_speedup:.2f}; pipe-bound cycles are {100 * bound_ratio:.0f}% of actual) "
                   f"| {board['board']} | | | | | | |")

    out.append("\n## Validation: ncnn's other published 1-thread (4-thread) times against the estimates\n")
    out.append("| model | board | published 1 thr | A | A error | B | B error | published 4 thr "
               "| 1/4-thread speed-up |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for model, published in VALIDATION.items():
        for cpu, (t1, t4) in published.items():
            estimate = estimates.get((f"ncnn {model} (validation)", cpu))
            if estimate:
                a, b, _ = estimate
                board = BOARDS[cpu]["board"]
                out.append(f"| {model} | {board} | {t1} | {a:.1f} | {100 * (a / t1 - 1):+.0f}% | {b:.1f} "
                           f"| {100 * (b / t1 - 1):+.0f}% | {t4} | {t1 / t4:.2f} |")

    out.append("\n## Against the goals\n")
    for cpu, board in BOARDS.items():
        kernel = "sdot" if cpu == "cortex-a76" else "neon"
        dactyl = estimates.get((f"Dactyl ResNet34 student @112 ({kernel})", cpu))
        ncnn = estimates.get(("ncnn ResNet34 student @112 int8", cpu))
        if dactyl and ncnn:
            out.append(f"- {board['board']}: ncnn / Dactyl time on the ResNet34 student @112 = "
                       f"{ncnn[0] / dactyl[0]:.2f}x (A), {ncnn[1] / dactyl[1]:.2f}x (B); goal >= 1.5x")
        if dactyl and cpu == "cortex-a76":
            out.append(f"- Pi 5, 4 threads, Dactyl ResNet34 @112: {dactyl[0] / dactyl[2]:.1f} ms (A), "
                       f"{dactyl[1] / dactyl[2]:.1f} ms (B) at ncnn's ResNet18 speed-up; goal <= 8 ms")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
