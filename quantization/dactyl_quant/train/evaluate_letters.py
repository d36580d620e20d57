"""Per-letter reading of single-letter clips: the still-letter split and the real-photo check.

Every clip shows one letter (label = that letter). The model file runs on each clip as
`evaluate-dactyl` runs it (`dactyl decode`, int8; a failed clip reads as nothing), and per true
letter:
- exact-read rate: the output is exactly the letter;
- contains rate: the output contains the letter;
- doubling rate: the output has the letter two or more times ("rr"): a held letter must read once;
- repeat rate: the output has any letter two or more times ("rr", or "uu" for a V);
- the confusion row: what the clip was read as (`metrics.read_as`): a letter (the output is that
  letter, once or repeated), `nothing`, or `other` (two or more different letters).
Summaries are given for the static letters and for the motion letters J and Z apart.

Writes into --out: letters.csv (per letter), confusion.csv (true letter x reading, counts),
confusion.png (rates, when matplotlib is installed), letters.md (the tables as markdown, the
matrix as text), summary.json, predictions.csv.

    python -m dactyl_quant.train evaluate-letters --data DIR --model M.dmdl --split test --out RESULTS
    python -m dactyl_quant.train evaluate-letters --from-predictions RESULTS/predictions.csv --out RESULTS
"""

import csv
import json
import math
import re
from pathlib import Path

from ..corpus import DataError
from .metrics import DELETED, NOTHING, OTHER, LetterReads, WordLetters
from .plots import _pyplot

ALPHABET = "abcdefghijklmnopqrstuvwxyz"
MOTION_LETTERS = "jz"  # J and Z are movements: reported apart from the 24 static letters
COLUMNS = list(ALPHABET) + [NOTHING, OTHER]


def letter_of(key: str, reference: str) -> str:
    letter = reference.strip().lower()
    if len(letter) != 1 or letter not in ALPHABET:
        raise DataError(f"{key}: label {reference!r} is not a single letter a-z (evaluate-letters scores "
                        "single-letter clips only)")
    return letter


def score(predictions: list[tuple[str, str, str]]) -> LetterReads:
    """(key, reference, hypothesis) per clip → the per-letter tallies."""
    reads = LetterReads()
    for key, reference, hypothesis in predictions:
        reads.add(letter_of(key, reference), hypothesis)
    return reads


def read_predictions(path: str | Path) -> list[tuple[str, str, str]]:
    with open(path, newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        missing = {"key", "reference", "hypothesis"} - set(reader.fieldnames or ())
        if missing:
            raise DataError(f"{path}: no {', '.join(sorted(missing))} column (expected evaluate-dactyl's "
                            "--predictions CSV)")
        return [(row["key"], row["reference"], row["hypothesis"] or "") for row in reader]


def _percent(value: float) -> str:
    return "–" if math.isnan(value) else f"{100 * value:.1f} %"


def summaries(reads: LetterReads) -> dict:
    static = [letter for letter in reads.letters() if letter not in MOTION_LETTERS]
    motion = [letter for letter in reads.letters() if letter in MOTION_LETTERS]
    return {"all": reads.summary(), "static": reads.summary(static), "motion": reads.summary(motion)}


def group_summaries(predictions: list[tuple[str, str, str]], pattern: str | None) -> dict:
    """Static-letter summaries per group of clips, the group being what `pattern` (a regular
    expression with one group) finds in each clip's key, e.g. '^y4m/([^/]+)/' → the photo source."""
    if not pattern:
        return {}
    try:
        regex = re.compile(pattern)
    except re.error as error:
        raise DataError(f"--group-by {pattern!r}: {error}") from None
    groups: dict[str, LetterReads] = {}
    for key, reference, hypothesis in predictions:
        match = regex.search(key)
        name = match.group(1) if match and match.groups() else "(none)"
        groups.setdefault(name, LetterReads()).add(letter_of(key, reference), hypothesis)
    return {name: summaries(reads)["static"] for name, reads in sorted(groups.items())}


HOLD_BINS = ((0.3, 0.7), (0.7, 1.2), (1.2, 2.01))  # seconds: the still split holds a letter 0.3-2 s


def read_holds(data: str | Path | None) -> dict[str, float]:
    """How long each still clip holds its letter (synth corpus.py's label_notes "held 0.93 s"),
    by filename; empty for other corpora."""
    csv_path = Path(data) / "ChicagoFSWild.csv" if data and Path(data).is_dir() else None
    if csv_path is None or not csv_path.is_file():
        return {}
    holds = {}
    with open(csv_path, newline="", encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            match = re.fullmatch(r"held (\d+(?:\.\d+)?) s", (row.get("label_notes") or "").strip())
            if match:
                holds[row["filename"]] = float(match.group(1))
    return holds


def hold_summaries(predictions: list[tuple[str, str, str]], holds: dict[str, float]) -> dict:
    """Static-letter summaries by how long the letter was held (a held letter must read once)."""
    bins: dict[str, LetterReads] = {}
    for key, reference, hypothesis in predictions:
        if key not in holds:
            continue
        for low, high in HOLD_BINS:
            if low <= holds[key] < high:
                bins.setdefault(f"held {low:g}-{min(high, 2):g} s", LetterReads()).add(letter_of(key, reference),
                                                                                     hypothesis)
    order = [f"held {low:g}-{min(high, 2):g} s" for low, high in HOLD_BINS]
    return {name: summaries(bins[name])["static"] for name in order if name in bins}


def matrix_text(reads: LetterReads) -> str:
    """The confusion matrix as a fixed-width table (rows: true letter; columns: reading; '.' = 0)."""
    columns = [c for c in COLUMNS if c in (NOTHING, OTHER) or any(reads.confusion[l][c] for l in reads.letters())]
    short = {NOTHING: "none", OTHER: "oth"}
    width = max(5, len(str(max((max(row) for row in reads.matrix(columns)), default=0))) + 1)
    lines = ["true" + "".join(f"{short.get(c, c):>{width}}" for c in columns)]
    for letter, row in zip(reads.letters(), reads.matrix(columns)):
        lines.append(f"{letter:<4}" + "".join(f"{(str(n) if n else '.'):>{width}}" for n in row))
    return "\n".join(lines) + "\n"


def markdown(reads: LetterReads, title: str, command: str | None, failed: int | None, groups: dict | None = None) -> str:
    parts = summaries(reads)
    lines = [f"## {title}", ""]
    if command:
        lines += ["    " + command, ""]
    lines += ["| letters | clips | exact read | contains | doubled | any letter twice | nothing |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    shown = [("static", "static letters"), ("motion", "J, Z (motion)")]
    if parts["static"]["clips"] and parts["motion"]["clips"]:
        shown.append(("all", "all"))
    for name, label in shown:
        s = parts[name]
        if s["clips"]:
            lines.append(f"| {label} ({s['letters']}) | {s['clips']} | {_percent(s['exact_rate'])} | "
                         f"{_percent(s['contains_rate'])} | {_percent(s['doubling_rate'])} | "
                         f"{_percent(s['repeat_rate'])} | {_percent(s['nothing_rate'])} |")
    for name, s in (groups or {}).items():
        lines.append(f"| static, {name} | {s['clips']} | {_percent(s['exact_rate'])} | "
                     f"{_percent(s['contains_rate'])} | {_percent(s['doubling_rate'])} | "
                     f"{_percent(s['repeat_rate'])} | {_percent(s['nothing_rate'])} |")
    if failed is not None:
        lines += ["", f"{failed} clips failed to decode (read as nothing, counted as errors)."]
    lines += ["", "| letter | clips | exact read | contains | doubled | nothing | most frequent wrong output |",
              "|---|---:|---:|---:|---:|---:|---|"]
    for row in reads.rows():
        lines.append(f"| {row['letter'].upper()} | {row['clips']} | {_percent(row['exact_rate'])} | "
                     f"{_percent(row['contains_rate'])} | {_percent(row['doubling_rate'])} | "
                     f"{row['nothing']} | {row['most_read_instead']} |")
    lines += ["", "Confusion matrix (rows: true letter; columns: what the clip was read as: one letter, once or "
              "repeated; `none`: nothing; `oth`: two or more different letters):", "", "```",
              matrix_text(reads).rstrip("\n"), "```", ""]
    return "\n".join(lines)


def write_png(reads: LetterReads, path: Path, title: str) -> bool:
    return draw_matrix(reads.letters(), COLUMNS, reads.matrix(COLUMNS), path, title,
                       "read as (none: nothing; other: two or more different letters)", "clips")


def draw_matrix(letters: list[str], columns: list[str], counts: list[list[int]], path: Path, title: str,
                xlabel: str, unit: str) -> bool:
    """A confusion matrix as a PNG: shaded by the share of each row, annotated with the counts."""
    plt = _pyplot()
    if plt is None or not letters:
        return False
    rates = [[n / max(sum(row), 1) for n in row] for row in counts]
    figure, axes = plt.subplots(figsize=(11, 0.36 * len(counts) + 2.2), dpi=110)
    image = axes.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    short = {NOTHING: "none", DELETED: "del."}
    axes.set_xticks(range(len(columns)), [c.upper() if len(c) == 1 else short.get(c, c) for c in columns], fontsize=8)
    axes.set_yticks(range(len(counts)), [letter.upper() for letter in letters], fontsize=8)
    axes.set_xlabel(xlabel)
    axes.set_ylabel("true letter")
    for y, row in enumerate(counts):
        for x, n in enumerate(row):
            if n:
                axes.text(x, y, str(n), ha="center", va="center", fontsize=6,
                          color="white" if rates[y][x] > 0.5 else "black")
    axes.set_title(title, fontsize=10)
    figure.colorbar(image, ax=axes, fraction=0.025, label=f"share of the true letter's {unit}")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return True


def write_outputs(reads: LetterReads, out: str | Path, title: str, command: str | None = None,
                  failed: int | None = None, extra: dict | None = None, groups: dict | None = None) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = reads.rows()
    with open(out / "letters.csv", "w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]) if rows else ["letter"])
        writer.writeheader()
        writer.writerows(rows)
    with open(out / "confusion.csv", "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["true"] + COLUMNS)
        for letter, row in zip(reads.letters(), reads.matrix(COLUMNS)):
            writer.writerow([letter] + row)
    (out / "letters.md").write_text(markdown(reads, title, command, failed, groups), encoding="utf-8")
    png = write_png(reads, out / "confusion.png", title)
    summary = {"title": title, **summaries(reads), "groups": groups or {}, "failed": failed, "confusion_png": png,
               **(extra or {})}
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    return summary


def evaluate_letters(args) -> dict:
    failed = None
    extra = {}
    if args.from_predictions:
        predictions = read_predictions(args.from_predictions)
    else:
        if not (args.data and args.model):
            raise DataError("evaluate-letters needs --data and --model (or --from-predictions FILE.csv)")
        from .evaluate_dactyl import decode_split, write_predictions
        decoded = decode_split(args)
        predictions = [(s.key, s.letters, h) for s, h in zip(decoded.samples, decoded.hypotheses)]
        failed = decoded.failed
        extra = {"model": str(args.model), "info": decoded.info, "decoder": decoded.decoder,
                 "precision": decoded.precision, "split": args.split, "data": str(args.data)}
        Path(args.out).mkdir(parents=True, exist_ok=True)
        write_predictions(Path(args.out) / "predictions.csv", predictions)
    reads = score(predictions)
    title = args.title or (f"{Path(args.model).name if args.model else 'predictions'}: single letters")
    groups = group_summaries(predictions, args.group_by)
    groups.update(hold_summaries(predictions, read_holds(args.data)))
    summary = write_outputs(reads, args.out, title, args.command_line, failed, extra, groups)
    s = summary["static"]
    print(f"{args.out}: {summary['all']['clips']} clips; static letters: exact {_percent(s['exact_rate'])}, "
          f"contains {_percent(s['contains_rate'])}, doubled {_percent(s['doubling_rate'])}"
          + (f"; J/Z: exact {_percent(summary['motion']['exact_rate'])}" if summary["motion"]["clips"] else "")
          + (f"; {failed} failed (read as nothing)" if failed else ""), flush=True)
    return summary


WORD_COLUMNS = list(ALPHABET) + [DELETED]


def word_letters(predictions: list[tuple[str, str, str]]) -> WordLetters:
    """Letters of words (key, reference word, output) aligned with the output, per true letter."""
    letters = WordLetters()
    for _, reference, hypothesis in predictions:
        letters.add(hypothesis, reference)
    return letters


def write_word_letters(letters: WordLetters, out: str | Path, title: str, command: str | None = None) -> dict:
    """word-letters.csv/.md, word-confusion.csv/.png: how each letter of the words was read."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = [row for row in letters.rows() if row["letter"] in ALPHABET]
    shown = [row["letter"] for row in rows]
    counts = [[letters.read[letter][column] for column in WORD_COLUMNS] for letter in shown]
    with open(out / "word-letters.csv", "w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]) if rows else ["letter"])
        writer.writeheader()
        writer.writerows(rows)
    with open(out / "word-confusion.csv", "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["true"] + WORD_COLUMNS)
        for letter, row in zip(shown, counts):
            writer.writerow([letter] + row)
    total = sum(row["occurrences"] for row in rows)
    lines = [f"## {title}", ""] + (["    " + command, ""] if command else []) + [
        f"{total} letters; read right {_percent(sum(r['correct'] for r in rows) / total if total else math.nan)}, "
        f"another letter {_percent(sum(r['substituted'] for r in rows) / total if total else math.nan)}, "
        f"dropped {_percent(sum(r['deleted'] for r in rows) / total if total else math.nan)}; "
        f"{sum(letters.inserted.values())} letters inserted.", "",
        "| letter | in the words | read right | dropped | inserted | most often read instead |",
        "|---|---:|---:|---:|---:|---|"]
    for row in rows:
        lines.append(f"| {row['letter'].upper()} | {row['occurrences']} | {_percent(row['correct_rate'])} | "
                     f"{_percent(row['deleted_rate'])} | {row['inserted']} | {row['most_read_instead']} |")
    (out / "word-letters.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    png = draw_matrix(shown, WORD_COLUMNS, counts, out / "word-confusion.png", title,
                      "read as, after aligning the output with the word (del.: dropped)", "occurrences")
    return {"letters": total, "rows": rows, "confusion_png": png}
