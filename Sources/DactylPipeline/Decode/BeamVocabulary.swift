/// What constrains and scores the prefix beam search beyond the acoustic model: a lexicon (the
/// beam keeps only prefixes of its words and, at the end, prefers complete words) and a
/// character language model (weighted into every extension, with an insertion bonus).
/// docs/ctc-decoding.md, "Lexicon and language model", has the rules. Both live in arena
/// memory; decoding with them allocates nothing.
public struct BeamVocabulary {
    public var lexicon: Lexicon?
    public var languageModel: CharacterLM?
    public var lmWeight: Float
    /// Added to the score of every extension of a prefix by a symbol.
    public var insertionBonus: Float
    /// The word separator's class (the alphabet's " "), or −1.
    public var separatorClass: Int32

    public init(lexicon: Lexicon?, languageModel: CharacterLM?, lmWeight: Float, insertionBonus: Float, separatorClass: Int32) {
        self.lexicon = lexicon
        self.languageModel = languageModel
        self.lmWeight = lmWeight
        self.insertionBonus = insertionBonus
        self.separatorClass = separatorClass
    }

    /// The lexicon state after extending a prefix at trie node `node` with class `c`: the child
    /// node, the root after a complete word and the separator, or −1 where no word continues.
    @inline(__always)
    func lexiconNode(after node: Int32, _ c: Int32) -> Int32 {
        guard let lexicon else { return 0 }
        if c == separatorClass { return lexicon.isWord(node) ? 0 : -1 }
        return lexicon.child(of: node, c)
    }

    /// The language model's row after `labels[0..<count]`: the history is the current word (the
    /// labels after the last separator) after order − 1 boundaries.
    @inline(__always)
    func languageModelRow(labels: UnsafePointer<Int32>, count: Int) -> UnsafePointer<Float>? {
        guard let model = languageModel else { return nil }
        var wordStart = count
        while wordStart > 0 && labels[wordStart - 1] != separatorClass { wordStart -= 1 }
        return model.row { age in
            let position = count - age
            return position >= wordStart ? model.classToSymbol[Int(labels[position])] : 0
        }
    }

    /// The score added to an extension by class `c` after the row `row` (nil: no LM).
    @inline(__always)
    func extensionScore(_ row: UnsafePointer<Float>?, _ c: Int) -> Float {
        guard let row, let model = languageModel else { return insertionBonus }
        return lmWeight * row[Int(model.classToSymbol[c])] + insertionBonus
    }

    /// Added to a final beam's total: the language model's end of the word.
    func finalScore(labels: UnsafePointer<Int32>, count: Int) -> Float {
        guard let row = languageModelRow(labels: labels, count: count) else { return 0 }
        return lmWeight * row[0]
    }
}

/// The lexicon and language model files opened and checked at start-up: how much arena memory
/// they take, and installing them there.
public struct VocabularyFiles {
    public let lexicon: LexiconFile?
    public let languageModel: CharacterLMFile?
    let separatorClass: Int32

    public init(lexiconPath: String?, languageModelPath: String?, alphabet: [String]) throws(VocabularyError) {
        lexicon = try lexiconPath.map { path throws(VocabularyError) in try LexiconFile(path: path, alphabet: alphabet) }
        languageModel = try languageModelPath.map { path throws(VocabularyError) in
            try CharacterLMFile(path: path, alphabet: alphabet)
        }
        var separator: Int32 = -1
        for (index, symbol) in alphabet.enumerated() where Array(symbol.utf8) == [0x20] { separator = Int32(index + 1) }
        separatorClass = separator
    }

    private static func aligned(_ bytes: Int) -> Int { (bytes + 63) / 64 * 64 }

    /// Arena bytes for both (0 when neither is given).
    public var arenaBytes: Int {
        VocabularyFiles.aligned(lexicon?.trieBytes ?? 0) + (languageModel?.arenaBytes ?? 0)
    }

    /// Builds the trie and copies the model into `memory` (`arenaBytes`, 64-byte aligned).
    public func install(into memory: UnsafeMutableRawPointer, lmWeight: Float, insertionBonus: Float) -> BeamVocabulary {
        let trie = lexicon?.install(into: memory)
        let model = languageModel?.install(into: memory + VocabularyFiles.aligned(lexicon?.trieBytes ?? 0))
        return BeamVocabulary(lexicon: trie, languageModel: model, lmWeight: lmWeight, insertionBonus: insertionBonus,
                              separatorClass: separatorClass)
    }
}
