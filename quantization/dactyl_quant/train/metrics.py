"""Letter accuracy (DESIGN.md, "Names of things"): 1 − total edit distance / total reference letters."""

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


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


# Single-letter clips (the still-letter split, the real-photo check): what each clip was read as.
NOTHING, OTHER = "nothing", "other"


def read_as(hypothesis: str) -> str:
    """A single-letter clip's reading: the letter when the output is one letter a-z, once or
    repeated ("r", "rr"); NOTHING for no output; OTHER for two or more different symbols ("ab") or
    a symbol that is no letter (a space, an apostrophe)."""
    if not hypothesis:
        return NOTHING
    return hypothesis[0] if len(set(hypothesis)) == 1 and "a" <= hypothesis[0] <= "z" else OTHER


@dataclass
class LetterReads:
    """Per true letter: clips, exact reads (output == the letter), reads that contain it,
    doublings (the letter two or more times), repeats (any letter two or more times: "uu" for V)
    and the confusion row (true letter → read_as)."""

    clips: Counter = field(default_factory=Counter)
    exact: Counter = field(default_factory=Counter)
    contains: Counter = field(default_factory=Counter)
    doubled: Counter = field(default_factory=Counter)
    repeated: Counter = field(default_factory=Counter)
    outputs: dict = field(default_factory=dict)  # true letter → Counter of the outputs themselves
    confusion: dict = field(default_factory=dict)

    def add(self, letter: str, hypothesis: str) -> None:
        if len(letter) != 1:
            raise ValueError(f"{letter!r}: a single-letter clip's label is one letter")
        self.clips[letter] += 1
        self.exact[letter] += hypothesis == letter
        self.contains[letter] += letter in hypothesis
        self.doubled[letter] += hypothesis.count(letter) >= 2
        self.repeated[letter] += any(hypothesis.count(symbol) >= 2 for symbol in set(hypothesis))
        self.confusion.setdefault(letter, Counter())[read_as(hypothesis)] += 1
        self.outputs.setdefault(letter, Counter())[hypothesis] += 1

    def letters(self) -> list[str]:
        return sorted(self.clips)

    def summary(self, letters: Iterable[str] | None = None) -> dict:
        """Rates over the clips of `letters` (all when None); NaN rates with no clips."""
        chosen = [letter for letter in (self.letters() if letters is None else letters) if self.clips[letter]]
        clips = sum(self.clips[letter] for letter in chosen)

        def rate(counter: Counter) -> float:
            return sum(counter[letter] for letter in chosen) / clips if clips else float("nan")

        return {"letters": "".join(chosen), "clips": clips, "exact_rate": rate(self.exact),
                "contains_rate": rate(self.contains), "doubling_rate": rate(self.doubled),
                "repeat_rate": rate(self.repeated),
                "nothing_rate": (sum(self.confusion[letter][NOTHING] for letter in chosen) / clips
                                 if clips else float("nan"))}

    def rows(self) -> list[dict]:
        """One row per true letter: counts and rates, and its most frequent wrong output ("ji", "ee")."""
        rows = []
        for letter in self.letters():
            clips = self.clips[letter]
            wrong = [(count, output) for output, count in self.outputs[letter].items() if output != letter]
            top = max(wrong, key=lambda pair: (pair[0], -len(pair[1]))) if wrong else None
            rows.append({"letter": letter, "clips": clips, "exact": self.exact[letter],
                         "exact_rate": self.exact[letter] / clips, "contains": self.contains[letter],
                         "contains_rate": self.contains[letter] / clips, "doubled": self.doubled[letter],
                         "doubling_rate": self.doubled[letter] / clips, "repeated": self.repeated[letter],
                         "repeat_rate": self.repeated[letter] / clips,
                         "nothing": self.confusion[letter][NOTHING],
                         "most_read_instead": f"{top[1] or NOTHING} ({top[0]})" if top else ""})
        return rows

    def matrix(self, columns: Sequence[str]) -> list[list[int]]:
        """Counts: one row per true letter (self.letters()), one column per reading in `columns`."""
        return [[self.confusion[letter][column] for column in columns] for letter in self.letters()]


DELETED = "deleted"


def align(hypothesis: Sequence, reference: Sequence) -> list[tuple]:
    """A cheapest edit alignment: (reference symbol or None, hypothesis symbol or None) pairs in
    order; None on the left is an insertion, on the right a deletion. Ties prefer a match or a
    substitution to an insertion and deletion."""
    rows, columns = len(reference) + 1, len(hypothesis) + 1
    cost = [[0] * columns for _ in range(rows)]
    for i in range(rows):
        cost[i][0] = i
    for j in range(columns):
        cost[0][j] = j
    for i in range(1, rows):
        for j in range(1, columns):
            cost[i][j] = min(cost[i - 1][j - 1] + (reference[i - 1] != hypothesis[j - 1]), cost[i - 1][j] + 1,
                             cost[i][j - 1] + 1)
    pairs = []
    i, j = rows - 1, columns - 1
    while i or j:
        if i and j and cost[i][j] == cost[i - 1][j - 1] + (reference[i - 1] != hypothesis[j - 1]):
            pairs.append((reference[i - 1], hypothesis[j - 1]))
            i, j = i - 1, j - 1
        elif i and cost[i][j] == cost[i - 1][j] + 1:
            pairs.append((reference[i - 1], None))
            i -= 1
        else:
            pairs.append((None, hypothesis[j - 1]))
            j -= 1
    return pairs[::-1]


@dataclass
class WordLetters:
    """Letters in words, per true letter: what each occurrence was read as after aligning the
    output with the word (a letter, or DELETED), and the letters the outputs inserted."""

    read: dict = field(default_factory=dict)  # true letter → Counter of aligned readings
    inserted: Counter = field(default_factory=Counter)

    def add(self, hypothesis: str, reference: str) -> None:
        for true, read in align(hypothesis, reference):
            if true is None:
                self.inserted[read] += 1
            else:
                self.read.setdefault(true, Counter())[DELETED if read is None else read] += 1

    def letters(self) -> list[str]:
        return sorted(self.read)

    def rows(self) -> list[dict]:
        rows = []
        for letter in self.letters():
            counts = self.read[letter]
            total = sum(counts.values())
            wrong = [(n, read) for read, n in counts.items() if read not in (letter, DELETED)]
            top = max(wrong) if wrong else None
            rows.append({"letter": letter, "occurrences": total, "correct": counts[letter],
                         "correct_rate": counts[letter] / total, "substituted": sum(n for n, _ in wrong),
                         "deleted": counts[DELETED], "deleted_rate": counts[DELETED] / total,
                         "inserted": self.inserted[letter],
                         "most_read_instead": f"{top[1]} ({top[0]})" if top else ""})
        return rows

    def matrix(self, columns: Sequence[str]) -> list[list[int]]:
        return [[self.read[letter][column] for column in columns] for letter in self.letters()]
