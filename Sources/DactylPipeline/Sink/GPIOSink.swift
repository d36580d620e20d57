import CDactylPlatform

/// The status LED's patterns: a pure function of the box's status and the time since it
/// changed, so that each status looks different on a single LED. Every on or off stretch is at
/// least 150 ms, longer than the 100 ms between `service` calls, so none is skipped.
public enum StatusLEDPattern {
    /// Whether the LED is on `elapsed` nanoseconds after the status became `status`.
    ///   starting     300 ms on, 300 ms off
    ///   idle         a 150 ms blip every 3 s (alive, nothing to do)
    ///   hand seen    600 ms on, 600 ms off
    ///   signing      on
    ///   camera lost  two 150 ms blips every 1.5 s
    ///   error        150 ms on, 150 ms off (fast)
    public static func isOn(_ status: BoxStatus, elapsed: UInt64) -> Bool {
        let ms = elapsed / 1_000_000
        switch status {
        case .starting: return ms % 600 < 300
        case .idle: return ms % 3000 < 150
        case .handSeen: return ms % 1200 < 600
        case .signing: return true
        case .cameraLost:
            let phase = ms % 1500
            return phase < 150 || (phase >= 300 && phase < 450)
        case .error: return ms % 300 < 150
        }
    }

    /// A committed word on the status LED (when no word LED is configured): off, on, off, one
    /// `pulse` each, over whatever the status shows; nil once the flash is over.
    public static func wordFlash(elapsed: UInt64, pulse: UInt64) -> Bool? {
        guard elapsed < 3 * pulse else { return nil }
        return elapsed >= pulse && elapsed < 2 * pulse
    }
}

/// Debounces a button from its edge timestamps (libgpiod 1.x has no debounce of its own).
///
/// A level counts once it has held for `debounce`: bounces and glitches shorter than that are
/// ignored. A press acts when it is released: shorter than `longPress` it clears the current
/// word, at least `longPress` it repeats the last one. The edges' timestamps and the `now` of
/// `settle` must be on the same clock (CLOCK_MONOTONIC: Linux >= 5.7 stamps line events with it).
public struct ButtonDebouncer: Sendable {
    public let debounce: UInt64
    public let longPress: UInt64
    /// The debounced state.
    public private(set) var pressed: Bool
    private var pressedAt: UInt64 = 0
    private var rawLevel: Bool
    private var rawSince: UInt64 = 0
    private var unconfirmed = false
    /// A button held down at start-up: its release is not a press (when it began is unknown).
    private var heldAtStart: Bool

    /// `pressed`: the line's state at start-up.
    public init(debounce: UInt64 = 30_000_000, longPress: UInt64 = 1_000_000_000, pressed: Bool = false) {
        self.debounce = debounce
        self.longPress = longPress
        self.pressed = pressed
        rawLevel = pressed
        heldAtStart = pressed
    }

    /// An edge: the line became active (`active`) or inactive at `time`.
    public mutating func edge(active: Bool, at time: UInt64) -> SinkRequest? {
        let request = settle(now: time)
        rawLevel = active
        rawSince = time
        unconfirmed = true
        return request
    }

    /// Time passed without an edge: a level that has now held for `debounce` counts.
    public mutating func settle(now: UInt64) -> SinkRequest? {
        guard unconfirmed, now >= rawSince, now - rawSince >= debounce else { return nil }
        unconfirmed = false
        guard rawLevel != pressed else { return nil }
        pressed = rawLevel
        if pressed {
            pressedAt = rawSince
            return nil
        }
        if heldAtStart {
            heldAtStart = false
            return nil
        }
        return rawSince - pressedAt >= longPress ? .repeatLastWord : .clearWord
    }
}

/// GPIO through libgpiod 1.6: a status LED, a pulse per committed word and an optional button
/// (short press: clear the current word; long press: repeat the last word). The chip and
/// lines come from the board profile; the lines are requested once at init and held.
public struct GPIOSink: BoxSink {
    /// A line by name ("GPIO17", as the chip's line names say) or by offset on the chip.
    public enum Line: Sendable, Equatable, CustomStringConvertible {
        case name(String)
        case offset(Int)

        /// All digits: an offset; anything else: a name.
        public init(parsing text: String) {
            var value = 0
            var digits = 0
            for byte in text.utf8 {
                guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") && digits < 9 else {
                    self = .name(text)
                    return
                }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
                digits += 1
            }
            self = digits > 0 ? .offset(value) : .name(text)
        }

        public var description: String {
            switch self {
            case .name(let name): return "\"\(name)\""
            case .offset(let offset): return "\(offset)"
            }
        }
    }

    public enum Bias: Sendable {
        case asIs, disabled, pullUp, pullDown
    }

    public struct Configuration: Sendable {
        /// Name ("gpiochip0"), number ("0"), label ("pinctrl-rp1") or path ("/dev/gpiochip4").
        public var chip: String
        public var statusLED: Line?
        public var statusActiveLow: Bool
        /// A line for the word pulse; without it the status LED flashes.
        public var wordLED: Line?
        public var wordActiveLow: Bool
        public var button: Line?
        /// Active-low is the usual button wiring (to ground, with a pull-up).
        public var buttonActiveLow: Bool
        public var buttonBias: Bias
        /// The consumer name shown by gpioinfo.
        public var consumer: String
        public var pulse: UInt64
        public var debounce: UInt64
        public var longPress: UInt64

        public init(chip: String, statusLED: Line? = nil, statusActiveLow: Bool = false, wordLED: Line? = nil,
                    wordActiveLow: Bool = false, button: Line? = nil, buttonActiveLow: Bool = true,
                    buttonBias: Bias = .pullUp, consumer: String = "dactyl", pulse: UInt64 = 150_000_000,
                    debounce: UInt64 = 30_000_000, longPress: UInt64 = 1_000_000_000) {
            self.chip = chip
            self.statusLED = statusLED
            self.statusActiveLow = statusActiveLow
            self.wordLED = wordLED
            self.wordActiveLow = wordActiveLow
            self.button = button
            self.buttonActiveLow = buttonActiveLow
            self.buttonBias = buttonBias
            self.consumer = consumer
            self.pulse = pulse
            self.debounce = debounce
            self.longPress = longPress
        }
    }

    /// The chip and the requested lines, released when the last copy of the sink goes away.
    private final class Handles {
        var chip: OpaquePointer?
        var statusLine: OpaquePointer?
        var wordLine: OpaquePointer?
        var buttonLine: OpaquePointer?
        let edges: UnsafeMutablePointer<dactyl_gpio_edge>
        static let edgeCapacity = 16

        init() {
            edges = UnsafeMutablePointer<dactyl_gpio_edge>.allocate(capacity: Self.edgeCapacity)
        }

        func release() {
            dactyl_gpio_release(statusLine)
            dactyl_gpio_release(wordLine)
            dactyl_gpio_release(buttonLine)
            dactyl_gpio_close_chip(chip)
            statusLine = nil
            wordLine = nil
            buttonLine = nil
            chip = nil
        }

        deinit {
            release()
            edges.deallocate()
        }
    }

    public let configuration: Configuration
    private let handles: Handles
    private var debouncer: ButtonDebouncer
    private var status = BoxStatus.starting
    private var statusSince: UInt64
    private var statusLevel = false
    private var wordLevel = false
    private var wordPulseAt: UInt64 = 0
    private var wordPulseActive = false
    private var pendingRequest: SinkRequest?
    /// errno of the first failure setting or reading a line after start-up (the chip went
    /// away; 0: none): the sink stops using the lines then.
    private var lineErrno: Int32 = 0
    /// That failure as an error for the log (builds a String).
    public var lineError: SinkError? {
        lineErrno == 0 ? nil : .lineBusy(chip: configuration.chip, line: "(after start-up)", reason: errorText(lineErrno))
    }
    /// Button presses acted on.
    public private(set) var presses = 0

    /// Opens the chip and requests the lines. A missing or busy chip or line is an error the
    /// run loop prints before carrying on without GPIO.
    public init(configuration: Configuration, now: UInt64) throws(SinkError) {
        guard configuration.statusLED != nil || configuration.wordLED != nil || configuration.button != nil else {
            throw .badConfiguration(sink: "gpio", key: "lines", found: "none",
                                    expected: "at least one of the status LED, word LED or button lines")
        }
        self.configuration = configuration
        handles = Handles()
        debouncer = ButtonDebouncer(debounce: configuration.debounce, longPress: configuration.longPress)
        statusSince = now
        var error: Int32 = 0
        let chipName = CName(configuration.chip)
        guard let chip = dactyl_gpio_open_chip(chipName.pointer, &error) else {
            throw .cannotOpen(sink: "gpio", device: configuration.chip, reason: errorText(error))
        }
        handles.chip = chip
        let consumer = CName(configuration.consumer)
        var offsets: (Int, Int, Int) = (-1, -1, -1)
        offsets.0 = try Self.resolve(configuration.statusLED, chip: chip, configuration: configuration)
        offsets.1 = try Self.resolve(configuration.wordLED, chip: chip, configuration: configuration)
        offsets.2 = try Self.resolve(configuration.button, chip: chip, configuration: configuration)
        if (offsets.0 >= 0 && (offsets.0 == offsets.1 || offsets.0 == offsets.2)) || (offsets.1 >= 0 && offsets.1 == offsets.2) {
            throw .badConfiguration(sink: "gpio", key: "lines", found: "the same line twice",
                                    expected: "different lines for the status LED, word LED and button")
        }
        if let line = configuration.statusLED {
            handles.statusLine = dactyl_gpio_request_output(chip, UInt32(offsets.0), configuration.statusActiveLow ? 1 : 0,
                                                            0, consumer.pointer, &error)
            guard handles.statusLine != nil else { throw .lineBusy(chip: configuration.chip, line: line.description, reason: errorText(error)) }
        }
        if let line = configuration.wordLED {
            handles.wordLine = dactyl_gpio_request_output(chip, UInt32(offsets.1), configuration.wordActiveLow ? 1 : 0,
                                                          0, consumer.pointer, &error)
            guard handles.wordLine != nil else { throw .lineBusy(chip: configuration.chip, line: line.description, reason: errorText(error)) }
        }
        if let line = configuration.button {
            let bias: Int32
            switch configuration.buttonBias {
            case .asIs: bias = Int32(DACTYL_GPIO_BIAS_AS_IS)
            case .disabled: bias = Int32(DACTYL_GPIO_BIAS_DISABLE)
            case .pullUp: bias = Int32(DACTYL_GPIO_BIAS_PULL_UP)
            case .pullDown: bias = Int32(DACTYL_GPIO_BIAS_PULL_DOWN)
            }
            handles.buttonLine = dactyl_gpio_request_events(chip, UInt32(offsets.2), configuration.buttonActiveLow ? 1 : 0,
                                                            bias, consumer.pointer, &error)
            guard let button = handles.buttonLine else {
                throw .lineBusy(chip: configuration.chip, line: line.description, reason: errorText(error))
            }
            // A button held at start-up is not a press.
            debouncer = ButtonDebouncer(debounce: configuration.debounce, longPress: configuration.longPress,
                                        pressed: dactyl_gpio_get(button) == 1)
        }
        updateLEDs(now: now)
    }

    private static func resolve(_ line: Line?, chip: OpaquePointer, configuration: Configuration) throws(SinkError) -> Int {
        guard let line else { return -1 }
        let count = Int(dactyl_gpio_chip_line_count(chip))
        switch line {
        case .offset(let offset):
            guard offset >= 0 && offset < count else {
                throw .noSuchLine(chip: configuration.chip, line: line.description, lines: count)
            }
            return offset
        case .name(let name):
            let offset = Int(dactyl_gpio_find_line(chip, CName(name).pointer))
            guard offset >= 0 else { throw .noSuchLine(chip: configuration.chip, line: line.description, lines: count) }
            return offset
        }
    }

    /// Turns the LEDs off and releases the lines and the chip (shutdown).
    public mutating func close() {
        if lineErrno == 0 {
            if let line = handles.statusLine { _ = dactyl_gpio_set(line, 0) }
            if let line = handles.wordLine { _ = dactyl_gpio_set(line, 0) }
        }
        handles.release()
    }

    public mutating func partial(_ word: WordView, now: UInt64) {}

    public mutating func commit(_ word: WordView, now: UInt64) {
        wordPulseAt = now
        wordPulseActive = true
        updateLEDs(now: now)
    }

    public mutating func status(_ status: BoxStatus, message: UnsafeBufferPointer<UInt8>, now: UInt64) {
        guard status != self.status else { return }
        self.status = status
        statusSince = now
        updateLEDs(now: now)
    }

    public mutating func service(now: UInt64) -> SinkRequest? {
        updateLEDs(now: now)
        var request = pendingRequest
        pendingRequest = nil
        if let button = handles.buttonLine, lineErrno == 0 {
            let count = dactyl_gpio_read_edges(button, handles.edges, Int32(Handles.edgeCapacity))
            if count < 0 { lineErrno = -count }
            for index in 0..<max(Int(count), 0) {
                let edge = handles.edges[index]
                // Kernels before 5.7 stamp events with CLOCK_REALTIME: then `now` stands in.
                let stamp = edge.timestamp_ns > now &+ 5_000_000_000 ? now : edge.timestamp_ns
                take(debouncer.edge(active: edge.rising != 0, at: stamp), into: &request)
            }
            take(debouncer.settle(now: now), into: &request)
        }
        return request
    }

    public mutating func flush(deadline: UInt64) {}

    private mutating func take(_ new: SinkRequest?, into request: inout SinkRequest?) {
        guard let new else { return }
        presses += 1
        if request == nil { request = new } else { pendingRequest = new }
    }

    private mutating func updateLEDs(now: UInt64) {
        guard lineErrno == 0 else { return }
        var flash: Bool?
        if wordPulseActive {
            let elapsed = now >= wordPulseAt ? now - wordPulseAt : 0
            if handles.wordLine != nil {
                if elapsed >= configuration.pulse { wordPulseActive = false }
                if let line = handles.wordLine, wordPulseActive != wordLevel, drive(line, wordPulseActive) {
                    wordLevel = wordPulseActive
                }
            } else {
                flash = StatusLEDPattern.wordFlash(elapsed: elapsed, pulse: configuration.pulse)
                if flash == nil { wordPulseActive = false }
            }
        }
        let elapsed = now >= statusSince ? now - statusSince : 0
        let on = flash ?? StatusLEDPattern.isOn(status, elapsed: elapsed)
        // Lines are written only when their level changes (both start off, as requested).
        if let line = handles.statusLine, on != statusLevel, drive(line, on) { statusLevel = on }
    }

    private mutating func drive(_ line: OpaquePointer, _ on: Bool) -> Bool {
        let result = dactyl_gpio_set(line, on ? 1 : 0)
        guard result == 0 else {
            lineErrno = result
            return false
        }
        return true
    }
}
