import CDactylPlatform

/// Why a sink could not start (or a device it needs is unusable). The run loop prints the
/// description (one line, naming the device) and carries on without that sink.
public enum SinkError: Error, CustomStringConvertible {
    /// The device could not be opened; `reason` is the operating system's text for errno.
    case cannotOpen(sink: String, device: String, reason: String)
    /// A GPIO line named in the configuration is not on the chip.
    case noSuchLine(chip: String, line: String, lines: Int)
    /// A GPIO line is held by another program (or another line of this configuration).
    case lineBusy(chip: String, line: String, reason: String)
    /// A configuration value the sink cannot use.
    case badConfiguration(sink: String, key: String, found: String, expected: String)

    public var description: String {
        switch self {
        case .cannotOpen(let sink, let device, let reason):
            return "\(device): cannot open the \(sink) sink's device: \(reason)"
        case .noSuchLine(let chip, let line, let lines):
            return "\(chip): no GPIO line \(line) (expected a line name on this chip or an offset 0 to \(lines - 1))"
        case .lineBusy(let chip, let line, let reason):
            return "\(chip): cannot request GPIO line \(line): \(reason)"
        case .badConfiguration(let sink, let key, let found, let expected):
            return "\(sink) sink: \(key) is \"\(found)\", expected \(expected)"
        }
    }
}

/// Bytes a sink owns for its whole life, allocated once at start-up (the sinks are values; this
/// class frees the memory when the last copy goes away).
final class SinkStorage {
    let base: UnsafeMutablePointer<UInt8>
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        let raw = dactyl_alloc_aligned(capacity, 64)!
        base = raw.bindMemory(to: UInt8.self, capacity: capacity)
    }

    deinit { dactyl_free(base) }
}

/// A NUL-terminated copy of a path or name for the C calls, made at start-up.
struct CName {
    let storage: SinkStorage

    init(_ text: String) {
        let utf8 = text.utf8
        storage = SinkStorage(capacity: utf8.count + 1)
        var index = 0
        for byte in utf8 {
            storage.base[index] = byte
            index += 1
        }
        storage.base[index] = 0
    }

    var pointer: UnsafePointer<CChar> {
        UnsafeRawPointer(storage.base).assumingMemoryBound(to: CChar.self)
    }
}

/// The operating system's text for errno `code`.
func errorText(_ code: Int32) -> String {
    String(cString: dactyl_error_text(code))
}

extension FixedText {
    /// Milliseconds between two CLOCK_MONOTONIC readings (0 when `now` is earlier), whole.
    mutating func append(milliseconds now: UInt64, since start: UInt64) {
        append(integer: now >= start ? Int((now - start) / 1_000_000) : 0)
    }

    /// `bytes` with control bytes and, if `spaces`, spaces replaced by `?`, so a field
    /// cannot break a line (or, for a space-separated field, the fields).
    mutating func append(lineSafe bytes: UnsafeBufferPointer<UInt8>, spaces: Bool) {
        for byte in bytes {
            if byte < 0x20 || byte == 0x7F || (spaces && byte == UInt8(ascii: " ")) {
                append(UInt8(ascii: "?"))
            } else {
                append(byte)
            }
        }
    }
}
