import CDactylPlatform
import DactylModel

/// CTC prefix beam search exactly as docs/ctc-decoding.md, "Prefix beam search", specifies it,
/// including its tie rules, so that it agrees with the Python reference on the golden vectors.
///
/// Decoding allocates nothing: all state lives in a workspace of `workspaceBytes` bytes that
/// the caller provides (the arena). Prefixes are stored as label arrays of capacity `frames`
/// (a prefix grows by at most one label per frame), two generations of `beamWidth` of them.
public enum CTCPrefixBeam {
    /// Size of the workspace `decode` needs for these dimensions; `Int.max` where that
    /// overflows (no arena can hold it, so planning rejects it instead of trapping).
    public static func workspaceBytes(frames: Int, classes: Int, beamWidth: Int) -> Int {
        // Each factor is bounded first, so the sums and small multiples below cannot overflow.
        guard let candidates = CheckedSize.product(beamWidth, classes), candidates <= 1 << 40,
              let prefixes = CheckedSize.product(beamWidth, frames), prefixes <= 1 << 40 else { return .max }
        let hashBytes = 2 * 2 * beamWidth * MemoryLayout<UInt64>.stride
        let generationBytes = 2 * (prefixes + 3 * beamWidth) * 4
        let candidateBytes = (5 * candidates + 3 * beamWidth) * 4
        return hashBytes + generationBytes + candidateBytes
    }

    /// Alignment of the workspace `decode` needs.
    public static var workspaceAlignment: Int { MemoryLayout<UInt64>.alignment }

    /// Size of the second workspace `decode` needs with a vocabulary: the lexicon's trie node
    /// of every beam (two generations) and of every candidate.
    public static func vocabularyWorkspaceBytes(classes: Int, beamWidth: Int) -> Int {
        (2 * beamWidth + beamWidth * classes) * MemoryLayout<Int32>.stride
    }

    /// Decodes log-probabilities `logProbs[frames][classes]` (class 0 the blank) with beam width
    /// `beamWidth` into `labels` (room for `frames` class indices) and returns how many it wrote.
    public static func decode(logProbs: UnsafePointer<Float>, frames: Int, classes: Int, beamWidth: Int,
                              workspace: UnsafeMutableRawPointer,
                              into labels: UnsafeMutablePointer<Int32>) -> Int {
        decode(logProbs: logProbs, frames: frames, classes: classes, beamWidth: beamWidth, workspace: workspace,
               vocabulary: nil, vocabularyWorkspace: nil, into: labels)
    }

    /// Decodes as above, constrained and scored by `vocabulary` (docs/ctc-decoding.md, "Lexicon
    /// and language model"); `vocabularyWorkspace` (`vocabularyWorkspaceBytes`, 4-byte aligned)
    /// is needed when `vocabulary` is given.
    public static func decode(logProbs: UnsafePointer<Float>, frames: Int, classes: Int, beamWidth: Int,
                              workspace: UnsafeMutableRawPointer, vocabulary: BeamVocabulary?,
                              vocabularyWorkspace: UnsafeMutableRawPointer?,
                              into labels: UnsafeMutablePointer<Int32>) -> Int {
        precondition(frames >= 0 && classes >= 1 && beamWidth >= 1, "invalid CTC beam search dimensions")
        precondition(vocabulary == nil || vocabularyWorkspace != nil, "a vocabulary needs its workspace")
        var search = PrefixBeamSearch(workspace: workspace, frames: frames, classes: classes, beamWidth: beamWidth,
                                      vocabulary: vocabulary, vocabularyWorkspace: vocabularyWorkspace)
        for frame in 0..<frames {
            search.step(logProbs: logProbs + frame * classes)
        }
        return search.writeBest(into: labels)
    }
}

/// logaddexp with −∞ ⊕ x = x, in the doc's form `max + log(1 + exp(min − max))`.
@inline(__always)
func logAddExp(_ a: Float, _ b: Float) -> Float {
    if a == -.infinity { return b }
    if b == -.infinity { return a }
    let high = max(a, b)
    let low = min(a, b)
    return high + dactyl_logf(1 + dactyl_expf(low - high))
}

/// One generation of beams, in rank order.
private struct Beams {
    /// `[beamWidth][frames]`: beam i's prefix is `labels[i * frames ..< i * frames + lengths[i]]`.
    let labels: UnsafeMutablePointer<Int32>
    let lengths: UnsafeMutablePointer<Int32>
    /// A hash of each prefix and of the prefix without its last label: equal prefixes have
    /// equal hashes, so only a matching hash needs the full comparison.
    let hashes: UnsafeMutablePointer<UInt64>
    let parentHashes: UnsafeMutablePointer<UInt64>
    /// log-score of the paths ending in blank (pb) and in the prefix's last label (pnb).
    let blankScores: UnsafeMutablePointer<Float>
    let labelScores: UnsafeMutablePointer<Float>
    var count = 0
}

private let emptyPrefixHash: UInt64 = 0xcbf2_9ce4_8422_2325

/// FNV-1a, one step per label.
@inline(__always)
private func hashAppending(_ label: Int32, to hash: UInt64) -> UInt64 {
    (hash ^ UInt64(UInt32(bitPattern: label))) &* 0x0000_0100_0000_01b3
}

/// The state of one decode, laid out in the caller's workspace.
private struct PrefixBeamSearch {
    let frames: Int
    let classes: Int
    let beamWidth: Int
    var current: Beams
    var next: Beams

    /// `[beamWidth][classes]`: the current beam whose prefix is beam q's prefix plus class c,
    /// or −1. Extending q by c then lands on that beam's own next-generation entry.
    let extensionBeams: UnsafeMutablePointer<Int32>
    /// Per current beam: the candidate holding its own prefix, or −1 until it is created.
    let ownCandidates: UnsafeMutablePointer<Int32>
    /// Next-generation candidates in creation order: a current beam and the class it is
    /// extended with (−1: the beam's prefix unchanged), and their two log-scores.
    let candidateParents: UnsafeMutablePointer<Int32>
    let candidateAppended: UnsafeMutablePointer<Int32>
    let candidateBlankScores: UnsafeMutablePointer<Float>
    let candidateLabelScores: UnsafeMutablePointer<Float>
    var candidateCount = 0
    /// The best `beamWidth` candidates, best first, and their totals.
    let ranked: UnsafeMutablePointer<Int32>
    let rankedTotals: UnsafeMutablePointer<Float>

    let vocabulary: BeamVocabulary?
    /// With a vocabulary: the lexicon trie node of each current and next beam and of each
    /// candidate (0, the root, without a lexicon).
    var currentNodes: UnsafeMutablePointer<Int32>?
    var nextNodes: UnsafeMutablePointer<Int32>?
    let candidateNodes: UnsafeMutablePointer<Int32>?

    init(workspace: UnsafeMutableRawPointer, frames: Int, classes: Int, beamWidth: Int,
         vocabulary: BeamVocabulary?, vocabularyWorkspace: UnsafeMutableRawPointer?) {
        precondition(Int(bitPattern: workspace) % CTCPrefixBeam.workspaceAlignment == 0,
                     "CTC beam search workspace is misaligned")
        self.frames = frames
        self.classes = classes
        self.beamWidth = beamWidth
        let candidates = beamWidth * classes
        // The 8-byte arrays first, so that every array is aligned without padding; this order
        // is what CTCPrefixBeam.workspaceBytes counts.
        var carver = WorkspaceCarver(start: workspace)
        let hashes = (carver.take(UInt64.self, beamWidth), carver.take(UInt64.self, beamWidth))
        let parentHashes = (carver.take(UInt64.self, beamWidth), carver.take(UInt64.self, beamWidth))
        current = Beams(labels: carver.take(Int32.self, beamWidth * frames),
                        lengths: carver.take(Int32.self, beamWidth),
                        hashes: hashes.0, parentHashes: parentHashes.0,
                        blankScores: carver.take(Float.self, beamWidth),
                        labelScores: carver.take(Float.self, beamWidth))
        next = Beams(labels: carver.take(Int32.self, beamWidth * frames),
                     lengths: carver.take(Int32.self, beamWidth),
                     hashes: hashes.1, parentHashes: parentHashes.1,
                     blankScores: carver.take(Float.self, beamWidth),
                     labelScores: carver.take(Float.self, beamWidth))
        extensionBeams = carver.take(Int32.self, candidates)
        ownCandidates = carver.take(Int32.self, beamWidth)
        candidateParents = carver.take(Int32.self, candidates)
        candidateAppended = carver.take(Int32.self, candidates)
        candidateBlankScores = carver.take(Float.self, candidates)
        candidateLabelScores = carver.take(Float.self, candidates)
        ranked = carver.take(Int32.self, beamWidth)
        rankedTotals = carver.take(Float.self, beamWidth)
        precondition(carver.bytesTaken == CTCPrefixBeam.workspaceBytes(frames: frames, classes: classes,
                                                                        beamWidth: beamWidth),
                     "CTC beam search workspace layout and size disagree")
        self.vocabulary = vocabulary
        if vocabulary != nil, let vocabularyWorkspace {
            var nodes = WorkspaceCarver(start: vocabularyWorkspace)
            currentNodes = nodes.take(Int32.self, beamWidth)
            nextNodes = nodes.take(Int32.self, beamWidth)
            candidateNodes = nodes.take(Int32.self, beamWidth * classes)
            currentNodes![0] = 0
        } else {
            currentNodes = nil
            nextNodes = nil
            candidateNodes = nil
        }

        // One beam: the empty prefix, pb = 0, pnb = −∞.
        current.count = 1
        current.lengths[0] = 0
        current.hashes[0] = emptyPrefixHash
        current.parentHashes[0] = emptyPrefixHash
        current.blankScores[0] = 0
        current.labelScores[0] = -.infinity
    }

    /// Advances the beams by one frame of log-probabilities `row[classes]`.
    mutating func step(logProbs row: UnsafePointer<Float>) {
        linkExtensions()
        candidateCount = 0
        for beam in 0..<current.count {
            ownCandidates[beam] = -1
        }
        // Beams in rank order, classes in increasing order: this is the creation order that
        // decides ties.
        for beam in 0..<current.count {
            let blankScore = current.blankScores[beam]
            let labelScore = current.labelScores[beam]
            let total = logAddExp(blankScore, labelScore)
            let length = Int(current.lengths[beam])
            let last = length > 0 ? Int(current.labels[beam * frames + length - 1]) : -1
            if let vocabulary {
                stepWithVocabulary(vocabulary, beam: beam, row: row, length: length, last: last)
                continue
            }
            for c in 0..<classes {
                let p = row[c]
                if c == ctcBlank {
                    let own = ownCandidate(of: beam)
                    candidateBlankScores[own] = logAddExp(candidateBlankScores[own], total + p)
                } else if c == last {
                    let own = ownCandidate(of: beam)
                    candidateLabelScores[own] = logAddExp(candidateLabelScores[own], labelScore + p)
                    let extended = extensionCandidate(of: beam, with: c)
                    candidateLabelScores[extended] = logAddExp(candidateLabelScores[extended], blankScore + p)
                } else {
                    let extended = extensionCandidate(of: beam, with: c)
                    candidateLabelScores[extended] = logAddExp(candidateLabelScores[extended], total + p)
                }
            }
        }
        let kept = rankCandidates()
        for rank in 0..<kept {
            materialize(candidate: Int(ranked[rank]), as: rank)
        }
        next.count = kept
        swap(&current, &next)
        swap(&currentNodes, &nextNodes)
    }

    /// One beam's candidates as `step` makes them, with the vocabulary's rules: an extension
    /// must keep the prefix inside the lexicon and scores the LM and the insertion bonus on top.
    private mutating func stepWithVocabulary(_ vocabulary: BeamVocabulary, beam: Int, row: UnsafePointer<Float>,
                                             length: Int, last: Int) {
        let blankScore = current.blankScores[beam]
        let labelScore = current.labelScores[beam]
        let total = logAddExp(blankScore, labelScore)
        let node = currentNodes![beam]
        let lmRow = vocabulary.languageModelRow(labels: current.labels + beam * frames, count: length)
        for c in 0..<classes {
            let p = row[c]
            if c == ctcBlank {
                let own = ownCandidate(of: beam)
                candidateBlankScores[own] = logAddExp(candidateBlankScores[own], total + p)
                continue
            }
            if c == last {
                let own = ownCandidate(of: beam)
                candidateLabelScores[own] = logAddExp(candidateLabelScores[own], labelScore + p)
            }
            let child = vocabulary.lexiconNode(after: node, Int32(c))
            if child < 0 { continue }
            let source = c == last ? blankScore : total
            let extended = extensionCandidate(of: beam, with: c, node: child)
            candidateLabelScores[extended] = logAddExp(candidateLabelScores[extended],
                                                       source + p + vocabulary.extensionScore(lmRow, c))
        }
    }

    /// Fills `extensionBeams` for the current generation: which beam is which other beam plus
    /// one label. Beams are distinct prefixes, so each has at most one such parent.
    private func linkExtensions() {
        extensionBeams.update(repeating: -1, count: current.count * classes)
        for child in 0..<current.count {
            let childLength = Int(current.lengths[child])
            guard childLength > 0 else { continue }
            for parent in 0..<current.count
            where Int(current.lengths[parent]) == childLength - 1
                && current.hashes[parent] == current.parentHashes[child]
                && sameLabels(parent, child, count: childLength - 1) {
                let last = Int(current.labels[child * frames + childLength - 1])
                extensionBeams[parent * classes + last] = Int32(child)
                break
            }
        }
    }

    private func sameLabels(_ a: Int, _ b: Int, count: Int) -> Bool {
        let first = current.labels + a * frames
        let second = current.labels + b * frames
        for i in 0..<count where first[i] != second[i] { return false }
        return true
    }

    /// The candidate for beam `beam`'s own prefix, created on first use.
    private mutating func ownCandidate(of beam: Int) -> Int {
        if ownCandidates[beam] < 0 {
            ownCandidates[beam] = Int32(newCandidate(parent: beam, appended: -1, node: currentNodes?[beam] ?? 0))
        }
        return Int(ownCandidates[beam])
    }

    /// The candidate for beam `beam`'s prefix plus class `c`: another beam's own candidate if
    /// that beam is this prefix, else a new one (each beam and class pair is visited once).
    private mutating func extensionCandidate(of beam: Int, with c: Int, node: Int32 = 0) -> Int {
        let existing = Int(extensionBeams[beam * classes + c])
        return existing >= 0 ? ownCandidate(of: existing) : newCandidate(parent: beam, appended: c, node: node)
    }

    private mutating func newCandidate(parent: Int, appended: Int, node: Int32 = 0) -> Int {
        let index = candidateCount
        candidateNodes?[index] = node
        candidateParents[index] = Int32(parent)
        candidateAppended[index] = Int32(appended)
        candidateBlankScores[index] = -.infinity
        candidateLabelScores[index] = -.infinity
        candidateCount += 1
        return index
    }

    /// Puts the best `beamWidth` candidates in `ranked`, best first; a candidate only
    /// overtakes one with a strictly lower total, so among equal totals the earlier-created
    /// one ranks first (a stable sort's order). Returns how many were kept.
    private func rankCandidates() -> Int {
        var kept = 0
        for candidate in 0..<candidateCount {
            let total = logAddExp(candidateBlankScores[candidate], candidateLabelScores[candidate])
            if kept == beamWidth && !(total > rankedTotals[kept - 1]) { continue }
            var position = kept == beamWidth ? kept - 1 : kept
            while position > 0 && rankedTotals[position - 1] < total {
                ranked[position] = ranked[position - 1]
                rankedTotals[position] = rankedTotals[position - 1]
                position -= 1
            }
            ranked[position] = Int32(candidate)
            rankedTotals[position] = total
            if kept < beamWidth { kept += 1 }
        }
        return kept
    }

    /// Writes candidate `candidate` as next-generation beam `slot`.
    private func materialize(candidate: Int, as slot: Int) {
        let parent = Int(candidateParents[candidate])
        let appended = candidateAppended[candidate]
        let length = Int(current.lengths[parent])
        let labels = next.labels + slot * frames
        labels.update(from: current.labels + parent * frames, count: length)
        if appended >= 0 {
            labels[length] = appended
            next.lengths[slot] = Int32(length + 1)
            next.parentHashes[slot] = current.hashes[parent]
            next.hashes[slot] = hashAppending(appended, to: current.hashes[parent])
        } else {
            next.lengths[slot] = Int32(length)
            next.parentHashes[slot] = current.parentHashes[parent]
            next.hashes[slot] = current.hashes[parent]
        }
        next.blankScores[slot] = candidateBlankScores[candidate]
        next.labelScores[slot] = candidateLabelScores[candidate]
        if let candidateNodes { nextNodes![slot] = candidateNodes[candidate] }
    }

    /// Copies the result's prefix to `labels`: the best beam (rank 0; ranking already broke
    /// ties), or with a vocabulary the best final score (total plus the LM's end of word) among
    /// the complete lexicon words if any beam is one, else among all beams; first on ties.
    func writeBest(into labels: UnsafeMutablePointer<Int32>) -> Int {
        var best = 0
        if let vocabulary, current.count > 1 {
            var onlyWords = false
            if let lexicon = vocabulary.lexicon {
                for beam in 0..<current.count where lexicon.isWord(currentNodes![beam]) { onlyWords = true }
            }
            var bestScore: Float = 0
            var found = false
            for beam in 0..<current.count {
                if onlyWords && !vocabulary.lexicon!.isWord(currentNodes![beam]) { continue }
                let score = logAddExp(current.blankScores[beam], current.labelScores[beam])
                    + vocabulary.finalScore(labels: current.labels + beam * frames, count: Int(current.lengths[beam]))
                if !found || score > bestScore {
                    best = beam
                    bestScore = score
                    found = true
                }
            }
        }
        let length = Int(current.lengths[best])
        labels.update(from: current.labels + best * frames, count: length)
        return length
    }
}

/// Hands out consecutive typed arrays from a raw workspace; each array must start aligned
/// for its type, which taking them in order of decreasing alignment guarantees.
struct WorkspaceCarver {
    let start: UnsafeMutableRawPointer
    private(set) var bytesTaken = 0

    init(start: UnsafeMutableRawPointer) {
        self.start = start
    }

    mutating func take<Element>(_: Element.Type, _ count: Int) -> UnsafeMutablePointer<Element> {
        let address = start + bytesTaken
        precondition(Int(bitPattern: address) % MemoryLayout<Element>.alignment == 0,
                     "workspace arrays taken out of alignment order")
        bytesTaken += count * MemoryLayout<Element>.stride
        return address.bindMemory(to: Element.self, capacity: count)
    }
}
