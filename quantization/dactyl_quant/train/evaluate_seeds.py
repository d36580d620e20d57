"""The held-out word split over several generator seeds: one seed's split hides about 5 points.

For each seed S the held-out split is generated into WORK/seed-S (once; an existing one is reused)
and the model file runs on it through `evaluate-dactyl` with each decoder: greedy, beam N, and
beam N + lexicon (the vocabulary a user would give: the training and held-out word lists). A clip
that fails to decode counts as all errors (`evaluate_dactyl.decode_split`). Reported per seed,
and over the seeds: the mean, the sample standard deviation, the range, and the pooled figure
(edits and letters summed over all seeds).

    python -m dactyl_quant.train evaluate-seeds --model ../models/default.dmdl --work /tmp/seeds --seeds 13 14 15
"""

import argparse
import json
import statistics
from pathlib import Path

from ..synth.clip import SynthSettings
from ..synth.corpus import CSV_NAME, DEFAULT_WORDS, read_words, write_corpus
from ..corpus import DataError
from .evaluate_dactyl import evaluate_model_file
from .evaluate_letters import read_predictions, word_letters, write_word_letters

MIN_SEEDS = 3


def lexicon_words(split: str) -> list[str]:
    """The vocabulary a user would give: the training words and the evaluated split's."""
    return read_words(DEFAULT_WORDS["train"]) + read_words(DEFAULT_WORDS[split])


def _has_split(folder: Path, split: str) -> bool:
    csv_path = folder / CSV_NAME
    return csv_path.is_file() and f",synth_{split}/" in csv_path.read_text(encoding="utf-8")


def ensure_split(folder: Path, seed: int, split: str, size: tuple[int, int], workers: int) -> None:
    if _has_split(folder, split):
        return
    write_corpus(read_words(DEFAULT_WORDS[split]), folder, seed, SynthSettings(split, *size), write_y4m=True,
                 workers=workers)


def spread(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values), "values": values}


def aggregate(per_seed: list[dict]) -> dict:
    """Over the seeds' results of one decoder (evaluate-dactyl's JSON)."""
    edits = sum(r["edits"] for r in per_seed)
    letters = sum(r["letters"] for r in per_seed)
    clips = sum(r["clips"] for r in per_seed)
    return {"letter_accuracy": spread([r["letter_accuracy"] for r in per_seed]),
            "word_rate": spread([r["word_rate"] for r in per_seed]),
            "pooled_letter_accuracy": 1 - edits / letters if letters else float("nan"),
            "words_correct": sum(r["words_correct"] for r in per_seed), "clips": clips,
            "failed": sum(r["failed"] for r in per_seed)}


def _slug(decoder: str) -> str:
    return decoder.replace(" ", "-").replace("+", "plus")


def _decoders(beam: int, lexicon: str | None) -> list[tuple[str, int, str | None]]:
    rows = [("greedy", 0, None), (f"beam {beam}", beam, None)]
    if lexicon:
        rows.append((f"beam {beam} + lexicon", beam, lexicon))
    return rows


def markdown(results: dict) -> str:
    seeds = results["seeds"]
    lines = ["| decoder | letter accuracy, mean ± sd | range | per seed (" + " / ".join(map(str, seeds)) + ") "
             "| pooled | whole words | failed |", "|---|---:|---:|---|---:|---:|---:|"]
    for row in results["decoders"]:
        acc, words = row["letter_accuracy"], row["word_rate"]
        lines.append(f"| {row['decoder']} | {100 * acc['mean']:.1f} ± {100 * acc['std']:.1f} % | "
                     f"{100 * acc['min']:.1f}–{100 * acc['max']:.1f} | "
                     + " / ".join(f"{100 * v:.1f}" for v in acc["values"])
                     + f" | {100 * row['pooled_letter_accuracy']:.1f} % | {100 * words['mean']:.1f} ± "
                       f"{100 * words['std']:.1f} % ({row['words_correct']}/{row['clips']}) | {row['failed']} |")
    return "\n".join(lines) + "\n"


def evaluate_seeds(args) -> dict:
    seeds = list(dict.fromkeys(args.seeds))
    if len(seeds) < MIN_SEEDS:
        raise DataError(f"--seeds {' '.join(map(str, args.seeds))}: give at least {MIN_SEEDS} different seeds "
                        "(one seed's split hides about 5 points)")
    width, _, height = args.size.lower().partition("x")
    if not (width.isdigit() and height.isdigit()):
        raise DataError(f"--size {args.size!r}: expected WIDTHxHEIGHT")
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    lexicon = args.lexicon
    if lexicon is None:
        lexicon = str(work / "lexicon.txt")
        Path(lexicon).write_text("\n".join(lexicon_words(args.split)) + "\n", encoding="utf-8")
    elif lexicon == "none":
        lexicon = None
    per_decoder: dict[str, list[dict]] = {}
    for seed in seeds:
        folder = work / f"seed-{seed}"
        ensure_split(folder, seed, args.split, (int(width), int(height)), args.workers)
        for name, beam, vocabulary in _decoders(args.beam, lexicon):
            one = argparse.Namespace(
                data=str(folder), dataset="chicagofswild", csv=None, split=args.split, skip_bad=False,
                crop_policy="fixed", bbox_margin=1.6, model=args.model, dactyl=args.dactyl, engine=args.engine,
                beam=beam, lexicon=vocabulary, lm=None, lm_weight=None, insertion_bonus=None, jobs=args.jobs,
                quiet=args.quiet, label=f"seed {seed}, {name}", json=None,
                predictions=str(work / f"seed-{seed}-{_slug(name)}.csv"))
            result = evaluate_model_file(one)
            result["seed"] = seed
            result["predictions"] = one.predictions
            per_decoder.setdefault(name, []).append(result)
    results = {"model": str(args.model), "split": args.split, "seeds": seeds, "engine": args.engine,
               "lexicon": lexicon,
               "decoders": [{"decoder": name, **aggregate(rows), "per_seed": rows} for name, rows in per_decoder.items()]}
    (work / "results.json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    for name, rows in per_decoder.items():  # how each letter of the words is read, all seeds together
        predictions = [p for row in rows for p in read_predictions(row["predictions"])]
        write_word_letters(word_letters(predictions), work / f"letters-{_slug(name)}",
                           f"Letters of the held-out words, seeds {' '.join(map(str, seeds))}, {name}")
    table = markdown(results)
    (work / "results.md").write_text(table, encoding="utf-8")
    print(table, end="", flush=True)
    return results
