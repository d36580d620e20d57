"""YUV4MPEG2 (.y4m) clips: reading, writing, and the exact integer YUV → RGB of the model format.

Supported colour spaces: 4:2:0 (`C420jpeg`, `C420paldv`, `C420mpeg2`, `C420`; the chroma siting
differs between them but the runtime upsamples all by nearest neighbour, docs/model-format.md),
4:2:2 (`C422`) and 4:4:4 (`C444`), 8 bits. `XCOLORRANGE=FULL` selects full-range BT.601,
`XCOLORRANGE=LIMITED` or no such tag limited range.

The header rules are the board's (Sources/DactylPipeline/Source/Y4MClip.swift), and
Tests/y4m-cases holds files both readers are tested on: progressive frames only (`Ip` or `I?`),
`A` a ratio N:D, W and H at most 16384, numbers of at most nine digits, other X tags and unknown
tags skipped (the format reserves them), FRAME parameters ignored, however long the line.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"YUV4MPEG2 "
FRAME_MAGIC = b"FRAME"
# Neither header line has a reason to be longer; a file without a newline this early is not Y4M.
MAX_HEADER_LINE = 4096

SUBSAMPLED_420 = ("420jpeg", "420paldv", "420mpeg2", "420")
COLOUR_SPACES = SUBSAMPLED_420 + ("422", "444")
MAX_DIMENSION = 16384  # the board's limit (Y4MClip.maximumDimension)
MAX_DIGITS = 9  # a header number never has more: it cannot overflow the board's Int arithmetic
PROGRESSIVE = ("p", "?")  # I tag values: progressive, or unknown (read as progressive)
DEFAULT_COLOUR_SPACE = "420jpeg"  # the Y4M default when there is no C tag


@dataclass(frozen=True)
class Y4MFormat:
    width: int
    height: int
    colour_space: str = DEFAULT_COLOUR_SPACE  # one of COLOUR_SPACES, without the leading C
    full_range: bool = False
    fps: tuple[int, int] = (30, 1)

    def __post_init__(self):
        if self.width < 1 or self.height < 1:
            raise ValueError(f"Y4M frame size {self.width}x{self.height} must be positive")
        if self.colour_space not in COLOUR_SPACES:
            raise ValueError(f"Y4M colour space C{self.colour_space} is not supported, expected one of "
                             + ", ".join("C" + c for c in COLOUR_SPACES))

    @property
    def subsampled(self) -> bool:
        """Chroma at half the rows and half the columns (4:2:0)."""
        return self.colour_space in SUBSAMPLED_420

    @property
    def chroma_steps(self) -> tuple[int, int]:
        """Luma rows and columns per chroma sample."""
        if self.subsampled:
            return 2, 2
        return (1, 2) if self.colour_space == "422" else (1, 1)

    @property
    def chroma_shape(self) -> tuple[int, int]:
        """(height, width) of each chroma plane (an odd size still has a sample for its last row/column)."""
        rows, columns = self.chroma_steps
        return -(-self.height // rows), -(-self.width // columns)

    @property
    def frame_bytes(self) -> int:
        chroma_h, chroma_w = self.chroma_shape
        return self.width * self.height + 2 * chroma_h * chroma_w

    def header(self) -> bytes:
        fields = [f"W{self.width}", f"H{self.height}", f"F{self.fps[0]}:{self.fps[1]}", "Ip", "A1:1",
                  f"C{self.colour_space}"]
        if self.full_range:
            fields.append("XCOLORRANGE=FULL")
        return MAGIC + " ".join(fields).encode("ascii") + b"\n"


@dataclass(frozen=True)
class YUVFrame:
    y: np.ndarray  # uint8 [height, width]
    u: np.ndarray  # uint8 chroma plane
    v: np.ndarray


def _parse_header(line: bytes, path: str) -> Y4MFormat:
    """The format of a header line (without its newline)."""
    if not line.startswith(MAGIC):
        raise ValueError(f"{path}: byte offset 0: expected the Y4M magic 'YUV4MPEG2 ', found {line[:10]!r}")
    width = height = None
    colour_space = DEFAULT_COLOUR_SPACE
    full_range = False
    fps = (30, 1)
    offset = len(MAGIC)
    for token in line[len(MAGIC):].split(b" "):
        if not token:
            offset += 1
            continue
        tag, value = chr(token[0]), token[1:].decode("ascii", errors="replace")

        def bad(expected: str) -> ValueError:
            return ValueError(f"{path}: byte offset {offset}: header field {token.decode('ascii', 'replace')!r}: "
                              f"expected {expected}")

        if tag in "WH":
            size = _number(value)
            if size is None or not 1 <= size <= MAX_DIMENSION:
                raise bad(f"a frame {'width' if tag == 'W' else 'height'} of 1...{MAX_DIMENSION} pixels")
            if tag == "W":
                width = size
            else:
                height = size
        elif tag == "F":
            rate = _ratio(value)
            if rate is None or rate[0] < 1 or rate[1] < 1:
                raise bad("a frame rate N:D with positive N and D")
            fps = rate
        elif tag == "A":  # pixel aspect ratio (0:0: unknown): checked for form only, crops are in pixels
            if _ratio(value) is None:
                raise bad("a pixel aspect ratio N:D")
        elif tag == "I":
            if value not in PROGRESSIVE:
                raise bad("progressive frames (Ip or I?)")
        elif tag == "C":
            if value not in COLOUR_SPACES:
                raise bad("an 8-bit colour space, one of " + ", ".join("C" + c for c in COLOUR_SPACES))
            colour_space = value
        elif tag == "X" and value.startswith("COLORRANGE="):
            setting = value[len("COLORRANGE="):]
            if setting not in ("FULL", "LIMITED"):
                raise bad("XCOLORRANGE=FULL or XCOLORRANGE=LIMITED")
            full_range = setting == "FULL"
        # Other X tags are applications' own and do not change the pixels; unknown tags are
        # reserved by the format for future use: both are skipped.
        offset += len(token) + 1
    if width is None or height is None:
        raise ValueError(f"{path}: byte offset 0: the header has no {'W' if width is None else 'H'} (frame size) field")
    return Y4MFormat(width, height, colour_space, full_range, fps)


def _number(text: str) -> int | None:
    """A decimal of 1 to MAX_DIGITS ASCII digits, or None."""
    if not 1 <= len(text) <= MAX_DIGITS or not all("0" <= c <= "9" for c in text):
        return None
    return int(text)


def _ratio(text: str) -> tuple[int, int] | None:
    """N:D of two such decimals, or None."""
    numerator, colon, denominator = text.partition(":")
    if not colon:
        return None
    numerator, denominator = _number(numerator), _number(denominator)
    if numerator is None or denominator is None:
        return None
    return numerator, denominator


def _read_line(stream, path: str, offset: int, what: str) -> bytes | None:
    """One header line without its newline; None at a clean end of file."""
    line = stream.readline(MAX_HEADER_LINE)
    if not line:
        return None
    if not line.endswith(b"\n"):
        raise ValueError(f"{path}: byte offset {offset}: {what} is not terminated by a newline "
                         f"within {MAX_HEADER_LINE} bytes (truncated or not a Y4M file)")
    return line[:-1]


class Y4MReader:
    """Streams the frames of a .y4m file; the header is parsed when the reader is created."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        with open(self.path, "rb") as stream:
            line = _read_line(stream, self.path, 0, "the stream header")
            if line is None:
                raise ValueError(f"{self.path}: byte offset 0: empty file, expected a Y4M stream header")
            self.format = _parse_header(line, self.path)
            self._first_frame_offset = stream.tell()

    def __iter__(self) -> Iterator[YUVFrame]:
        fmt = self.format
        chroma_h, chroma_w = fmt.chroma_shape
        luma_bytes = fmt.width * fmt.height
        chroma_bytes = chroma_h * chroma_w
        with open(self.path, "rb") as stream:
            stream.seek(self._first_frame_offset)
            index = 0
            while True:
                offset = stream.tell()
                line = self._frame_line(stream, offset, index)
                if line is None:
                    return
                data_offset = stream.tell()
                data = stream.read(fmt.frame_bytes)
                if len(data) != fmt.frame_bytes:
                    raise ValueError(f"{self.path}: byte offset {data_offset}: frame {index} is truncated: "
                                     f"expected {fmt.frame_bytes} bytes, found {len(data)}")
                planes = np.frombuffer(data, dtype=np.uint8)
                yield YUVFrame(
                    y=planes[:luma_bytes].reshape(fmt.height, fmt.width),
                    u=planes[luma_bytes:luma_bytes + chroma_bytes].reshape(chroma_h, chroma_w),
                    v=planes[luma_bytes + chroma_bytes:].reshape(chroma_h, chroma_w))
                index += 1


    def _frame_line(self, stream, offset: int, index: int) -> bytes | None:
        """Frame `index`'s `FRAME[ params]` line at `offset` (params of any length, ignored); None at
        a clean end of file."""
        start = stream.read(len(FRAME_MAGIC) + 1)
        if not start:
            return None
        if not (start == FRAME_MAGIC + b"\n" or start == FRAME_MAGIC + b" "):
            raise ValueError(f"{self.path}: byte offset {offset}: expected 'FRAME' starting frame {index}, "
                             f"found {(start + stream.read(15))[:16]!r}")
        line = start
        while not line.endswith(b"\n"):
            chunk = stream.readline(MAX_HEADER_LINE)
            if not chunk:
                raise ValueError(f"{self.path}: byte offset {offset}: frame {index}'s FRAME header is not "
                                 "terminated by a newline (truncated or not a Y4M file)")
            line = chunk
        return line


def write_y4m(path: str | Path, fmt: Y4MFormat, frames: Iterable[YUVFrame]) -> None:
    chroma_shape = fmt.chroma_shape
    with open(path, "wb") as stream:
        stream.write(fmt.header())
        for index, frame in enumerate(frames):
            shapes = (frame.y.shape, frame.u.shape, frame.v.shape)
            if shapes != ((fmt.height, fmt.width), chroma_shape, chroma_shape):
                raise ValueError(f"{path}: frame {index} has plane shapes {shapes}, expected "
                                 f"{((fmt.height, fmt.width), chroma_shape, chroma_shape)} for {fmt}")
            stream.write(FRAME_MAGIC + b"\n")
            for plane in (frame.y, frame.u, frame.v):
                stream.write(np.ascontiguousarray(plane, dtype=np.uint8).tobytes())


def _upsample(plane: np.ndarray, fmt: Y4MFormat) -> np.ndarray:
    """Chroma at full resolution by nearest neighbour: pixel (x, y) takes sample (x/2, y/2) in
    4:2:0, (x/2, y) in 4:2:2."""
    rows, columns = fmt.chroma_steps
    return plane.repeat(rows, axis=0).repeat(columns, axis=1)[:fmt.height, :fmt.width]


def yuv_to_rgb(frame: YUVFrame, fmt: Y4MFormat) -> np.ndarray:
    """The exact integer BT.601 conversion of docs/model-format.md; uint8 `[height, width, 3]`."""
    y = frame.y.astype(np.int32)
    d = _upsample(frame.u, fmt).astype(np.int32) - 128
    e = _upsample(frame.v, fmt).astype(np.int32) - 128
    if fmt.full_range:
        luma = 256 * y
        r = (luma + 359 * e + 128) >> 8
        g = (luma - 88 * d - 183 * e + 128) >> 8
        b = (luma + 454 * d + 128) >> 8
    else:
        luma = 298 * (y - 16)
        r = (luma + 409 * e + 128) >> 8
        g = (luma - 100 * d - 208 * e + 128) >> 8
        b = (luma + 516 * d + 128) >> 8
    return np.clip(np.stack([r, g, b], axis=-1), 0, 255).astype(np.uint8)


def _block_average(plane: np.ndarray, rows: int = 2, columns: int = 2) -> np.ndarray:
    """Mean of each rows x columns block (fewer samples at an odd edge), rounded half up."""
    height, width = plane.shape
    padded_h, padded_w = -(-height // rows) * rows, -(-width // columns) * columns
    sums = np.zeros((padded_h, padded_w), dtype=np.int32)
    counts = np.zeros((padded_h, padded_w), dtype=np.int32)
    sums[:height, :width] = plane
    counts[:height, :width] = 1
    sums = sums.reshape(padded_h // rows, rows, padded_w // columns, columns).sum(axis=(1, 3))
    counts = counts.reshape(padded_h // rows, rows, padded_w // columns, columns).sum(axis=(1, 3))
    return (2 * sums + counts) // (2 * counts)


def rgb_to_yuv(rgb: np.ndarray, fmt: Y4MFormat) -> YUVFrame:
    """BT.601 in 8-bit fixed point (for writing clips; not part of the model contract).

    Integer arithmetic keeps the written clips identical on every machine.
    """
    if rgb.shape != (fmt.height, fmt.width, 3) or rgb.dtype != np.uint8:
        raise ValueError(f"expected a uint8 RGB frame of shape {(fmt.height, fmt.width, 3)}, "
                         f"got {rgb.dtype} {rgb.shape}")
    r, g, b = (rgb[..., i].astype(np.int32) for i in range(3))
    if fmt.full_range:
        y = (77 * r + 150 * g + 29 * b + 128) >> 8
        u = ((-43 * r - 85 * g + 128 * b + 128) >> 8) + 128
        v = ((128 * r - 107 * g - 21 * b + 128) >> 8) + 128
    else:
        y = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16
        u = ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128
        v = ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128
    if fmt.chroma_steps != (1, 1):
        u, v = _block_average(u, *fmt.chroma_steps), _block_average(v, *fmt.chroma_steps)
    y, u, v = (np.clip(plane, 0, 255).astype(np.uint8) for plane in (y, u, v))
    return YUVFrame(y, u, v)


def read_rgb(path: str | Path) -> tuple[Y4MFormat, np.ndarray]:
    """All frames of a clip as uint8 RGB `[T, height, width, 3]`."""
    reader = Y4MReader(path)
    frames = [yuv_to_rgb(frame, reader.format) for frame in reader]
    if not frames:
        raise ValueError(f"{path}: the clip has no frames")
    return reader.format, np.stack(frames)


def write_rgb(path: str | Path, fmt: Y4MFormat, frames: Iterable[np.ndarray]) -> None:
    write_y4m(path, fmt, (rgb_to_yuv(frame, fmt) for frame in frames))
