import DactylKernels
import DactylModel

/// Continuous recognition for the live box: every frame, resampled to the model's rate, is encoded into a feature ring; the
/// segmenter opens a segment when signing starts, the head and a greedy decode publish a partial
/// result every few frames, and when signing ends the segment is decoded with the configured
/// method and committed as a word. A segment longer than the window is committed in pieces.
///
/// All state lives in the recogniser's arena (`workspaceBytes`, planned with the rest), so
/// `process` allocates nothing, whatever the sinks are.
public final class ContinuousRecogniser {
    public let recogniser: Recogniser
    public let settings: SegmenterFrames
    let greedy: CTCDecoder
    let configured: CTCDecoder
    let window: Int
    let letters: LetterTable

    // Arena state, one entry per ring slot where it says so.
    let previousInput: UnsafeMutablePointer<Int8>
    public private(set) var motionFloor: MotionFloor
    let slotFrameNumber: UnsafeMutablePointer<Int>
    let slotArrival: UnsafeMutablePointer<UInt64>
    var partialText: FixedText
    var wordText: FixedText
    var lastWordText: FixedText
    let wordLetters: UnsafeMutablePointer<CTCLetterSpan>
    let lastWordLetters: UnsafeMutablePointer<CTCLetterSpan>

    /// Model frames so far (the source resampled to the model's rate); model frame `e` sits in
    /// ring slot `e % window`.
    public private(set) var encoded = 0
    /// Source frames through the encoder.
    public private(set) var framesEncoded = 0
    /// Source frames that filled no model frame (a source faster than the model), not encoded.
    public private(set) var resampledAway = 0
    var resampler: FrameRateResampler
    var lastEncodedFrame: (number: Int, arrival: UInt64) = (0, 0)
    public private(set) var status = BoxStatus.idle
    public private(set) var segmentOpen = false
    var segmentStart = 0
    /// The earliest encoded frame a new segment may include (nothing before the last segment's end).
    var historyStart = 0
    var movingRun = 0
    var stillRun = 0
    var lastMoving = 0
    /// The first frame of the hand travelling out of the zone, if nothing has moved in place since.
    var travelStart: Int? = nil
    /// The last frame of the hand travelling into the zone, before anything moved in place.
    var arrivalEnd: Int? = nil
    var movedInPlace = false
    var framesSincePartial = 0
    var segmentIndex = 0
    var piece = 0
    var lastWord: (letters: Int, segment: Int, piece: Int, startFrame: Int, endFrame: Int,
                   start: UInt64, end: UInt64)? = nil
    /// Frames skipped because they repeated the previous picture exactly.
    public private(set) var repeatedFrames = 0
    /// Motion of the last frame (mean |Δ| of the input tensor), for `--trace` and tests.
    public private(set) var lastMotion: Float = 0
    /// The crop changed since the last encoded frame: the next input differs from the previous
    /// one by the change of framing, not by the hand, so it measures no motion.
    var framingChanged = false

    /// Arena bytes the live state needs beside the recogniser's own buffers.
    public static func workspaceBytes(model: Model, inputCount: Int, window: Int) -> Int {
        let textBytes = window * LetterTable.longestLetterBytes(model.alphabet)
        return CacheLineCarver.bytes(Int8.self, inputCount) + CacheLineCarver.bytes(Float.self, 2 * MotionFloor.capacity)
            + CacheLineCarver.bytes(Int.self, window)
            + CacheLineCarver.bytes(UInt64.self, window) + 3 * CacheLineCarver.bytes(UInt8.self, textBytes)
            + 2 * CacheLineCarver.bytes(CTCLetterSpan.self, window)
    }

    /// The configuration `Recogniser` needs for live recognition with `window` frames.
    public static func configuration(model: Model, window: Int, method: CTCDecoder.Method, vocabularyBytes: Int = 0,
                                     followHand: Bool = false, localiserInterval: Int? = nil) -> PipelineConfiguration {
        var configuration = PipelineConfiguration.modelDefaults(model)
        configuration.localiser = followHand
        configuration.localiserInterval = localiserInterval
        configuration.window = window
        configuration.vocabularyBytes = vocabularyBytes
        if case .beam(let width) = method { configuration.beamWidth = width }
        configuration.callerWorkspaceBytes = workspaceBytes(
            model: model, inputCount: configuration.inputHeight * configuration.inputWidth * 3, window: window)
        return configuration
    }

    /// The segmenter's seconds become model frames at the model's rate (every source is resampled
    /// to it). `vocabulary` (a lexicon and/or language model, with `method` a beam search) constrains
    /// the decoding of finished words; partials stay greedy, so they show what is being read.
    public init(model: Model, window: Int, method: CTCDecoder.Method, crop: CropRect, frameWidth: Int, frameHeight: Int,
                settings: SegmenterSettings = SegmenterSettings(),
                vocabulary: (files: VocabularyFiles, lmWeight: Float, insertionBonus: Float)? = nil,
                kernelPath: KernelPath? = nil, threads: Int? = nil,
                followHand: Bool = false, localiserInterval: Int? = nil) throws(PipelineError) {
        let configuration = ContinuousRecogniser.configuration(model: model, window: window, method: method,
                                                               vocabularyBytes: vocabulary?.files.arenaBytes ?? 0,
                                                               followHand: followHand, localiserInterval: localiserInterval)
        let recogniser = try Recogniser(model: model, configuration: configuration, crop: crop, frameWidth: frameWidth,
                                        frameHeight: frameHeight, kernelPath: kernelPath, threads: threads)
        self.recogniser = recogniser
        self.window = window
        self.settings = settings.frames(framesPerSecond: model.frameRate.perSecond, window: window)
        resampler = FrameRateResampler(rate: model.frameRate)
        let installed = vocabulary.map { $0.files.install(into: recogniser.vocabularyMemory!, lmWeight: $0.lmWeight,
                                                           insertionBonus: $0.insertionBonus) }
        greedy = CTCDecoder(workspace: recogniser.decoderWorkspace, frames: window, classes: model.numClasses, method: .greedy)
        configured = recogniser.makeDecoder(method, vocabulary: installed)
        var carver = CacheLineCarver(recogniser.callerWorkspace!, bytes: configuration.callerWorkspaceBytes)
        previousInput = carver.take(Int8.self, recogniser.inputCount)
        motionFloor = MotionFloor(memory: carver.take(Float.self, 2 * MotionFloor.capacity))
        slotFrameNumber = carver.take(Int.self, window)
        slotArrival = carver.take(UInt64.self, window)
        let textBytes = window * LetterTable.longestLetterBytes(model.alphabet)
        partialText = FixedText(base: carver.take(UInt8.self, textBytes), capacity: textBytes)
        wordText = FixedText(base: carver.take(UInt8.self, textBytes), capacity: textBytes)
        lastWordText = FixedText(base: carver.take(UInt8.self, textBytes), capacity: textBytes)
        wordLetters = carver.take(CTCLetterSpan.self, window)
        lastWordLetters = carver.take(CTCLetterSpan.self, window)
        letters = LetterTable(alphabet: model.alphabet)
    }

    /// Moves the signing zone (a profile reloaded by SIGHUP): the word being signed goes on.
    public func setCrop(_ crop: CropRect) throws(PipelineError) {
        try recogniser.setCrop(crop)
        framingChanged = true
    }

    /// Whether the hand localiser sees a hand (`--crop auto`; always true without one): no hand,
    /// no signing, so the segmenter stays idle and an open word ends.
    public var handPresent: Bool { recogniser.cropFollower?.handPresent ?? true }

    /// Where a segment starts: `frames` ring slots from slot `start`.
    var segmentLength: Int { encoded - segmentStart }

    /// Takes one source frame: `frameNumber` counts source frames (dropped ones included),
    /// `arrival` is when it was taken (CLOCK_MONOTONIC ns: the camera's timestamp, a clip frame's
    /// time). The frame is resampled onto the model's time grid from `arrival` (`FrameRateResampler`):
    /// one that fills no model frame (a camera faster than the model) is not even preprocessed;
    /// one that fills several (a slower camera, dropped frames) runs the segmenter once per model
    /// frame. Sends partials, commits and status changes to `sink`.
    public func process<Sink: BoxSink>(_ frame: YUVFrame, frameNumber: Int, arrival: UInt64, now: () -> UInt64,
                                       sink: inout Sink) {
        var advanced = resampler
        let step = advanced.step(time: Int64(truncatingIfNeeded: arrival))
        guard step.ticks > 0 else {
            resampledAway += 1
            if segmentOpen && stillTime(until: arrival) >= settings.quietNanoseconds { endSegment(now: now, sink: &sink) }
            return
        }
        // `--crop auto`: the localiser when due, before the recogniser's preprocess (the plan's
        // order: its tensors share memory with the encoder's, the input tensor included). A crop
        // the tracker moved is a change of framing, not motion (as a SIGHUP crop).
        if recogniser.cropFollower != nil, recogniser.followHand(frame, modelFrames: step.ticks) != nil { framingChanged = true }
        recogniser.preprocess(frame)
        let count = recogniser.inputCount
        let measured = framesEncoded > 0 && !step.restarted && !framingChanged
        let motion = measured ? meanAbsoluteDifference(recogniser.input, previousInput, count: count) : 0
        if measured && motion == 0 {
            // The same picture again (a camera repeating frames: vivid at 60 Hz over 30 fps
            // content; no sensor's noise repeats exactly): not a new frame for the model, which
            // must see the signing at its own pace, nor for the noise floor; its model frames are
            // interpolated when a new picture comes. A pause still ends.
            repeatedFrames += 1
            if segmentOpen && stillTime(until: arrival) >= settings.quietNanoseconds {
                endSegment(now: now, sink: &sink)
            }
            return
        }
        resampler = advanced
        lastMotion = motion
        if measured { motionFloor.add(lastMotion) }
        framingChanged = false
        previousInput.update(from: recogniser.input, count: count)
        recogniser.encodeInput()
        framesEncoded += 1
        for tick in 0..<step.ticks {
            // Each model frame stands for the source frame nearer to it (the one with at least
            // half its weight): jsonl and --trace frame numbers stay the camera's.
            let nearer = step.weight(ofTick: tick) * 2 >= FrameRateResampler.weightOne
            addModelFrame(weight: step.weight(ofTick: tick), frameNumber: nearer ? frameNumber : lastEncodedFrame.number,
                          arrival: nearer ? arrival : lastEncodedFrame.arrival, now: now, sink: &sink)
        }
        recogniser.keepEncodedFeature()
        lastEncodedFrame = (frameNumber, arrival)
    }

    /// One model frame into the ring (the encoded feature interpolated against the last encoded
    /// frame's with `weight`), then the segmenter's step for it.
    func addModelFrame<Sink: BoxSink>(weight: Int, frameNumber: Int, arrival: UInt64, now: () -> UInt64, sink: inout Sink) {
        if segmentOpen && segmentLength == window { commitPiece(now: now, sink: &sink) }
        let slot = encoded % window
        recogniser.storeEncodedFeature(weight: weight, intoSlot: slot)
        slotFrameNumber[slot] = frameNumber
        slotArrival[slot] = arrival
        let current = encoded
        encoded += 1
        if !segmentOpen && encoded - historyStart > window { historyStart = encoded - window }

        // Without a hand in view nothing is signed, whatever moves.
        let aboveFloor = handPresent ? lastMotion - motionFloor.floor : -Float.infinity
        let moving = aboveFloor >= settings.startMotion
        if !segmentOpen {
            movingRun = moving ? movingRun + 1 : 0
            guard movingRun >= settings.startFrames else { return }
            segmentOpen = true
            segmentStart = max(historyStart, current - movingRun + 1 - settings.preRollFrames)
            segmentIndex += (segmentIndex == 0 && piece == 0 && lastWord == nil) ? 0 : 1
            piece = 0
            stillRun = 0
            lastMoving = current
            travelStart = nil
            arrivalEnd = nil
            movedInPlace = false
            framesSincePartial = 0
            partialText.clear()
            setStatus(.handSeen, now: now(), sink: &sink)
            return
        }
        if settings.travelMotion > 0 && aboveFloor >= settings.travelMotion {
            // The hand travelling: into the zone before the first letter, or out of it after the last.
            if !movedInPlace { arrivalEnd = current }
            if travelStart == nil { travelStart = current }
        } else if aboveFloor >= settings.stopMotion {
            movedInPlace = true
            travelStart = nil
        }
        if aboveFloor >= settings.stopMotion {
            stillRun = 0
            lastMoving = current
        } else {
            stillRun += 1
        }
        framesSincePartial += 1
        if stillRun >= 2 && stillTime(until: arrival) >= settings.quietNanoseconds {
            endSegment(now: now, sink: &sink)
            return
        }
        if framesSincePartial >= settings.partialEvery {
            framesSincePartial = 0
            publishPartial(now: now(), sink: &sink)
        }
    }

    /// Decodes and commits the open segment (end of input, SIGTERM): the word being signed is not lost.
    public func finish<Sink: BoxSink>(now: () -> UInt64, sink: inout Sink) {
        if segmentOpen { endSegment(now: now, sink: &sink) }
    }

    /// Forgets the word being signed (the button's short press).
    public func clearWord<Sink: BoxSink>(now: UInt64, sink: inout Sink) {
        guard segmentOpen else { return }
        segmentOpen = false
        historyStart = encoded
        movingRun = 0
        partialText.clear()
        sink.partial(WordView(text: partialText.bytes, letters: UnsafeBufferPointer(start: wordLetters, count: 0),
                              segment: segmentIndex, piece: piece, startFrame: frameNumber(ofEncoded: segmentStart),
                              endFrame: frameNumber(ofEncoded: encoded - 1), startNanoseconds: arrival(ofEncoded: segmentStart),
                              endNanoseconds: now), now: now)
        setStatus(.idle, now: now, sink: &sink)
    }

    /// Sends the last committed word again (the button's long press); false if there is none.
    @discardableResult
    public func repeatLastWord<Sink: BoxSink>(now: UInt64, sink: inout Sink) -> Bool {
        guard let last = lastWord else { return false }
        sink.commit(WordView(text: lastWordText.bytes, letters: UnsafeBufferPointer(start: lastWordLetters, count: last.letters),
                             segment: last.segment, piece: last.piece, startFrame: last.startFrame, endFrame: last.endFrame,
                             startNanoseconds: last.start, endNanoseconds: last.end), now: now)
        return true
    }

    // MARK: - Decoding

    /// How long the hand has been still at `arrival`: measured in time, from the frames'
    /// timestamps, so that a box that drops frames (a slow board, a busy camera) still ends a
    /// word after the same pause.
    func stillTime(until arrival: UInt64) -> UInt64 { arrival &- min(arrival, self.arrival(ofEncoded: lastMoving)) }

    func frameNumber(ofEncoded index: Int) -> Int { slotFrameNumber[index % window] }
    func arrival(ofEncoded index: Int) -> UInt64 { slotArrival[index % window] }

    /// Runs the head over the open segment and decodes it with `decoder` into `wordText` and
    /// `wordLetters` (frames as source frame numbers).
    ///
    /// `trimTravel` leaves out letters read while the hand travelled into the zone (before the
    /// segment's first piece moved in place) or out of it (after its last movement in place): the
    /// model, trained on words alone, reads letters into a hand that is only passing.
    func decodeSegment(_ decoder: CTCDecoder, frames: Int? = nil, trimTravel: Bool = false) {
        let count = max(1, frames ?? segmentLength)
        let logProbabilities = recogniser.runHead(ringStart: segmentStart % window, count: count)
        let result = decoder.decode(logProbs: logProbabilities, frames: count)
        var first = 0, last = result.labels.count
        if trimTravel && result.spans.count == result.labels.count {
            if piece == 0, settings.travelMotion > 0, let arrivalEnd {
                while first < last && segmentStart + Int(result.spans[first].endFrame) <= arrivalEnd { first += 1 }
            }
            if settings.travelMotion > 0, let travelStart {
                while last > first && segmentStart + Int(result.spans[last - 1].startFrame) >= travelStart { last -= 1 }
            }
        }
        writeWord(result, letters: first..<last)
    }

    /// `wordText` and `wordLetters` from decoded `letters` of `result`, whose frames count from
    /// `segmentStart`; spans become source frame numbers (none when the alignment found none).
    func writeWord(_ result: CTCDecoder.Result, letters range: Range<Int>) {
        wordText.clear()
        for index in range { wordText.append(letters.letter(classIndex: Int(result.labels[index]))) }
        lettersDecoded = 0
        if result.spans.count == result.labels.count {
            for index in range {
                let span = result.spans[index]
                wordLetters[lettersDecoded] = CTCLetterSpan(
                    classIndex: span.classIndex,
                    startFrame: Int32(truncatingIfNeeded: frameNumber(ofEncoded: segmentStart + Int(span.startFrame))),
                    endFrame: Int32(truncatingIfNeeded: frameNumber(ofEncoded: segmentStart + Int(span.endFrame))), score: span.score)
                lettersDecoded += 1
            }
        }
        labelsDecoded = range.count
    }
    var lettersDecoded = 0
    var labelsDecoded = 0

    func publishPartial<Sink: BoxSink>(now: UInt64, sink: inout Sink) {
        decodeSegment(greedy, trimTravel: true)
        if labelsDecoded > 0 && status != .signing { setStatus(.signing, now: now, sink: &sink) }
        guard !equal(wordText.bytes, partialText.bytes) else { return }
        partialText.clear()
        partialText.append(wordText.bytes)
        sink.partial(WordView(text: partialText.bytes, letters: UnsafeBufferPointer(start: wordLetters, count: lettersDecoded),
                              segment: segmentIndex, piece: piece, startFrame: frameNumber(ofEncoded: segmentStart),
                              endFrame: frameNumber(ofEncoded: encoded - 1), startNanoseconds: arrival(ofEncoded: segmentStart),
                              endNanoseconds: arrival(ofEncoded: encoded - 1)), now: now)
    }

    func endSegment<Sink: BoxSink>(now: () -> UInt64, sink: inout Sink) {
        // The still frames after the last movement are left out: the model, never trained on
        // a hand at rest, reads letters into them.
        decodeSegment(configured, frames: min(segmentLength, lastMoving - segmentStart + 1 + settings.tailFrames), trimTravel: true)
        commitWord(endFrame: frameNumber(ofEncoded: lastMoving), end: arrival(ofEncoded: lastMoving), now: now(), sink: &sink)
        segmentOpen = false
        historyStart = encoded
        movingRun = 0
        partialText.clear()
        setStatus(.idle, now: now(), sink: &sink)
    }

    /// The segment fills the ring: commit the letters that end before the overlap, keep the rest.
    func commitPiece<Sink: BoxSink>(now: () -> UInt64, sink: inout Sink) {
        let count = segmentLength
        let logProbabilities = recogniser.runHead(ringStart: segmentStart % window, count: count)
        let result = configured.decode(logProbs: logProbabilities, frames: count)
        let cut = count - settings.pieceOverlap
        var keep = 0
        var nextStart = segmentStart + cut
        if result.spans.count == result.labels.count {
            while keep < result.spans.count && Int(result.spans[keep].endFrame) < cut { keep += 1 }
            if keep > 0 {
                // The next piece starts halfway between the last committed letter and the next
                // one, so the frames of a held letter are not read again as a new letter.
                let committedEnd = Int(result.spans[keep - 1].endFrame) + 1
                let nextLetter = keep < result.spans.count ? Int(result.spans[keep].startFrame) : cut
                nextStart = segmentStart + (committedEnd + max(committedEnd, nextLetter)) / 2
            }
        } else {
            keep = result.labels.count  // no alignment: commit what was read, start afresh
            nextStart = encoded
        }
        writeWord(result, letters: 0..<keep)
        if keep > 0 {
            commitWord(endFrame: frameNumber(ofEncoded: nextStart - 1), end: arrival(ofEncoded: nextStart - 1), isFinal: false,
                       now: now(), sink: &sink)
            piece += 1
        }
        segmentStart = nextStart
        partialText.clear()
    }

    func commitWord<Sink: BoxSink>(endFrame: Int, end: UInt64, isFinal: Bool = true, now: UInt64, sink: inout Sink) {
        // An empty word is not sent, unless it ends a word whose earlier pieces were.
        guard wordText.count > 0 || (isFinal && piece > 0) else { return }
        let view = WordView(text: wordText.bytes, letters: UnsafeBufferPointer(start: wordLetters, count: lettersDecoded),
                            segment: segmentIndex, piece: piece, isFinal: isFinal, startFrame: frameNumber(ofEncoded: segmentStart), endFrame: endFrame,
                            startNanoseconds: arrival(ofEncoded: segmentStart), endNanoseconds: end)
        sink.commit(view, now: now)
        // The word to repeat is the whole word: its pieces joined.
        let earlierLetters = piece > 0 ? (lastWord?.letters ?? 0) : 0
        if piece == 0 { lastWordText.clear() }
        lastWordText.append(wordText.bytes)
        let letters = min(lettersDecoded, window - earlierLetters)
        (lastWordLetters + earlierLetters).update(from: wordLetters, count: letters)
        lastWord = (earlierLetters + letters, segmentIndex, 0, piece > 0 ? (lastWord?.startFrame ?? view.startFrame) : view.startFrame,
                    endFrame, piece > 0 ? (lastWord?.start ?? view.startNanoseconds) : view.startNanoseconds, end)
        if isFinal { wordsCommitted += 1 }
    }
    public private(set) var wordsCommitted = 0

    func setStatus<Sink: BoxSink>(_ new: BoxStatus, now: UInt64, sink: inout Sink) {
        guard new != status else { return }
        status = new
        sink.status(new, message: UnsafeBufferPointer(start: nil, count: 0), now: now)
    }
}

private func equal(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
    guard a.count == b.count else { return false }
    for index in 0..<a.count where a[index] != b[index] { return false }
    return true
}

/// Hands out pieces of one block of arena memory, each on its own 64-byte cache line (so pieces
/// of any type can be taken in any order, unlike the decoders' `WorkspaceCarver`), and says how
/// big the block must be.
struct CacheLineCarver {
    var cursor: UnsafeMutableRawPointer
    let end: UnsafeMutableRawPointer

    init(_ base: UnsafeMutableRawPointer, bytes: Int) {
        cursor = base
        end = base + bytes
    }

    static func bytes<T>(_: T.Type, _ count: Int) -> Int { (count * MemoryLayout<T>.stride + 63) / 64 * 64 }

    mutating func take<T>(_ type: T.Type, _ count: Int) -> UnsafeMutablePointer<T> {
        let size = CacheLineCarver.bytes(type, count)
        precondition(cursor + size <= end, "live state outgrew its planned workspace")
        let pointer = cursor.bindMemory(to: type, capacity: count)
        cursor += size
        return pointer
    }
}
