import DactylPipeline

/// `--lexicon FILE`, `--lm FILE`, `--lm-weight W`, `--insertion-bonus B`: the same for `decode`
/// and `run` (docs/ctc-decoding.md, "Lexicon and language model").
struct VocabularyOptions {
    static let names = ["--lexicon", "--lm", "--lm-weight", "--insertion-bonus"]
    static let usage = """
          --lexicon FILE     keep the beam to prefixes of these words (one per line) and prefer
                             a complete word (needs --beam)
          --lm FILE          add a character n-gram model's log-probabilities to every extension
                             (a .dclm file: python -m dactyl_quant.charlm train; needs --beam)
          --lm-weight W      the language model's weight (default: 0.3)
          --insertion-bonus B  added to every extension with --lexicon or --lm (default: 0)
        """

    let lexiconPath: String?
    let languageModelPath: String?
    let lmWeight: Float
    let insertionBonus: Float

    /// nil when neither a lexicon nor a language model is asked for.
    init?(_ arguments: Arguments, beamWidth: Int) throws(CommandError) {
        lexiconPath = arguments.value("--lexicon")
        languageModelPath = arguments.value("--lm")
        do {
            lmWeight = try arguments.decimal("--lm-weight", default: 0.3, range: 0...100)
            insertionBonus = try arguments.decimal("--insertion-bonus", default: 0, range: -100...100)
        } catch {
            throw .usage(error.message)
        }
        if beamWidth == 0 && (lexiconPath != nil || languageModelPath != nil) {
            throw .usage("--lexicon and --lm need the prefix beam search (--beam N)")
        }
        if languageModelPath == nil && arguments.value("--lm-weight") != nil {
            throw .usage("--lm-weight needs --lm FILE")
        }
        if lexiconPath == nil && languageModelPath == nil && arguments.value("--insertion-bonus") != nil {
            throw .usage("--insertion-bonus needs --lexicon or --lm")
        }
        guard lexiconPath != nil || languageModelPath != nil else { return nil }
    }

    func load(alphabet: [String]) throws(CommandError) -> VocabularyFiles {
        do {
            return try VocabularyFiles(lexiconPath: lexiconPath, languageModelPath: languageModelPath, alphabet: alphabet)
        } catch {
            throw .failed(error.description)
        }
    }
}
