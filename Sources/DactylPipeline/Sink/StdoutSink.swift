import CDactylPlatform

/// Latency figures for the `stats` line, computed by the run loop.
public struct LatencySummary: Sendable {
    public var count: Int
    public var medianMilliseconds: Float
    public var p90Milliseconds: Float

    public init(count: Int, medianMilliseconds: Float, p90Milliseconds: Float) {
        self.count = count
        self.medianMilliseconds = medianMilliseconds
        self.p90Milliseconds = p90Milliseconds
    }
}

/// Standard output (or any descriptor): committed words as text, one per line, or JSON lines
/// for scripts (the format at the end of SinkEvents.swift). Writes block like any stdout.
public struct StdoutSink: BoxSink {
    public enum Format: Sendable {
        /// Each committed word on its own line; nothing else.
        case text
        /// One JSON object per line: status, partial, commit and stats.
        case jsonLines
    }

    public struct Configuration: Sendable {
        public var format: Format
        /// Where the lines go (1: standard output).
        public var fd: Int32
        /// Where `stats` goes in text mode, so stdout stays words only (2: standard error).
        public var textStatsFD: Int32
        /// Letter spans written per commit; more are counted in `letters_omitted`.
        public var maxLetters: Int
        /// Bytes of a status message written; the rest is cut.
        public var maxMessageBytes: Int

        public init(format: Format = .text, fd: Int32 = 1, textStatsFD: Int32 = 2, maxLetters: Int = 256,
                    maxMessageBytes: Int = 256) {
            self.format = format
            self.fd = fd
            self.textStatsFD = textStatsFD
            self.maxLetters = maxLetters
            self.maxMessageBytes = maxMessageBytes
        }
    }

    public let configuration: Configuration
    private let letters: LetterTable
    private let runStart: UInt64
    private let storage: SinkStorage
    private var line: FixedText
    /// Lines not written whole: a write error (e.g. EPIPE) or, should the sizing be wrong, a
    /// line longer than the buffer (never written cut).
    public private(set) var linesLost = 0

    /// - Parameters:
    ///   - alphabet: the model's alphabet (`Model.alphabet`), for the letters of a commit's spans.
    ///   - runStart: CLOCK_MONOTONIC nanoseconds of the run's start (`t_ms` counts from it).
    public init(configuration: Configuration, alphabet: [String], runStart: UInt64) {
        self.configuration = configuration
        letters = LetterTable(alphabet: alphabet)
        self.runStart = runStart
        // A commit: fixed fields, the text (each byte escaped to at most 6), and per letter
        // about 120 bytes; a status: its message escaped.
        let maxLetters = max(configuration.maxLetters, 1)
        let capacity = 1024 + maxLetters * (8 * 6 + 128 + 8 * 6) + configuration.maxMessageBytes * 6
        storage = SinkStorage(capacity: capacity)
        line = FixedText(base: storage.base, capacity: capacity)
    }

    public mutating func partial(_ word: WordView, now: UInt64) {
        guard configuration.format == .jsonLines else { return }
        line.clear()
        line.append("{\"type\":\"partial\",\"segment\":")
        line.append(integer: word.segment)
        line.append(",\"text\":")
        line.append(jsonString: word.text)
        line.append(",\"t_ms\":")
        line.append(milliseconds: now, since: runStart)
        line.append("}\n")
        writeLine(to: configuration.fd)
    }

    public mutating func commit(_ word: WordView, now: UInt64) {
        line.clear()
        guard configuration.format == .jsonLines else {
            // Text mode prints words, one per line: a segment where nothing was read prints
            // nothing; the pieces of a long word are joined on one line.
            guard !word.text.isEmpty || (word.isFinal && word.piece > 0) else { return }
            line.append(lineSafe: word.text, spaces: false)
            if word.isFinal { line.append(UInt8(ascii: "\n")) }
            writeLine(to: configuration.fd)
            return
        }
        line.append("{\"type\":\"commit\"")
        line.appendCommitFields(word)
        line.append(",\"letters\":[")
        let written = min(word.letters.count, configuration.maxLetters)
        for index in 0..<written {
            let span = word.letters[index]
            if index > 0 { line.append(UInt8(ascii: ",")) }
            line.append("{\"letter\":")
            line.append(jsonString: letters.letter(classIndex: Int(span.classIndex)))
            line.append(",\"start\":")
            line.append(integer: Int(span.startFrame))
            line.append(",\"end\":")
            line.append(integer: Int(span.endFrame))
            line.append(",\"score\":")
            line.append(fixed: span.score, decimals: 4)
            line.append(UInt8(ascii: "}"))
        }
        line.append("]")
        if written < word.letters.count {
            line.append(",\"letters_omitted\":")
            line.append(integer: word.letters.count - written)
        }
        line.append(",\"t_ms\":")
        line.append(milliseconds: now, since: runStart)
        line.append(",\"latency_ms\":")
        line.append(fixed: now >= word.endNanoseconds ? Float(now - word.endNanoseconds) / 1e6 : 0, decimals: 1)
        line.append("}\n")
        writeLine(to: configuration.fd)
    }

    public mutating func status(_ status: BoxStatus, message: UnsafeBufferPointer<UInt8>, now: UInt64) {
        guard configuration.format == .jsonLines else {
            // Text mode keeps standard output for words; trouble is said on the other descriptor.
            guard status == .cameraLost || status == .error else { return }
            line.clear()
            line.append("dactyl: ")
            status.name.withUTF8Buffer { line.append($0) }
            line.append(": ")
            line.append(lineSafe: UnsafeBufferPointer(rebasing: message.prefix(configuration.maxMessageBytes)), spaces: false)
            line.append(UInt8(ascii: "\n"))
            writeLine(to: configuration.textStatsFD)
            return
        }
        line.clear()
        line.append("{\"type\":\"status\",\"status\":")
        status.name.withUTF8Buffer { line.append(jsonString: $0) }
        line.append(",\"message\":")
        line.append(jsonString: UnsafeBufferPointer(rebasing: message.prefix(configuration.maxMessageBytes)))
        line.append(",\"t_ms\":")
        line.append(milliseconds: now, since: runStart)
        line.append("}\n")
        writeLine(to: configuration.fd)
    }

    public mutating func service(now: UInt64) -> SinkRequest? { nil }

    public mutating func flush(deadline: UInt64) {}

    /// The run's totals, once at exit (`--stats`): a `stats` JSON line, or in text mode a
    /// `stats:` line on `textStatsFD`.
    public mutating func stats(_ counters: RunCounters, wordLatency: LatencySummary, frameLatency: LatencySummary,
                               now: UInt64) {
        line.clear()
        let json = configuration.format == .jsonLines
        line.append(json ? "{\"type\":\"stats\",\"frames_seen\":" : "stats: frames_seen=")
        line.append(integer: counters.framesSeen)
        line.append(json ? ",\"frames_encoded\":" : " frames_encoded=")
        line.append(integer: counters.framesEncoded)
        line.append(json ? ",\"frames_dropped\":" : " frames_dropped=")
        line.append(integer: counters.framesDropped)
        line.append(json ? ",\"words_committed\":" : " words_committed=")
        line.append(integer: counters.wordsCommitted)
        appendLatency(json ? ",\"word_latency_ms\":" : " word_latency_ms", wordLatency, json: json)
        appendLatency(json ? ",\"frame_latency_ms\":" : " frame_latency_ms", frameLatency, json: json)
        line.append(json ? ",\"t_ms\":" : " t_ms=")
        line.append(milliseconds: now, since: runStart)
        line.append(json ? "}\n" : "\n")
        writeLine(to: json ? configuration.fd : configuration.textStatsFD)
    }

    private mutating func appendLatency(_ key: StaticString, _ latency: LatencySummary, json: Bool) {
        line.append(key)
        line.append(json ? "{\"count\":" : ".count=")
        line.append(integer: latency.count)
        line.append(json ? ",\"median\":" : " median=")
        line.append(fixed: latency.medianMilliseconds, decimals: 1)
        line.append(json ? ",\"p90\":" : " p90=")
        line.append(fixed: latency.p90Milliseconds, decimals: 1)
        if json { line.append(UInt8(ascii: "}")) }
    }

    private mutating func writeLine(to fd: Int32) {
        guard !line.overflowed, dactyl_write_all(fd, line.base, line.count) == 0 else {
            linesLost += 1
            return
        }
    }
}
