import CDactylPlatform

/// A serial port (termios): the line protocol of docs/serial-protocol.md, or plain text.
///
/// Recognition never waits for the port: writes are non-blocking, a line the port takes only
/// in part is resumed on `service`, committed words wait in a bounded queue (fixed storage
/// sized at init) while the port is stalled or unplugged, and an unplugged port is reopened by
/// its path with back-off, so a device that re-appears under the same name (/dev/serial/by-id/…)
/// gets the words in order. Partials and status lines are never queued beyond the latest one.
public struct SerialSink: BoxSink {
    public enum Mode: Sendable {
        /// Tagged lines: `S` status, `P` partial, `W` committed word (docs/serial-protocol.md).
        case tagged
        /// Committed words and the separator only, for devices that just want text.
        case plainText
    }

    /// What follows a word in plain-text mode, and ends a line in tagged mode (space: `\n`).
    public enum Separator: Sendable {
        case newline, crlf, space
    }

    public struct Configuration: Sendable {
        /// The port's path, e.g. /dev/ttyUSB0, /dev/serial/by-id/usb-FTDI_…, /dev/ttyAMA0.
        public var path: String
        /// 8N1 at this rate (termios rates 50 ... 4000000).
        public var baud: UInt32
        public var mode: Mode
        public var separator: Separator
        /// Tagged mode: send `P` lines (partials) at all.
        public var sendPartials: Bool
        /// Committed words kept while the port is away; at the bound the oldest is dropped.
        public var queueWords: Int
        /// A word's text beyond this many bytes is cut (fingerspelled words are far shorter).
        public var maxWordBytes: Int
        /// A status message beyond this many bytes is cut.
        public var maxMessageBytes: Int
        /// Reopening an unplugged port: first retry after `retryMinimum` ns, doubling up to `retryMaximum`.
        public var retryMinimum: UInt64
        public var retryMaximum: UInt64

        public init(path: String, baud: UInt32 = 115_200, mode: Mode = .tagged, separator: Separator = .newline,
                    sendPartials: Bool = true, queueWords: Int = 64, maxWordBytes: Int = 64, maxMessageBytes: Int = 96,
                    retryMinimum: UInt64 = 100_000_000, retryMaximum: UInt64 = 2_000_000_000) {
            self.path = path
            self.baud = baud
            self.mode = mode
            self.separator = separator
            self.sendPartials = sendPartials
            self.queueWords = queueWords
            self.maxWordBytes = maxWordBytes
            self.maxMessageBytes = maxMessageBytes
            self.retryMinimum = retryMinimum
            self.retryMaximum = retryMaximum
        }
    }

    private enum Pending { case none, status, partial, word }

    public let configuration: Configuration
    private let path: CName
    private let runStart: UInt64
    private let storage: SinkStorage
    /// Longest line: tag, four numeric fields of at most 20 digits, spaces and the separator
    /// (< 128 bytes) plus the longest text.
    private let lineCapacity: Int
    private let queue: UnsafeMutablePointer<UInt8>      // queueWords slots of 2 + lineCapacity bytes
    private let inFlight: UnsafeMutablePointer<UInt8>   // the line being written
    private let partialText: UnsafeMutablePointer<UInt8>
    private let statusMessage: UnsafeMutablePointer<UInt8>

    private var fd: Int32 = -1
    private var queueHead = 0
    public private(set) var queuedWords = 0
    private var inFlightCount = 0
    private var inFlightOffset = 0
    private var inFlightKind = Pending.none
    private var partialPending = false
    private var partialCount = 0
    private var partialSegment = 0
    private var partialTime: UInt64 = 0
    private var statusPending = false
    private var currentStatus = BoxStatus.starting
    private var statusMessageCount = 0
    private var statusTime: UInt64 = 0
    private var nextSequence = 0
    private var retryDelay: UInt64
    private var nextOpenAt: UInt64 = 0
    private var everOpened = false

    /// Committed words dropped at the queue's bound (the oldest ones), over the run.
    public private(set) var wordsDropped = 0
    /// Committed words written whole to a port.
    public private(set) var wordsDelivered = 0
    /// Words whose text was longer than `maxWordBytes` and was cut.
    public private(set) var wordsCut = 0
    /// Successful opens after the first.
    public private(set) var reopens = 0
    /// errno of the last failed open or write while the port is closed (0 while it is open):
    /// kept as a number so that the loop's calls never build a String.
    private var portErrno: Int32 = 0
    /// Why the port is closed now (nil while it is open), for the log (builds a String).
    public var portError: SinkError? {
        portErrno == 0 ? nil : .cannotOpen(sink: "serial", device: configuration.path, reason: errorText(portErrno))
    }
    public var connected: Bool { fd >= 0 }

    /// Opens the port. A port that is absent or unusable at start-up is not an error here: the
    /// sink queues words and keeps reopening it (`portError` says why it is closed); a baud
    /// termios cannot set or a size below 1 is.
    public init(configuration: Configuration, runStart: UInt64, now: UInt64) throws(SinkError) {
        guard dactyl_serial_baud_supported(configuration.baud) != 0 else {
            throw .badConfiguration(sink: "serial", key: "baud", found: "\(configuration.baud)",
                                    expected: "a termios rate such as 9600, 57600, 115200, 230400, 460800 or 921600")
        }
        guard configuration.queueWords >= 1 else {
            throw .badConfiguration(sink: "serial", key: "queue", found: "\(configuration.queueWords)", expected: "at least 1 word")
        }
        guard configuration.maxWordBytes >= 1 && configuration.maxWordBytes <= 4096 else {
            throw .badConfiguration(sink: "serial", key: "word bytes", found: "\(configuration.maxWordBytes)", expected: "1 to 4096")
        }
        self.configuration = configuration
        self.runStart = runStart
        path = CName(configuration.path)
        lineCapacity = 128 + max(configuration.maxWordBytes, configuration.maxMessageBytes)
        let slot = 2 + lineCapacity
        storage = SinkStorage(capacity: slot * configuration.queueWords + lineCapacity + configuration.maxWordBytes
                              + max(configuration.maxMessageBytes, 1))
        queue = storage.base
        inFlight = queue + slot * configuration.queueWords
        partialText = inFlight + lineCapacity
        statusMessage = partialText + configuration.maxWordBytes
        retryDelay = configuration.retryMinimum
        reopen(now: now)
        pump(now: now)
    }

    /// Closes the port (shutdown; `flush` first).
    public mutating func close() {
        dactyl_close(fd)
        fd = -1
    }

    // MARK: BoxSink

    public mutating func partial(_ word: WordView, now: UInt64) {
        guard configuration.mode == .tagged && configuration.sendPartials else { return }
        partialCount = min(word.text.count, configuration.maxWordBytes)
        for index in 0..<partialCount { partialText[index] = word.text[index] }
        partialSegment = word.segment
        partialTime = now
        partialPending = true
        pump(now: now)
    }

    public mutating func commit(_ word: WordView, now: UInt64) {
        // The word supersedes any partial not yet sent.
        partialPending = false
        // Plain text has nothing to show for a segment where nothing was read; the empty last
        // piece of a word committed in pieces still ends the word (its separator).
        if configuration.mode == .plainText && word.text.isEmpty && (!word.isFinal || word.piece == 0) { return }
        if queuedWords == configuration.queueWords {
            queueHead = (queueHead + 1) % configuration.queueWords
            queuedWords -= 1
            wordsDropped += 1
        }
        let slotIndex = (queueHead + queuedWords) % configuration.queueWords
        let slot = queue + slotIndex * (2 + lineCapacity)
        var line = FixedText(base: slot + 2, capacity: lineCapacity)
        let textCount = min(word.text.count, configuration.maxWordBytes)
        if textCount < word.text.count { wordsCut += 1 }
        let text = UnsafeBufferPointer(rebasing: word.text[0..<textCount])
        if configuration.mode == .tagged {
            line.append("W ")
            line.append(milliseconds: now, since: runStart)
            line.append(UInt8(ascii: " "))
            line.append(integer: nextSequence)
            line.append(UInt8(ascii: " "))
            line.append(integer: word.segment)
            line.append(UInt8(ascii: " "))
            line.append(integer: word.piece)
            line.append(word.isFinal ? " 1 " : " 0 ")
            line.append(lineSafe: text, spaces: false)
            appendSeparator(&line)
        } else {
            line.append(lineSafe: text, spaces: false)
            // Pieces of one word are joined; the separator follows the word's last piece.
            if word.isFinal { appendSeparator(&line) }
        }
        slot[0] = UInt8(truncatingIfNeeded: line.count)
        slot[1] = UInt8(truncatingIfNeeded: line.count >> 8)
        nextSequence += 1
        queuedWords += 1
        pump(now: now)
    }

    public mutating func status(_ status: BoxStatus, message: UnsafeBufferPointer<UInt8>, now: UInt64) {
        currentStatus = status
        statusMessageCount = min(message.count, configuration.maxMessageBytes)
        for index in 0..<statusMessageCount { statusMessage[index] = message[index] }
        statusTime = now
        guard configuration.mode == .tagged else { return }
        statusPending = true
        pump(now: now)
    }

    public mutating func service(now: UInt64) -> SinkRequest? {
        if fd >= 0 && dactyl_poll_output(fd, 0) & Int32(DACTYL_POLL_HANGUP) != 0 {
            disconnect(now: now, error: Int32(DACTYL_EIO))
        }
        if fd < 0 && now >= nextOpenAt { reopen(now: now) }
        pump(now: now)
        return nil
    }

    public mutating func flush(deadline: UInt64) {
        while hasWordsToSend || (statusPending && fd >= 0) {
            let now = dactyl_monotonic_ns()
            guard now < deadline else { return }
            _ = service(now: now)
            guard hasWordsToSend || statusPending else { return }
            let wait = min(deadline - now, 10_000_000)
            if fd >= 0 { _ = dactyl_poll_output(fd, Int32(max(wait / 1_000_000, 1))) } else { dactyl_sleep_ns(wait) }
        }
    }

    // MARK: Delivery

    private var hasWordsToSend: Bool { queuedWords > 0 || (inFlightCount > 0 && inFlightKind == .word) }

    private func appendSeparator(_ line: inout FixedText) {
        switch configuration.separator {
        case .newline: line.append(UInt8(ascii: "\n"))
        case .crlf: line.append("\r\n")
        case .space: line.append(UInt8(ascii: configuration.mode == .tagged ? "\n" : " "))
        }
    }

    /// Moves the next line to send into `inFlight`: status, then words in order, then the partial.
    private mutating func loadNext(now: UInt64) -> Bool {
        var line = FixedText(base: inFlight, capacity: lineCapacity)
        if statusPending {
            statusPending = false
            line.append("S ")
            line.append(milliseconds: statusTime, since: runStart)
            line.append(UInt8(ascii: " "))
            currentStatus.name.withUTF8Buffer { line.append($0) }
            line.append(UInt8(ascii: " "))
            line.append(integer: wordsDropped)
            line.append(UInt8(ascii: " "))
            line.append(lineSafe: UnsafeBufferPointer(start: statusMessage, count: statusMessageCount), spaces: false)
            appendSeparator(&line)
            inFlightKind = .status
        } else if queuedWords > 0 {
            let slot = queue + queueHead * (2 + lineCapacity)
            let count = Int(slot[0]) | Int(slot[1]) << 8
            line.append(UnsafeBufferPointer(start: slot + 2, count: count))
            queueHead = (queueHead + 1) % configuration.queueWords
            queuedWords -= 1
            inFlightKind = .word
        } else if partialPending {
            partialPending = false
            line.append("P ")
            line.append(milliseconds: partialTime, since: runStart)
            line.append(UInt8(ascii: " "))
            line.append(integer: partialSegment)
            line.append(UInt8(ascii: " "))
            line.append(lineSafe: UnsafeBufferPointer(start: partialText, count: partialCount), spaces: false)
            appendSeparator(&line)
            inFlightKind = .partial
        } else {
            return false
        }
        inFlightCount = line.count
        inFlightOffset = 0
        return true
    }

    private mutating func pump(now: UInt64) {
        while fd >= 0 {
            if inFlightCount == 0 && !loadNext(now: now) { return }
            let written = dactyl_serial_write(fd, inFlight + inFlightOffset, inFlightCount - inFlightOffset)
            if written > 0 {
                inFlightOffset += written
                if inFlightOffset == inFlightCount {
                    if inFlightKind == .word { wordsDelivered += 1 }
                    inFlightCount = 0
                    inFlightKind = .none
                }
                continue
            }
            // Full output buffer (a stalled or slow port): resume on `service`.
            if written == 0 || written == -Int(DACTYL_EAGAIN) { return }
            // EIO, ENXIO, ENODEV, EPIPE...: the port went away.
            disconnect(now: now, error: Int32(truncatingIfNeeded: -written))
        }
    }

    private mutating func disconnect(now: UInt64, error: Int32) {
        dactyl_close(fd)
        fd = -1
        portErrno = error
        // A word cut short goes back to the head of the queue and is sent again, whole, on the
        // next port (unless the queue is full: it is the oldest word, the one the bound drops).
        // A status line is sent anew at the next open anyway; a partial is stale by then.
        if inFlightKind == .word {
            if queuedWords == configuration.queueWords {
                wordsDropped += 1
            } else {
                queueHead = (queueHead + configuration.queueWords - 1) % configuration.queueWords
                let slot = queue + queueHead * (2 + lineCapacity)
                slot[0] = UInt8(truncatingIfNeeded: inFlightCount)
                slot[1] = UInt8(truncatingIfNeeded: inFlightCount >> 8)
                (slot + 2).update(from: inFlight, count: inFlightCount)
                queuedWords += 1
            }
        }
        inFlightCount = 0
        inFlightOffset = 0
        inFlightKind = .none
        retryDelay = configuration.retryMinimum
        nextOpenAt = now + retryDelay
    }

    private mutating func reopen(now: UInt64) {
        var error: Int32 = 0
        let opened = dactyl_serial_open(path.pointer, configuration.baud, &error)
        guard opened >= 0 else {
            portErrno = error == 0 ? Int32(DACTYL_EIO) : error
            nextOpenAt = now + retryDelay
            retryDelay = min(retryDelay * 2, configuration.retryMaximum)
            return
        }
        if everOpened { reopens += 1 }
        everOpened = true
        fd = opened
        portErrno = 0
        retryDelay = configuration.retryMinimum
        // The device on the other end may be new: tell it the box's state first.
        if configuration.mode == .tagged { statusPending = true }
    }
}
