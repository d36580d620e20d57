#!/usr/bin/env python3
"""Y4M files on the edges of the header format, and what the Python reader makes of each.

Run from the repository root: `python3 Tests/y4m-cases/make_cases.py`. It writes, next to itself,
cases/<name>.y4m and verdicts.txt, one line per file:

    <name> ok <width> <height> <420|422|444> <limited|full> <fps N:D, or - without an F tag> <frames> <fnv>
    <name> error <byte offset>

<fnv> is the 32-bit FNV-1a hash of every frame's Y, U and V planes in order. The Python reader's
verdicts are these (quantization/tests/test_y4m_agreement.py checks that this script still writes
these files and lines); the board's reader must give the same (Tests/DactylPipelineTests/
Y4MAgreementTests.swift). A clip without frames is an error at the end of its header for both
(read_rgb's "no frames").
"""

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "quantization"))

from dactyl_quant.y4m import Y4MReader  # noqa: E402


def _planes(width: int, height: int, chroma: str, seed: int) -> bytes:
    """One frame's data: deterministic bytes (no RNG whose stream could change)."""
    columns = {"420": (width + 1) // 2, "422": (width + 1) // 2, "444": width}[chroma]
    rows = (height + 1) // 2 if chroma == "420" else height
    count = width * height + 2 * rows * columns
    return bytes((seed * 31 + i * 7 + (i >> 3)) & 0xFF for i in range(count))


def _clip(header: str, width: int, height: int, chroma: str = "420", frames: int = 2,
          marker: bytes = b"FRAME\n", tail: bytes = b"") -> bytes:
    data = (header + "\n").encode("ascii")
    for index in range(frames):
        data += marker + _planes(width, height, chroma, index)
    return data + tail


def cases() -> list[tuple[str, bytes]]:
    frame = _planes(4, 2, "420", 0)
    return [
        # Accepted: every colour space, parameters in any order, ranges, rates.
        ("basic-420jpeg", _clip("YUV4MPEG2 W4 H2 F30:1 Ip A1:1 C420jpeg", 4, 2)),
        ("default-chroma-odd-size", _clip("YUV4MPEG2 W5 H3", 5, 3)),
        ("420paldv", _clip("YUV4MPEG2 W4 H2 C420paldv", 4, 2)),
        ("420mpeg2", _clip("YUV4MPEG2 C420mpeg2 H2 W4", 4, 2)),
        ("420-xyscss", _clip("YUV4MPEG2 W4 H2 C420 XYSCSS=420JPEG", 4, 2)),
        ("422", _clip("YUV4MPEG2 W5 H2 C422 F25:1", 5, 2, "422")),
        ("444-full", _clip("YUV4MPEG2 W3 H2 C444 XCOLORRANGE=FULL", 3, 2, "444")),
        ("limited-explicit", _clip("YUV4MPEG2 W4 H2 XCOLORRANGE=LIMITED", 4, 2)),
        ("ntsc-rate", _clip("YUV4MPEG2 W4 H2 F30000:1001", 4, 2)),
        ("nine-digit-rate", _clip("YUV4MPEG2 W4 H2 F999999999:1", 4, 2)),
        ("unknown-tags-skipped", _clip("YUV4MPEG2 W4 H2 Q7 Z ?x", 4, 2)),
        ("other-x-tags-skipped", _clip("YUV4MPEG2 W4 H2 XFOO=bar X XCOLORRANGE", 4, 2)),
        ("interlacing-unknown", _clip("YUV4MPEG2 W4 H2 I?", 4, 2)),
        ("aspect-unknown", _clip("YUV4MPEG2 W4 H2 A0:0", 4, 2)),
        ("double-spaces", _clip("YUV4MPEG2  W4  H2 ", 4, 2)),
        ("repeated-tag-last-wins", _clip("YUV4MPEG2 W9 H2 W4 C444 C420", 4, 2)),
        ("widest", _clip("YUV4MPEG2 W16384 H1 C444", 16384, 1, "444", frames=1)),
        ("frame-parameters", _clip("YUV4MPEG2 W4 H2", 4, 2, marker=b"FRAME Ixyz XFOO=1\n")),
        ("long-frame-parameters", _clip("YUV4MPEG2 W4 H2", 4, 2, marker=b"FRAME X" + b"y" * 5000 + b"\n")),
        # Rejected at the offending field.
        ("interlaced-top", _clip("YUV4MPEG2 W4 H2 It", 4, 2)),
        ("interlaced-bottom", _clip("YUV4MPEG2 W4 H2 Ib", 4, 2)),
        ("interlaced-mixed", _clip("YUV4MPEG2 W4 H2 Im", 4, 2)),
        ("interlacing-empty", _clip("YUV4MPEG2 W4 H2 I", 4, 2)),
        ("interlacing-long", _clip("YUV4MPEG2 W4 H2 Ipp", 4, 2)),
        ("aspect-not-a-ratio", _clip("YUV4MPEG2 W4 H2 A1", 4, 2)),
        ("aspect-letters", _clip("YUV4MPEG2 W4 H2 Ax:y", 4, 2)),
        ("chroma-10-bit", _clip("YUV4MPEG2 W4 H2 C420p10", 4, 2)),
        ("chroma-mono", _clip("YUV4MPEG2 W4 H2 Cmono", 4, 2)),
        ("chroma-alpha", _clip("YUV4MPEG2 W4 H2 C444alpha", 4, 2, "444")),
        ("chroma-411", _clip("YUV4MPEG2 W4 H2 C411", 4, 2)),
        ("colour-range-other", _clip("YUV4MPEG2 W4 H2 XCOLORRANGE=PC", 4, 2)),
        ("width-zero", _clip("YUV4MPEG2 W0 H2", 4, 2)),
        ("width-too-large", _clip("YUV4MPEG2 W16385 H1", 4, 2)),
        ("width-ten-digits", _clip("YUV4MPEG2 W0000000004 H2", 4, 2)),
        ("width-tab", _clip("YUV4MPEG2 W4\tH2", 4, 2)),
        ("rate-zero", _clip("YUV4MPEG2 W4 H2 F0:1", 4, 2)),
        ("rate-zero-denominator", _clip("YUV4MPEG2 W4 H2 F30:0", 4, 2)),
        ("rate-ten-digits", _clip("YUV4MPEG2 W4 H2 F1000000000:1", 4, 2)),
        ("rate-no-colon", _clip("YUV4MPEG2 W4 H2 F30", 4, 2)),
        ("no-width", _clip("YUV4MPEG2 H2", 4, 2)),
        ("no-height", _clip("YUV4MPEG2 W4", 4, 2)),
        ("magic-alone", _clip("YUV4MPEG2", 4, 2)),
        ("other-magic", _clip("YUV4MPEG3 W4 H2", 4, 2)),
        ("empty-file", b""),
        ("unterminated-header", b"YUV4MPEG2 W4 H2 " + b"Xpad" * 1100),
        # Rejected at a frame.
        ("no-frames", _clip("YUV4MPEG2 W4 H2", 4, 2, frames=0)),
        ("short-last-frame", _clip("YUV4MPEG2 W4 H2", 4, 2)[:-1]),
        ("bad-marker", b"YUV4MPEG2 W4 H2\nFRAME\n" + frame + b"FRAMX\n" + frame),
        ("marker-without-separator", b"YUV4MPEG2 W4 H2\nFRAMES\n" + frame),
        ("marker-unterminated", b"YUV4MPEG2 W4 H2\nFRAME\n" + frame + b"FRAME Ixyz"),
        ("trailing-newline", _clip("YUV4MPEG2 W4 H2", 4, 2, tail=b"\n")),
        ("trailing-partial-marker", _clip("YUV4MPEG2 W4 H2", 4, 2, tail=b"FRA")),
    ]


def fnv1a(data: bytes, value: int = 0x811C9DC5) -> int:
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def verdict(name: str, path: Path) -> str:
    """What the Python reader makes of the file, as a verdicts.txt line."""
    try:
        reader = Y4MReader(path)
        fmt = reader.format
        digest, frames = 0x811C9DC5, 0
        for frame in reader:
            for plane in (frame.y, frame.u, frame.v):
                digest = fnv1a(plane.tobytes(), digest)
            frames += 1
    except ValueError as error:
        offset = re.search(r"byte offset (\d+)", str(error))
        if offset is None:
            raise RuntimeError(f"{path}: the error names no byte offset: {error}") from None
        return f"{name} error {offset.group(1)}"
    header_line = path.read_bytes().split(b"\n", 1)[0]
    if frames == 0:
        return f"{name} error {len(header_line) + 1}"
    chroma = "420" if fmt.subsampled else fmt.colour_space
    header = header_line.split(b" ")
    rate = f"{fmt.fps[0]}:{fmt.fps[1]}" if any(token.startswith(b"F") for token in header) else "-"
    return (f"{name} ok {fmt.width} {fmt.height} {chroma} {'full' if fmt.full_range else 'limited'} {rate} "
            f"{frames} {digest:08x}")


def write(directory: Path) -> list[str]:
    """Writes the cases under directory/cases and directory/verdicts.txt; returns the verdicts."""
    (directory / "cases").mkdir(parents=True, exist_ok=True)
    lines = []
    for name, data in cases():
        path = directory / "cases" / f"{name}.y4m"
        path.write_bytes(data)
        lines.append(verdict(name, path))
    (directory / "verdicts.txt").write_text("\n".join(lines) + "\n")
    return lines


if __name__ == "__main__":
    for line in write(HERE):
        print(line)
