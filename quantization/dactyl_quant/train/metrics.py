"""Letter accuracy (DESIGN.md, "Names of things"): 1 − total edit distance / total reference letters."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def edit_distance(hypothesis: Sequence, reference: Sequence) -> int:
    """Levenshtein distance: the fewest substitutions, deletions and insertions."""
    previous = list(range(len(reference) + 1))
    for i, h in enumerate(hypothesis, 1):
        current = [i] + [0] * len(reference)
        for j, r in enumerate(reference, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (h != r))
        previous = current
    return previous[-1]


@dataclass
class LetterCount:
    edits: int = 0
    letters: int = 0
    clips: int = 0

    def add(self, hypothesis: Sequence, reference: Sequence) -> None:
        self.edits += edit_distance(hypothesis, reference)
        self.letters += len(reference)
        self.clips += 1

    @property
    def accuracy(self) -> float:
        """1 − edits / letters; it can be negative (many insertions). NaN with no letters."""
        return 1.0 - self.edits / self.letters if self.letters else float("nan")


def letter_accuracy(pairs: Iterable[tuple[Sequence, Sequence]]) -> float:
    """Over a whole set of (hypothesis, reference) pairs: a sum of edits over a sum of lengths."""
    count = LetterCount()
    for hypothesis, reference in pairs:
        count.add(hypothesis, reference)
    return count.accuracy
