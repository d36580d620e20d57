import DactylModel
import DactylPipeline

/// A small command-line parser that Embedded Swift can compile (swift-argument-parser needs
/// reflection): options with a value (`--beam 8` or `--beam=8`), flags, and positionals.
struct Arguments {
    struct UsageError: Error {
        let message: String
    }

    private(set) var positionals: [String] = []
    private var options: [(name: String, value: String)] = []
    private var flags: [String] = []

    /// `valueOptions` take a value; `flagOptions` do not. Anything else starting with `-` is an error.
    init(_ words: ArraySlice<String>, valueOptions: [String], flagOptions: [String]) throws(UsageError) {
        var index = words.startIndex
        while index < words.endIndex {
            let word = words[index]
            index += 1
            guard word.hasPrefix("-"), word != "-" else {
                positionals.append(word)
                continue
            }
            var name = word
            var inlineValue: String? = nil
            if let equals = word.firstIndex(of: "=") {
                name = String(word[..<equals])
                inlineValue = String(word[word.index(after: equals)...])
            }
            if flagOptions.contains(name) {
                guard inlineValue == nil else { throw UsageError(message: "option '\(name)' takes no value") }
                flags.append(name)
            } else if valueOptions.contains(name) {
                if let inlineValue {
                    options.append((name, inlineValue))
                } else {
                    guard index < words.endIndex else { throw UsageError(message: "option '\(name)' needs a value") }
                    options.append((name, words[index]))
                    index += 1
                }
            } else {
                throw UsageError(message: "unknown option '\(name)'")
            }
        }
    }

    func has(_ flag: String) -> Bool { flags.contains(flag) }

    /// The last value given for `name`, if any.
    func value(_ name: String) -> String? {
        options.last { $0.name == name }?.value
    }

    /// Decimal digits only, up to `Int.max` (`parseWholeNumber`, shared with the board profiles).
    static func wholeNumber<Text: StringProtocol>(_ text: Text) -> Int? { parseWholeNumber(text) }

    func integer(_ name: String, default defaultValue: Int, range: ClosedRange<Int>) throws(UsageError) -> Int {
        guard let text = value(name) else { return defaultValue }
        guard let number = Arguments.wholeNumber(text), range.contains(number) else {
            throw UsageError(message: "option '\(name)' expects a whole number from \(range.lowerBound) to \(range.upperBound), got '\(text)'")
        }
        return number
    }

    /// Comma- or x-separated whole numbers in `range`, e.g. `112x112` or `10,20,100,100`.
    func integers(_ name: String, count: Int, separator: Character, range: ClosedRange<Int>, example: String) throws(UsageError) -> [Int]? {
        guard let text = value(name) else { return nil }
        let parts = text.split(separator: separator, omittingEmptySubsequences: false)
        var numbers: [Int] = []
        for part in parts {
            guard let number = Arguments.wholeNumber(part), range.contains(number) else { numbers = []; break }
            numbers.append(number)
        }
        guard numbers.count == count else {
            throw UsageError(message: "option '\(name)' expects \(example), got '\(text)'")
        }
        return numbers
    }

    /// A decimal number such as `0.5`, `-2` or `.25` (no exponent: Embedded Swift has no
    /// `Float(String)`), within `range`.
    func decimal(_ name: String, default defaultValue: Float, range: ClosedRange<Float>) throws(UsageError) -> Float {
        guard let text = value(name) else { return defaultValue }
        var bytes = Array(text.utf8)
        var sign: Double = 1
        if let first = bytes.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            if first == UInt8(ascii: "-") { sign = -1 }
            bytes.removeFirst()
        }
        var number: Double = 0
        var scale: Double = 1
        var digits = 0
        var seenPoint = false
        var valid = !bytes.isEmpty
        for byte in bytes {
            if byte == UInt8(ascii: "."), !seenPoint {
                seenPoint = true
            } else if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                number = number * 10 + Double(byte - UInt8(ascii: "0"))
                if seenPoint { scale *= 10 }
                digits += 1
            } else {
                valid = false
            }
        }
        let value = Float(sign * number / scale)
        guard valid, digits > 0, range.contains(value) else {
            throw UsageError(message: "option '\(name)' expects a decimal number from \(fixedText(range.lowerBound)) to "
                             + "\(fixedText(range.upperBound)), got '\(text)'")
        }
        return value
    }

    private func fixedText(_ value: Float) -> String {
        value == value.rounded() ? "\(Int(value))" : fixed(value, decimals: 2)
    }

    /// A frame rate, `30` or `30000/1001` (or `30000:1001`, as in a Y4M header); nil when not given.
    func frameRate(_ name: String) throws(UsageError) -> FrameRate? {
        guard let text = value(name) else { return nil }
        let parts = text.split(separator: text.contains(":") ? ":" : "/", omittingEmptySubsequences: false)
        let numerator = parts.count <= 2 ? Arguments.wholeNumber(parts[0]) : nil
        let denominator = parts.count == 2 ? Arguments.wholeNumber(parts[1]) : (parts.count == 1 ? 1 : nil)
        guard let numerator, let denominator, let rate = FrameRate(numerator: numerator, denominator: denominator) else {
            throw UsageError(message: "option '\(name)' expects frames per second from \(FrameRate.minimumPerSecond) to "
                             + "\(FrameRate.maximumPerSecond) such as 25 or 30000/1001, got '\(text)'")
        }
        return rate
    }

    func choice(_ name: String, from choices: [String], default defaultValue: String) throws(UsageError) -> String {
        guard let text = value(name) else { return defaultValue }
        guard choices.contains(text) else {
            var list = ""
            for (index, choice) in choices.enumerated() { list += (index == 0 ? "" : ", ") + choice }
            throw UsageError(message: "option '\(name)' expects one of \(list), got '\(text)'")
        }
        return text
    }
}
