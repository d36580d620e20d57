"""The lexicon and character LM of the prefix beam search (ctc.py, charlm.py)."""

import itertools
import math

import numpy as np
import pytest

from dactyl_quant import charlm, ctc
from dactyl_quant.alphabet import Alphabet

# A small alphabet keeps brute force over every path possible: classes 1..3 = a, b, " ".
ABC = Alphabet(("a", "b", " "))


def _random_table(rng, steps: int, classes: int) -> np.ndarray:
    logits = rng.normal(size=(steps, classes)) * 1.5
    return logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))


def _labellings(table: np.ndarray) -> dict[tuple[int, ...], float]:
    """Every labelling's log-probability, summed over all paths."""
    totals: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(table.shape[1]), repeat=table.shape[0]):
        labels, previous = [], None
        for c in path:
            if c != previous and c != 0:
                labels.append(c)
            previous = c
        key = tuple(labels)
        totals[key] = ctc.logaddexp(totals.get(key, -math.inf), sum(table[t, c] for t, c in enumerate(path)))
    return totals


def test_lexicon_file_errors_name_the_line(tmp_path):
    path = tmp_path / "words.txt"
    path.write_text("# names\nAb\n\n  ba \nab ba\n")
    with pytest.raises(ValueError, match=r"words.txt: line 5: expected one word"):
        ctc.read_lexicon(path, ABC)
    path.write_text("ab\nac\n")
    with pytest.raises(ValueError, match=r"line 2: .*'c'"):
        ctc.read_lexicon(path, ABC)
    path.write_text("# names\nAb\n\n  ba \n")
    assert ctc.read_lexicon(path, ABC) == [[1, 2], [2, 1]]


def test_lexicon_allows_prefixes_and_a_separator_after_a_complete_word():
    lexicon = ctc.Lexicon([[1, 2], [1, 1, 2]], space=3)
    assert lexicon.allows((), 1) and not lexicon.allows((), 2)
    assert lexicon.allows((1,), 1) and lexicon.allows((1,), 2)
    assert not lexicon.allows((1,), 3)          # "a" is not a word
    assert lexicon.allows((1, 2), 3)            # "ab" is: a second word may follow
    assert lexicon.allows((1, 2, 3), 1) and not lexicon.allows((1, 2, 3), 2)
    assert lexicon.complete((1, 2, 3, 1, 2)) and not lexicon.complete((1, 2, 3))


@pytest.mark.parametrize("seed", range(8))
def test_wide_beam_with_a_lexicon_picks_the_most_probable_word(seed):
    rng = np.random.default_rng(seed)
    table = _random_table(rng, 4, 4)
    words = [[1, 2], [2, 1], [1, 1], [2, 2, 1]]
    vocabulary = ctc.make_vocabulary(ABC, words)
    totals = _labellings(table)
    best = max((tuple(w) for w in words), key=lambda w: totals.get(w, -math.inf))
    result = ctc.prefix_beam_search(table, 1000, vocabulary)
    assert tuple(result.beams[result.best].prefix) == best
    # Every beam is a lexicon prefix, and its total is the labelling's exact probability.
    prefixes = {tuple(w[:i]) for w in words for i in range(len(w) + 1)}
    for beam in result.beams:
        assert beam.prefix in prefixes or beam.prefix[:beam.prefix.index(3)] in {tuple(w) for w in words}
        assert beam.total == pytest.approx(totals.get(beam.prefix, -math.inf))


@pytest.mark.parametrize("seed", range(6))
def test_wide_beam_with_an_lm_maximises_acoustic_plus_weighted_lm_plus_bonus(seed):
    rng = np.random.default_rng(seed)
    table = _random_table(rng, 4, 4)
    lm = charlm.train(["ab", "abba", "ba", "a b"], order=3, symbols=("a", "b"))
    weight, bonus = 0.7, 0.4
    vocabulary = ctc.make_vocabulary(ABC, None, lm, weight, bonus)
    mapping = charlm.class_to_symbol(lm, ABC)

    totals = _labellings(table)
    scores = {}
    for labels, total in totals.items():
        # Separators count as extensions too; each word's history starts afresh after one.
        words = ABC.decode(labels).split(" ")
        lm_total = sum(lm.word_log_prob([mapping[c] for c in ABC.encode(w)]) for w in words)
        scores[labels] = total + weight * lm_total + bonus * len(labels)
    result = ctc.prefix_beam_search(table, 1000, vocabulary)
    assert tuple(result.beams[result.best].prefix) == max(scores, key=scores.get)


def test_no_vocabulary_is_the_plain_search():
    rng = np.random.default_rng(3)
    table = _random_table(rng, 12, 6)
    plain = ctc.prefix_beam_search(table, 4)
    empty = ctc.prefix_beam_search(table, 4, ctc.make_vocabulary(Alphabet(tuple("abcde"))))
    assert [b.prefix for b in plain.beams] == [b.prefix for b in empty.beams]
    assert [b.total for b in plain.beams] == [b.total for b in empty.beams]


def test_lm_rows_are_distributions_and_unseen_contexts_back_off(tmp_path):
    lm = charlm.train(["hello", "hell", "yellow"], order=4, symbols=tuple("ehlowyz"))
    for table in lm.tables:
        for row in table.values():
            assert np.exp(row.astype(np.float64)).sum() == pytest.approx(1.0, abs=1e-5)
    path = tmp_path / "lm.dclm"
    charlm.write(lm, path)
    again = charlm.read(path)
    assert again.order == 4 and again.symbols == lm.symbols
    for mine, theirs in zip(lm.tables, again.tables):
        assert mine.keys() == theirs.keys()
        assert all(np.array_equal(mine[k], theirs[k]) for k in mine)
    e, h, l, o = 1, 2, 3, 4  # noqa: E741  (symbols e h l o w y z; z never occurs)
    # Seen words score far above a permutation of their letters.
    assert lm.word_log_prob([h, e, l, l, o]) > lm.word_log_prob([l, h, o, e, l]) + 5
    # "w w w" never occurs: its row is the longest stored suffix's ("w" alone, then the unigram).
    assert np.array_equal(lm.row([5, 5, 5]), lm.row([5]))
    assert np.array_equal(lm.row([7, 7, 7]), lm.tables[0][0])


def test_lm_file_errors_name_the_offset(tmp_path):
    path = tmp_path / "lm.dclm"
    charlm.write(charlm.train(["ab"], order=2, symbols=("a", "b")), path)
    data = path.read_bytes()
    (tmp_path / "short.dclm").write_bytes(data[:-3])
    with pytest.raises(ValueError, match=r"short.dclm: offset \d+: the file ends"):
        charlm.read(tmp_path / "short.dclm")
    (tmp_path / "bad.dclm").write_bytes(b"XXXX" + data[4:])
    with pytest.raises(ValueError, match=r"bad.dclm: offset 0: expected a character language model"):
        charlm.read(tmp_path / "bad.dclm")
    with pytest.raises(ValueError, match="no symbol 'c'"):
        charlm.class_to_symbol(charlm.read(path), Alphabet(("a", "b", "c")))


def test_vocabulary_golden_files_are_reproducible(tmp_path):
    """Tests/golden/vocabulary (what the Swift decoder is checked against) is what its script makes."""
    import importlib.util
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "Tests" / "golden" / "vocabulary"
    spec = importlib.util.spec_from_file_location("vocabulary_golden", folder / "make_golden.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.generate(tmp_path)
    committed = sorted(p.name for p in folder.iterdir() if p.name != "make_golden.py" and p.is_file())
    assert sorted(p.name for p in tmp_path.iterdir()) == committed
    for name in committed:
        assert (tmp_path / name).read_bytes() == (folder / name).read_bytes(), name
