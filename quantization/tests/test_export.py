import copy
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from dactyl_quant.export import (Conv2dQ8, GlobalAvgPoolQ8, MaxPool2dQ8, TensorParams, model_bytes, read_model,
                                 write_model)
from dactyl_quant.student import CONFIGS
from dmdl_file import reseal, section_table


def _edit(original: bytes, tag: bytes, position: int, fmt: str, value) -> bytearray:
    data = bytearray(original)
    _, offset, _ = section_table(data)[tag]
    struct.pack_into("<" + fmt, data, offset + position, value)
    return reseal(data)


def _expect_error(tmp_path: Path, data: bytes, message: str) -> str:
    path = tmp_path / "corrupt.dmdl"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=message) as error:
        read_model(path)
    assert str(error.value).startswith(f"{path}: offset ")
    return str(error.value)


def test_round_trip_is_byte_identical(tiny, tiny_file):
    data = Path(tiny_file).read_bytes()
    assert data == model_bytes(tiny.model)
    model = read_model(tiny_file)
    assert model_bytes(model) == data
    original = tiny.model
    assert model.tensors == original.tensors
    assert model.alphabet == original.alphabet and model.info == original.info
    assert (model.input_height, model.input_width, model.feature_tensor) == (24, 32, original.feature_tensor)
    assert model.default_crop == original.default_crop and model.mean == original.mean
    assert np.array_equal(model.input_lut, original.input_lut)
    assert [type(op) for op in model.encoder_ops] == [type(op) for op in original.encoder_ops]
    for a, b in zip(model.encoder_ops, original.encoder_ops):
        if isinstance(a, Conv2dQ8):
            assert np.array_equal(a.weights, b.weights) and np.array_equal(a.bias, b.bias)
            assert np.array_equal(a.multiplier, b.multiplier) and np.array_equal(a.shift, b.shift)
            assert (a.residual, a.stride, a.padding, a.relu, a.residual_multiplier, a.residual_shift) == \
                   (b.residual, b.stride, b.padding, b.relu, b.residual_multiplier, b.residual_shift)


def test_layout_follows_the_format(tiny_file):
    data = Path(tiny_file).read_bytes()
    assert data[:8] == b"DACTYLMD"
    major, minor, header_size, file_size, count, table_crc = struct.unpack_from("<HHIQII", data, 8)
    assert (major, minor, header_size, file_size) == (1, 1, 64, len(data))
    assert data[32:64] == bytes(32)
    assert table_crc == zlib.crc32(data[64:64 + 32 * count])
    sections = section_table(data)
    assert list(sections) == [b"META", b"ALPH", b"INFO", b"RATE", b"TENS", b"OPS ", b"DATA"]
    _, rate, rate_size = sections[b"RATE"]
    assert rate_size == 16 and struct.unpack_from("<4I", data, rate) == (30, 1, 0, 0)
    for entry, offset, size in sections.values():
        assert offset % 64 == 0
        assert struct.unpack_from("<I", data, entry + 24)[0] == zlib.crc32(data[offset:offset + size])
    assert sections[b"META"][2] == 128
    _, alph, _ = sections[b"ALPH"]
    assert struct.unpack_from("<I", data, alph)[0] == 31
    assert data[alph + 4:alph + 6] == b"\x01a"
    # Every DATA array (the LUT and the conv weights) starts on a 64-byte boundary.
    _, meta, _ = sections[b"META"]
    assert struct.unpack_from("<I", data, meta + 64)[0] % 64 == 0
    _, ops, _ = sections[b"OPS "]
    opcode, record_size = struct.unpack_from("<II", data, ops + 4)
    assert (opcode, record_size) == (1, 72)
    offsets = struct.unpack_from("<4I", data, ops + 4 + 8 + 40)
    assert all(o % 64 == 0 for o in offsets)
    # Without a residual both residual fields are 0.
    assert struct.unpack_from("<ii", data, ops + 4 + 8 + 56) == (0, 0)


def test_opcode_sequence_of_the_tiny_encoder(tiny):
    ops = tiny.model.encoder_ops
    assert [type(op) for op in ops] == [Conv2dQ8, MaxPool2dQ8, Conv2dQ8, Conv2dQ8, Conv2dQ8, Conv2dQ8, Conv2dQ8,
                                        GlobalAvgPoolQ8]
    assert ops[0].kernel == (7, 7) and ops[0].stride == (2, 2) and ops[0].padding == (3, 3)
    assert ops[1].kernel == (3, 3) and ops[1].stride == (2, 2) and ops[1].padding == (1, 1)
    assert ops[3].residual == ops[1].output  # block 1: identity shortcut
    assert ops[5].residual is None and ops[6].residual == ops[5].output  # block 2: downsample shortcut


def test_a_higher_minor_version_is_accepted(tmp_path, tiny_file):
    data = bytearray(Path(tiny_file).read_bytes())
    struct.pack_into("<H", data, 10, 3)
    path = tmp_path / "minor.dmdl"
    path.write_bytes(data)
    assert read_model(path).version_minor == 3


def test_unknown_sections_are_skipped(tmp_path, tiny_file):
    data = bytearray(Path(tiny_file).read_bytes())
    entry, _, _ = section_table(data)[b"INFO"]
    data[entry:entry + 4] = b"XTRA"
    path = tmp_path / "extra.dmdl"
    path.write_bytes(reseal(data))
    assert read_model(path).info is None


def test_header_errors(tmp_path, tiny_file):
    data = Path(tiny_file).read_bytes()
    _expect_error(tmp_path, b"DACTYLMD" + bytes(20), "offset 28: truncated: the file is 28 bytes")
    _expect_error(tmp_path, b"DACTYLXX" + data[8:], "offset 0: wrong magic")
    _expect_error(tmp_path, data[:8] + struct.pack("<H", 2) + data[10:],
                  "offset 8: unsupported model format version 2.1")
    _expect_error(tmp_path, data[:12] + struct.pack("<I", 72) + data[16:], "offset 12: header_size 72")
    _expect_error(tmp_path, data[:-1], f"truncated: the file is {len(data) - 1} bytes, its header says {len(data)}")
    _expect_error(tmp_path, data + b"\0", "offset 16: file_size .*trailing bytes")
    _expect_error(tmp_path, data[:24] + struct.pack("<I", 0) + data[28:], "offset 24: section_count 0")


def test_checksum_errors(tmp_path, tiny_file):
    data = bytearray(Path(tiny_file).read_bytes())
    entry, offset, size = section_table(data)[b"DATA"]
    flipped = bytearray(data)
    flipped[offset + size // 2] ^= 0x10
    _expect_error(tmp_path, flipped, f"offset {entry + 24}: section 'DATA' checksum mismatch")
    flipped = bytearray(data)
    flipped[64 + 4] ^= 1  # META's flags
    _expect_error(tmp_path, flipped, "offset 28: section table checksum mismatch")


def test_section_table_errors(tmp_path, tiny_file):
    data = bytearray(Path(tiny_file).read_bytes())
    sections = section_table(data)
    entry, offset, _ = sections[b"ALPH"]
    moved = bytearray(data)
    struct.pack_into("<Q", moved, entry + 8, offset + 4)
    _expect_error(tmp_path, reseal(moved),
                  f"offset {entry + 8}: section 'ALPH' starts at {offset + 4}, expected a multiple of 64")
    outside = bytearray(data)
    struct.pack_into("<Q", outside, entry + 16, len(data))
    _expect_error(tmp_path, reseal(outside), f"offset {entry + 16}: section 'ALPH' .* lies outside")
    overlapping = bytearray(data)
    struct.pack_into("<Q", overlapping, entry + 16, sections[b"INFO"][1] - offset + 1)
    _expect_error(tmp_path, reseal(overlapping), "section 'INFO' overlaps section 'ALPH'")
    missing = bytearray(data)
    missing[entry:entry + 4] = b"ALPX"
    _expect_error(tmp_path, reseal(missing), "offset 64: required section 'ALPH' is missing")
    twice = bytearray(data)
    twice[sections[b"INFO"][0]:sections[b"INFO"][0] + 4] = b"ALPH"
    _expect_error(tmp_path, reseal(twice), "section 'ALPH' appears twice")


def test_content_errors(tmp_path, tiny_file):
    data = Path(tiny_file).read_bytes()
    sections = section_table(data)
    ops, tens, meta, alph = (sections[tag][1] for tag in (b"OPS ", b"TENS", b"META", b"ALPH"))
    conv0 = 12  # op 0's first field, relative to OPS
    avgpool = 4 + 72 + 40 + 72 * 5  # op 7's record: after the stem, maxpool and five convs
    first_head = avgpool + 24
    log_softmax = first_head + 32 + 32 + 48 + 24  # after conv1d, conv1d, bigru, linear
    assert struct.unpack_from("<I", data, ops + log_softmax)[0] == 19
    cases = [
        (b"OPS ", 4, "I", 99, f"offset {ops + 4}: op 0: unknown opcode 99"),
        (b"OPS ", 8, "I", 68, f"offset {ops + 8}: op 0: record size 68, opcode 1 needs 72"),
        (b"OPS ", conv0, "I", 500, f"offset {ops + conv0}: op 0: tensor id 500 is out of range"),
        (b"OPS ", conv0, "I", 2, f"offset {ops + conv0}: op 0: tensor 2 is read before it is written"),
        (b"OPS ", conv0 + 4, "I", 0, f"offset {ops + conv0 + 4}: op 0: tensor 0 is written twice"),
        (b"OPS ", conv0 + 12, "I", 0, f"offset {ops + conv0 + 12}: op 0: conv2d height kernel 0 and stride 2"),
        (b"OPS ", conv0 + 40, "I", 32,
         f"offset {ops + conv0 + 40}: op 0 conv2d weights at DATA offset 32 is not 64-byte aligned"),
        (b"OPS ", conv0 + 40, "I", 1 << 20, "op 0 conv2d weights .* lies outside DATA"),
        (b"OPS ", avgpool + 8 + 12, "i", 0, f"offset {ops + avgpool + 20}: op 7: shift 0, expected 1 to 62"),
        (b"OPS ", avgpool + 8 + 8, "i", -5, f"offset {ops + avgpool + 16}: op 7: multiplier -5"),
        (b"OPS ", first_head + 8, "I", 17, "takes 17 channels, the previous op gives 16"),
        (b"OPS ", log_softmax + 8, "I", 31,
         f"offset {ops + log_softmax + 8}: temporal op at offset {ops + log_softmax} takes 31 channels"),
        (b"TENS", 4 + 16 + 8, "i", 200, f"offset {tens + 28}: tensor 1 zero point 200"),
        (b"TENS", 4 + 16 + 4, "f", -0.5, f"offset {tens + 24}: tensor 1 scale -0.5"),
        (b"TENS", 4 + 16 + 4, "f", float("inf"), "tensor 1 scale inf"),
        (b"META", 68, "I", 1, f"offset {meta + 68}: feature tensor 1 is \\(12, 16\\)"),
        (b"META", 68, "I", 99, f"offset {meta + 68}: feature_tensor 99 is out of range"),
        (b"META", 12, "I", 40, "alphabet has 31 symbols, expected num_classes − 1 = 39"),
        (b"ALPH", 0, "I", 30, f"offset {alph}: alphabet has 30 symbols, expected num_classes − 1 = 31"),
        (b"ALPH", 4 + 3, "B", ord("a"), "alphabet symbol 1 'a' repeats symbol 0"),
        (b"ALPH", 4, "B", 9, "alphabet symbol 0 is 9 bytes, expected 1 to 8"),
    ]
    for tag, position, fmt, value, message in cases:
        _expect_error(tmp_path, _edit(data, tag, position, fmt, value), message)


def test_truncated_sections(tmp_path, tiny_file):
    data = Path(tiny_file).read_bytes()
    entry, offset, size = section_table(data)[b"META"]
    short = bytearray(data)
    struct.pack_into("<Q", short, entry + 16, 100)
    _expect_error(tmp_path, reseal(short), f"offset {offset}: META is 100 bytes, expected 128")
    entry, offset, size = section_table(data)[b"OPS "]
    short = bytearray(data)
    struct.pack_into("<Q", short, entry + 16, size - 4)
    _expect_error(tmp_path, reseal(short), "runs past the end of OPS|section too short")


def test_the_writer_refuses_a_model_the_loader_would_reject(tmp_path, tiny):
    model = copy.copy(tiny.model)
    model.tensors = list(model.tensors)
    model.tensors[1] = TensorParams(model.tensors[1].channels, model.tensors[1].scale, 300)
    path = tmp_path / "invalid.dmdl"
    with pytest.raises(ValueError, match="tensor 1 zero point 300"):
        write_model(model, path)
    assert not path.exists()


def test_reserved_fields_and_control_characters_are_rejected(tmp_path, tiny_file, tiny):
    """Issue 12 #8, as in the Swift loader: reserved and flag fields are zero, and the alphabet
    and INFO hold no control characters (the writer refuses them too)."""
    data = Path(tiny_file).read_bytes()
    sections = section_table(data)
    meta, tens, alph = (sections[tag][1] for tag in (b"META", b"TENS", b"ALPH"))
    header = bytearray(data)
    header[40] = 1
    _expect_error(tmp_path, header, "offset 40: header bytes 32-63 is not zero")
    flags = bytearray(data)
    flags[64 + 4] = 1
    _expect_error(tmp_path, reseal(flags), "offset 68: section '.*' flags is not zero")
    _expect_error(tmp_path, _edit(data, b"META", 100, "I", 7), f"offset {meta + 100}: META bytes 72-127")
    _expect_error(tmp_path, _edit(data, b"TENS", 4 + 16 + 12, "I", 1), f"offset {tens + 32}: tensor 1 reserved")
    _expect_error(tmp_path, _edit(data, b"ALPH", 5, "B", 0x0A),
                  f"offset {alph + 5}: alphabet symbol 0 contains the control character U\\+000A")
    model = copy.copy(tiny.model)
    model.info = "tiny\x1b[2J"
    with pytest.raises(ValueError, match="INFO contains the control character U\\+001B"):
        write_model(model, tmp_path / "escape.dmdl")


def test_the_frame_rate_is_written_from_the_config_and_read_back(tmp_path, tiny, tiny_file):
    assert tiny.model.frame_rate == CONFIGS["tiny"].frame_rate == (30, 1)
    assert read_model(tiny_file).frame_rate == (30, 1)
    assert read_model(tiny_file).version_minor == 1
    ntsc = copy.copy(tiny.model)
    ntsc.frame_rate = (30000, 1001)
    path = tmp_path / "ntsc.dmdl"
    write_model(ntsc, path)
    assert read_model(path).frame_rate == (30000, 1001)
    assert read_model(path).frames_per_second == (30000, 1001)


def test_a_model_without_RATE_is_read_as_30_frames_per_second(tmp_path, tiny):
    old = copy.copy(tiny.model)
    old.frame_rate = None
    path = tmp_path / "old.dmdl"
    write_model(old, path)
    assert b"RATE" not in section_table(path.read_bytes())
    model = read_model(path)
    assert model.frame_rate is None and model.frames_per_second == (30, 1)


@pytest.mark.parametrize("numerator, denominator", [(0, 1), (30, 0), (1001, 1), (1, 2), (65_536, 65_536)])
def test_impossible_frame_rates_are_rejected(tmp_path, tiny_file, numerator, denominator):
    original = Path(tiny_file).read_bytes()
    data = reseal(bytearray(_edit(_edit(original, b"RATE", 0, "I", numerator), b"RATE", 4, "I", denominator)))
    path = tmp_path / "rate.dmdl"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=f"RATE frame rate {numerator}/{denominator}"):
        read_model(path)
    reserved = _edit(original, b"RATE", 12, "I", 1)
    path.write_bytes(reserved)
    with pytest.raises(ValueError, match="RATE bytes 8-15"):
        read_model(path)
