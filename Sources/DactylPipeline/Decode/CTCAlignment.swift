import CDactylPlatform
import DactylModel

/// One decoded letter and the frames that the most likely CTC alignment gives it.
public struct CTCLetterSpan: Equatable {
    public var classIndex: Int32
    /// First frame of the span.
    public var startFrame: Int32
    /// Last frame of the span (inclusive).
    public var endFrame: Int32
    /// The highest posterior `exp(lp[t][classIndex])` within the span.
    public var score: Float

    public init(classIndex: Int32, startFrame: Int32, endFrame: Int32, score: Float) {
        self.classIndex = classIndex
        self.startFrame = startFrame
        self.endFrame = endFrame
        self.score = score
    }
}

/// Letter spans (docs/ctc-decoding.md, "Letter spans"): Viterbi over the blank-interleaved
/// label sequence (blank, l1, blank, l2, ..., lN, blank), ties going to the lower state, both
/// between predecessors and between the two final states.
///
/// It allocates nothing: everything lives in a workspace of `workspaceBytes` bytes that the
/// caller provides. Keeping every back-pointer (frames x states, with up to 2·frames + 1 states)
/// grows with the square of the clip (800 MB for 20,000 frames at a byte each), so the forward
/// pass keeps only the score row at the end of every block of B ≈ 4·√frames frames; the trace
/// back then recomputes one block at a time from its checkpoint, with 2-bit back-pointers for
/// that block only. The recomputation repeats the same float operations in the same order, so
/// the back-pointers, and the spans, are exactly those of the full table (about 11 MB for
/// 20,000 frames; twice the arithmetic).
public enum CTCAlignment {
    /// Frames per recomputed block: about 4·√frames balances the checkpoint rows (4·states
    /// bytes each, frames/B of them) against the block's back-pointers (B·states/4 bytes).
    static func blockFrames(_ frames: Int) -> Int {
        var block = 1
        while block * block < 16 * frames { block += 1 }
        return block
    }

    /// Size of the workspace `letterSpans` needs for `labels` letters over `frames` frames;
    /// `Int.max` where that overflows (no arena can hold it, so planning rejects it).
    public static func workspaceBytes(frames: Int, labels: Int) -> Int {
        guard frames >= 0, labels >= 0, frames <= 1 << 40, labels <= 1 << 40 else { return .max }
        let states = 2 * labels + 1
        let block = blockFrames(max(frames, 1))
        let checkpoints = (max(frames, 1) - 1) / block
        guard let rowBytes = CheckedSize.product(2 + checkpoints, states, MemoryLayout<Float>.stride),
              let cells = CheckedSize.product(block, states),
              let total = CheckedSize.sum(rowBytes, (cells + 3) / 4) else { return .max }
        return total
    }

    /// Alignment of the workspace `letterSpans` needs.
    public static var workspaceAlignment: Int { MemoryLayout<Float>.alignment }

    /// Writes one span per label of `labels[labelCount]` (the decoded class indices) to
    /// `spans`. Returns false when no alignment of the labels to `frames` frames has a
    /// non-zero probability; `spans` is then unspecified.
    public static func letterSpans(logProbs: UnsafePointer<Float>, frames: Int, classes: Int,
                                   labels: UnsafePointer<Int32>, labelCount: Int,
                                   workspace: UnsafeMutableRawPointer,
                                   into spans: UnsafeMutablePointer<CTCLetterSpan>) -> Bool {
        precondition(frames >= 0 && classes >= 1 && labelCount >= 0, "invalid CTC alignment dimensions")
        guard labelCount > 0 else { return true }
        guard frames > 0 else { return false }
        let states = 2 * labelCount + 1
        let block = blockFrames(frames)
        let blocks = (frames - 1) / block + 1
        var carver = WorkspaceCarver(start: workspace)
        var previous = carver.take(Float.self, states)
        var current = carver.take(Float.self, states)
        // Checkpoint k (1 ≤ k < blocks) is the score row of frame k·block − 1.
        let checkpoints = carver.take(Float.self, (blocks - 1) * states)
        // Per frame of one block and state, how many states back its best predecessor is (0, 1
        // or 2), 2 bits each.
        let backSteps = carver.take(UInt8.self, (block * states + 3) / 4)

        @inline(__always) func stateClass(_ state: Int) -> Int {
            state & 1 == 0 ? ctcBlank : Int(labels[state >> 1])
        }

        /// One Viterbi step from `from` (frame t − 1) to `to` (frame t); with `steps`, also
        /// stores the back-pointers as row `stepRow` of the block's table.
        func advance(from: UnsafeMutablePointer<Float>, to: UnsafeMutablePointer<Float>, frame: Int, stepRow: Int?) {
            let row = logProbs + frame * classes
            for state in 0..<states {
                // Candidates from the highest state down, a tie (>=) moving to the lower one.
                var best = from[state]
                var step: UInt8 = 0
                if state >= 1 && from[state - 1] >= best {
                    best = from[state - 1]
                    step = 1
                }
                // A letter may follow the previous letter directly unless they are equal.
                if state & 1 == 1 && state >= 3 && labels[state >> 1] != labels[(state >> 1) - 1]
                    && from[state - 2] >= best {
                    best = from[state - 2]
                    step = 2
                }
                to[state] = best + row[stateClass(state)]
                if let stepRow {
                    let cell = stepRow * states + state
                    let shift = UInt8((cell & 3) * 2)
                    backSteps[cell >> 2] = (backSteps[cell >> 2] & ~(3 << shift)) | (step << shift)
                }
            }
        }

        func startRow(_ row: UnsafeMutablePointer<Float>) {
            row.update(repeating: -.infinity, count: states)
            row[0] = logProbs[ctcBlank]
            row[1] = logProbs[stateClass(1)]
        }

        // Forward: scores only, saving the row before each block.
        startRow(previous)
        for frame in 1..<max(frames, 1) {
            if frame % block == 0 {
                (checkpoints + (frame / block - 1) * states).update(from: previous, count: states)
            }
            advance(from: previous, to: current, frame: frame, stepRow: nil)
            swap(&previous, &current)
        }

        let lastLetterState = states - 2
        var state = previous[lastLetterState] >= previous[states - 1] ? lastLetterState : states - 1
        guard previous[state] > -.infinity else { return false }

        for k in 0..<labelCount {
            spans[k] = CTCLetterSpan(classIndex: labels[k], startFrame: -1, endFrame: -1, score: -.infinity)
        }
        // Backward, a block at a time from the last: recompute its back-pointers from its
        // checkpoint, then walk them. Walking back, a letter's state is met first at its last
        // frame, last at its first.
        for index in stride(from: blocks - 1, through: 0, by: -1) {
            let first = index * block
            let end = min(frames, first + block)
            if index == 0 {
                startRow(previous)
            } else {
                previous.update(from: checkpoints + (index - 1) * states, count: states)
            }
            for frame in max(first, 1)..<max(end, max(first, 1)) {
                advance(from: previous, to: current, frame: frame, stepRow: frame - first)
                swap(&previous, &current)
            }
            for frame in stride(from: end - 1, through: first, by: -1) {
                if state & 1 == 1 {
                    let k = state >> 1
                    if spans[k].endFrame < 0 { spans[k].endFrame = Int32(frame) }
                    spans[k].startFrame = Int32(frame)
                    spans[k].score = max(spans[k].score, logProbs[frame * classes + Int(labels[k])])
                }
                if frame == 0 { break }
                let cell = (frame - first) * states + state
                state -= Int((backSteps[cell >> 2] >> UInt8((cell & 3) * 2)) & 3)
            }
        }
        // exp is monotonic, so the exp of the highest log-probability is the highest posterior.
        for k in 0..<labelCount {
            spans[k].score = dactyl_expf(spans[k].score)
        }
        return true
    }
}
