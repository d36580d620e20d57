import CDactylPlatform

/// US-layout key codes of the USB HID boot keyboard (HID Usage Tables, page 0x07).
public enum USKeyboardLayout {
    public static let leftShift: UInt8 = 0x02
    public static let enter: UInt8 = 0x28
    public static let space: UInt8 = 0x2C

    /// The modifier byte and usage ID that type `byte` (ASCII) on a US layout, or nil when the
    /// layout has no key for it: letters, digits, space, enter (`\n`), tab and the punctuation
    /// of the main block, with shift where needed.
    public static func key(for byte: UInt8) -> (modifiers: UInt8, usage: UInt8)? {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return (0, 0x04 + byte - UInt8(ascii: "a"))
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return (leftShift, 0x04 + byte - UInt8(ascii: "A"))
        case UInt8(ascii: "1")...UInt8(ascii: "9"): return (0, 0x1E + byte - UInt8(ascii: "1"))
        case UInt8(ascii: "0"): return (0, 0x27)
        case UInt8(ascii: "\n"): return (0, enter)
        case UInt8(ascii: "\t"): return (0, 0x2B)
        case UInt8(ascii: " "): return (0, space)
        default: break
        }
        // The rest of the main block: unshifted and shifted character per key.
        let keys: StaticString = "-_=+[{]}\\|;:'\"`~,<.>/?1!2@3#4$5%6^7&8*9(0)"
        let usages: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0x2D, 0x2E, 0x2F, 0x30, 0x31, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38,
             0x1E, 0x1F, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27)
        return keys.withUTF8Buffer { characters -> (modifiers: UInt8, usage: UInt8)? in
            for index in 0..<characters.count where characters[index] == byte {
                let keyIndex = index / 2, shifted = index % 2 == 1
                // Digits are matched above unshifted; here only their shifted symbols count.
                if keyIndex >= 11 && !shifted { continue }
                let usage = withUnsafeBytes(of: usages) { $0[keyIndex] }
                return (shifted ? leftShift : 0, usage)
            }
            return nil
        }
    }
}

/// Types each committed word into the computer or phone the box is plugged into, as a USB
/// keyboard (the Linux HID gadget, /dev/hidg0; board/usb-keyboard-gadget.sh sets it up).
///
/// Boot-protocol reports [modifiers, 0, key, 0, 0, 0, 0, 0], each key press followed by an
/// all-zero release, so repeated letters type twice. Writes never block: reports wait in a
/// bounded queue while the host is not reading (EAGAIN) or no host is connected (ESHUTDOWN);
/// a word that does not fit whole is dropped and counted (never half a word).
public struct KeyboardSink: BoxSink {
    public enum Separator: Sendable {
        case space, enter, none
    }

    public struct Configuration: Sendable {
        public var path: String
        /// Typed after each word.
        public var separator: Separator
        /// Reports the queue holds (two per character: press and release).
        public var queueReports: Int
        /// Reopening the device after an error other than EAGAIN/ESHUTDOWN: first retry after
        /// `retryMinimum` ns, doubling up to `retryMaximum`.
        public var retryMinimum: UInt64
        public var retryMaximum: UInt64

        public init(path: String = "/dev/hidg0", separator: Separator = .space, queueReports: Int = 4096,
                    retryMinimum: UInt64 = 100_000_000, retryMaximum: UInt64 = 2_000_000_000) {
            self.path = path
            self.separator = separator
            self.queueReports = queueReports
            self.retryMinimum = retryMinimum
            self.retryMaximum = retryMaximum
        }
    }

    static let reportSize = 8

    public let configuration: Configuration
    private let path: CName
    private let storage: SinkStorage
    private var fd: Int32
    private var head = 0
    public private(set) var queuedReports = 0
    /// Bytes of the head report already written (a pipe may take part of one).
    private var headOffset = 0
    /// The last report written pressed a key: the host holds it down until a release.
    private var keyDown = false
    private var releasePending = false
    private var retryDelay: UInt64
    private var nextOpenAt: UInt64 = 0

    /// Words dropped because the queue had no room for them whole.
    public private(set) var wordsDropped = 0
    /// Characters of committed words the US layout has no key for (skipped).
    public private(set) var charactersSkipped = 0
    /// Reports written.
    public private(set) var reportsWritten = 0
    /// True while the host takes no reports (EAGAIN or ESHUTDOWN at the last write).
    public private(set) var hostNotListening = false
    /// errno of the failure that closed the device (0 while it is open): a number, so that the
    /// loop's calls never build a String.
    private var deviceErrno: Int32 = 0
    /// Why the device is closed now (nil while it is open), for the log (builds a String).
    public var deviceError: SinkError? {
        deviceErrno == 0 ? nil : .cannotOpen(sink: "keyboard", device: configuration.path, reason: errorText(deviceErrno))
    }

    /// Opens the device; a device that cannot be opened (no gadget configured) is an error:
    /// the run loop prints it and runs without the keyboard.
    public init(configuration: Configuration) throws(SinkError) {
        guard configuration.queueReports >= 4 else {
            throw .badConfiguration(sink: "keyboard", key: "queue", found: "\(configuration.queueReports)",
                                    expected: "at least 4 reports")
        }
        var error: Int32 = 0
        let path = CName(configuration.path)
        fd = dactyl_keyboard_open(path.pointer, &error)
        guard fd >= 0 else {
            throw .cannotOpen(sink: "keyboard", device: configuration.path, reason: errorText(error))
        }
        self.configuration = configuration
        self.path = path
        storage = SinkStorage(capacity: configuration.queueReports * Self.reportSize)
        retryDelay = configuration.retryMinimum
    }

    /// Releases any key still down and closes the device (shutdown; `flush` first).
    public mutating func close() {
        if fd >= 0 && keyDown { writeRelease() }
        dactyl_close(fd)
        fd = -1
    }

    public mutating func partial(_ word: WordView, now: UInt64) {}

    public mutating func status(_ status: BoxStatus, message: UnsafeBufferPointer<UInt8>, now: UInt64) {}

    public mutating func commit(_ word: WordView, now: UInt64) {
        var needed = 0
        for byte in word.text where USKeyboardLayout.key(for: byte) != nil { needed += 2 }
        // Nothing to type (nothing read, or no key for any of it): not even a separator, unless
        // this is the empty last piece of a word committed in pieces, which the separator ends.
        let separates = word.isFinal && configuration.separator != .none
        guard needed > 0 || (separates && word.piece > 0) else {
            charactersSkipped += word.text.count
            return
        }
        if separates { needed += 2 }
        guard needed <= configuration.queueReports - queuedReports else {
            wordsDropped += 1
            pump(now: now)
            return
        }
        for byte in word.text {
            guard let key = USKeyboardLayout.key(for: byte) else {
                charactersSkipped += 1
                continue
            }
            enqueue(key)
        }
        if separates {
            switch configuration.separator {
            case .space: enqueue((0, USKeyboardLayout.space))
            case .enter: enqueue((0, USKeyboardLayout.enter))
            case .none: break
            }
        }
        pump(now: now)
    }

    public mutating func service(now: UInt64) -> SinkRequest? {
        if fd < 0 && now >= nextOpenAt { reopen(now: now) }
        pump(now: now)
        return nil
    }

    public mutating func flush(deadline: UInt64) {
        while true {
            let now = dactyl_monotonic_ns()
            _ = service(now: now)
            let done = queuedReports == 0 && !releasePending
            if done || now >= deadline { break }
            let wait = min(deadline - now, 5_000_000)
            if fd >= 0 { _ = dactyl_poll_output(fd, Int32(max(wait / 1_000_000, 1))) } else { dactyl_sleep_ns(wait) }
        }
        // Whatever could not be typed, no key stays held down on the host.
        if fd >= 0 && keyDown { writeRelease() }
    }

    // MARK: Queue

    /// Queues the press of `key` and its all-zero release.
    private mutating func enqueue(_ key: (modifiers: UInt8, usage: UInt8)) {
        let press = storage.base + ((head + queuedReports) % configuration.queueReports) * Self.reportSize
        let release = storage.base + ((head + queuedReports + 1) % configuration.queueReports) * Self.reportSize
        for index in 0..<Self.reportSize {
            press[index] = 0
            release[index] = 0
        }
        press[0] = key.modifiers
        press[2] = key.usage
        queuedReports += 2
    }

    private mutating func pump(now: UInt64) {
        while fd >= 0 && (queuedReports > 0 || releasePending) {
            if releasePending {
                writeRelease()
                if releasePending { return }
                continue
            }
            let report = storage.base + head * Self.reportSize
            let written = dactyl_keyboard_write(fd, report + headOffset, Self.reportSize - headOffset)
            if written > 0 {
                headOffset += written
                hostNotListening = false
                if headOffset == Self.reportSize {
                    keyDown = report[2] != 0
                    headOffset = 0
                    head = (head + 1) % configuration.queueReports
                    queuedReports -= 1
                    reportsWritten += 1
                }
                continue
            }
            // The host has not read the last report, or no host has configured the gadget:
            // not an error, try again on `service`.
            if written == 0 || written == -Int(DACTYL_EAGAIN) || written == -Int(DACTYL_ESHUTDOWN) {
                hostNotListening = true
                return
            }
            fail(now: now, error: Int32(truncatingIfNeeded: -written))
        }
    }

    private mutating func writeRelease() {
        let zero: UInt64 = 0
        let written = withUnsafeBytes(of: zero) { bytes in
            dactyl_keyboard_write(fd, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), Self.reportSize)
        }
        releasePending = written != Self.reportSize
        if !releasePending { keyDown = false }
    }

    private mutating func fail(now: UInt64, error: Int32) {
        dactyl_close(fd)
        fd = -1
        deviceErrno = error
        // A report cut short goes again whole; a key the host may still hold is released first.
        headOffset = 0
        releasePending = keyDown
        nextOpenAt = now + retryDelay
    }

    private mutating func reopen(now: UInt64) {
        var error: Int32 = 0
        let opened = dactyl_keyboard_open(path.pointer, &error)
        guard opened >= 0 else {
            deviceErrno = error == 0 ? Int32(DACTYL_EIO) : error
            retryDelay = min(retryDelay * 2, configuration.retryMaximum)
            nextOpenAt = now + retryDelay
            return
        }
        fd = opened
        deviceErrno = 0
        retryDelay = configuration.retryMinimum
    }
}
