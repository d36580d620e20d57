import Foundation

/// A Y4M clip (4:2:0, 30 frames/s) of a white square on a grey background with a camera's
/// noise: what the test localiser (`LocaliserBuilder`) finds. `positions[i]` is the square's
/// top-left corner in frame i (nil: no square).
public struct PatchClip {
    public var width = 128
    public var height = 96
    public var patch = 24
    /// Luma noise amplitude (uniform in ±noise, new each frame).
    public var noise = 2
    public var seed: UInt64 = 7

    public init() {}

    public func write(positions: [(x: Int, y: Int)?], to path: String) throws {
        var random = SplitMix64(seed: seed)
        var data = Data("YUV4MPEG2 W\(width) H\(height) F30:1 Ip A1:1 C420jpeg\n".utf8)
        let chroma = Data(repeating: 128, count: 2 * ((width + 1) / 2) * ((height + 1) / 2))
        for position in positions {
            data.append(contentsOf: Array("FRAME\n".utf8))
            var luma = [UInt8](repeating: 0, count: width * height)
            for y in 0..<height {
                for x in 0..<width {
                    var value = 67
                    if let position, x >= position.x, x < position.x + patch, y >= position.y, y < position.y + patch { value = 230 }
                    if noise > 0 { value += Int(random.next() % UInt64(2 * noise + 1)) - noise }
                    luma[y * width + x] = UInt8(min(max(value, 0), 255))
                }
            }
            data.append(contentsOf: luma)
            data.append(chroma)
        }
        try data.write(to: URL(fileURLWithPath: path))
    }
}
