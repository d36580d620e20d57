import CDactylPlatform

/// Why a board profile (or a command-line override of one of its keys) was rejected: the file,
/// the line, the key and what was expected. The CLI prints `description`.
public struct BoardProfileError: Error, Equatable, CustomStringConvertible {
    /// The profile file, or "command line".
    public let source: String
    /// 1-based line number; 0 for a command-line option or a whole-file problem.
    public let line: Int
    public let key: String
    public let message: String

    public init(source: String, line: Int, key: String, _ message: String) {
        self.source = source
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String {
        let place = line > 0 ? "\(source):\(line)" : source
        return key.isEmpty ? "\(place): \(message)" : "\(place): \(key): \(message)"
    }
}

/// The sinks a run can send to.
public struct SinkSelection: Equatable, Sendable {
    public var stdout = false
    public var serial = false
    public var gpio = false
    public var keyboard = false
    public init() {}
    public var isEmpty: Bool { !(stdout || serial || gpio || keyboard) }
}

/// A board profile (`board/*.conf`): what a particular box has — camera, signing zone, GPIO
/// lines, serial port, keyboard gadget, threads. The format is `key = value` lines with `#`
/// comments (board/README.md); the command line overrides any key (`--serial-baud 9600` sets
/// `serial.baud`). One parser serves both, so a key means the same in either place.
public struct BoardProfile: Equatable, Sendable {
    public var cameraDevice = "/dev/video0"
    public var cameraWidth = 640
    public var cameraHeight = 480
    public var cameraFramesPerSecond = 30
    /// auto, yuyv, nv12, yu12 or mjpeg.
    public var cameraFormat = "auto"
    /// The signing zone in pixels of the camera frame; nil: `cropMode` says.
    public var crop: CropRect?
    /// Without a fixed `crop`: `crop = auto` (true: follow the hand with the model's localiser),
    /// `crop = model` (false: the model's default crop), or not set (nil: auto where the model has
    /// a localiser, else the model's crop).
    public var cropAuto: Bool? = nil
    public var gpioChip = "gpiochip0"
    /// Line names (e.g. GPIO17) or offsets; empty: not connected.
    public var gpioStatusLED = ""
    public var gpioWordLED = ""
    public var gpioButton = ""
    public var gpioActiveLow = false
    public var serialDevice = "/dev/ttyUSB0"
    public var serialBaud = 115_200
    /// tagged (the line protocol of docs/serial-protocol.md) or text (words and a separator).
    public var serialMode = "tagged"
    public var keyboardDevice = "/dev/hidg0"
    /// space or enter, typed after each word.
    public var keyboardSeparator = "space"
    public var sinks: SinkSelection = {
        var selection = SinkSelection()
        selection.stdout = true
        return selection
    }()
    /// Encoder threads; 0: one per core.
    public var threads = 0
    /// When signing starts and ends (docs/live-box.md, "Segmenter").
    public var segmenter = SegmenterSettings()

    public init() {}

    /// Every key, as it is written in a profile. The command-line option of `a.b-c` is `--a-b-c`.
    public static let keys = [
        "camera.device", "camera.size", "camera.fps", "camera.format", "crop",
        "gpio.chip", "gpio.status-led", "gpio.word-led", "gpio.button", "gpio.active-low",
        "serial.device", "serial.baud", "serial.mode",
        "keyboard.device", "keyboard.separator",
        "sinks", "threads",
        "segment.quiet", "segment.start", "segment.stop", "segment.travel",
    ]

    /// Baud rates termios can set on Linux.
    public static let baudRates = [1200, 2400, 4800, 9600, 19200, 38400, 57600, 115_200, 230_400, 460_800,
                                   500_000, 576_000, 921_600, 1_000_000, 1_500_000, 2_000_000, 3_000_000, 4_000_000]

    /// Sets `key` from its text `value`; `source` and `line` name where it came from for errors.
    public mutating func set(_ key: String, _ value: String, source: String, line: Int) throws(BoardProfileError) {
        func fail(_ message: String) -> BoardProfileError {
            BoardProfileError(source: source, line: line, key: key, message)
        }
        func integer(_ range: ClosedRange<Int>, _ what: String) throws(BoardProfileError) -> Int {
            guard let number = parseWholeNumber(value), range.contains(number) else {
                throw fail("expected \(what) from \(range.lowerBound) to \(range.upperBound), got '\(value)'")
            }
            return number
        }
        func decimal(_ range: ClosedRange<Float>, _ what: String) throws(BoardProfileError) -> Float {
            guard let number = parseDecimal(value), range.contains(number) else {
                throw fail("expected \(what) from \(fixedText(range.lowerBound)) to \(fixedText(range.upperBound)), got '\(value)'")
            }
            return number
        }
        func choice(_ choices: [String]) throws(BoardProfileError) -> String {
            guard choices.contains(value) else { throw fail("expected one of \(joined(choices)), got '\(value)'") }
            return value
        }
        func path() throws(BoardProfileError) -> String {
            guard !value.isEmpty else { throw fail("expected a device path, got nothing") }
            return value
        }
        func lineName() throws(BoardProfileError) -> String {
            guard value.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                throw fail("expected a GPIO line name or offset without spaces, got '\(value)'")
            }
            return value
        }
        switch key {
        case "camera.device": cameraDevice = try path()
        case "camera.size":
            let parts = value.split(separator: "x", omittingEmptySubsequences: false)
            guard parts.count == 2, let width = parseWholeNumber(String(parts[0])), let height = parseWholeNumber(String(parts[1])),
                  (16...8192).contains(width), (16...8192).contains(height) else {
                throw fail("expected WIDTHxHEIGHT in pixels (16 to 8192 each), such as 640x480, got '\(value)'")
            }
            cameraWidth = width
            cameraHeight = height
        case "camera.fps": cameraFramesPerSecond = try integer(1...240, "frames per second")
        case "camera.format": cameraFormat = try choice(["auto", "yuyv", "nv12", "yu12", "mjpeg"])
        case "crop":
            if value == "model" || value == "auto" { crop = nil; cropAuto = value == "auto"; return }
            let parts = value.split(separator: ",", omittingEmptySubsequences: false)
            var numbers: [Int] = []
            for part in parts {
                guard let number = parseWholeNumber(String(part)), number <= 65_536 else { break }
                numbers.append(number)
            }
            guard numbers.count == 4, parts.count == 4, numbers[2] > 0, numbers[3] > 0 else {
                throw fail("expected X,Y,W,H in pixels of the camera frame (W and H at least 1), 'auto' or 'model', got '\(value)'")
            }
            crop = CropRect(x: numbers[0], y: numbers[1], width: numbers[2], height: numbers[3])
            cropAuto = false
        case "gpio.chip": gpioChip = try path()
        case "gpio.status-led": gpioStatusLED = value.isEmpty ? "" : try lineName()
        case "gpio.word-led": gpioWordLED = value.isEmpty ? "" : try lineName()
        case "gpio.button": gpioButton = value.isEmpty ? "" : try lineName()
        case "gpio.active-low": gpioActiveLow = try choice(["yes", "no"]) == "yes"
        case "serial.device": serialDevice = try path()
        case "serial.baud":
            guard let baud = parseWholeNumber(value), BoardProfile.baudRates.contains(baud) else {
                var rates: [String] = []
                for rate in BoardProfile.baudRates { rates.append(String(rate)) }
                throw fail("expected a baud rate termios can set (\(joined(rates))), got '\(value)'")
            }
            serialBaud = baud
        case "serial.mode": serialMode = try choice(["tagged", "text"])
        case "keyboard.device": keyboardDevice = try path()
        case "keyboard.separator": keyboardSeparator = try choice(["space", "enter"])
        case "sinks":
            var selection = SinkSelection()
            for name in value.split(separator: ",") {
                switch name {
                case "stdout": selection.stdout = true
                case "serial": selection.serial = true
                case "gpio": selection.gpio = true
                case "keyboard": selection.keyboard = true
                default: throw fail("expected a comma-separated list of stdout, serial, gpio, keyboard, got '\(name)'")
                }
            }
            guard !selection.isEmpty else { throw fail("expected at least one of stdout, serial, gpio, keyboard") }
            sinks = selection
        case "threads": threads = try integer(0...64, "a thread count (0: one per core)")
        case "segment.quiet": segmenter.quietSeconds = try decimal(0.1...5, "seconds")
        case "segment.start": segmenter.startMotion = try decimal(0.1...100, "a motion above the noise floor")
        case "segment.stop": segmenter.stopMotion = try decimal(0...100, "a motion above the noise floor")
        case "segment.travel": segmenter.travelMotion = try decimal(0...1000, "a motion above the noise floor (0: off)")
        default:
            throw BoardProfileError(source: source, line: line, key: key,
                                    "unknown key; known keys: \(joined(BoardProfile.keys))")
        }
    }

    /// Parses profile text: `key = value` per line, `#` starts a comment, blank lines are skipped.
    /// Later lines override earlier ones, and `base` gives the values of keys not mentioned.
    public static func parse(_ text: String, source: String, base: BoardProfile = BoardProfile()) throws(BoardProfileError) -> BoardProfile {
        var profile = base
        var lineNumber = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var content = Substring(rawLine)
            if let hash = content.firstIndex(of: "#") { content = content[..<hash] }
            let line = trimmed(content)
            if line.isEmpty { continue }
            guard let equals = line.firstIndex(of: "=") else {
                throw BoardProfileError(source: source, line: lineNumber, key: "", "expected 'key = value', got '\(line)'")
            }
            let key = trimmed(line[..<equals])
            let value = trimmed(line[line.index(after: equals)...])
            guard !key.isEmpty else {
                throw BoardProfileError(source: source, line: lineNumber, key: "", "expected a key before '='")
            }
            try profile.set(key, value, source: source, line: lineNumber)
        }
        return profile
    }

    /// Reads and parses the profile file at `path`.
    public static func load(path: String, base: BoardProfile = BoardProfile()) throws(BoardProfileError) -> BoardProfile {
        var size = 0
        var errorNumber: Int32 = 0
        guard let bytes = dactyl_map_file(path, &size, &errorNumber) else {
            throw BoardProfileError(source: path, line: 0, key: "", "cannot read the board profile: \(String(cString: dactyl_error_text(errorNumber)))")
        }
        defer { dactyl_unmap_file(bytes, size) }
        guard size <= 65_536 else {
            throw BoardProfileError(source: path, line: 0, key: "", "a board profile is at most 64 KiB, this file has \(size) bytes")
        }
        let buffer = UnsafeBufferPointer(start: bytes.assumingMemoryBound(to: UInt8.self), count: size)
        guard !buffer.contains(0) else {
            throw BoardProfileError(source: path, line: 0, key: "", "expected a text file, found a NUL byte")
        }
        return try parse(String(decoding: buffer, as: UTF8.self), source: path, base: base)
    }

    /// The profile key a command-line option sets (`--serial-baud` → `serial.baud`), or nil.
    public static func key(forOption option: String) -> String? {
        guard option.hasPrefix("--") else { return nil }
        let name = String(option.dropFirst(2))
        for key in keys {
            var spelled = ""
            for character in key { spelled.append(character == "." ? "-" : character) }
            if spelled == name { return key }
        }
        return nil
    }

    /// Every key's command-line option, for the argument parser.
    public static var options: [String] {
        var result: [String] = []
        for key in keys {
            var spelled = "--"
            for character in key { spelled.append(character == "." ? "-" : character) }
            result.append(spelled)
        }
        return result
    }
}

/// A decimal whole number, digits only: `Int("+8")` and `Int("-0")` parse, but a sign is not a
/// number a user means; nil past `Int.max` (checked, so every value of a range up to `Int.max`
/// is accepted). The one parser for whole numbers in board profiles and on the command line.
public func parseWholeNumber<Text: StringProtocol>(_ text: Text) -> Int? {
    guard !text.isEmpty else { return nil }
    var value = 0
    for byte in text.utf8 {
        guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
        let (tens, overflowTens) = value.multipliedReportingOverflow(by: 10)
        let (sum, overflowSum) = tens.addingReportingOverflow(Int(byte - UInt8(ascii: "0")))
        guard !overflowTens, !overflowSum else { return nil }
        value = sum
    }
    return value
}

/// A decimal number such as `0.6` or `12`, with no sign or exponent.
func parseDecimal(_ text: String) -> Float? {
    let parts = text.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count <= 2, let whole = parseWholeNumber(String(parts[0])), whole < 1_000_000 else { return nil }
    guard parts.count == 2 else { return Float(whole) }
    let digits = String(parts[1])
    guard let fraction = parseWholeNumber(digits), digits.utf8.count <= 6 else { return nil }
    var scale: Float = 1
    for _ in 0..<digits.utf8.count { scale *= 10 }
    return Float(whole) + Float(fraction) / scale
}

private func fixedText(_ value: Float) -> String {
    let tenths = Int((value * 10).rounded())
    return tenths % 10 == 0 ? "\(tenths / 10)" : "\(tenths / 10).\(tenths % 10)"
}

private func trimmed(_ text: Substring) -> String {
    var start = text.startIndex, end = text.endIndex
    while start < end, text[start] == " " || text[start] == "\t" || text[start] == "\r" { start = text.index(after: start) }
    while end > start {
        let previous = text.index(before: end)
        guard text[previous] == " " || text[previous] == "\t" || text[previous] == "\r" else { break }
        end = previous
    }
    return String(text[start..<end])
}

private func joined(_ words: [String]) -> String {
    var result = ""
    for (index, word) in words.enumerated() { result += (index == 0 ? "" : ", ") + word }
    return result
}
