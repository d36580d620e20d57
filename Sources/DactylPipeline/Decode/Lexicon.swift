import CDactylPlatform

/// Why a lexicon or language model file cannot be used; `description` is one line naming the
/// file and the line (lexicon) or byte offset (language model).
public struct VocabularyError: Error, CustomStringConvertible {
    public let description: String

    static func line(_ path: String, _ line: Int, _ detail: String) -> VocabularyError {
        VocabularyError(description: "\(path): line \(line): \(detail)")
    }

    static func offset(_ path: String, _ offset: Int, _ detail: String) -> VocabularyError {
        VocabularyError(description: "\(path): offset \(offset): \(detail)")
    }

    static func cannotOpen(_ path: String, _ what: String, _ errorNumber: Int32) -> VocabularyError {
        VocabularyError(description: "\(path): cannot open \(what): \(String(cString: dactyl_error_text(errorNumber)))")
    }
}

/// A file mapped read-only for the start-up parse, unmapped when dropped.
final class MappedFile {
    let path: String
    let bytes: UnsafeRawBufferPointer

    init(path: String, what: String) throws(VocabularyError) {
        var size = 0
        var errorNumber: Int32 = 0
        guard let address = dactyl_map_file(path, &size, &errorNumber) else {
            throw .cannotOpen(path, what, errorNumber)
        }
        self.path = path
        bytes = UnsafeRawBufferPointer(start: address, count: size)
    }

    deinit {
        if let base = bytes.baseAddress { dactyl_unmap_file(base, bytes.count) }
    }
}

/// A word list (one word per line) checked against the model's alphabet: what the prefix trie
/// is built from. Lines are trimmed, upper-case ASCII letters lowered, blank lines and lines
/// starting with `#` skipped; a word is a sequence of alphabet symbols (longest match first)
/// without white space inside.
public struct LexiconFile {
    let file: MappedFile
    let alphabet: [[UInt8]]
    public let words: Int
    /// Symbols over all words: the trie never has more nodes than this plus the root.
    public let symbols: Int

    public init(path: String, alphabet: [String]) throws(VocabularyError) {
        file = try MappedFile(path: path, what: "lexicon")
        self.alphabet = alphabet.map { Array($0.utf8) }
        var words = 0
        var symbols = 0
        try LexiconFile.scan(file, self.alphabet, symbol: { _ in symbols += 1 }, wordEnd: { words += 1 })
        guard words > 0 else { throw .line(path, 1, "the lexicon has no words") }
        self.words = words
        self.symbols = symbols
    }

    /// Arena bytes of the trie.
    public var trieBytes: Int { Lexicon.bytes(nodes: symbols + 1) }

    /// Builds the trie in `memory` (`trieBytes` bytes, 4-byte aligned).
    public func install(into memory: UnsafeMutableRawPointer) -> Lexicon {
        var lexicon = Lexicon(memory: memory, capacity: symbols + 1, words: words)
        var node: Int32 = 0
        try! LexiconFile.scan(file, alphabet, symbol: { c in node = lexicon.insert(c, below: node) },
                              wordEnd: { lexicon.markWord(node); node = 0 })
        return lexicon
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0B || byte == 0x0C }

    /// Calls `symbol` with each word's class indices, then `wordEnd`, word after word.
    private static func scan(_ file: MappedFile, _ alphabet: [[UInt8]], symbol: (Int32) -> Void,
                             wordEnd: () -> Void) throws(VocabularyError) {
        let bytes = file.bytes
        var lineStart = 0
        var lineNumber = 0
        while lineStart < bytes.count {
            lineNumber += 1
            var lineEnd = lineStart
            while lineEnd < bytes.count && bytes[lineEnd] != 0x0A { lineEnd += 1 }
            var start = lineStart
            var end = lineEnd
            while start < end && isSpace(bytes[start]) { start += 1 }
            while end > start && isSpace(bytes[end - 1]) { end -= 1 }
            lineStart = lineEnd + 1
            if start == end || bytes[start] == UInt8(ascii: "#") { continue }
            var position = start
            while position < end {
                if isSpace(bytes[position]) {
                    throw .line(file.path, lineNumber, "expected one word, found white space at column \(position - start + 1)")
                }
                var best = -1
                var bestLength = 0
                for (index, text) in alphabet.enumerated() where text.count > bestLength && position + text.count <= end {
                    var matches = true
                    for (k, expected) in text.enumerated() where lowered(bytes[position + k]) != expected {
                        matches = false
                        break
                    }
                    if matches {
                        best = index
                        bestLength = text.count
                    }
                }
                guard best >= 0 else {
                    var characterEnd = position + 1
                    while characterEnd < end && bytes[characterEnd] & 0xC0 == 0x80 { characterEnd += 1 }
                    let character = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[position..<characterEnd]), as: UTF8.self)
                    throw .line(file.path, lineNumber, "\"\(character)\" at column \(position - start + 1) is not in the model's alphabet")
                }
                symbol(Int32(best + 1))
                position += bestLength
            }
            wordEnd()
        }
    }

    private static func lowered(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte + 32 : byte
    }
}

/// The words of a lexicon as a prefix trie in caller-provided (arena) memory: node 0 the root,
/// each node's children in a linked list (first child, next sibling), each node the class index
/// of the symbol that leads to it and whether a word ends there.
public struct Lexicon {
    let firstChild: UnsafeMutablePointer<Int32>
    let nextSibling: UnsafeMutablePointer<Int32>
    let label: UnsafeMutablePointer<Int32>
    let terminal: UnsafeMutablePointer<Int32>
    public let capacity: Int
    public let words: Int
    public private(set) var nodes = 1

    static func bytes(nodes: Int) -> Int { 4 * nodes * MemoryLayout<Int32>.stride }

    init(memory: UnsafeMutableRawPointer, capacity: Int, words: Int) {
        var carver = WorkspaceCarver(start: memory)
        firstChild = carver.take(Int32.self, capacity)
        nextSibling = carver.take(Int32.self, capacity)
        label = carver.take(Int32.self, capacity)
        terminal = carver.take(Int32.self, capacity)
        self.capacity = capacity
        self.words = words
        firstChild[0] = -1
        nextSibling[0] = -1
        label[0] = 0
        terminal[0] = 0
    }

    /// The child of `node` reached by class `c`, or −1.
    @inline(__always)
    public func child(of node: Int32, _ c: Int32) -> Int32 {
        var child = firstChild[Int(node)]
        while child >= 0 {
            if label[Int(child)] == c { return child }
            child = nextSibling[Int(child)]
        }
        return -1
    }

    @inline(__always)
    public func isWord(_ node: Int32) -> Bool { terminal[Int(node)] != 0 }

    mutating func insert(_ c: Int32, below node: Int32) -> Int32 {
        let existing = child(of: node, c)
        if existing >= 0 { return existing }
        precondition(nodes < capacity, "lexicon trie larger than its count of symbols")
        let new = Int32(nodes)
        nodes += 1
        firstChild[Int(new)] = -1
        nextSibling[Int(new)] = firstChild[Int(node)]
        label[Int(new)] = c
        terminal[Int(new)] = 0
        firstChild[Int(node)] = new
        return new
    }

    func markWord(_ node: Int32) { terminal[Int(node)] = 1 }
}
