"""The letter alphabet of the ChicagoFSWild corpus and its class indices.

Class 0 is the CTC blank; symbol i of the alphabet is class i + 1 (docs/model-format.md, `ALPH`).
"""

from collections.abc import Iterable, Sequence

BLANK = 0

CHICAGO_FSWILD: tuple[str, ...] = tuple("abcdefghijklmnopqrstuvwxyz") + (" ", "'", "&", ".", "@")


class Alphabet:
    """An ordered set of symbols (each 1 to 8 UTF-8 bytes) with class 0 reserved for the blank."""

    def __init__(self, symbols: Sequence[str]):
        if not symbols:
            raise ValueError("an alphabet needs at least one symbol")
        for symbol in symbols:
            size = len(symbol.encode("utf-8"))
            if not 1 <= size <= 8:
                raise ValueError(f"alphabet symbol {symbol!r} is {size} UTF-8 bytes, expected 1 to 8")
        if len(set(symbols)) != len(symbols):
            duplicates = sorted({s for s in symbols if symbols.count(s) > 1})
            raise ValueError(f"alphabet symbols must be unique, repeated: {duplicates!r}")
        self.symbols: tuple[str, ...] = tuple(symbols)
        self._class_of = {symbol: index + 1 for index, symbol in enumerate(self.symbols)}
        # Symbols may be several characters long: encoding takes the longest match first.
        self._by_length = sorted(self.symbols, key=len, reverse=True)

    @property
    def num_classes(self) -> int:
        """Number of output classes, the blank included."""
        return len(self.symbols) + 1

    def encode(self, text: str) -> list[int]:
        """Class indices of the symbols of `text`; text that no symbol matches is an error."""
        classes = []
        position = 0
        while position < len(text):
            symbol = next((s for s in self._by_length if text.startswith(s, position)), None)
            if symbol is None:
                raise ValueError(
                    f"character {text[position]!r} at position {position} of {text!r} is not in the alphabet")
            classes.append(self._class_of[symbol])
            position += len(symbol)
        return classes

    def decode(self, classes: Iterable[int]) -> str:
        """The text of a sequence of non-blank class indices."""
        letters = []
        for c in classes:
            if not 1 <= c <= len(self.symbols):
                raise ValueError(f"class {c} is not a symbol class (1 to {len(self.symbols)})")
            letters.append(self.symbols[c - 1])
        return "".join(letters)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Alphabet) and self.symbols == other.symbols

    def __repr__(self) -> str:
        return f"Alphabet({''.join(self.symbols)!r})"


CHICAGO = Alphabet(CHICAGO_FSWILD)
