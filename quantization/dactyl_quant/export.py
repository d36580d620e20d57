"""The `.dmdl` model file (docs/model-format.md, version 1.2): its contents, writer and validating reader.

`Model` holds exactly what the file holds; `write_model` lays it out (header, section table, CRCs,
64-byte aligned sections and arrays) and `read_model` parses a file back, checking everything the
Swift loader checks, each failure a ValueError naming the file and the byte offset.
"""

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .alphabet import Alphabet

MAGIC = b"DACTYLMD"
VERSION_MAJOR = 1
VERSION_MINOR = 1  # 1: the optional RATE section (written when a model has no localiser)
VERSION_MINOR_LOCALISER = 2  # 2: the optional hand localiser (LMET, LTEN, LOPS)
HEADER_SIZE = 64
TABLE_ENTRY_SIZE = 32
MAX_SECTIONS = 64
ALIGNMENT = 64
META_SIZE = 128
RATE_SIZE = 16
LMET_SIZE = 64
LOCALISER_SECTIONS = (b"LMET", b"LTEN", b"LOPS")
LOCALISER_INTERVAL = (1, 1000)
# Without a RATE section a model is read as trained at the generator's 30 frames/s.
ASSUMED_FRAME_RATE = (30, 1)
# RATE's bounds (the Swift loader's FrameRate): terms 1 ... 65535, rates 1 ... 1000 frames/s.
FRAME_RATE_MAX_TERM = 65_535
FRAME_RATE_PER_SECOND = (1, 1000)
NONE = 0xFFFFFFFF
INPUT_TENSOR = 0
INPUT_CHANNELS = 3
BLANK_INDEX = 0
REQUIRED_SECTIONS = (b"META", b"ALPH", b"TENS", b"OPS ", b"DATA")

OP_CONV2D_Q8 = 1
OP_MAXPOOL2D_Q8 = 2
OP_GLOBAL_AVGPOOL_Q8 = 3
OP_CONV1D_F32 = 16
OP_BIGRU_F32 = 17
OP_LINEAR_F32 = 18
OP_LOG_SOFTMAX_F32 = 19
# Number of 4-byte fields after the 8-byte record header, per opcode.
FIELD_COUNTS = {OP_CONV2D_Q8: 16, OP_MAXPOOL2D_Q8: 8, OP_GLOBAL_AVGPOOL_Q8: 4, OP_CONV1D_F32: 6,
                OP_BIGRU_F32: 10, OP_LINEAR_F32: 4, OP_LOG_SOFTMAX_F32: 1}
ENCODER_OPCODES = (OP_CONV2D_Q8, OP_MAXPOOL2D_Q8, OP_GLOBAL_AVGPOOL_Q8)


@dataclass(frozen=True)
class TensorParams:
    channels: int
    scale: float  # stored as f32
    zero_point: int


@dataclass(eq=False)
class Conv2dQ8:
    input: int
    output: int
    residual: int | None
    stride: tuple[int, int]
    padding: tuple[int, int]
    relu: bool
    weights: np.ndarray  # int8 [out][kh][kw][in]
    bias: np.ndarray  # int32 [out]
    multiplier: np.ndarray  # int32 [out]
    shift: np.ndarray  # int32 [out]
    residual_multiplier: int = 0  # both 0 without a residual
    residual_shift: int = 0

    @property
    def kernel(self) -> tuple[int, int]:
        return self.weights.shape[1], self.weights.shape[2]


@dataclass(eq=False)
class MaxPool2dQ8:
    input: int
    output: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(eq=False)
class GlobalAvgPoolQ8:
    input: int
    output: int
    multiplier: int
    shift: int


@dataclass(eq=False)
class Conv1dF32:
    weights: np.ndarray  # f32 [out][kernel][in]
    bias: np.ndarray  # f32 [out]
    relu: bool

    @property
    def in_channels(self) -> int:
        return self.weights.shape[2]

    @property
    def out_channels(self) -> int:
        return self.weights.shape[0]


@dataclass(eq=False)
class GRUDirection:
    w_ih: np.ndarray  # f32 [3·hidden][input], gates r, z, n
    w_hh: np.ndarray  # f32 [3·hidden][hidden]
    b_ih: np.ndarray  # f32 [3·hidden]
    b_hh: np.ndarray  # f32 [3·hidden]


@dataclass(eq=False)
class BiGRUF32:
    forward: GRUDirection
    backward: GRUDirection

    @property
    def input_size(self) -> int:
        return self.forward.w_ih.shape[1]

    @property
    def hidden_size(self) -> int:
        return self.forward.w_hh.shape[1]


@dataclass(eq=False)
class LinearF32:
    weights: np.ndarray  # f32 [out][in]
    bias: np.ndarray  # f32 [out]


@dataclass(eq=False)
class LogSoftmaxF32:
    channels: int


EncoderOp = Conv2dQ8 | MaxPool2dQ8 | GlobalAvgPoolQ8
HeadOp = Conv1dF32 | BiGRUF32 | LinearF32 | LogSoftmaxF32


@dataclass(eq=False)
class Localiser:
    """The hand localiser (LMET, LTEN, LOPS): an int8 network over the whole frame whose heat and box
    tensors say where the signing hand's crop is (docs/model-format.md, "The hand localiser")."""
    input_height: int
    input_width: int
    input_lut: np.ndarray  # int8 [3][256]
    tensors: list[TensorParams]  # LTEN; tensor 0 the quantised input
    ops: list[EncoderOp]  # LOPS
    heat_tensor: int  # Hh x Wh x 1, logits
    box_tensor: int  # Hh x Wh x 4: ox, oy, w, h
    presence_logit: float  # stored as f32
    interval: int  # run every `interval` frames at the model's frame rate


@dataclass(eq=False)
class Model:
    input_height: int
    input_width: int
    default_window: int
    default_crop: tuple[int, int, int, int]  # thousandths of the source frame: x, y, w, h
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    input_lut: np.ndarray  # int8 [3][256]
    alphabet: Alphabet
    tensors: list[TensorParams]
    encoder_ops: list[EncoderOp]
    head_ops: list[HeadOp]
    feature_tensor: int
    info: str | None = None
    version_minor: int = VERSION_MINOR
    # Frames per second the temporal head was trained at (numerator, denominator); None: no RATE
    # section, read as ASSUMED_FRAME_RATE.
    frame_rate: tuple[int, int] | None = None
    localiser: Localiser | None = None  # version 1.2's optional hand localiser

    @property
    def frames_per_second(self) -> tuple[int, int]:
        return self.frame_rate if self.frame_rate is not None else ASSUMED_FRAME_RATE

    @property
    def num_classes(self) -> int:
        return self.alphabet.num_classes

    @property
    def feature_dim(self) -> int:
        return self.tensors[self.feature_tensor].channels


def head_out_channels(op: HeadOp) -> int:
    if isinstance(op, Conv1dF32):
        return op.out_channels
    if isinstance(op, BiGRUF32):
        return 2 * op.hidden_size
    if isinstance(op, LinearF32):
        return op.weights.shape[0]
    return op.channels


# ---------------------------------------------------------------------------------------------
# Shape inference (shared by the reader's validation and the reference executor)


class ShapeError(ValueError):
    """An impossible encoder shape; `op` and `field_index` locate the op field to blame."""

    def __init__(self, op: int, field_index: int, message: str):
        super().__init__(message)
        self.op = op
        self.field_index = field_index


def _out_size(size: int, kernel: int, stride: int, pad: int, op: int, field_index: int, what: str) -> int:
    if kernel < 1 or stride < 1:
        raise ShapeError(op, field_index, f"op {op}: {what} kernel {kernel} and stride {stride} must be ≥ 1")
    out = (size + 2 * pad - kernel) // stride + 1 if size + 2 * pad >= kernel else 0
    if out < 1:
        raise ShapeError(op, field_index, f"op {op}: {what} output size ({size} + 2·{pad} − {kernel}) / {stride} + 1 "
                                          "is < 1")
    return out


def infer_shapes(tensors: list[TensorParams], ops: list[EncoderOp], height: int, width: int) -> list[tuple[int, int]]:
    """(height, width) of every tensor for an input of height x width (docs/model-format.md, "Shapes")."""
    shapes: list[tuple[int, int] | None] = [None] * len(tensors)
    shapes[INPUT_TENSOR] = (height, width)
    for index, op in enumerate(ops):
        in_h, in_w = shapes[op.input]
        source = tensors[op.input]
        if isinstance(op, Conv2dQ8):
            kh, kw = op.kernel
            out = (_out_size(in_h, kh, op.stride[0], op.padding[0], index, 3, "conv2d height"),
                   _out_size(in_w, kw, op.stride[1], op.padding[1], index, 4, "conv2d width"))
            if op.weights.shape[3] != source.channels or op.weights.shape[0] != tensors[op.output].channels:
                raise ShapeError(index, 0, f"op {index}: conv2d weights are {op.weights.shape[0]} x "
                                           f"{op.weights.shape[3]} (out x in) but tensors {op.input} → "
                                           f"{op.output} have {source.channels} → {tensors[op.output].channels} "
                                           "channels")
            if op.residual is not None:
                residual_shape = (*shapes[op.residual], tensors[op.residual].channels)
                if residual_shape != (*out, tensors[op.output].channels):
                    raise ShapeError(index, 2, f"op {index}: residual tensor {op.residual} is {residual_shape} "
                                               f"(h, w, c), the output is {(*out, tensors[op.output].channels)}")
        elif isinstance(op, MaxPool2dQ8):
            out = (_out_size(in_h, op.kernel[0], op.stride[0], op.padding[0], index, 2, "maxpool height"),
                   _out_size(in_w, op.kernel[1], op.stride[1], op.padding[1], index, 3, "maxpool width"))
            if tensors[op.output] != source:
                raise ShapeError(index, 1, f"op {index}: maxpool output tensor {op.output} is {tensors[op.output]}, "
                                           f"expected the input's channels, scale and zero point {source}")
        else:
            out = (1, 1)
            if tensors[op.output].channels != source.channels:
                raise ShapeError(index, 1, f"op {index}: global_avgpool output has {tensors[op.output].channels} "
                                           f"channels, its input {source.channels}")
        shapes[op.output] = out
    return shapes


# ---------------------------------------------------------------------------------------------
# Writing


class _DataSection:
    """DATA under construction: every array starts on a 64-byte boundary."""

    def __init__(self):
        self.buffer = bytearray()

    def add(self, array: np.ndarray, dtype: str) -> int:
        self.buffer += bytes(-len(self.buffer) % ALIGNMENT)
        offset = len(self.buffer)
        self.buffer += np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()
        return offset


def _u32s(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}I", *values)


def _record(opcode: int, fields: bytes) -> bytes:
    assert len(fields) == 4 * FIELD_COUNTS[opcode], f"opcode {opcode} record has {len(fields)} field bytes"
    return _u32s(opcode, 8 + len(fields)) + fields


def _encoder_record(op: EncoderOp, data: _DataSection) -> bytes:
    if isinstance(op, Conv2dQ8):
        offsets = (data.add(op.weights, "i1"), data.add(op.bias, "i4"), data.add(op.multiplier, "i4"),
                   data.add(op.shift, "i4"))
        kh, kw = op.kernel
        fields = _u32s(op.input, op.output, NONE if op.residual is None else op.residual, kh, kw, *op.stride,
                       *op.padding, int(op.relu), *offsets)
        return _record(OP_CONV2D_Q8, fields + struct.pack("<ii", op.residual_multiplier, op.residual_shift))
    if isinstance(op, MaxPool2dQ8):
        return _record(OP_MAXPOOL2D_Q8, _u32s(op.input, op.output, *op.kernel, *op.stride, *op.padding))
    return _record(OP_GLOBAL_AVGPOOL_Q8, _u32s(op.input, op.output) + struct.pack("<ii", op.multiplier, op.shift))


def _head_record(op: HeadOp, data: _DataSection) -> bytes:
    if isinstance(op, Conv1dF32):
        kernel = op.weights.shape[1]
        return _record(OP_CONV1D_F32, _u32s(op.in_channels, op.out_channels, kernel, int(op.relu),
                                            data.add(op.weights, "f4"), data.add(op.bias, "f4")))
    if isinstance(op, BiGRUF32):
        offsets = []
        for direction in (op.forward, op.backward):
            offsets += [data.add(direction.w_ih, "f4"), data.add(direction.w_hh, "f4"),
                        data.add(direction.b_ih, "f4"), data.add(direction.b_hh, "f4")]
        return _record(OP_BIGRU_F32, _u32s(op.input_size, op.hidden_size, *offsets))
    if isinstance(op, LinearF32):
        out_features, in_features = op.weights.shape
        return _record(OP_LINEAR_F32, _u32s(in_features, out_features, data.add(op.weights, "f4"),
                                            data.add(op.bias, "f4")))
    return _record(OP_LOG_SOFTMAX_F32, _u32s(op.channels))


def _tensors_section(tensors: list[TensorParams]) -> bytes:
    return _u32s(len(tensors)) + b"".join(struct.pack("<IfiI", t.channels, t.scale, t.zero_point, 0) for t in tensors)


def _localiser_sections(localiser: Localiser, data: _DataSection) -> list[tuple[bytes, bytes]]:
    """LMET, LTEN and LOPS; the localiser's arrays go into the shared DATA."""
    lut_offset = data.add(localiser.input_lut, "i1")
    records = [_encoder_record(op, data) for op in localiser.ops]
    lmet = (_u32s(localiser.input_height, localiser.input_width, INPUT_CHANNELS, lut_offset, localiser.heat_tensor,
                  localiser.box_tensor)
            + struct.pack("<f", localiser.presence_logit) + _u32s(localiser.interval))
    lmet += bytes(LMET_SIZE - len(lmet))
    return [(b"LMET", lmet), (b"LTEN", _tensors_section(localiser.tensors)),
            (b"LOPS", _u32s(len(records)) + b"".join(records))]


def model_bytes(model: Model) -> bytes:
    """The complete file: version 1.2 with a localiser, 1.1 without (a 1.1 file is a valid 1.2 one)."""
    data = _DataSection()
    lut_offset = data.add(model.input_lut, "i1")
    records = [_encoder_record(op, data) for op in model.encoder_ops]
    records += [_head_record(op, data) for op in model.head_ops]
    localiser = _localiser_sections(model.localiser, data) if model.localiser is not None else []

    meta = (_u32s(model.input_height, model.input_width, INPUT_CHANNELS, model.num_classes, BLANK_INDEX,
                  model.default_window, *model.default_crop)
            + struct.pack("<3f3f", *model.mean, *model.std)
            + _u32s(lut_offset, model.feature_tensor))
    meta += bytes(META_SIZE - len(meta))
    alphabet = _u32s(len(model.alphabet.symbols))
    for symbol in model.alphabet.symbols:
        encoded = symbol.encode("utf-8")
        alphabet += bytes([len(encoded)]) + encoded
    ops = _u32s(len(records)) + b"".join(records)

    sections = [(b"META", meta), (b"ALPH", alphabet)]
    if model.info is not None:
        sections.append((b"INFO", model.info.encode("utf-8")))
    if model.frame_rate is not None:
        sections.append((b"RATE", _u32s(*model.frame_rate) + bytes(RATE_SIZE - 8)))
    sections += [(b"TENS", _tensors_section(model.tensors)), (b"OPS ", ops)]
    sections += localiser
    sections.append((b"DATA", bytes(data.buffer)))

    body = bytearray()
    table = bytearray()
    position = HEADER_SIZE + TABLE_ENTRY_SIZE * len(sections)
    for tag, content in sections:
        padding = -position % ALIGNMENT
        body += bytes(padding)
        position += padding
        table += tag + struct.pack("<IQQII", 0, position, len(content), zlib.crc32(content), 0)
        body += content
        position += len(content)
    minor = VERSION_MINOR_LOCALISER if model.localiser is not None else VERSION_MINOR
    header = (MAGIC + struct.pack("<HHIQII", VERSION_MAJOR, minor, HEADER_SIZE, position, len(sections),
                                  zlib.crc32(table))
              + bytes(32))
    return header + bytes(table) + bytes(body)


def write_model(model: Model, path: str | Path) -> None:
    """Write the file, after checking that the reader (and so the Swift loader) accepts it."""
    data = model_bytes(model)
    parse_model(data, str(path))
    Path(path).write_bytes(data)


# ---------------------------------------------------------------------------------------------
# Reading


class _Reader:
    """Bounds-checked little-endian reads; every error names the file and an absolute offset."""

    def __init__(self, data: bytes, path: str):
        self.data = data
        self.path = path

    def error(self, offset: int, message: str) -> ValueError:
        return ValueError(f"{self.path}: offset {offset}: {message}")

    def unpack(self, fmt: str, offset: int, end: int, what: str) -> tuple:
        size = struct.calcsize("<" + fmt)
        if offset + size > end:
            raise self.error(offset, f"{what} needs {size} bytes but its section ends at offset {end} "
                                     "(section too short)")
        return struct.unpack_from("<" + fmt, self.data, offset)


def _require_zero(r: _Reader, offset: int, size: int, what: str) -> None:
    """Reserved and flag fields are zero (the spec), so a later version can give them a meaning."""
    for position in range(offset, offset + size):
        if r.data[position] != 0:
            raise r.error(position, f"{what} is not zero (reserved)")


def _printable(r: _Reader, offset: int, text: str, what: str) -> str:
    """No control characters (C0, DEL, C1): they reach a terminal raw, and a newline in a symbol
    breaks "the letters are the last line". Mirrors the Swift loader."""
    for index, character in enumerate(text):
        if ord(character) < 0x20 or 0x7F <= ord(character) <= 0x9F:
            position = offset + len(text[:index].encode("utf-8"))
            raise r.error(position, f"{what} contains the control character U+{ord(character):04X}, "
                                    "expected printable text")
    return text


@dataclass(frozen=True)
class _Section:
    tag: bytes
    offset: int
    size: int

    @property
    def end(self) -> int:
        return self.offset + self.size


def _read_sections(r: _Reader) -> dict[bytes, _Section]:
    data = r.data
    if len(data) < HEADER_SIZE:
        raise r.error(len(data), f"truncated: the file is {len(data)} bytes, shorter than the "
                                 f"{HEADER_SIZE}-byte header")
    if data[:8] != MAGIC:
        raise r.error(0, f"wrong magic {data[:8]!r}, expected {MAGIC!r} (not a Dactyl model file)")
    major, minor, header_size, file_size, count, table_crc = struct.unpack_from("<HHIQII", data, 8)
    if major != VERSION_MAJOR:
        raise r.error(8, f"unsupported model format version {major}.{minor}, this reader reads {VERSION_MAJOR}.x")
    if header_size != HEADER_SIZE:
        raise r.error(12, f"header_size {header_size}, expected {HEADER_SIZE}")
    _require_zero(r, 32, 32, "header bytes 32-63")
    if len(data) < file_size:
        raise r.error(len(data), f"truncated: the file is {len(data)} bytes, its header says {file_size}")
    if len(data) > file_size:
        raise r.error(16, f"file_size {file_size} but the file is {len(data)} bytes (trailing bytes: corrupt)")
    if not 1 <= count <= MAX_SECTIONS:
        raise r.error(24, f"section_count {count}, expected 1 to {MAX_SECTIONS}")
    table_end = HEADER_SIZE + TABLE_ENTRY_SIZE * count
    if table_end > file_size:
        raise r.error(file_size, f"truncated: the section table of {count} entries ends at {table_end}, "
                                 f"after the end of the file")
    if zlib.crc32(data[HEADER_SIZE:table_end]) != table_crc:
        raise r.error(28, f"section table checksum mismatch: stored {table_crc:#010x}, "
                          f"computed {zlib.crc32(data[HEADER_SIZE:table_end]):#010x}")

    sections: dict[bytes, _Section] = {}
    for index in range(count):
        entry = HEADER_SIZE + TABLE_ENTRY_SIZE * index
        tag, _flags, offset, size, crc, _reserved = struct.unpack_from("<4sIQQII", data, entry)
        name = tag.decode("ascii", errors="replace")
        _require_zero(r, entry + 4, 4, f"section '{name}' flags")
        _require_zero(r, entry + 28, 4, f"section '{name}' reserved field")
        if tag in sections:
            raise r.error(entry, f"section '{name}' appears twice")
        if offset % ALIGNMENT != 0 or offset < table_end:
            raise r.error(entry + 8, f"section '{name}' starts at {offset}, expected a multiple of {ALIGNMENT} "
                                     f"at or after the end of the section table ({table_end})")
        if offset + size > file_size:
            raise r.error(entry + 16, f"section '{name}' ({offset} + {size} bytes) lies outside the "
                                      f"{file_size}-byte file")
        computed = zlib.crc32(data[offset:offset + size])
        if computed != crc:
            raise r.error(entry + 24, f"section '{name}' checksum mismatch: stored {crc:#010x}, "
                                      f"computed {computed:#010x}")
        sections[tag] = _Section(tag, offset, size)
    ordered = sorted(sections.values(), key=lambda s: s.offset)
    for before, after in zip(ordered, ordered[1:]):
        if after.offset < before.end:
            raise r.error(after.offset, f"section '{after.tag.decode('ascii', 'replace')}' overlaps section "
                                        f"'{before.tag.decode('ascii', 'replace')}' ({before.offset}..{before.end})")
    for tag in REQUIRED_SECTIONS:
        if tag not in sections:
            raise r.error(HEADER_SIZE, f"required section '{tag.decode()}' is missing")
    return sections


def _read_alphabet(r: _Reader, section: _Section, num_classes: int) -> Alphabet:
    (count,) = r.unpack("I", section.offset, section.end, "ALPH count")
    if count != num_classes - 1:
        raise r.error(section.offset, f"alphabet has {count} symbols, expected num_classes − 1 = {num_classes - 1}")
    symbols = []
    position = section.offset + 4
    for index in range(count):
        (length,) = r.unpack("B", position, section.end, f"alphabet symbol {index} length")
        if not 1 <= length <= 8:
            raise r.error(position, f"alphabet symbol {index} is {length} bytes, expected 1 to 8")
        if position + 1 + length > section.end:
            raise r.error(position, f"alphabet symbol {index} runs past the end of ALPH (section too short)")
        raw = r.data[position + 1:position + 1 + length]
        try:
            symbol = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise r.error(position + 1, f"alphabet symbol {index} {raw!r} is not UTF-8") from None
        _printable(r, position + 1, symbol, f"alphabet symbol {index}")
        if symbol in symbols:
            raise r.error(position + 1, f"alphabet symbol {index} {symbol!r} repeats symbol {symbols.index(symbol)}")
        symbols.append(symbol)
        position += 1 + length
    return Alphabet(symbols)


def _read_tensors(r: _Reader, section: _Section) -> list[TensorParams]:
    """TENS, or LTEN (the same layout)."""
    name = section.tag.decode("ascii")
    (count,) = r.unpack("I", section.offset, section.end, f"{name} count")
    if count < 1:
        raise r.error(section.offset, f"{name} has no tensors, expected at least the input tensor")
    tensors = []
    for index in range(count):
        entry = section.offset + 4 + 16 * index
        channels, scale, zero_point, _reserved = r.unpack("IfiI", entry, section.end, f"{name} tensor {index}")
        if channels < 1:
            raise r.error(entry, f"tensor {index} has {channels} channels, expected at least 1")
        if not (np.isfinite(scale) and scale > 0):
            raise r.error(entry + 4, f"tensor {index} scale {scale} must be positive and finite")
        if not -128 <= zero_point <= 127:
            raise r.error(entry + 8, f"tensor {index} zero point {zero_point} is outside −128 ... 127")
        _require_zero(r, entry + 12, 4, f"tensor {index} reserved field")
        tensors.append(TensorParams(channels, scale, zero_point))
    if tensors[INPUT_TENSOR].channels != INPUT_CHANNELS:
        raise r.error(section.offset + 4, f"{name} input tensor 0 has {tensors[0].channels} channels, "
                                          "expected 3 (RGB)")
    return tensors


class _OpsParser:
    """Parses OPS (or LOPS: `encoder_only`) records, reading their arrays from DATA, and checks the op graph."""

    def __init__(self, r: _Reader, ops: _Section, data: _Section, tensors: list[TensorParams],
                 encoder_only: bool = False):
        self.encoder_only = encoder_only
        self.name = ops.tag.decode("ascii").strip()
        self.r = r
        self.ops = ops
        self.data = data
        self.tensors = tensors
        self.field_base = 0  # absolute offset of the current record's first field
        self.index = 0

    def field_offset(self, n: int) -> int:
        return self.field_base + 4 * n

    def u32(self, n: int) -> int:
        return struct.unpack_from("<I", self.r.data, self.field_offset(n))[0]

    def i32(self, n: int) -> int:
        return struct.unpack_from("<i", self.r.data, self.field_offset(n))[0]

    def array(self, n: int, count: int, dtype: str, what: str) -> np.ndarray:
        offset = self.u32(n)
        return _read_data_array(self.r, self.data, offset, count, dtype, self.field_offset(n),
                               f"op {self.index} {what}")

    def tensor(self, n: int, written: set[int], writes: bool) -> int:
        tensor_id = self.u32(n)
        if tensor_id >= len(self.tensors):
            raise self.r.error(self.field_offset(n), f"op {self.index}: tensor id {tensor_id} is out of range "
                                                     f"(TENS has {len(self.tensors)})")
        if writes and tensor_id in written:
            raise self.r.error(self.field_offset(n), f"op {self.index}: tensor {tensor_id} is written twice "
                                                     "(or is the input tensor)")
        if not writes and tensor_id not in written:
            raise self.r.error(self.field_offset(n), f"op {self.index}: tensor {tensor_id} is read before "
                                                     "it is written")
        return tensor_id

    def multiplier(self, n: int, value: int) -> int:
        if value < 0:
            raise self.r.error(self.field_offset(n), f"op {self.index}: multiplier {value}, expected 0 to 2^31 − 1")
        return value

    def shift(self, n: int, value: int) -> int:
        if not 1 <= value <= 62:
            raise self.r.error(self.field_offset(n), f"op {self.index}: shift {value}, expected 1 to 62")
        return value

    def parse(self) -> tuple[list[EncoderOp], list[HeadOp], list[int]]:
        r, section = self.r, self.ops
        (count,) = r.unpack("I", section.offset, section.end, f"{self.name} count")
        position = section.offset + 4
        encoder_ops: list[EncoderOp] = []
        head_ops: list[HeadOp] = []
        record_offsets = []
        written = {INPUT_TENSOR}
        for index in range(count):
            self.index = index
            opcode, record_size = r.unpack("II", position, section.end, f"op {self.index} record header")
            if opcode not in FIELD_COUNTS:
                raise r.error(position, f"op {self.index}: unknown opcode {opcode}")
            if self.encoder_only and opcode not in ENCODER_OPCODES:
                raise r.error(position, f"{self.name} op {self.index}: opcode {opcode} is a temporal op, the "
                                        "localiser holds encoder ops only (opcodes 1-3)")
            expected = 8 + 4 * FIELD_COUNTS[opcode]
            if record_size != expected:
                raise r.error(position + 4, f"op {self.index}: record size {record_size}, opcode {opcode} "
                                            f"needs {expected}")
            if position + record_size > section.end:
                raise r.error(position, f"op {self.index}: the {record_size}-byte record runs past the end of "
                                        f"{self.name} (section too short)")
            if opcode in ENCODER_OPCODES and head_ops:
                raise r.error(position, f"op {self.index}: encoder op (opcode {opcode}) after a temporal op; "
                                        "encoder ops come first")
            self.field_base = position + 8
            record_offsets.append(position)
            if opcode in ENCODER_OPCODES:
                encoder_ops.append(self.encoder_op(opcode, written))
            else:
                head_ops.append(self.head_op(opcode))
            position += record_size
        unwritten = sorted(set(range(len(self.tensors))) - written)
        if unwritten:
            raise r.error(section.offset, f"{self.name}: tensor {unwritten[0]} is never written by an op")
        return encoder_ops, head_ops, record_offsets

    def encoder_op(self, opcode: int, written: set[int]) -> EncoderOp:
        if opcode == OP_CONV2D_Q8:
            source = self.tensor(0, written, writes=False)
            residual = None if self.u32(2) == NONE else self.tensor(2, written, writes=False)
            output = self.tensor(1, written, writes=True)
            kh, kw, sh, sw, ph, pw, relu = (self.u32(n) for n in range(3, 10))
            if relu not in (0, 1):
                raise self.r.error(self.field_offset(9), f"op {self.index}: relu {relu}, expected 0 or 1")
            out_channels = self.tensors[output].channels
            in_channels = self.tensors[source].channels
            weights = self.array(10, out_channels * kh * kw * in_channels, "i1", "conv2d weights")
            bias = self.array(11, out_channels, "i4", "conv2d bias")
            multiplier = self.array(12, out_channels, "i4", "conv2d multiplier")
            shift = self.array(13, out_channels, "i4", "conv2d shift")
            for channel in range(out_channels):
                self.multiplier(12, int(multiplier[channel]))
                self.shift(13, int(shift[channel]))
            if residual is None:
                residual_multiplier = residual_shift = 0
            else:
                residual_multiplier = self.multiplier(14, self.i32(14))
                residual_shift = self.shift(15, self.i32(15))
            written.add(output)
            return Conv2dQ8(source, output, residual, (sh, sw), (ph, pw), bool(relu),
                            weights.reshape(out_channels, kh, kw, in_channels), bias, multiplier, shift,
                            residual_multiplier, residual_shift)
        if opcode == OP_MAXPOOL2D_Q8:
            source = self.tensor(0, written, writes=False)
            output = self.tensor(1, written, writes=True)
            kh, kw, sh, sw, ph, pw = (self.u32(n) for n in range(2, 8))
            written.add(output)
            return MaxPool2dQ8(source, output, (kh, kw), (sh, sw), (ph, pw))
        source = self.tensor(0, written, writes=False)
        output = self.tensor(1, written, writes=True)
        written.add(output)
        return GlobalAvgPoolQ8(source, output, self.multiplier(2, self.i32(2)), self.shift(3, self.i32(3)))

    def head_op(self, opcode: int) -> HeadOp:
        if opcode == OP_CONV1D_F32:
            in_channels, out_channels, kernel, relu = (self.u32(n) for n in range(4))
            if kernel % 2 != 1:
                raise self.r.error(self.field_offset(2), f"op {self.index}: conv1d kernel {kernel}, expected odd")
            if relu not in (0, 1):
                raise self.r.error(self.field_offset(3), f"op {self.index}: relu {relu}, expected 0 or 1")
            weights = self.array(4, out_channels * kernel * in_channels, "f4", "conv1d weights")
            return Conv1dF32(weights.reshape(out_channels, kernel, in_channels),
                             self.array(5, out_channels, "f4", "conv1d bias"), bool(relu))
        if opcode == OP_BIGRU_F32:
            input_size, hidden = self.u32(0), self.u32(1)
            if input_size < 1 or hidden < 1:
                raise self.r.error(self.field_offset(0), f"op {self.index}: bigru sizes {input_size}, {hidden} "
                                                         "must be ≥ 1")
            directions = []
            for base in (2, 6):
                directions.append(GRUDirection(
                    self.array(base, 3 * hidden * input_size, "f4", "bigru w_ih").reshape(3 * hidden, input_size),
                    self.array(base + 1, 3 * hidden * hidden, "f4", "bigru w_hh").reshape(3 * hidden, hidden),
                    self.array(base + 2, 3 * hidden, "f4", "bigru b_ih"),
                    self.array(base + 3, 3 * hidden, "f4", "bigru b_hh")))
            return BiGRUF32(*directions)
        if opcode == OP_LINEAR_F32:
            in_features, out_features = self.u32(0), self.u32(1)
            weights = self.array(2, out_features * in_features, "f4", "linear weights")
            return LinearF32(weights.reshape(out_features, in_features),
                             self.array(3, out_features, "f4", "linear bias"))
        return LogSoftmaxF32(self.u32(0))


def _read_data_array(r: _Reader, data: _Section, offset: int, count: int, dtype: str, field_offset: int,
                    what: str) -> np.ndarray:
    """A copy of `count` elements at `offset` in DATA; `field_offset` locates the field that named it."""
    item = np.dtype(dtype).newbyteorder("<")
    if offset % ALIGNMENT != 0:
        raise r.error(field_offset, f"{what} at DATA offset {offset} is not {ALIGNMENT}-byte aligned")
    if offset + count * item.itemsize > data.size:
        raise r.error(field_offset, f"{what} ({count} x {item.itemsize} bytes at DATA offset {offset}) lies "
                                    f"outside DATA ({data.size} bytes)")
    start = data.offset + offset
    return np.frombuffer(r.data, dtype=item, count=count, offset=start).astype(item.newbyteorder("="))


def _check_head(r: _Reader, head_ops: list[HeadOp], record_offsets: list[int], feature_dim: int,
                num_classes: int, ops_section: _Section) -> None:
    if not head_ops:
        raise r.error(ops_section.offset, "no temporal ops: the chain must end in num_classes channels")
    channels = feature_dim
    for op, offset in zip(head_ops, record_offsets[-len(head_ops):]):
        if isinstance(op, Conv1dF32):
            expected = op.in_channels
        elif isinstance(op, BiGRUF32):
            expected = op.input_size
        elif isinstance(op, LinearF32):
            expected = op.weights.shape[1]
        else:
            expected = op.channels
        if expected != channels:
            raise r.error(offset + 8, f"temporal op at offset {offset} takes {expected} channels, "
                                      f"the previous op gives {channels}")
        channels = head_out_channels(op)
    if channels != num_classes:
        raise r.error(record_offsets[-1] + 8, f"the temporal chain ends in {channels} channels, "
                                              f"expected num_classes = {num_classes}")


def read_model(path: str | Path) -> Model:
    """Parse and validate a .dmdl file."""
    return parse_model(Path(path).read_bytes(), str(path))


def parse_model(data: bytes, name: str) -> Model:
    """Parse and validate the bytes of a .dmdl file; errors name the file as `name`."""
    r = _Reader(data, name)
    sections = _read_sections(r)
    meta, data_section = sections[b"META"], sections[b"DATA"]
    if meta.size < META_SIZE:
        raise r.error(meta.offset, f"META is {meta.size} bytes, expected {META_SIZE} (section too short)")
    (height, width, channels, num_classes, blank, window, *crop) = struct.unpack_from("<10I", r.data, meta.offset)
    mean_std = struct.unpack_from("<6f", r.data, meta.offset + 40)
    lut_offset, feature_tensor = struct.unpack_from("<II", r.data, meta.offset + 64)
    _require_zero(r, meta.offset + 72, META_SIZE - 72, "META bytes 72-127")
    if height < 1 or width < 1:
        raise r.error(meta.offset, f"input size {height}x{width} must be positive")
    if channels != INPUT_CHANNELS:
        raise r.error(meta.offset + 8, f"input_channels {channels}, expected 3")
    if blank != BLANK_INDEX:
        raise r.error(meta.offset + 16, f"blank_index {blank}, expected 0")
    if num_classes < 2:
        raise r.error(meta.offset + 12, f"num_classes {num_classes}, expected at least the blank and one symbol")
    x, y, w, h = crop
    if w < 1 or h < 1 or x + w > 1000 or y + h > 1000:
        raise r.error(meta.offset + 24, f"default crop {tuple(crop)} (thousandths) is not a non-empty rectangle "
                                        "inside the frame")
    lut = _read_data_array(r, data_section, lut_offset, 3 * 256, "i1", meta.offset + 64, "input LUT").reshape(3, 256)

    alphabet = _read_alphabet(r, sections[b"ALPH"], num_classes)
    tensors = _read_tensors(r, sections[b"TENS"])
    if feature_tensor >= len(tensors):
        raise r.error(meta.offset + 68, f"feature_tensor {feature_tensor} is out of range (TENS has {len(tensors)})")
    encoder_ops, head_ops, record_offsets = _OpsParser(r, sections[b"OPS "], data_section, tensors).parse()
    try:
        shapes = infer_shapes(tensors, encoder_ops, height, width)
    except ShapeError as error:
        field_offset = record_offsets[error.op] + 8 + 4 * max(error.field_index, 0)
        raise r.error(field_offset, str(error)) from None
    if shapes[feature_tensor] != (1, 1):
        raise r.error(meta.offset + 68, f"feature tensor {feature_tensor} is {shapes[feature_tensor]} (h, w), "
                                        "expected 1 x 1 x F")
    _check_head(r, head_ops, record_offsets, tensors[feature_tensor].channels, num_classes, sections[b"OPS "])

    info = None
    if b"INFO" in sections:
        info_section = sections[b"INFO"]
        try:
            info = r.data[info_section.offset:info_section.end].decode("utf-8")
        except UnicodeDecodeError:
            raise r.error(info_section.offset, "INFO is not UTF-8 text") from None
        _printable(r, info_section.offset, info, "INFO")
    frame_rate = _read_rate(r, sections[b"RATE"]) if b"RATE" in sections else None
    localiser = _read_localiser(r, sections, data_section)
    (_major, minor) = struct.unpack_from("<HH", r.data, 8)
    return Model(input_height=height, input_width=width, default_window=window, default_crop=tuple(crop),
                 mean=tuple(mean_std[:3]), std=tuple(mean_std[3:]), input_lut=lut, alphabet=alphabet,
                 tensors=tensors, encoder_ops=encoder_ops, head_ops=head_ops, feature_tensor=feature_tensor,
                 info=info, version_minor=minor, frame_rate=frame_rate, localiser=localiser)


def _read_localiser(r: _Reader, sections: dict[bytes, _Section], data_section: _Section) -> Localiser | None:
    """LMET, LTEN and LOPS (all three or none), checked as the Swift loader checks them."""
    present = [tag for tag in LOCALISER_SECTIONS if tag in sections]
    if not present:
        return None
    missing = [tag for tag in LOCALISER_SECTIONS if tag not in sections]
    if missing:
        raise r.error(sections[present[0]].offset, f"localiser section '{missing[0].decode()}' is missing "
                                                   f"('{present[0].decode()}' is present; all three or none)")
    lmet = sections[b"LMET"]
    if lmet.size < LMET_SIZE:
        raise r.error(lmet.offset, f"LMET is {lmet.size} bytes, expected {LMET_SIZE} (section too short)")
    height, width, channels, lut_offset, heat, box = struct.unpack_from("<6I", r.data, lmet.offset)
    (presence_logit,) = struct.unpack_from("<f", r.data, lmet.offset + 24)
    (interval,) = struct.unpack_from("<I", r.data, lmet.offset + 28)
    _require_zero(r, lmet.offset + 32, LMET_SIZE - 32, "LMET bytes 32-63")
    if not (1 <= height <= 8192 and 1 <= width <= 8192):
        raise r.error(lmet.offset, f"localiser input size {height}x{width}, expected 1 to 8192 each")
    if channels != INPUT_CHANNELS:
        raise r.error(lmet.offset + 8, f"localiser input_channels {channels}, expected 3")
    if not np.isfinite(presence_logit):
        raise r.error(lmet.offset + 24, f"presence_logit {presence_logit} must be finite")
    if not LOCALISER_INTERVAL[0] <= interval <= LOCALISER_INTERVAL[1]:
        raise r.error(lmet.offset + 28, f"localiser interval {interval}, expected {LOCALISER_INTERVAL[0]} to "
                                        f"{LOCALISER_INTERVAL[1]} frames")
    lut = _read_data_array(r, data_section, lut_offset, 3 * 256, "i1", lmet.offset + 12,
                           "localiser input LUT").reshape(3, 256)
    tensors = _read_tensors(r, sections[b"LTEN"])
    for field, tensor_id, what in ((16, heat, "heat_tensor"), (20, box, "box_tensor")):
        if tensor_id >= len(tensors):
            raise r.error(lmet.offset + field, f"localiser {what} {tensor_id} is out of range "
                                               f"(LTEN has {len(tensors)})")
    ops, _, record_offsets = _OpsParser(r, sections[b"LOPS"], data_section, tensors, encoder_only=True).parse()
    try:
        shapes = infer_shapes(tensors, ops, height, width)
    except ShapeError as error:
        field_offset = record_offsets[error.op] + 8 + 4 * max(error.field_index, 0)
        raise r.error(field_offset, "localiser " + str(error)) from None
    if tensors[heat].channels != 1:
        raise r.error(lmet.offset + 16, f"localiser heat tensor {heat} has {tensors[heat].channels} channels, "
                                        "expected 1")
    if tensors[box].channels != 4:
        raise r.error(lmet.offset + 20, f"localiser box tensor {box} has {tensors[box].channels} channels, "
                                        "expected 4")
    if shapes[heat] != shapes[box]:
        raise r.error(lmet.offset + 20, f"localiser box tensor {box} is {shapes[box]} (h, w), the heat tensor "
                                        f"{shapes[heat]}: they must match")
    return Localiser(input_height=height, input_width=width, input_lut=lut, tensors=tensors, ops=ops,
                     heat_tensor=heat, box_tensor=box, presence_logit=float(presence_logit), interval=interval)


def frame_rate_problem(numerator: int, denominator: int) -> str | None:
    """Why (numerator, denominator) frames/s cannot be a model's RATE, or None."""
    low, high = FRAME_RATE_PER_SECOND
    if not (1 <= numerator <= FRAME_RATE_MAX_TERM and 1 <= denominator <= FRAME_RATE_MAX_TERM) \
            or not (low * denominator <= numerator <= high * denominator):
        return (f"frame rate {numerator}/{denominator} frames/s, expected numerator and denominator 1 to "
                f"{FRAME_RATE_MAX_TERM} and a rate of {low} to {high} frames/s")
    return None


def _read_rate(r: "_Reader", section: "_Section") -> tuple[int, int]:
    if section.size < RATE_SIZE:
        raise r.error(section.offset, f"RATE is {section.size} bytes, expected {RATE_SIZE} (section too short)")
    numerator, denominator = struct.unpack_from("<II", r.data, section.offset)
    problem = frame_rate_problem(numerator, denominator)
    if problem:
        raise r.error(section.offset, "RATE " + problem)
    _require_zero(r, section.offset + 8, RATE_SIZE - 8, "RATE bytes 8-15")
    return numerator, denominator
