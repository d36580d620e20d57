"""MediaPipe's check (`python -m dactyl_quant.teachers mediapipe-check`) per kind of look.

    python3 scripts/mediapipe_by_look.py --data DIR --partition train [--frames 120] [--seed 2]

Groups a synthetic corpus's clips by what synth.json's "looks" records for each (lighting
set-up, camera kind, photo or procedural background, left hand, hand off centre) and runs the
palm detector and landmark model on `--frames` frames of each group: which kinds of render it
finds hands in less often. Run from `quantization/`.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from dataclasses import replace  # noqa: E402

from dactyl_quant.corpus import read_corpus  # noqa: E402
from dactyl_quant.teachers.mediapipe_models import find_models  # noqa: E402
from dactyl_quant.teachers.mediapipe_run import check  # noqa: E402
from dactyl_quant.teachers.mediapipe_teacher import build_tracker  # noqa: E402


def group_of(look: dict, field: str) -> str:
    value = look[field]
    if field == "background":
        return "photo" if str(value).startswith("photo:") else "procedural"
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--partition", required=True)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--seed", type=int, default=2)
    args = parser.parse_args()
    looks = json.loads((args.data / "synth.json").read_text())[args.partition]["looks"]
    corpus = read_corpus(args.data, partitions=(args.partition,), alphabet=None)
    models = find_models()
    tracker = build_tracker(models)
    print("| group | clips | palm found | hand present | joint error (palm sizes) | PCK@0.2 |")
    print("|---|---:|---:|---:|---:|---:|")
    for field in ("lighting", "camera", "background", "left_handed", "off_centre"):
        values = sorted({group_of(look, field) for look in looks.values()})
        for value in values:
            samples = [s for s in corpus.samples if group_of(looks[s.key], field) == value]
            report = check(replace(corpus, samples=samples), models, args.frames, "synthpose", args.seed, tracker)
            agreement = report.agreement
            error = f"{agreement.mean_error:.3f}" if agreement else "-"
            pck = f"{100 * agreement.pck:.1f} %" if agreement else "-"
            print(f"| {field}={value} | {len(clips)} | {100 * report.palm_detected / report.frames:.1f} % | "
                  f"{100 * report.hand_present / report.frames:.1f} % | {error} | {pck} |", flush=True)


if __name__ == "__main__":
    main()
