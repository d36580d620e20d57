"""A markdown table of evaluation results (the JSON files that `evaluate --json` and
`evaluate-dactyl --json` write), e.g. fp32 KD, int8 KD through dactyl, fp32 no-KD."""

import json
from pathlib import Path

COLUMNS = ("model", "precision", "split", "decoder", "clips", "letters", "letter accuracy")


def load_results(paths: list[str]) -> list[dict]:
    results = []
    for path in paths:
        label = None
        if "=" in path and not Path(path).is_file():
            label, path = path.split("=", 1)
        with open(path, encoding="utf-8") as stream:
            result = json.load(stream)
        if label:
            result["label"] = label
        results.append(result)
    return results


def table(results: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join(["---"] * 4 + ["---:"] * 3) + "|"]
    for r in results:
        accuracy = r.get("letter_accuracy")
        cells = (r.get("label", r.get("model", "?")), r.get("precision", "?"), r.get("split", "?"),
                 r.get("decoder", "?"), str(r.get("clips", "?")), str(r.get("letters", "?")),
                 f"{100 * accuracy:.1f} %" if isinstance(accuracy, (int, float)) else "?")
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def write_report(paths: list[str], out: str | None, title: str) -> str:
    results = load_results(paths)
    text = f"# {title}\n\n" + table(results) + (
        "\nLetter accuracy = 1 − (substitutions + deletions + insertions) / reference letters, summed over the "
        "split. fp32 rows: PyTorch (`python -m dactyl_quant.train evaluate`); int8 rows: the model file through "
        "`dactyl decode` (`evaluate-dactyl`).\n")
    if out:
        Path(out).write_text(text, encoding="utf-8")
    return text
