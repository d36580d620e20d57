"""The .dmdl container's section table, for the tests that read or edit model files
(docs/model-format.md: the section count at byte 24, the table's CRC at 28, 32-byte entries
from byte 64: tag, flags, offset, size, CRC, reserved)."""

import struct
import zlib

TABLE_START = 64
ENTRY_BYTES = 32


def _count(data) -> int:
    return struct.unpack_from("<I", data, 24)[0]


def section_table(data) -> dict[bytes, tuple[int, int, int]]:
    """tag → (table entry offset, section offset, size)."""
    found = {}
    for i in range(_count(data)):
        entry = TABLE_START + ENTRY_BYTES * i
        tag, _, offset, size, _, _ = struct.unpack_from("<4sIQQII", data, entry)
        found[tag] = (entry, offset, size)
    return found


def section_bytes(data) -> dict[bytes, bytes]:
    """tag → the section's bytes."""
    return {tag: bytes(data[offset:offset + size]) for tag, (_, offset, size) in section_table(data).items()}


def reseal(data: bytearray) -> bytearray:
    """Recompute every section checksum and the table checksum after an edit (every entry, tags
    repeated or not)."""
    count = _count(data)
    for i in range(count):
        entry = TABLE_START + ENTRY_BYTES * i
        offset, size = struct.unpack_from("<QQ", data, entry + 8)
        struct.pack_into("<I", data, entry + 24, zlib.crc32(data[offset:offset + size]))
    struct.pack_into("<I", data, 28, zlib.crc32(data[TABLE_START:TABLE_START + ENTRY_BYTES * count]))
    return data
