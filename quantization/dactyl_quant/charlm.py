"""Character n-gram language model for the CTC prefix beam search (docs/ctc-decoding.md).

Trained from a word list with interpolated Witten-Bell smoothing over the symbols of an alphabet
plus a word-boundary symbol, and written to a small binary file (`.dclm`) that `dactyl decode --lm`
and the Python reference (`ctc.py`) read. Every word is scored on its own: its history starts as
order − 1 boundary symbols and its last symbol is followed by a boundary (the end of the word).

File layout (little-endian, every field 4-byte aligned):

    0   "DCLM"                   magic
    4   u32 version              1
    8   u32 order n              2..6
    12  u32 symbols V            the boundary (symbol 0) and V − 1 alphabet symbols, 2..64
    16  (V − 1) × 8 bytes        symbols 1..V−1, UTF-8, NUL-padded to 8 bytes
    ..  n × u32                  count_k: contexts of length k = 0..n−1 (count_0 = 1)
    ..  for k = 0..n−1: count_k × u32 keys, ascending; then count_k × V f32 rows
                                 (natural-log probabilities of every symbol after that context)

A context of k symbols h_1..h_k (oldest first) has the key ((h_1·V + h_2)·V + …)·V + h_k; the
empty context has key 0. The probability of symbol s after a history is the row of the longest
stored context that ends the history (the last n − 1 symbols, then fewer), at column s: for
Witten-Bell an unseen context's distribution is exactly its shorter context's.

    python -m dactyl_quant.charlm train --words A.txt [B.txt ...] --order 4 --out lm.dclm
"""

import argparse
import struct
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .alphabet import CHICAGO, Alphabet

MAGIC = b"DCLM"
VERSION = 1
BOUNDARY = 0
SYMBOL_BYTES = 8
MAX_ORDER = 6
MAX_SYMBOLS = 64
WORD_SEPARATOR = " "  # the alphabet symbol that ends a word, scored as the boundary


@dataclass(frozen=True)
class CharLM:
    order: int
    symbols: tuple[str, ...]           # symbols 1..V−1 (the boundary, 0, has no text)
    tables: tuple[dict[int, np.ndarray], ...]  # per context length k: key → float32 row [V]

    @property
    def size(self) -> int:
        """V: the number of symbols, the boundary included."""
        return len(self.symbols) + 1

    def key(self, context: Sequence[int]) -> int:
        key = 0
        for symbol in context:
            key = key * self.size + symbol
        return key

    def row(self, history: Sequence[int]) -> np.ndarray:
        """Log-probabilities [V] of the next symbol after `history` (LM symbols; the start of a
        word is order − 1 boundaries, which the caller includes)."""
        for k in range(min(self.order - 1, len(history)), 0, -1):
            found = self.tables[k].get(self.key(history[len(history) - k:]))
            if found is not None:
                return found
        return self.tables[0][0]

    def word_log_prob(self, symbols: Sequence[int]) -> float:
        """log P(word, then the boundary), for checking and for tests."""
        history = [BOUNDARY] * (self.order - 1)
        total = 0.0
        for symbol in list(symbols) + [BOUNDARY]:
            total += float(self.row(history)[symbol])
            history.append(symbol)
        return total


def lm_symbols(alphabet: Alphabet) -> tuple[str, ...]:
    """The LM's symbols for a model alphabet: every symbol but the word separator."""
    return tuple(s for s in alphabet.symbols if s != WORD_SEPARATOR)


def class_to_symbol(lm: CharLM, alphabet: Alphabet) -> list[int]:
    """Per model class (index 0, the blank, unused): its LM symbol; the word separator → boundary."""
    mapping = [BOUNDARY]
    for symbol in alphabet.symbols:
        if symbol == WORD_SEPARATOR:
            mapping.append(BOUNDARY)
        elif symbol in lm.symbols:
            mapping.append(lm.symbols.index(symbol) + 1)
        else:
            raise ValueError(f"the language model has no symbol {symbol!r} of the model's alphabet")
    return mapping


def train(words: Iterable[str], order: int, symbols: Sequence[str] = lm_symbols(CHICAGO)) -> CharLM:
    """Interpolated Witten-Bell: P_k(s | h) = (C(h s) + T(h) · P_{k−1}(s | h')) / (C(h) + T(h)), with
    T(h) the number of distinct symbols seen after h, h' the context without its oldest symbol,
    and P_{−1} uniform over the V symbols (so that no symbol has probability 0)."""
    if not 2 <= order <= MAX_ORDER:
        raise ValueError(f"order {order}: expected 2 to {MAX_ORDER}")
    size = len(symbols) + 1
    if size > MAX_SYMBOLS:
        raise ValueError(f"{size} symbols: at most {MAX_SYMBOLS}")
    encoder = Alphabet(symbols)
    counts: list[dict[tuple[int, ...], dict[int, int]]] = [defaultdict(lambda: defaultdict(int)) for _ in range(order)]
    seen = 0
    for word in words:
        for part in word.split(WORD_SEPARATOR):
            if not part:
                continue
            sequence = [BOUNDARY] * (order - 1) + encoder.encode(part) + [BOUNDARY]
            for i in range(order - 1, len(sequence)):
                for k in range(order):
                    counts[k][tuple(sequence[i - k:i])][sequence[i]] += 1
            seen += 1
    if not seen:
        raise ValueError("no words to train the language model on")

    probabilities: list[dict[tuple[int, ...], np.ndarray]] = []
    for k in range(order):
        level = {}
        for context in sorted(counts[k]):
            lower = probabilities[k - 1][_longest_stored(probabilities, context[1:])] if k else np.full(size, 1.0 / size)
            following = counts[k][context]
            total, distinct = sum(following.values()), len(following)
            row = lower * distinct
            for symbol, count in following.items():
                row[symbol] += count
            level[context] = row / (total + distinct)
        probabilities.append(level)
    tables = []
    lm = CharLM(order, tuple(symbols), ())
    for k, level in enumerate(probabilities):
        tables.append({lm.key(context): np.log(row).astype(np.float32) for context, row in level.items()})
    return CharLM(order, tuple(symbols), tuple(tables))


def _longest_stored(probabilities: list[dict], context: tuple[int, ...]) -> tuple[int, ...]:
    """`context` or its longest stored suffix (every suffix of a seen context is seen, but be exact)."""
    while context not in probabilities[len(context)]:
        context = context[1:]
    return context


def write(lm: CharLM, path: str | Path) -> None:
    parts = [MAGIC, struct.pack("<III", VERSION, lm.order, lm.size)]
    for symbol in lm.symbols:
        encoded = symbol.encode("utf-8")
        parts.append(encoded + b"\0" * (SYMBOL_BYTES - len(encoded)))
    parts.append(struct.pack(f"<{lm.order}I", *(len(table) for table in lm.tables)))
    for table in lm.tables:
        keys = sorted(table)
        parts.append(np.asarray(keys, dtype="<u4").tobytes())
        parts.append(np.stack([table[key] for key in keys]).astype("<f4").tobytes())
    Path(path).write_bytes(b"".join(parts))


def read(path: str | Path) -> CharLM:
    """Reads and checks a `.dclm` file; errors name the file and the byte offset."""
    data = Path(path).read_bytes()

    def fail(offset: int, message: str) -> ValueError:
        return ValueError(f"{path}: offset {offset}: {message}")

    def u32s(offset: int, count: int) -> list[int]:
        if offset + 4 * count > len(data):
            raise fail(offset, f"the file ends after {len(data)} bytes, expected {4 * count} more bytes")
        return list(struct.unpack_from(f"<{count}I", data, offset))

    if data[:4] != MAGIC:
        raise fail(0, "expected a character language model (\"DCLM\" at the start)")
    version, order, size = u32s(4, 3)
    if version != VERSION:
        raise fail(4, f"version {version}, expected {VERSION}")
    if not 2 <= order <= MAX_ORDER:
        raise fail(8, f"order {order}, expected 2 to {MAX_ORDER}")
    if not 2 <= size <= MAX_SYMBOLS:
        raise fail(12, f"{size} symbols, expected 2 to {MAX_SYMBOLS}")
    offset = 16
    symbols = []
    for _ in range(size - 1):
        raw = data[offset:offset + SYMBOL_BYTES].rstrip(b"\0")
        if not raw or len(data) < offset + SYMBOL_BYTES:
            raise fail(offset, "expected a symbol of 1 to 8 UTF-8 bytes")
        symbols.append(raw.decode("utf-8"))
        offset += SYMBOL_BYTES
    counts = u32s(offset, order)
    if counts[0] != 1:
        raise fail(offset, f"{counts[0]} empty contexts, expected 1")
    offset += 4 * order
    tables = []
    for k, count in enumerate(counts):
        keys = u32s(offset, count)
        if any(b <= a for a, b in zip(keys, keys[1:])) or any(key >= size ** k for key in keys[-1:]):
            raise fail(offset, f"context keys of length {k} are not ascending below {size}^{k}")
        offset += 4 * count
        if offset + 4 * count * size > len(data):
            raise fail(offset, f"the file ends after {len(data)} bytes, expected {count} rows of {size} floats")
        rows = np.frombuffer(data, dtype="<f4", count=count * size, offset=offset).reshape(count, size)
        offset += 4 * count * size
        tables.append({key: rows[i].astype(np.float32) for i, key in enumerate(keys)})
    if offset != len(data):
        raise fail(offset, f"{len(data) - offset} bytes after the last table")
    return CharLM(order, tuple(symbols), tuple(tables))


def _train_command(args: argparse.Namespace) -> None:
    from .synth.corpus import read_words
    words = [word for path in args.words for word in read_words(path)]
    lm = train(words, args.order)
    write(lm, args.out)
    contexts = sum(len(table) for table in lm.tables)
    print(f"{args.out}: order {lm.order}, {lm.size} symbols, {contexts} contexts, {len(words)} words, "
          f"{Path(args.out).stat().st_size} bytes")


def main(argv: list[str] | None = None) -> int:
    from .commands import run_command
    parser = argparse.ArgumentParser(prog="python -m dactyl_quant.charlm",
                                     description="Character n-gram language model for dactyl decode --lm.")
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("train", help="train a Witten-Bell character n-gram model on word lists")
    command.add_argument("--words", nargs="+", required=True, metavar="FILE",
                         help="word lists, one word per line (# comments and blank lines skipped)")
    command.add_argument("--order", type=int, default=4, help="n-gram order, 2 to 6 (default: 4)")
    command.add_argument("--out", required=True, metavar="FILE.dclm")
    command.set_defaults(run=_train_command)
    return run_command(parser.parse_args(argv))


if __name__ == "__main__":
    import sys
    sys.exit(main())
