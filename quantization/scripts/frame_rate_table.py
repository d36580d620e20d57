#!/usr/bin/env python3
"""Letter accuracy of a model through `dactyl decode` at camera frame rates and signing speeds
(docs/frame-rate.md), before and after the runtime's resampling to the model's rate.

Held-out generated test words (synth/words/test.txt, the test split's signers, skin tones,
viewpoints and backgrounds), several seeds. Each seed's clips are rendered once at 60 and at 50
frames/s (`synth generate --fps`; one seed is the same signing at any rate); 30, 20 and 15 frames/s
take every 2nd, 3rd and 4th frame of the 60 frames/s clip and 25 every 2nd of the 50, as a camera
at that rate would see the same signing. The speed rows are rendered at 30 frames/s with
`synth generate --speed X` (every signer at X times the generator's pace).

"before": `dactyl decode --fps M` with M the model's rate: the clip's frames taken one per model
frame, whatever the clip's rate (what decode did before it read the rate). "after": plain
`dactyl decode`, which resamples from the clip's F tag. A clip that fails to decode counts as all
its letters wrong. Letter accuracy = 1 - (S + D + I) / N over all clips of a row.

Run from quantization/ (about 40 minutes on two shared cores for 3 seeds x 40 clips):

    python scripts/frame_rate_table.py --work /tmp/frame-rate --seeds 1 2 3 --clips 40
"""

import argparse
import csv
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RATE_ROWS = (15, 20, 25, 30, 50, 60)
# Which rendered rate each row is taken from, and every how many frames.
DERIVED = {60: (60, 1), 30: (60, 2), 20: (60, 3), 15: (60, 4), 50: (50, 1), 25: (50, 2)}
SPEED_ROWS = (0.5, 0.75, 1.5, 2.0)


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def render(work: Path, seed: int, clips: int, fps: int, speed: float | None, workers: int) -> Path:
    name = f"seed{seed}-fps{fps}" + (f"-speed{speed:g}" if speed is not None else "")
    out = work / "render" / name
    manifest = out / "synth.json"
    if manifest.exists() and json.loads(manifest.read_text()).get("test", {}).get("clips") == clips:
        return out
    command = [sys.executable, "-m", "dactyl_quant.synth", "generate", "--out", str(out), "--seed", str(seed),
               "--split", "test", "--clips", str(clips), "--fps", str(fps), "--workers", str(workers)]
    if speed is not None:
        command += ["--speed", f"{speed:g}"]
    print("+", " ".join(command), file=sys.stderr, flush=True)
    subprocess.run(command, check=True)
    return out


def clip_labels(corpus: Path) -> dict[str, str]:
    with open(corpus / "ChicagoFSWild.csv", newline="") as stream:
        return {row["filename"]: row["label_proc"] for row in csv.DictReader(stream) if row["partition"] == "test"}


def subsample(source: Path, target: Path, every: int, fps: int) -> None:
    """Every `every`-th frame of a Y4M clip, its F tag set to `fps`."""
    data = source.read_bytes()
    header_end = data.index(b"\n") + 1
    fields = [f"F{fps}:1" if f.startswith(b"F") else f.decode() for f in data[:header_end].split()]
    frames = data[header_end:].split(b"FRAME\n")[1:]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes((" ".join(fields) + "\n").encode() + b"".join(b"FRAME\n" + f for i, f in enumerate(frames)
                                                                  if i % every == 0))


def decode(dactyl: str, model: str, clip: Path, model_rate: str | None) -> str | None:
    command = [dactyl, "decode", str(clip), "--model", model, "--threads", "1"]
    if model_rate:
        command += ["--fps", model_rate]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        print(f"decode failed: {clip}: {result.stderr.strip()}", file=sys.stderr)
        return None
    return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""


def score(pairs: list[tuple[str, str | None]]) -> tuple[float, int, int]:
    errors = letters = 0
    for truth, read in pairs:
        letters += len(truth)
        errors += len(truth) if read is None else edit_distance(truth, read)
    return 100.0 * (1 - errors / letters), errors, letters


def model_frame_rate(model: str) -> str:
    sys.path.insert(0, str(REPO / "quantization"))
    from dactyl_quant.export import read_model
    numerator, denominator = read_model(model).frames_per_second
    return f"{numerator}/{denominator}" if denominator != 1 else str(numerator)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--model", default=str(REPO / "models" / "default.dmdl"))
    parser.add_argument("--dactyl", default=str(REPO / ".build" / "release" / "dactyl"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2, help="render and decode processes")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if not os.access(args.dactyl, os.X_OK):
        parser.error(f"{args.dactyl}: no dactyl binary (swift build -c release)")
    rate = model_frame_rate(args.model)

    rows: list[tuple[str, list[tuple[int, Path, str]]]] = []  # (row name, [(seed, clip, truth)])
    for fps in RATE_ROWS:
        rows.append((f"{fps} frames/s, speed 1x", []))
    for speed in SPEED_ROWS:
        rows.append((f"30 frames/s, speed {speed:g}x", []))
    for seed in args.seeds:
        rendered = {f: render(args.work, seed, args.clips, f, None, args.workers) for f in (60, 50)}
        for row, fps in enumerate(RATE_ROWS):
            source_fps, every = DERIVED[fps]
            corpus = rendered[source_fps]
            for filename, truth in sorted(clip_labels(corpus).items()):
                source = corpus / "y4m" / f"{filename}.y4m"
                target = args.work / "clips" / f"seed{seed}-fps{fps}" / f"{filename}.y4m"
                if not target.exists():
                    subsample(source, target, every, fps)
                rows[row][1].append((seed, target, truth))
        for index, speed in enumerate(SPEED_ROWS):
            corpus = render(args.work, seed, args.clips, 30, speed, args.workers)
            for filename, truth in sorted(clip_labels(corpus).items()):
                rows[len(RATE_ROWS) + index][1].append((seed, corpus / "y4m" / f"{filename}.y4m", truth))

    jobs = [(row, clip, truth, mode) for row, (_, clips) in enumerate(rows) for _, clip, truth in clips
            for mode in ("before", "after")]
    with ThreadPoolExecutor(args.workers) as pool:
        reads = list(pool.map(lambda job: decode(args.dactyl, args.model, job[1], rate if job[3] == "before" else None),
                              jobs))
    results: dict[tuple[int, str], list[tuple[int, str, str | None]]] = {}
    for (row, clip, truth, mode), read in zip(jobs, reads):
        seed = next(s for s, c, _ in rows[row][1] if c == clip)
        results.setdefault((row, mode), []).append((seed, truth, read))

    print(f"model {args.model} ({rate} frames/s), seeds {' '.join(map(str, args.seeds))}, {args.clips} clips each")
    print("| source | before: clip frames as model frames | after: resampled to the model's rate | per seed (after) |")
    print("|---|---:|---:|---|")
    table = []
    for row, (name, clips) in enumerate(rows):
        before = score([(t, r) for _, t, r in results[(row, "before")]])
        after = score([(t, r) for _, t, r in results[(row, "after")]])
        per_seed = [score([(t, r) for s, t, r in results[(row, "after")] if s == seed])[0] for seed in args.seeds]
        print(f"| {name} | {before[0]:.1f} % | {after[0]:.1f} % | {' / '.join(f'{v:.1f}' for v in per_seed)} |")
        table.append({"row": name, "clips": len(clips), "letters": after[2], "before": before[0], "after": after[0],
                      "after_per_seed": per_seed})
    if args.json:
        args.json.write_text(json.dumps(table, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
