import itertools
import math

import numpy as np
import pytest

from dactyl_quant import ctc


def _log(table) -> np.ndarray:
    return np.log(np.asarray(table, dtype=np.float64))


def _collapse(path) -> tuple[int, ...]:
    out = []
    previous = None
    for c in path:
        if c != previous and c != 0:
            out.append(c)
        previous = c
    return tuple(out)


def _random_table(rng, steps: int, classes: int) -> np.ndarray:
    logits = rng.normal(size=(steps, classes)) * 1.5
    return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))


def test_logaddexp():
    assert ctc.logaddexp(-math.inf, -math.inf) == -math.inf
    assert ctc.logaddexp(-math.inf, -2.0) == -2.0
    assert ctc.logaddexp(math.log(0.25), math.log(0.5)) == pytest.approx(math.log(0.75))


def test_greedy_merges_repeats_and_drops_blanks():
    #          blank  a    b
    table = [[0.1, 0.8, 0.1],   # a
             [0.1, 0.7, 0.2],   # a (repeat, merged)
             [0.6, 0.2, 0.2],   # blank
             [0.2, 0.7, 0.1],   # a (new a after a blank)
             [0.1, 0.2, 0.7]]   # b
    assert ctc.greedy(_log(table)) == [1, 1, 2]


def test_greedy_ties_go_to_the_lowest_class():
    assert ctc.greedy(_log([[0.4, 0.4, 0.2], [0.1, 0.45, 0.45]])) == [1]


def test_beam_finds_what_greedy_misses():
    # Greedy: blank, blank → "". But "a" has 0.4·0.4 + 0.4·0.6 + 0.6·0.4 = 0.64 > 0.36.
    table = _log([[0.6, 0.4], [0.6, 0.4]])
    assert ctc.greedy(table) == []
    assert ctc.beam_search(table, 2) == [1]
    beams = ctc.prefix_beam_search(table, 2).beams
    assert [b.prefix for b in beams] == [(1,), ()]
    assert beams[0].total == pytest.approx(math.log(0.64))


def test_beam_width_one_is_not_greedy():
    #         blank  a    b
    table = _log([[0.25, 0.4, 0.35],
                  [0.3, 0.3, 0.4]])
    assert ctc.greedy(table) == [1, 2]
    # B = 1 keeps "a" after frame 0; then "a" (0.4·0.3 + 0.4·0.3 = 0.24) beats "ab" (0.16).
    assert ctc.beam_search(table, 1) == [1]


def test_equal_totals_keep_creation_order():
    table = _log([[0.2, 0.4, 0.4]])  # "a" and "b" tie; "a" is created first
    beams = ctc.prefix_beam_search(table, 3).beams
    assert [b.prefix for b in beams] == [(1,), (2,), ()]
    assert ctc.beam_search(table, 1) == [1]
    assert ctc.prefix_beam_search(table, 1).pruning_margin == 0.0


def test_repeated_letters_need_a_blank_between():
    table = _log([[0.05, 0.9, 0.05], [0.9, 0.05, 0.05], [0.05, 0.9, 0.05]])
    assert ctc.greedy(table) == [1, 1]
    assert ctc.beam_search(table, 4) == [1, 1]


@pytest.mark.parametrize("seed", range(6))
def test_wide_beam_is_exact_against_brute_force(seed):
    rng = np.random.default_rng(seed)
    steps, classes = 4, 3
    table = _random_table(rng, steps, classes)
    probabilities: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(classes), repeat=steps):
        p = math.exp(sum(table[t, c] for t, c in enumerate(path)))
        probabilities[_collapse(path)] = probabilities.get(_collapse(path), 0.0) + p
    # With room for every prefix nothing is pruned, and each total is the labelling's probability.
    result = ctc.prefix_beam_search(table, 1000)
    assert result.pruning_margin == math.inf
    reachable = {b.prefix: math.exp(b.total) for b in result.beams if b.total > -math.inf}
    assert reachable == pytest.approx(probabilities)
    best = max(probabilities, key=probabilities.get)
    assert tuple(ctc.beam_search(table, 1000)) == best


@pytest.mark.parametrize("seed", range(6))
def test_letter_spans_follow_the_best_alignment(seed):
    rng = np.random.default_rng(100 + seed)
    steps, classes = 6, 4
    table = _random_table(rng, steps, classes)
    labels = ctc.greedy(table) or [1]
    if len(labels) > 3:
        labels = labels[:3]
    best_path, best_score = None, -math.inf
    for path in itertools.product(range(classes), repeat=steps):
        if list(_collapse(path)) == labels:
            score = sum(table[t, c] for t, c in enumerate(path))
            if score > best_score:
                best_path, best_score = path, score
    # Split the best path into runs of letters: the k-th run of non-blank, non-repeat symbols.
    expected = []
    previous = 0
    for t, c in enumerate(best_path):
        if c != 0 and c != previous:
            expected.append([c, t, t])
        elif c != 0:
            expected[-1][2] = t
        previous = c
    spans = ctc.letter_spans(table, labels)
    assert [(s.label, s.start, s.end) for s in spans] == [tuple(e) for e in expected]
    for span in spans:
        assert span.score == pytest.approx(math.exp(table[span.start:span.end + 1, span.label].max()))
    alignment = ctc.viterbi_alignment(table, labels)
    assert alignment.log_score == pytest.approx(best_score)
    assert alignment.margin > 0


def test_alignment_ties_go_to_the_lower_state():
    table = np.full((3, 2), math.log(0.5))  # every alignment of "a" scores the same
    # Final state: letter (1) over the trailing blank (2); then predecessor 0 over 1 at each step.
    assert ctc.viterbi_alignment(table, [1]).states == [0, 0, 1]
    assert [(s.start, s.end) for s in ctc.letter_spans(table, [1])] == [(2, 2)]
    assert ctc.viterbi_alignment(table, [1]).margin == 0.0


def test_impossible_alignment_is_an_error():
    with pytest.raises(ValueError, match="cannot be aligned"):
        ctc.letter_spans(_log([[0.5, 0.5], [0.5, 0.5]]), [1, 1])  # "aa" needs 3 frames
    assert ctc.letter_spans(_log([[0.5, 0.5]]), []) == []


def test_beam_width_must_be_positive():
    with pytest.raises(ValueError, match="beam width 0"):
        ctc.prefix_beam_search(_log([[0.5, 0.5]]), 0)
