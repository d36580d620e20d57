import DactylModel

/// The decoding stage: greedy or prefix beam search, then the letter spans, on one workspace
/// planned in the arena (`workspaceBytes`), so decoding allocates nothing.
public struct CTCDecoder {
    public enum Method: Equatable, Sendable {
        case greedy
        case beam(width: Int)
    }

    /// The decoded class indices and one span per letter, valid until the next `decode`.
    public struct Result {
        public let labels: UnsafeBufferPointer<Int32>
        /// Empty if no alignment has a non-zero probability (log-probabilities of −∞ everywhere).
        public let spans: UnsafeBufferPointer<CTCLetterSpan>
    }

    public let method: Method
    public let maximumFrames: Int
    public let classes: Int
    /// The lexicon and language model of the beam search (nil: none; greedy ignores it).
    public let vocabulary: BeamVocabulary?
    private let labels: UnsafeMutablePointer<Int32>
    private let spans: UnsafeMutablePointer<CTCLetterSpan>
    private let searchWorkspace: UnsafeMutableRawPointer

    private static func labelBytes(_ frames: Int) -> Int { aligned(frames * MemoryLayout<Int32>.stride) }
    private static func spanBytes(_ frames: Int) -> Int { aligned(frames * MemoryLayout<CTCLetterSpan>.stride) }
    private static func aligned(_ bytes: Int) -> Int { (bytes + 63) / 64 * 64 }

    /// Workspace for decoding up to `frames` frames of `classes` classes (with a vocabulary
    /// when `vocabulary` is true); `Int.max` where that overflows (planning rejects it).
    public static func workspaceBytes(frames: Int, classes: Int, method: Method, vocabulary: Bool = false) -> Int {
        guard frames >= 0, frames <= 1 << 40 else { return .max }
        var search = CTCAlignment.workspaceBytes(frames: frames, labels: frames)
        if case .beam(let width) = method {
            var beam = CTCPrefixBeam.workspaceBytes(frames: frames, classes: classes, beamWidth: width)
            if vocabulary {
                beam = aligned(beam) + CTCPrefixBeam.vocabularyWorkspaceBytes(classes: classes, beamWidth: width)
            }
            search = max(search, beam)
        }
        return CheckedSize.saturatingSum(labelBytes(frames) + spanBytes(frames), search)
    }

    /// `workspace` must be 64-byte aligned and `workspaceBytes(frames:classes:method:vocabulary:)`
    /// long, `vocabulary` true if `vocabulary` is given.
    public init(workspace: UnsafeMutableRawPointer, frames: Int, classes: Int, method: Method,
                vocabulary: BeamVocabulary? = nil) {
        self.method = method
        self.vocabulary = vocabulary
        self.maximumFrames = frames
        self.classes = classes
        labels = workspace.bindMemory(to: Int32.self, capacity: frames)
        spans = (workspace + CTCDecoder.labelBytes(frames)).bindMemory(to: CTCLetterSpan.self, capacity: frames)
        searchWorkspace = workspace + CTCDecoder.labelBytes(frames) + CTCDecoder.spanBytes(frames)
    }

    public func decode(logProbs: UnsafePointer<Float>, frames: Int) -> Result {
        precondition(frames <= maximumFrames, "more frames than the decoder was planned for")
        let count: Int
        switch method {
        case .greedy:
            count = CTCGreedy.decode(logProbs: logProbs, frames: frames, classes: classes, into: labels)
        case .beam(let width):
            let vocabularyWorkspace = searchWorkspace
                + CTCDecoder.aligned(CTCPrefixBeam.workspaceBytes(frames: maximumFrames, classes: classes, beamWidth: width))
            count = CTCPrefixBeam.decode(logProbs: logProbs, frames: frames, classes: classes, beamWidth: width,
                                         workspace: searchWorkspace, vocabulary: vocabulary,
                                         vocabularyWorkspace: vocabulary == nil ? nil : vocabularyWorkspace, into: labels)
        }
        let aligned = CTCAlignment.letterSpans(logProbs: logProbs, frames: frames, classes: classes, labels: labels,
                                               labelCount: count, workspace: searchWorkspace, into: spans)
        return Result(labels: UnsafeBufferPointer(start: labels, count: count),
                      spans: UnsafeBufferPointer(start: spans, count: aligned ? count : 0))
    }
}
