import pytest

from dactyl_quant.alphabet import CHICAGO, Alphabet


def test_chicago_alphabet_has_31_symbols_after_the_blank():
    assert len(CHICAGO.symbols) == 31
    assert CHICAGO.num_classes == 32
    assert CHICAGO.encode("a") == [1]
    assert CHICAGO.encode("z") == [26]
    assert CHICAGO.encode(" '&.@") == [27, 28, 29, 30, 31]


def test_encode_decode_round_trip():
    text = "o'neil & co. @ chicago"
    assert CHICAGO.decode(CHICAGO.encode(text)) == text


def test_unknown_character_is_named():
    with pytest.raises(ValueError, match=r"'Q' at position 3"):
        CHICAGO.encode("abcQ")


def test_decode_rejects_blank_and_out_of_range_classes():
    with pytest.raises(ValueError, match="class 0"):
        CHICAGO.decode([0])
    with pytest.raises(ValueError, match="class 32"):
        CHICAGO.decode([32])


def test_multi_character_symbols_match_longest_first():
    alphabet = Alphabet(["a", "ab", "b"])
    assert alphabet.encode("abab") == [2, 2]
    assert alphabet.encode("ba") == [3, 1]


def test_invalid_alphabets():
    with pytest.raises(ValueError, match="unique"):
        Alphabet(["a", "b", "a"])
    with pytest.raises(ValueError, match="9 UTF-8 bytes"):
        Alphabet(["abcdefghi"])
    with pytest.raises(ValueError, match="0 UTF-8 bytes"):
        Alphabet([""])
