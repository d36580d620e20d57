/// CRC-32 (ISO-HDLC, reflected polynomial 0xEDB88320), the checksum zlib's `crc32` computes,
/// so the Python exporter can use the standard library. Runs at load time only.
public struct CRC32 {
    private var table: [UInt32]

    public init() {
        table = (0..<256).map { index in
            var value = UInt32(index)
            for _ in 0..<8 {
                value = (value & 1) != 0 ? (value >> 1) ^ 0xEDB8_8320 : value >> 1
            }
            return value
        }
    }

    public func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        table.withUnsafeBufferPointer { table in
            for byte in bytes {
                crc = (crc >> 8) ^ table[Int(UInt8(truncatingIfNeeded: crc) ^ byte)]
            }
        }
        return crc ^ 0xFFFF_FFFF
    }
}
