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
        /// The sample's first (or last) frame held still for `count` frames.
        case holdFirst(Int)
        case holdLast(Int)
        /// A flat grey frame (nobody there) for `count` frames.
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
    public func write(_ parts: [Part], name: String = "session") throws -> (path: String, words: [Range<Int>]) {
        var data = header
        var words: [Range<Int>] = []
        var count = 0
        func append(_ frame: Data) {
            data.append(contentsOf: Array("FRAME\n".utf8))
            data.append(frame)
            count += 1
        }
        for part in parts {
            switch part {
            case .word:
                let start = count
                frames.forEach(append)
                words.append(start..<count)
            case .holdFirst(let n): for _ in 0..<n { append(frames[0]) }
            case .holdLast(let n): for _ in 0..<n { append(frames[frames.count - 1]) }
            case .empty(let n):
                var grey = Data(repeating: 80, count: 128 * 128)
                grey.append(Data(repeating: 128, count: 128 * 128 / 2))
                for _ in 0..<n { append(grey) }
            }
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString).y4m")
        try data.write(to: url)
        return (url.path, words)
    }
}
