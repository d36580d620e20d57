/// The model's alphabet as UTF-8 bytes in one block built at start-up, so that a sink can
/// write a letter span's letter without touching a String in the frame loop.
/// Class 0 is CTC's blank; class `i` (1...) is `alphabet[i - 1]`.
public struct LetterTable {
    private let storage: SinkStorage
    /// offsets[i] ..< offsets[i + 1] are the bytes of alphabet[i].
    private let offsets: SinkStorage
    public let count: Int

    public init(alphabet: [String]) {
        var total = 0
        for symbol in alphabet { total += symbol.utf8.count }
        storage = SinkStorage(capacity: max(total, 1))
        offsets = SinkStorage(capacity: (alphabet.count + 1) * MemoryLayout<Int>.stride)
        count = alphabet.count
        let table = UnsafeMutableRawPointer(offsets.base)
        let stride = MemoryLayout<Int>.stride
        var cursor = 0
        for (index, symbol) in alphabet.enumerated() {
            table.storeBytes(of: cursor, toByteOffset: index * stride, as: Int.self)
            for byte in symbol.utf8 {
                storage.base[cursor] = byte
                cursor += 1
            }
        }
        table.storeBytes(of: cursor, toByteOffset: alphabet.count * stride, as: Int.self)
    }

    /// Bytes of the alphabet's longest letter (at least 1): what a text of N letters needs is
    /// at most N times this.
    public static func longestLetterBytes(_ alphabet: [String]) -> Int {
        var longest = 1
        for symbol in alphabet { longest = max(longest, symbol.utf8.count) }
        return longest
    }

    /// The letter of CTC class `classIndex`; empty for the blank or an index outside the alphabet.
    public func letter(classIndex: Int) -> UnsafeBufferPointer<UInt8> {
        guard classIndex >= 1 && classIndex <= count else { return UnsafeBufferPointer(start: storage.base, count: 0) }
        let table = UnsafeRawPointer(offsets.base), stride = MemoryLayout<Int>.stride
        let start = table.load(fromByteOffset: (classIndex - 1) * stride, as: Int.self)
        let end = table.load(fromByteOffset: classIndex * stride, as: Int.self)
        return UnsafeBufferPointer(start: storage.base + start, count: end - start)
    }
}
