import CDactylPlatform

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
/// It allocates nothing: the two score rows and the back-pointers (one byte per frame and
/// state) live in a workspace of `workspaceBytes` bytes that the caller provides.
public enum CTCAlignment {
    /// Size of the workspace `letterSpans` needs for `labels` letters over `frames` frames.
    public static func workspaceBytes(frames: Int, labels: Int) -> Int {
        let states = 2 * labels + 1
        return 2 * states * MemoryLayout<Float>.stride + frames * states
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
        var carver = WorkspaceCarver(start: workspace)
        var previous = carver.take(Float.self, states)
        var current = carver.take(Float.self, states)
        // Per frame and state, how many states back its best predecessor is (0, 1 or 2).
        let backSteps = carver.take(UInt8.self, frames * states)

        @inline(__always) func stateClass(_ state: Int) -> Int {
            state & 1 == 0 ? ctcBlank : Int(labels[state >> 1])
        }

        previous.update(repeating: -.infinity, count: states)
        previous[0] = logProbs[ctcBlank]
        previous[1] = logProbs[stateClass(1)]
        for frame in 1..<frames {
            let row = logProbs + frame * classes
            let steps = backSteps + frame * states
            for state in 0..<states {
                // Candidates from the highest state down, a tie (>=) moving to the lower one.
                var best = previous[state]
                var step: UInt8 = 0
                if state >= 1 && previous[state - 1] >= best {
                    best = previous[state - 1]
                    step = 1
                }
                // A letter may follow the previous letter directly unless they are equal.
                if state & 1 == 1 && state >= 3 && labels[state >> 1] != labels[(state >> 1) - 1]
                    && previous[state - 2] >= best {
                    best = previous[state - 2]
                    step = 2
                }
                current[state] = best + row[stateClass(state)]
                steps[state] = step
            }
            swap(&previous, &current)
        }

        let lastLetterState = states - 2
        var state = previous[lastLetterState] >= previous[states - 1] ? lastLetterState : states - 1
        guard previous[state] > -.infinity else { return false }

        for k in 0..<labelCount {
            spans[k] = CTCLetterSpan(classIndex: labels[k], startFrame: -1, endFrame: -1, score: -.infinity)
        }
        // Walking back, a letter's state is met first at its last frame, last at its first.
        var frame = frames - 1
        while true {
            if state & 1 == 1 {
                let k = state >> 1
                if spans[k].endFrame < 0 { spans[k].endFrame = Int32(frame) }
                spans[k].startFrame = Int32(frame)
                spans[k].score = max(spans[k].score, logProbs[frame * classes + Int(labels[k])])
            }
            if frame == 0 { break }
            state -= Int(backSteps[frame * states + state])
            frame -= 1
        }
        // exp is monotonic, so the exp of the highest log-probability is the highest posterior.
        for k in 0..<labelCount {
            spans[k].score = dactyl_expf(spans[k].score)
        }
        return true
    }
}
