#!/usr/bin/env python3
"""Letter accuracy and whole-word rate of `dactyl decode` with greedy, beam, beam + lexicon,
beam + LM and beam + both, on held-out synthetic test splits (docs/ctc-decoding.md).

Run from `quantization/`:

    for s in 1 2 3; do python -m dactyl_quant.synth generate --out /tmp/synth-test$s --seed $s --split test --y4m; done
    python scripts/lexicon_lm_table.py --data /tmp/synth-test1 /tmp/synth-test2 /tmp/synth-test3 --work /tmp/lexlm

The lexicon is the vocabulary a user would give: the test words plus the training words
(synth/words/test.txt + train.txt). The LM is trained on the training words only. Each setting runs
`python -m dactyl_quant.train evaluate-dactyl` (failures count as errors); the table sums edits and
letters over all seeds.
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
WORDS = HERE / "dactyl_quant" / "synth" / "words"


def settings(beam: int, lexicon: Path, lm: Path, weight: float, bonus: float, lexicon_bonus: float) -> list[tuple]:
    return [
        ("greedy", []),
        (f"beam {beam}", ["--beam", str(beam)]),
        (f"beam {beam} + lexicon", ["--beam", str(beam), "--lexicon", str(lexicon)]
         + (["--insertion-bonus", str(lexicon_bonus)] if lexicon_bonus else [])),
        (f"beam {beam} + LM", ["--beam", str(beam), "--lm", str(lm), "--lm-weight", str(weight),
                               "--insertion-bonus", str(bonus)]),
        (f"beam {beam} + lexicon + LM", ["--beam", str(beam), "--lexicon", str(lexicon), "--lm", str(lm),
                                         "--lm-weight", str(weight), "--insertion-bonus", str(bonus)]),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+", required=True, metavar="DIR", help="generated test splits")
    parser.add_argument("--work", required=True, metavar="DIR", help="where the lexicon, LM and results go")
    parser.add_argument("--model", default=str(HERE.parent / "models" / "default.dmdl"))
    parser.add_argument("--dactyl", help="the dactyl binary (default: evaluate-dactyl's)")
    parser.add_argument("--split", default="test")
    parser.add_argument("--beam", type=int, default=8)
    parser.add_argument("--order", type=int, default=4)
    parser.add_argument("--lm-weight", type=float, default=0.5)
    parser.add_argument("--insertion-bonus", type=float, default=1.0)
    parser.add_argument("--lexicon-bonus", type=float, default=0.0, help="insertion bonus with the lexicon alone")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    lexicon = work / "lexicon.txt"
    words = [line.strip() for name in ("train.txt", "test.txt") for line in (WORDS / name).read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    lexicon.write_text("\n".join(words) + "\n")
    lm = work / f"train-order{args.order}.dclm"
    subprocess.run([sys.executable, "-m", "dactyl_quant.charlm", "train", "--words", str(WORDS / "train.txt"),
                    "--order", str(args.order), "--out", str(lm)], check=True, cwd=HERE)

    rows = []
    for label, options in settings(args.beam, lexicon, lm, args.lm_weight, args.insertion_bonus, args.lexicon_bonus):
        totals = {"edits": 0, "letters": 0, "clips": 0, "words_correct": 0, "failed": 0}
        per_seed = []
        for number, data in enumerate(args.data):
            result_file = work / f"{label.replace(' ', '_').replace('+', 'and')}-{number}.json"
            command = [sys.executable, "-m", "dactyl_quant.train", "evaluate-dactyl", "--data", data, "--model",
                       args.model, "--split", args.split, "--jobs", str(args.jobs), "--quiet", "--json",
                       str(result_file)] + options
            if args.dactyl:
                command += ["--dactyl", args.dactyl]
            subprocess.run(command, check=True, cwd=HERE)
            result = json.loads(result_file.read_text())
            for key in totals:
                totals[key] += result[key]
            per_seed.append(result["letter_accuracy"])
        rows.append((label, totals, per_seed))

    print(f"\n| decoder ({len(args.data)} test splits, {rows[0][1]['clips']} clips) | letter accuracy | per split "
          "| whole words | failed |")
    print("|---|---:|---|---:|---:|")
    for label, totals, per_seed in rows:
        accuracy = 1 - totals["edits"] / totals["letters"]
        print(f"| {label} | {100 * accuracy:.1f} % | {' / '.join(f'{100 * a:.1f}' for a in per_seed)} "
              f"| {100 * totals['words_correct'] / totals['clips']:.1f} % ({totals['words_correct']}/{totals['clips']}) "
              f"| {totals['failed']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
