import CDactylPlatform

/// Text for standard output, collected and written at once, so a result is printed whole or
/// not at all.
struct OutputText {
    private(set) var text = ""

    mutating func line(_ line: String = "") {
        text += line
        text += "\n"
    }

    func write(to fd: Int32 = 1) {
        var bytes = text
        bytes.withUTF8 { buffer in _ = dactyl_write_all(fd, buffer.baseAddress, buffer.count) }
    }
}

/// One line on standard error, prefixed with the program's name.
func printError(_ message: String) {
    var output = OutputText()
    output.line("dactyl: " + message)
    output.write(to: 2)
}

/// `text` as a JSON string literal.
func jsonString(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        case "\n": result += "\\n"
        case "\r": result += "\\r"
        case "\t": result += "\\t"
        default:
            if scalar.value < 0x20 {
                let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
                result += "\\u00"
                result.append(digits[Int(scalar.value >> 4)])
                result.append(digits[Int(scalar.value & 0xF)])
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
    }
    return result + "\""
}

/// A number with `decimals` digits after the point; JSON has no infinity, so -inf becomes null.
func fixed(_ value: Float, decimals: Int) -> String {
    guard value.isFinite else { return "null" }
    var scale: Float = 1
    for _ in 0..<decimals { scale *= 10 }
    let scaled = Int64((Double(abs(value)) * Double(scale)).rounded())
    let whole = scaled / Int64(scale), fraction = scaled % Int64(scale)
    var digits = String(fraction)
    while digits.count < decimals { digits = "0" + digits }
    let sign = value < 0 && scaled != 0 ? "-" : ""
    return decimals == 0 ? "\(sign)\(whole)" : "\(sign)\(whole).\(digits)"
}

/// `text` right-aligned in `width` columns.
func padLeft(_ text: String, _ width: Int) -> String {
    var result = ""
    for _ in 0..<max(0, width - text.count) { result += " " }
    return result + text
}

func padRight(_ text: String, _ width: Int) -> String {
    var result = text
    for _ in 0..<max(0, width - text.count) { result += " " }
    return result
}

/// 1234567 -> "1,234,567"
func grouped(_ value: Int) -> String {
    let digits = String(value)
    var result = ""
    for (index, character) in digits.enumerated() {
        if index > 0 && (digits.count - index) % 3 == 0 && character != "-" { result += "," }
        result.append(character)
    }
    return result
}
