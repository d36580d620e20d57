import Foundation

/// Test sessions made from the bundled sample clip (the word "dragon", 128x128 4:2:0): its frames
/// rearranged with still and empty stretches between, written as a Y4M file in a temporary folder.
public struct SessionClip {
    public static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    public static let modelPath = repository.appendingPathComponent("models/default.dmdl").path
    public static let samplePath = repository.appendingPathComponent("samples/sample.y4m").path

    /// One piece of a session.
    public enum Part {
        /// The sample's frames, in order.
        case word
        /// The sample's first (or last) frame held still for `count` frames (with a camera's noise).
        case holdFirst(Int)
        case holdLast(Int)
        /// A flat grey frame (nobody there) for `count` frames (with a camera's noise).
        case empty(Int)
    }

    public let header: Data
    public let frames: [Data]

    public init() throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: Self.samplePath))
        let newline = bytes.firstIndex(of: 0x0A)!
        header = bytes[..<(newline + 1)]
        let frameBytes = 128 * 128 * 3 / 2
        var frames: [Data] = []
        var offset = newline + 1
        while offset < bytes.count {
            let payload = bytes.index(offset, offsetBy: 6)  // "FRAME\n"
            frames.append(bytes[payload..<(payload + frameBytes)])
            offset = payload + frameBytes
        }
        self.frames = frames
    }

    /// Writes the session to a new file and returns its path and the frame ranges of its words.
    /// `repeats` writes every frame that many times (a camera delivering each picture twice);
    /// `keepEvery` writes only every so many frames; `framesPerSecond` is the rate in the header
    /// (a 15 frames/s camera: `keepEvery: 2, framesPerSecond: 15`).
    public func write(_ parts: [Part], name: String = "session", repeats: Int = 1, keepEvery: Int = 1,
                      framesPerSecond: Int = 30) throws -> (path: String, words: [Range<Int>]) {
        var data = framesPerSecond == 30 ? header
            : Data(String(decoding: header, as: UTF8.self).replacingOccurrences(of: " F30:1", with: " F\(framesPerSecond):1").utf8)
        var words: [Range<Int>] = []
        var count = 0
        var seen = 0
        func append(_ frame: Data) {
            seen += 1
            guard (seen - 1) % keepEvery == 0 else { return }
            for _ in 0..<repeats {
                data.append(contentsOf: Array("FRAME\n".utf8))
                data.append(frame)
                count += 1
            }
        }
        // A held picture gets a camera's noise (luma ±2, new each frame), as the generator's
        // frames have: no camera repeats a frame exactly.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func noisy(_ frame: Data) -> Data {
            var bytes = [UInt8](frame)
            for index in 0..<(128 * 128) {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let delta = Int((state >> 33) % 5) - 2
                bytes[index] = UInt8(clamping: Int(bytes[index]) + delta)
            }
            return Data(bytes)
        }
        var grey = Data(repeating: 80, count: 128 * 128)
        grey.append(Data(repeating: 128, count: 128 * 128 / 2))
        for part in parts {
            switch part {
            case .word:
                let start = count
                frames.forEach(append)
                words.append(start..<count)
            case .holdFirst(let n): for _ in 0..<n { append(noisy(frames[0])) }
            case .holdLast(let n): for _ in 0..<n { append(noisy(frames[frames.count - 1])) }
            case .empty(let n): for _ in 0..<n { append(noisy(grey)) }
            }
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString).y4m")
        try data.write(to: url)
        return (url.path, words)
    }
}
