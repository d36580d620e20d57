/// A character n-gram language model file (`.dclm`, written by `python -m dactyl_quant.charlm`;
/// the layout is in quantization/dactyl_quant/charlm.py and docs/ctc-decoding.md), checked at
/// start-up against the model's alphabet.
public struct CharacterLMFile {
    let file: MappedFile
    public let order: Int
    /// V: the boundary (symbol 0) and the alphabet symbols.
    public let symbols: Int
    let classToSymbol: [Int32]
    static let maximumOrder = 6
    static let maximumSymbols = 64
    static let symbolBytes = 8

    public init(path: String, alphabet: [String]) throws(VocabularyError) {
        file = try MappedFile(path: path, what: "language model")
        let bytes = file.bytes
        func u32(_ offset: Int) throws(VocabularyError) -> Int {
            guard offset + 4 <= bytes.count else {
                throw .offset(path, offset, "the file ends after \(bytes.count) bytes, expected 4 more")
            }
            return Int(bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian)
        }
        guard bytes.count >= 4, bytes[0] == 0x44, bytes[1] == 0x43, bytes[2] == 0x4C, bytes[3] == 0x4D else {
            throw .offset(path, 0, "expected a character language model (\"DCLM\" at the start)")
        }
        let version = try u32(4)
        guard version == 1 else { throw .offset(path, 4, "version \(version), expected 1") }
        order = try u32(8)
        guard order >= 2 && order <= CharacterLMFile.maximumOrder else {
            throw .offset(path, 8, "order \(order), expected 2 to \(CharacterLMFile.maximumOrder)")
        }
        symbols = try u32(12)
        guard symbols >= 2 && symbols <= CharacterLMFile.maximumSymbols else {
            throw .offset(path, 12, "\(symbols) symbols, expected 2 to \(CharacterLMFile.maximumSymbols)")
        }
        var offset = 16
        var texts: [[UInt8]] = []
        for _ in 1..<symbols {
            guard offset + CharacterLMFile.symbolBytes <= bytes.count else {
                throw .offset(path, offset, "the file ends inside the symbol table")
            }
            var text: [UInt8] = []
            for k in 0..<CharacterLMFile.symbolBytes where bytes[offset + k] != 0 { text.append(bytes[offset + k]) }
            guard !text.isEmpty else { throw .offset(path, offset, "expected a symbol of 1 to 8 UTF-8 bytes") }
            texts.append(text)
            offset += CharacterLMFile.symbolBytes
        }
        var counts: [Int] = []
        for k in 0..<order { counts.append(try u32(offset + 4 * k)) }
        guard counts[0] == 1 else { throw .offset(path, offset, "\(counts[0]) empty contexts, expected 1") }
        offset += 4 * order
        var limit = 1
        for k in 0..<order {
            var previous = -1
            for i in 0..<counts[k] {
                let key = try u32(offset + 4 * i)
                guard key > previous && key < limit else {
                    throw .offset(path, offset + 4 * i, "context key \(key) of length \(k): expected ascending keys below \(limit)")
                }
                previous = key
            }
            offset += 4 * counts[k]
            let rowBytes = 4 * counts[k] * symbols
            guard offset + rowBytes <= bytes.count else {
                throw .offset(path, offset, "the file ends after \(bytes.count) bytes, expected \(counts[k]) rows of \(symbols) floats")
            }
            offset += rowBytes
            limit *= symbols
        }
        guard offset == bytes.count else { throw .offset(path, offset, "\(bytes.count - offset) bytes after the last table") }

        // Model class → LM symbol: the blank (unused) and the word separator are the boundary.
        var classToSymbol: [Int32] = [0]
        for symbol in alphabet {
            if Array(symbol.utf8) == [0x20] {
                classToSymbol.append(0)
                continue
            }
            let text = Array(symbol.utf8)
            guard let index = texts.firstIndex(of: text) else {
                throw .offset(path, 16, "the language model has no symbol \"\(symbol)\" of the model's alphabet")
            }
            classToSymbol.append(Int32(index + 1))
        }
        self.classToSymbol = classToSymbol
    }

    private static let tableBytes = 2 * maximumOrder * MemoryLayout<Int>.stride

    /// Arena bytes of the model: the table offsets, the file's tables and the class map.
    public var arenaBytes: Int { CharacterLMFile.tableBytes + file.bytes.count + 4 * classToSymbol.count }

    /// Copies the model into `memory` (`arenaBytes` bytes, 8-byte aligned).
    public func install(into memory: UnsafeMutableRawPointer) -> CharacterLM {
        let tables = memory.bindMemory(to: Int.self, capacity: 2 * CharacterLMFile.maximumOrder)
        let base = memory + CharacterLMFile.tableBytes
        base.copyMemory(from: file.bytes.baseAddress!, byteCount: file.bytes.count)
        let classMap = (base + file.bytes.count).bindMemory(to: Int32.self, capacity: classToSymbol.count)
        for (index, symbol) in classToSymbol.enumerated() { classMap[index] = symbol }
        let countsOffset = 16 + CharacterLMFile.symbolBytes * (symbols - 1)
        let counts = (base + countsOffset).bindMemory(to: UInt32.self, capacity: order)
        var offset = countsOffset + 4 * order
        for k in 0..<order {
            tables[2 * k] = offset
            offset += 4 * Int(UInt32(littleEndian: counts[k]))
            tables[2 * k + 1] = offset
            offset += 4 * Int(UInt32(littleEndian: counts[k])) * symbols
        }
        return CharacterLM(base: UnsafeRawPointer(base), order: order, symbols: symbols,
                           counts: UnsafePointer(counts), tables: UnsafePointer(tables), classToSymbol: UnsafePointer(classMap))
    }
}

/// A character n-gram model in arena memory: the log-probabilities of the next symbol after a
/// word's history, by the longest stored context (docs/ctc-decoding.md).
public struct CharacterLM {
    let base: UnsafeRawPointer
    public let order: Int
    public let symbols: Int
    let counts: UnsafePointer<UInt32>
    /// Per context length k: byte offsets of its keys (2k) and rows (2k + 1).
    let tables: UnsafePointer<Int>
    /// Per model class: its LM symbol (the word separator → 0, the boundary).
    public let classToSymbol: UnsafePointer<Int32>

    /// The row of log-probabilities after the history whose last `historyLength` symbols
    /// `symbolAt(1)` (newest) … `symbolAt(k)` are known; older ones are boundaries (0).
    @inline(__always)
    func row(symbolAt: (Int) -> Int32) -> UnsafePointer<Float> {
        var k = order - 1
        while k > 0 {
            var key: UInt32 = 0
            for age in stride(from: k, through: 1, by: -1) {
                key = key &* UInt32(symbols) &+ UInt32(bitPattern: symbolAt(age))
            }
            let count = Int(UInt32(littleEndian: counts[k]))
            let keys = (base + tables[2 * k]).assumingMemoryBound(to: UInt32.self)
            var low = 0
            var high = count
            while low < high {
                let middle = (low + high) / 2
                if UInt32(littleEndian: keys[middle]) < key { low = middle + 1 } else { high = middle }
            }
            if low < count && UInt32(littleEndian: keys[low]) == key {
                return (base + tables[2 * k + 1]).assumingMemoryBound(to: Float.self) + low * symbols
            }
            k -= 1
        }
        return (base + tables[1]).assumingMemoryBound(to: Float.self)
    }
}
