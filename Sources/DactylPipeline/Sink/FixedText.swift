/// An append-only byte buffer of fixed capacity over memory someone else owns (the arena, a
/// sink's own storage): how sinks format lines without allocating. Writes past the capacity
/// are cut and `overflowed` is set, so a line is never written out of bounds.
public struct FixedText {
    public let base: UnsafeMutablePointer<UInt8>
    public let capacity: Int
    public private(set) var count = 0
    public private(set) var overflowed = false

    public init(base: UnsafeMutablePointer<UInt8>, capacity: Int) {
        self.base = base
        self.capacity = capacity
    }

    public var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: count) }

    public mutating func clear() {
        count = 0
        overflowed = false
    }

    @inline(__always)
    public mutating func append(_ byte: UInt8) {
        guard count < capacity else { overflowed = true; return }
        base[count] = byte
        count += 1
    }

    public mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        for byte in bytes { append(byte) }
    }

    /// A literal, e.g. `text.append("\"status\":")`.
    public mutating func append(_ literal: StaticString) {
        literal.withUTF8Buffer { append($0) }
    }

    /// A decimal integer.
    public mutating func append(integer value: Int) {
        var magnitude = value.magnitude
        if value < 0 { append(UInt8(ascii: "-")) }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var length = 0
        withUnsafeMutableBytes(of: &digits) { digitBytes in
            repeat {
                digitBytes[length] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                length += 1
            } while magnitude > 0
            for index in stride(from: length - 1, through: 0, by: -1) { append(digitBytes[index]) }
        }
    }

    /// A number with `decimals` digits after the point (no exponent); not finite gives `null`,
    /// which JSON accepts.
    public mutating func append(fixed value: Float, decimals: Int) {
        guard value.isFinite else { append("null"); return }
        var scale: Double = 1
        for _ in 0..<decimals { scale *= 10 }
        let scaled = Int((Double(value.magnitude) * scale).rounded())
        let whole = scaled / Int(scale), fraction = scaled % Int(scale)
        if value < 0 && scaled != 0 { append(UInt8(ascii: "-")) }
        append(integer: whole)
        guard decimals > 0 else { return }
        append(UInt8(ascii: "."))
        var divisor = Int(scale) / 10
        while divisor > 0 {
            append(UInt8(ascii: "0") + UInt8(fraction / divisor % 10))
            divisor /= 10
        }
    }

    /// `bytes` (UTF-8) as a JSON string literal, quotes included.
    public mutating func append(jsonString bytes: UnsafeBufferPointer<UInt8>) {
        let hex: StaticString = "0123456789abcdef"
        append(UInt8(ascii: "\""))
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\""): append("\\\"")
            case UInt8(ascii: "\\"): append("\\\\")
            case UInt8(ascii: "\n"): append("\\n")
            case UInt8(ascii: "\r"): append("\\r")
            case UInt8(ascii: "\t"): append("\\t")
            case 0..<0x20:
                append("\\u00")
                hex.withUTF8Buffer { digits in
                    append(digits[Int(byte >> 4)])
                    append(digits[Int(byte & 0xF)])
                }
            default: append(byte)
            }
        }
        append(UInt8(ascii: "\""))
    }
}
