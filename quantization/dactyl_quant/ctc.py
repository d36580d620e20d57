"""CTC decoding exactly as docs/ctc-decoding.md: greedy, prefix beam search, Viterbi letter spans.

Log-probabilities are `lp[t][c]`, class 0 the blank; scores are computed in float64.
"""

import math
from dataclasses import dataclass

import numpy as np

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


@dataclass(frozen=True)
class BeamSearchResult:
    beams: list[Beam]  # after the last frame, best first (creation order among equal totals)
    # The smallest gap, over all frames, between the last beam kept and the best one dropped: how
    # far the scores may move before the pruning could change (inf if nothing was ever dropped).
    pruning_margin: float


def prefix_beam_search(lp: np.ndarray, beam_width: int) -> BeamSearchResult:
    if beam_width < 1:
        raise ValueError(f"beam width {beam_width} must be at least 1")
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
            for c, p in enumerate(frame.tolist()):
                if c == BLANK:
                    target = at(beam.prefix)
                    target.pb = logaddexp(target.pb, total + p)
                elif c == last:
                    target = at(beam.prefix)
                    target.pnb = logaddexp(target.pnb, beam.pnb + p)
                    extended = at(beam.prefix + (c,))
                    extended.pnb = logaddexp(extended.pnb, beam.pb + p)
                else:
                    extended = at(beam.prefix + (c,))
                    extended.pnb = logaddexp(extended.pnb, total + p)
        # sorted() is stable: among equal totals the beam created first stays first.
        ranked = sorted(following.values(), key=lambda b: -b.total)
        if len(ranked) > beam_width:
            pruning_margin = min(pruning_margin, ranked[beam_width - 1].total - ranked[beam_width].total)
        beams = ranked[:beam_width]
    return BeamSearchResult(beams, pruning_margin)


def beam_search(lp: np.ndarray, beam_width: int) -> list[int]:
    """The best prefix of the prefix beam search."""
    return list(prefix_beam_search(lp, beam_width).beams[0].prefix)


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
