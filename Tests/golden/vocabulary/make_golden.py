#!/usr/bin/env python3
"""Golden vectors that tie the Swift prefix beam search with a lexicon and a character LM to the
Python reference (quantization/dactyl_quant/ctc.py, docs/ctc-decoding.md).

Run from the repository root: `python Tests/golden/vocabulary/make_golden.py`. It writes, beside
itself (or into `--out-dir`):

- lexicon.txt: a few words (and a comment, a blank line, upper case, surrounding spaces);
- lm.dclm: an order-3 Witten-Bell model trained on words.txt's words (not all in the lexicon);
- logprobs.bin: log-probability tables over the ChicagoFSWild alphabet (float32 little-endian,
  frames x classes, one table after another);
- cases.json: per table its first frame in logprobs.bin and frame count, and the letters the
  reference gives with the plain beam, the lexicon, the LM and both.

The tables are noisy spellings of words, some misspelt, some two words with a space; each case is
kept only if every decision has a margin above TIE_MARGIN (pruning and the final choice), so that
the f32 Swift decoder must agree. Deterministic (seeded).
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "quantization"))

from dactyl_quant import charlm, ctc  # noqa: E402
from dactyl_quant.alphabet import CHICAGO  # noqa: E402

OUT = Path(__file__).resolve().parent
TIE_MARGIN = 1e-3
BEAM_WIDTH = 6
LEXICON_TEXT = "# golden lexicon\ncanoe\n  Circle \n\ncoin\ncold\nhe\nbeach\nbe\ncan\n"
LM_WORDS = ["canoe", "circle", "coin", "cold", "beach", "bench", "cane", "car", "cart", "he", "her", "hen"]
# (spelt in the table, how peaked): misspellings the lexicon or LM should repair, and two words.
SPELLINGS = ["canoe", "catoe", "circe", "coit", "he", "oehe", "cold", "beach", "be can", "becan", "cirle"]
SETTINGS = [
    {"lexicon": False, "lm": False, "lm_weight": 0.0, "insertion_bonus": 0.0},
    {"lexicon": True, "lm": False, "lm_weight": 0.0, "insertion_bonus": 0.0},
    {"lexicon": False, "lm": True, "lm_weight": 0.8, "insertion_bonus": 0.5},
    {"lexicon": True, "lm": True, "lm_weight": 0.5, "insertion_bonus": 1.0},
]


def spelling_table(text: str, rng: np.random.Generator) -> np.ndarray:
    """Float32 log-probabilities of a noisy spelling of `text`: 2-3 frames per letter, 0-2 blanks."""
    classes = CHICAGO.num_classes
    frames = []
    for c in [0] + [x for label in CHICAGO.encode(text) for x in (label, 0)]:
        for _ in range(int(rng.integers(1, 3)) if c == 0 else int(rng.integers(2, 4))):
            logits = rng.normal(0.0, 1.0, classes)
            logits[c] += rng.uniform(2.0, 4.5)
            # A confusable second letter now and then.
            if rng.random() < 0.4:
                logits[int(rng.integers(1, 27))] += rng.uniform(1.5, 4.0)
            frames.append(logits)
    logits = np.array(frames)
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return log_probs.astype(np.float32)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", type=Path, default=OUT, help="where to write (default: beside this script)")
    generate(parser.parse_args().out_dir)
    return 0


def generate(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "lexicon.txt").write_text(LEXICON_TEXT)
    lm = charlm.train(LM_WORDS, order=3)
    charlm.write(lm, out / "lm.dclm")
    lm = charlm.read(out / "lm.dclm")  # the float32 rows, as Swift reads them
    words = ctc.read_lexicon(out / "lexicon.txt", CHICAGO)
    rng = np.random.default_rng(2026)
    cases, tables, first_frame = [], [], 0
    for text in SPELLINGS:
        for attempt in range(50):
            table = spelling_table(text, rng)
            results, ok = [], True
            for setting in SETTINGS:
                vocabulary = ctc.make_vocabulary(CHICAGO, words if setting["lexicon"] else None,
                                                 lm if setting["lm"] else None, setting["lm_weight"],
                                                 setting["insertion_bonus"])
                search = ctc.prefix_beam_search(table, BEAM_WIDTH, vocabulary)
                if search.pruning_margin <= TIE_MARGIN or search.final_margin <= TIE_MARGIN:
                    ok = False
                    break
                results.append(CHICAGO.decode(search.beams[search.best].prefix))
            if ok:
                break
        else:
            raise SystemExit(f"no unambiguous table for {text!r}")
        cases.append({"spelt": text, "first_frame": first_frame, "frames": len(table),
                      "results": [dict(setting, letters=letters) for setting, letters in zip(SETTINGS, results)]})
        tables.append(table)
        first_frame += len(table)
    (out / "logprobs.bin").write_bytes(np.concatenate(tables).astype("<f4").tobytes())
    expected = {
        "alphabet": list(CHICAGO.symbols), "classes": CHICAGO.num_classes, "beam_width": BEAM_WIDTH,
        "lexicon": "lexicon.txt", "lm": "lm.dclm", "logprobs": "logprobs.bin",
        "tie_margin": TIE_MARGIN,
        "cases": cases,
    }
    (out / "cases.json").write_text(json.dumps(expected, indent=1) + "\n")
    differing = sum(len({r["letters"] for r in case["results"]}) > 1 for case in cases)
    print(f"{out}: {len(cases)} tables, {differing} where the vocabulary changes the letters")
    for case in cases:
        print(f"  {case['spelt']!r}: " + " / ".join(r["letters"] for r in case["results"]))


if __name__ == "__main__":
    sys.exit(main())
