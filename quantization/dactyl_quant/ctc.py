"""CTC decoding exactly as docs/ctc-decoding.md: greedy, prefix beam search, Viterbi letter spans.

Log-probabilities are `lp[t][c]`, class 0 the blank; scores are computed in float64.
"""

import math
from dataclasses import dataclass

import numpy as np

from . import charlm

BLANK = 0
NEG_INF = -math.inf


def logaddexp(a: float, b: float) -> float:
    """max + log(1 + exp(min − max)), with −∞ ⊕ x = x."""
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    high, low = (a, b) if a >= b else (b, a)
    return high + math.log(1.0 + math.exp(low - high))


def greedy(lp: np.ndarray) -> list[int]:
    """Arg-max class per frame (lowest index on ties), repeats merged, blanks dropped."""
    best = np.argmax(lp, axis=1)  # argmax returns the first maximum
    classes = []
    previous = None
    for c in best.tolist():
        if c != previous and c != BLANK:
            classes.append(c)
        previous = c
    return classes


@dataclass
class Beam:
    prefix: tuple[int, ...]
    pb: float = NEG_INF  # log-score of the paths ending in a blank
    pnb: float = NEG_INF  # log-score of the paths ending in the prefix's last symbol

    @property
    def total(self) -> float:
        return logaddexp(self.pb, self.pnb)


class Lexicon:
    """A word list as a set of words and of their prefixes (class sequences).

    `space` is the word separator's class (None if the alphabet has none): after a complete word it
    starts the next word. See docs/ctc-decoding.md, "Lexicon and language model".
    """

    def __init__(self, words: list[list[int]], space: int | None = None):
        self.words = {tuple(word) for word in words if word}
        self.prefixes = {tuple(word[:i]) for word in self.words for i in range(len(word) + 1)}
        self.space = space

    def current_word(self, prefix: tuple[int, ...]) -> tuple[int, ...]:
        """The part of `prefix` after its last word separator."""
        if self.space is not None and self.space in prefix:
            return prefix[len(prefix) - prefix[::-1].index(self.space):]
        return prefix

    def allows(self, prefix: tuple[int, ...], c: int) -> bool:
        word = self.current_word(prefix)
        if c == self.space:
            return word in self.words
        return word + (c,) in self.prefixes

    def complete(self, prefix: tuple[int, ...]) -> bool:
        return self.current_word(prefix) in self.words


def read_lexicon(path, alphabet) -> list[list[int]]:
    """The words of a lexicon file as class sequences: one word per line, surrounding white space
    and case ignored, blank lines and lines starting with # skipped; errors name the line."""
    words = []
    with open(path, encoding="utf-8") as stream:
        for number, line in enumerate(stream, 1):
            word = line.strip().lower()
            if not word or word.startswith("#"):
                continue
            if any(ch.isspace() for ch in word):
                raise ValueError(f"{path}: line {number}: expected one word, found {word!r}")
            try:
                words.append(alphabet.encode(word))
            except ValueError as error:
                raise ValueError(f"{path}: line {number}: {error}") from None
    return words


@dataclass(frozen=True)
class BeamVocabulary:
    """What constrains and scores the prefix beam search beyond the acoustic model."""

    lexicon: Lexicon | None = None
    lm: "charlm.CharLM | None" = None
    lm_symbol: tuple[int, ...] = ()  # per class: its LM symbol (class_to_symbol)
    lm_weight: float = 0.0
    bonus: float = 0.0  # added to every extension
    space: int | None = None  # the word separator's class

    def lm_row(self, prefix: tuple[int, ...]) -> np.ndarray | None:
        """The LM's log-probabilities after `prefix`: the history is the current word's symbols
        after order − 1 boundaries."""
        if self.lm is None:
            return None
        word = prefix
        if self.space is not None and self.space in prefix:
            word = prefix[len(prefix) - prefix[::-1].index(self.space):]
        history = [charlm.BOUNDARY] * (self.lm.order - 1) + [self.lm_symbol[c] for c in word]
        return self.lm.row(history)

    def extension(self, row: np.ndarray | None, c: int) -> float:
        if row is None:
            return self.bonus
        return self.lm_weight * float(row[self.lm_symbol[c]]) + self.bonus

    def final(self, prefix: tuple[int, ...]) -> float:
        """Added to a beam's total when the utterance ends: the LM's end of the word."""
        row = self.lm_row(prefix)
        return 0.0 if row is None else self.lm_weight * float(row[charlm.BOUNDARY])


def make_vocabulary(alphabet, lexicon_words: list[list[int]] | None = None, lm=None, lm_weight: float = 0.0,
                    bonus: float = 0.0) -> BeamVocabulary:
    space = alphabet.encode(charlm.WORD_SEPARATOR)[0] if charlm.WORD_SEPARATOR in alphabet.symbols else None
    lexicon = Lexicon(lexicon_words, space) if lexicon_words is not None else None
    mapping = tuple(charlm.class_to_symbol(lm, alphabet)) if lm is not None else ()
    return BeamVocabulary(lexicon, lm, mapping, lm_weight, bonus, space)


@dataclass(frozen=True)
class BeamSearchResult:
    beams: list[Beam]  # after the last frame, best first (creation order among equal totals)
    # The smallest gap, over all frames, between the last beam kept and the best one dropped: how
    # far the scores may move before the pruning could change (inf if nothing was ever dropped).
    pruning_margin: float
    best: int = 0  # the result's index in `beams` (the final choice, see the doc)
    # The gap between the chosen beam's final score and the best other candidate's (inf if none).
    final_margin: float = math.inf


def prefix_beam_search(lp: np.ndarray, beam_width: int, vocabulary: BeamVocabulary | None = None) -> BeamSearchResult:
    if beam_width < 1:
        raise ValueError(f"beam width {beam_width} must be at least 1")
    lexicon = vocabulary.lexicon if vocabulary is not None else None
    beams = [Beam((), pb=0.0)]
    pruning_margin = math.inf
    for frame in np.asarray(lp, dtype=np.float64):
        following: dict[tuple[int, ...], Beam] = {}  # insertion order = creation order

        def at(prefix: tuple[int, ...]) -> Beam:
            if prefix not in following:
                following[prefix] = Beam(prefix)
            return following[prefix]

        for beam in beams:
            last = beam.prefix[-1] if beam.prefix else None
            total = beam.total
            row = vocabulary.lm_row(beam.prefix) if vocabulary is not None else None
            for c, p in enumerate(frame.tolist()):
                if c == BLANK:
                    target = at(beam.prefix)
                    target.pb = logaddexp(target.pb, total + p)
                    continue
                if c == last:
                    target = at(beam.prefix)
                    target.pnb = logaddexp(target.pnb, beam.pnb + p)
                if lexicon is not None and not lexicon.allows(beam.prefix, c):
                    continue
                bonus = vocabulary.extension(row, c) if vocabulary is not None else 0.0
                extended = at(beam.prefix + (c,))
                source = beam.pb if c == last else total
                extended.pnb = logaddexp(extended.pnb, source + p + bonus if vocabulary is not None else source + p)
        # sorted() is stable: among equal totals the beam created first stays first.
        ranked = sorted(following.values(), key=lambda b: -b.total)
        if len(ranked) > beam_width:
            pruning_margin = min(pruning_margin, ranked[beam_width - 1].total - ranked[beam_width].total)
        beams = ranked[:beam_width]
    if vocabulary is None:
        return BeamSearchResult(beams, pruning_margin)
    scores = [beam.total + vocabulary.final(beam.prefix) for beam in beams]
    eligible = list(range(len(beams)))
    if lexicon is not None and any(lexicon.complete(beam.prefix) for beam in beams):
        eligible = [i for i in eligible if lexicon.complete(beams[i].prefix)]
    best = eligible[0]
    for i in eligible[1:]:
        if scores[i] > scores[best]:
            best = i
    others = [scores[i] for i in eligible if i != best]
    margin = scores[best] - max(others) if others else math.inf
    return BeamSearchResult(beams, pruning_margin, best, margin)


def beam_search(lp: np.ndarray, beam_width: int, vocabulary: BeamVocabulary | None = None) -> list[int]:
    """The chosen prefix of the prefix beam search (the best one without a vocabulary)."""
    result = prefix_beam_search(lp, beam_width, vocabulary)
    return list(result.beams[result.best].prefix)


@dataclass(frozen=True)
class LetterSpan:
    label: int  # class index
    start: int  # first frame, inclusive
    end: int  # last frame, inclusive
    score: float  # highest posterior exp(lp[t][label]) within the span


@dataclass(frozen=True)
class Alignment:
    states: list[int]  # per frame, the state in the blank-interleaved label sequence
    log_score: float
    # The smallest margin by which a decision on the path (each frame's predecessor, the final
    # state) beat its runner-up: every other alignment scores at least this much lower.
    margin: float


def viterbi_alignment(lp: np.ndarray, labels: list[int]) -> Alignment:
    """The most likely CTC alignment of `labels` (ties to the lower state).

    States: 2i is a blank, 2i + 1 is labels[i], over the sequence blank, l1, blank, ..., lN, blank.
    """
    lp = np.asarray(lp, dtype=np.float64)
    steps = lp.shape[0]
    extended = [BLANK]
    for label in labels:
        extended += [label, BLANK]
    size = len(extended)
    score = np.full(size, NEG_INF)
    score[0] = lp[0][extended[0]]
    if size > 1:
        score[1] = lp[0][extended[1]]
    back = np.zeros((steps, size), dtype=np.int64)
    gaps = np.full((steps, size), math.inf)
    for t in range(1, steps):
        following = np.full(size, NEG_INF)
        for s in range(size):
            # Predecessors in increasing state order; a later one must be strictly better to win.
            candidates = [s - 2] if s >= 2 and extended[s] != BLANK and extended[s] != extended[s - 2] else []
            candidates += [p for p in (s - 1, s) if p >= 0]
            best, runner_up = candidates[0], NEG_INF
            for p in candidates[1:]:
                if score[p] > score[best]:
                    best, runner_up = p, score[best]
                else:
                    runner_up = max(runner_up, score[p])
            back[t, s] = best
            gaps[t, s] = score[best] - runner_up if runner_up != NEG_INF else math.inf
            following[s] = score[best] + lp[t][extended[s]]
        score = following
    finals = [s for s in (size - 2, size - 1) if s >= 0]
    state = finals[0] if len(finals) == 1 or score[finals[0]] >= score[finals[1]] else finals[1]
    if score[state] == NEG_INF:
        raise ValueError(f"{len(labels)} labels cannot be aligned to {steps} frames")
    margin = abs(score[finals[0]] - score[finals[1]]) if len(finals) == 2 else math.inf
    states = [state]
    for t in range(steps - 1, 0, -1):
        margin = min(margin, gaps[t, state])
        state = int(back[t, state])
        states.append(state)
    states.reverse()
    return Alignment(states, float(score[states[-1]]), margin)


def letter_spans(lp: np.ndarray, labels: list[int]) -> list[LetterSpan]:
    """Per label: the frame span of the Viterbi alignment and the highest posterior within it."""
    if not labels:
        return []
    lp = np.asarray(lp, dtype=np.float64)
    states = viterbi_alignment(lp, labels).states
    spans = []
    for i, label in enumerate(labels):
        frames = [t for t, s in enumerate(states) if s == 2 * i + 1]
        start, end = frames[0], frames[-1]
        spans.append(LetterSpan(label, start, end, math.exp(lp[start:end + 1, label].max())))
    return spans
