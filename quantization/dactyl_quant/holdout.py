"""Evaluation-only data: sets that training must never read (the real-photo check).

A folder holding an `EVALUATION_ONLY` file (realcheck.py writes one) is evaluation-only, and so
is everything below it. The corpus readers refuse such data unless the caller says it only
evaluates (`read_corpus(..., evaluation=True)`: `evaluate-dactyl`, `evaluate-letters`), so
`fit`, `pretrain`, `cache` and the teacher runs stop with an error instead of learning from it.
"""

from pathlib import Path

MARKER = "EVALUATION_ONLY"


class EvaluationOnlyError(ValueError):
    pass


def evaluation_only_marker(data: str | Path) -> Path | None:
    """The EVALUATION_ONLY file that covers `data` (a folder or a file in one), or None."""
    path = Path(data).resolve()
    for folder in ([path] if path.is_dir() else []) + list(path.parents):
        marker = folder / MARKER
        if marker.is_file():
            return marker
    return None


def refuse_evaluation_only(data: str | Path) -> None:
    """Raise when `data` is an evaluation-only set: for every reader that feeds training."""
    marker = evaluation_only_marker(data)
    if marker is not None:
        raise EvaluationOnlyError(f"{data}: evaluation-only data ({marker} exists; docs/real-photo-check.md): "
                                  "it is never read for training, caching or teacher features")


def mark_evaluation_only(folder: str | Path, why: str) -> Path:
    marker = Path(folder) / MARKER
    marker.write_text(why.rstrip() + "\n", encoding="utf-8")
    return marker
