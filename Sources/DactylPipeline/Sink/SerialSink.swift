import CDactylPlatform

/// A serial port (termios): the line protocol of docs/serial-protocol.md, or plain text.
///
/// Recognition never waits for the port: writes are non-blocking, a line the port takes only
/// in part is resumed on `service`, committed words wait in a bounded queue (fixed storage
/// sized at init) while the port is stalled or unplugged, and an unplugged port is reopened by
/// its path with back-off, so a device that re-appears under the same name (/dev/serial/by-id/…)
/// gets the words in order. Partials and status lines are never queued beyond the latest one.
///
/// A word stays in the queue after it is written, until the kernel's output queue (TIOCOUTQ)
/// shows that its bytes have left, and the sink hands the kernel little at a time
/// (`maxPendingBytes`): an unplug then loses nothing the sink cannot send again, and the words
/// the kernel had not sent go, with their `seq`, to the next port (at least once).
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
        /// Committed words kept until the kernel has sent them (at least 2); at the bound the
        /// oldest word not yet handed to the kernel is dropped.
        public var queueWords: Int
        /// No new line is handed to the kernel while more than this many bytes wait in its output
        /// queue: what the kernel holds is lost with an unplugged adapter, so it is kept small.
        public var maxPendingBytes: Int
        /// A word's text beyond this many bytes is cut (fingerspelled words are far shorter).
        public var maxWordBytes: Int
        /// A status message beyond this many bytes is cut.
        public var maxMessageBytes: Int
        /// Reopening an unplugged port: first retry after `retryMinimum` ns, doubling up to `retryMaximum`.
        public var retryMinimum: UInt64
        public var retryMaximum: UInt64

        public init(path: String, baud: UInt32 = 115_200, mode: Mode = .tagged, separator: Separator = .newline,
                    sendPartials: Bool = true, queueWords: Int = 64, maxPendingBytes: Int = 512, maxWordBytes: Int = 64,
                    maxMessageBytes: Int = 96,
                    retryMinimum: UInt64 = 100_000_000, retryMaximum: UInt64 = 2_000_000_000) {
            self.path = path
            self.baud = baud
            self.mode = mode
            self.separator = separator
            self.sendPartials = sendPartials
            self.queueWords = queueWords
            self.maxPendingBytes = maxPendingBytes
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
    /// Per queue slot: the count of bytes handed to the port when the slot's line was written whole.
    private let endMarks: UnsafeMutableRawPointer       // queueWords UInt64s
    private let queue: UnsafeMutablePointer<UInt8>      // queueWords slots of 2 + lineCapacity bytes
    private let inFlight: UnsafeMutablePointer<UInt8>   // the line being written
    private let partialText: UnsafeMutablePointer<UInt8>
    private let statusMessage: UnsafeMutablePointer<UInt8>

    private var fd: Int32 = -1
    /// The queue, from its head: `handedWords` written whole and not yet confirmed sent, the word
    /// being written (if `inFlightKind` is `.word`: its line is copied in `inFlight`), then the
    /// words waiting. `heldWords` counts all of them.
    private var queueHead = 0
    private var heldWords = 0
    private var handedWords = 0
    /// Bytes written to the port since it was opened (the end marks count in it).
    private var bytesHanded: UInt64 = 0
    /// At most this many words are handed to the kernel unconfirmed, so that at the queue's bound
    /// there is always a word not yet sent to drop.
    private let handLimit: Int
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

    /// Committed words waiting to be written (neither handed to the kernel nor being written).
    public var queuedWords: Int { heldWords - handedWords - (inFlightKind == .word ? 1 : 0) }
    /// Committed words handed to the kernel (whole or in part) that it has not confirmed sent:
    /// still in the queue, sent again if the port goes away first.
    public var wordsUnconfirmed: Int { handedWords + (inFlightKind == .word ? 1 : 0) }
    /// Committed words dropped at the queue's bound (the oldest not yet sent), over the run.
    public private(set) var wordsDropped = 0
    /// Committed words the kernel has sent (its output queue no longer holds their bytes).
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
        guard configuration.queueWords >= 2 else {
            throw .badConfiguration(sink: "serial", key: "queue", found: "\(configuration.queueWords)", expected: "at least 2 words")
        }
        guard configuration.maxPendingBytes >= 0 else {
            throw .badConfiguration(sink: "serial", key: "pending bytes", found: "\(configuration.maxPendingBytes)",
                                    expected: "0 or more")
        }
        guard configuration.maxWordBytes >= 1 && configuration.maxWordBytes <= 4096 else {
            throw .badConfiguration(sink: "serial", key: "word bytes", found: "\(configuration.maxWordBytes)", expected: "1 to 4096")
        }
        self.configuration = configuration
        self.runStart = runStart
        path = CName(configuration.path)
        lineCapacity = 128 + max(configuration.maxWordBytes, configuration.maxMessageBytes)
        let slot = 2 + lineCapacity
        storage = SinkStorage(capacity: 8 * configuration.queueWords + slot * configuration.queueWords + lineCapacity
                              + configuration.maxWordBytes + max(configuration.maxMessageBytes, 1))
        endMarks = UnsafeMutableRawPointer(storage.base)
        queue = storage.base + 8 * configuration.queueWords
        handLimit = configuration.queueWords / 2
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
        if heldWords == configuration.queueWords { dropOldestWaiting() }
        let slot = slotPointer(at: heldWords)
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
        heldWords += 1
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
        while hasWordsToSend || (fd >= 0 && (statusPending || handedWords > 0)) {
            let now = dactyl_monotonic_ns()
            guard now < deadline else { return }
            _ = service(now: now)
            guard hasWordsToSend || statusPending || handedWords > 0 else { return }
            let wait = min(deadline - now, 10_000_000)
            if fd >= 0 {
                _ = dactyl_poll_output(fd, Int32(max(wait / 1_000_000, 1)))
                // A port that has room but still holds more than maxPendingBytes polls writable
                // at once: pace the wait for the kernel to send.
                dactyl_sleep_ns(min(wait, 1_000_000))
            } else {
                dactyl_sleep_ns(wait)
            }
        }
    }

    // MARK: Delivery

    /// Words waiting or being written (those handed whole wait only for the kernel).
    private var hasWordsToSend: Bool { heldWords > handedWords }

    /// The queue slot `position` places after the head.
    private func slotPointer(at position: Int) -> UnsafeMutablePointer<UInt8> {
        queue + ((queueHead + position) % configuration.queueWords) * (2 + lineCapacity)
    }

    private func endMark(at position: Int) -> UInt64 {
        endMarks.load(fromByteOffset: 8 * ((queueHead + position) % configuration.queueWords), as: UInt64.self)
    }

    private func setEndMark(at position: Int, _ mark: UInt64) {
        endMarks.storeBytes(of: mark, toByteOffset: 8 * ((queueHead + position) % configuration.queueWords), as: UInt64.self)
    }

    /// At the bound: drops the oldest word not yet handed to the kernel (the handed ones are
    /// older, but may already be on the wire; `handLimit` keeps one to drop). The words before it
    /// move up one slot, so the queue stays in order.
    private mutating func dropOldestWaiting() {
        let dropped = wordsUnconfirmed
        var position = dropped
        while position > 0 {
            slotPointer(at: position).update(from: slotPointer(at: position - 1), count: 2 + lineCapacity)
            setEndMark(at: position, endMark(at: position - 1))
            position -= 1
        }
        queueHead = (queueHead + 1) % configuration.queueWords
        heldWords -= 1
        wordsDropped += 1
    }

    /// Retires the handed words whose bytes the kernel has sent: those with at least `pending`
    /// bytes written after them. Returns the pending count, or nil when the port went away.
    private mutating func confirmSent(now: UInt64) -> Int? {
        let result = dactyl_serial_output_pending(fd)
        var pending = 0
        if result >= 0 {
            pending = result
        } else if result != -Int(DACTYL_ENOTTY) && result != -Int(DACTYL_EINVAL) {
            // EIO: hung up. (ENOTTY, EINVAL: a device that cannot count: trust what it took.)
            disconnect(now: now, error: Int32(truncatingIfNeeded: -result))
            return nil
        }
        while handedWords > 0 && bytesHanded - endMark(at: 0) >= UInt64(pending) {
            queueHead = (queueHead + 1) % configuration.queueWords
            heldWords -= 1
            handedWords -= 1
            wordsDelivered += 1
        }
        return pending
    }

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
        } else if heldWords > handedWords {
            // Words go in order and before any partial; past `handLimit` they wait for the kernel.
            guard handedWords < handLimit else { return false }
            let slot = slotPointer(at: handedWords)
            let count = Int(slot[0]) | Int(slot[1]) << 8
            line.append(UnsafeBufferPointer(start: slot + 2, count: count))
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
        guard fd >= 0 else { return }
        guard handedWords > 0 || inFlightCount > 0 || statusPending || partialPending || heldWords > 0 else { return }
        guard var pending = confirmSent(now: now) else { return }
        var wrote = false
        while fd >= 0 {
            if inFlightCount == 0 {
                // A new line only while the kernel holds little (a line begun is finished).
                if pending > configuration.maxPendingBytes || !loadNext(now: now) { break }
            }
            let written = dactyl_serial_write(fd, inFlight + inFlightOffset, inFlightCount - inFlightOffset)
            if written > 0 {
                wrote = true
                bytesHanded += UInt64(written)
                pending += written
                inFlightOffset += written
                if inFlightOffset == inFlightCount {
                    if inFlightKind == .word {
                        setEndMark(at: handedWords, bytesHanded)
                        handedWords += 1
                    }
                    inFlightCount = 0
                    inFlightKind = .none
                }
                continue
            }
            // Full output buffer (a stalled or slow port): resume on `service`.
            if written == 0 || written == -Int(DACTYL_EAGAIN) { break }
            // EIO, ENXIO, ENODEV, EPIPE...: the port went away.
            disconnect(now: now, error: Int32(truncatingIfNeeded: -written))
            return
        }
        // A fast port may have sent it all already.
        if wrote && fd >= 0 { _ = confirmSent(now: now) }
    }

    private mutating func disconnect(now: UInt64, error: Int32) {
        dactyl_close(fd)
        fd = -1
        portErrno = error
        // Words the kernel had not confirmed sent, and a word cut short, are still in the queue:
        // they wait again, in order, and go whole to the next port (with their `seq`: a receiver
        // may see a word twice, never miss one). A status line is sent anew at the next open
        // anyway; a partial is stale by then.
        handedWords = 0
        bytesHanded = 0
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
        bytesHanded = 0
        portErrno = 0
        retryDelay = configuration.retryMinimum
        // The device on the other end may be new: tell it the box's state first.
        if configuration.mode == .tagged { statusPending = true }
    }
}
