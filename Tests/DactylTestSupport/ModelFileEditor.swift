import Foundation

/// Reads a model file's sections and writes them back with fresh checksums, sizes and
/// alignment, so a test can damage one field and reach the validation behind the checksums.
public struct ModelFileEditor {
    public var header: Data
    public var sections: [(tag: String, bytes: Data)]

    public init(_ file: Data) {
        header = file.prefix(64)
        let count = Int(file.u32(at: 24))
        sections = (0..<count).map { index in
            let entry = 64 + index * 32
            let tag = String(decoding: file[entry..<entry + 4], as: UTF8.self)
            let offset = Int(file.u64(at: entry + 8)), size = Int(file.u64(at: entry + 16))
            return (tag, Data(file[offset..<offset + size]))
        }
    }

    public func section(_ tag: String) -> Data { sections.first { $0.tag == tag }!.bytes }

    public mutating func setSection(_ tag: String, _ bytes: Data) {
        let index = sections.firstIndex { $0.tag == tag }!
        sections[index].bytes = bytes
    }

    public mutating func setU32(_ tag: String, at offset: Int, _ value: UInt32) {
        var bytes = section(tag)
        bytes.setU32(at: offset, value)
        setSection(tag, bytes)
    }

    public func u32(_ tag: String, at offset: Int) -> UInt32 { section(tag).u32(at: offset) }

    public mutating func renameSection(_ tag: String, to newTag: String) {
        let index = sections.firstIndex { $0.tag == tag }!
        sections[index].tag = newTag
    }

    /// Offsets (within OPS) of each op record: (offset, opcode).
    public func opRecords() -> [(offset: Int, opcode: UInt32)] {
        let ops = section("OPS ")
        var cursor = 4
        var records: [(Int, UInt32)] = []
        for _ in 0..<Int(ops.u32(at: 0)) {
            records.append((cursor, ops.u32(at: cursor)))
            cursor += Int(ops.u32(at: cursor + 4))
        }
        return records
    }

    /// Field `n` (after the 8-byte record header) of the first op with `opcode`, as an OPS offset.
    public func fieldOffset(opcode: UInt32, field n: Int, occurrence: Int = 0) -> Int {
        opRecords().filter { $0.opcode == opcode }[occurrence].offset + 8 + 4 * n
    }

    public func serialized() -> Data {
        var file = header
        let tableEnd = 64 + sections.count * 32
        var offset = (tableEnd + 63) / 64 * 64
        var table = Data()
        var body = Data()
        for section in sections {
            var entry = Data(section.tag.utf8)
            entry.appendU32(0)
            entry.appendU64(UInt64(offset))
            entry.appendU64(UInt64(section.bytes.count))
            entry.appendU32(crc32(section.bytes))
            entry.appendU32(0)
            table.append(entry)
            let start = offset - (tableEnd + 63) / 64 * 64
            body.append(Data(count: start - body.count))
            body.append(section.bytes)
            offset += (section.bytes.count + 63) / 64 * 64
        }
        file.setU32(at: 24, UInt32(sections.count))
        file.setU32(at: 28, crc32(table))
        file.append(table)
        file.append(Data(count: (tableEnd + 63) / 64 * 64 - tableEnd))
        file.append(body)
        file.setU64(at: 16, UInt64(file.count))
        return file
    }
}

/// zlib's CRC-32, its table built here bit by bit so it does not share code with the loader.
public func crc32(_ data: Data) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in data {
        crc = crc32Table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8)
    }
    return ~crc
}

private let crc32Table: [UInt32] = (0..<256).map { index in
    var crc = UInt32(index)
    for _ in 0..<8 { crc = (crc & 1) == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    return crc
}

extension Data {
    public func u32(at offset: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(self[self.startIndex + offset + $1]) << (8 * UInt32($1)) }
    }

    public func u64(at offset: Int) -> UInt64 { UInt64(u32(at: offset)) | UInt64(u32(at: offset + 4)) << 32 }

    public mutating func setU32(at offset: Int, _ value: UInt32) {
        for byte in 0..<4 { self[startIndex + offset + byte] = UInt8(truncatingIfNeeded: value >> (8 * UInt32(byte))) }
    }

    public mutating func setU64(at offset: Int, _ value: UInt64) {
        setU32(at: offset, UInt32(truncatingIfNeeded: value))
        setU32(at: offset + 4, UInt32(truncatingIfNeeded: value >> 32))
    }

    public mutating func appendU32(_ value: UInt32) { append(contentsOf: (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * UInt32($0))) }) }
    public mutating func appendU64(_ value: UInt64) { appendU32(UInt32(truncatingIfNeeded: value)); appendU32(UInt32(truncatingIfNeeded: value >> 32)) }
}

/// Models crafted to reach the validator's deeper checks (their checksums are valid), each a
/// reproducer of a crash found by trying bad inputs (issue 12). Both the loader tests and the
/// command-line tests use them.
public enum CraftedModels {
    /// The second conv2d (after the max pool, which copies no channel count) reads and writes
    /// 65536-channel tensors with a 65536x65536 kernel: its weights hold 2^64 values, which
    /// overflowed `out * kh * kw * in` before the bounds check of the weights and trapped.
    public static func conv2dWeightCountOverflow(_ original: Data) -> Data {
        var editor = ModelFileEditor(original)
        let conv: UInt32 = 1
        let input = Int(editor.u32("OPS ", at: editor.fieldOffset(opcode: conv, field: 0, occurrence: 1)))
        let output = Int(editor.u32("OPS ", at: editor.fieldOffset(opcode: conv, field: 1, occurrence: 1)))
        editor.setU32("TENS", at: 4 + 16 * input, 65536)
        editor.setU32("TENS", at: 4 + 16 * output, 65536)
        editor.setU32("OPS ", at: editor.fieldOffset(opcode: conv, field: 3, occurrence: 1), 65536)
        editor.setU32("OPS ", at: editor.fieldOffset(opcode: conv, field: 4, occurrence: 1), 65536)
        return editor.serialized()
    }

    /// A control character in the alphabet: symbol 0 ("a") becomes a newline.
    public static func newlineInAlphabet(_ original: Data) -> Data {
        var editor = ModelFileEditor(original)
        var alphabet = editor.section("ALPH")
        alphabet[alphabet.startIndex + 4 + 1] = 0x0A
        editor.setSection("ALPH", alphabet)
        return editor.serialized()
    }
}
