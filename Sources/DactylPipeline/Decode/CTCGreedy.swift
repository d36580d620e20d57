/// Greedy CTC decoding (docs/ctc-decoding.md, "Greedy"): the arg-max class of every frame,
/// the lowest index winning a tie, consecutive repeats merged, blanks (class 0) dropped.
public enum CTCGreedy {
    /// Decodes log-probabilities `logProbs[frames][classes]` into `labels` (room for `frames`
    /// class indices) and returns how many it wrote.
    public static func decode(logProbs: UnsafePointer<Float>, frames: Int, classes: Int,
                              into labels: UnsafeMutablePointer<Int32>) -> Int {
        precondition(frames >= 0 && classes >= 1, "CTC needs at least the blank class")
        var count = 0
        var previous = -1
        for frame in 0..<frames {
            let row = logProbs + frame * classes
            var best = 0
            for c in 1..<classes where row[c] > row[best] { best = c }
            if best != previous && best != ctcBlank {
                labels[count] = Int32(best)
                count += 1
            }
            previous = best
        }
        return count
    }
}

/// The CTC blank's class index, fixed by the model format.
let ctcBlank = 0
