/// A frame rate as a fraction of whole numbers (Y4M's `F30000:1001`, a model's `RATE`), so that
/// frame times are exact: frame n of a stream starts at n · denominator / numerator seconds.
public struct FrameRate: Equatable, Sendable, CustomStringConvertible {
    public let numerator: Int
    public let denominator: Int

    /// Bounds a model file's `RATE` and a `--fps` option: cameras deliver 15 to 60 frames/s, high-speed
    /// ones a few hundred; below 1 frame/s nothing can be fingerspelled.
    public static let minimumPerSecond = 1
    public static let maximumPerSecond = 1000
    /// Largest numerator or denominator: frame numbers up to twice the numerator times the
    /// denominator times 10^9 stay inside 64 bits in `nanoseconds`.
    public static let maximumTerm = 65_535

    /// The rate of models whose file has no `RATE` section: the generator's, which they were trained at.
    public static let assumedWithoutRATE = FrameRate(numerator: 30, denominator: 1)!

    /// Nil unless both terms are 1 ... `maximumTerm` and the rate is `minimumPerSecond` ... `maximumPerSecond`.
    public init?(numerator: Int, denominator: Int) {
        guard (1...FrameRate.maximumTerm).contains(numerator), (1...FrameRate.maximumTerm).contains(denominator),
              numerator >= FrameRate.minimumPerSecond * denominator, numerator <= FrameRate.maximumPerSecond * denominator
        else { return nil }
        self.numerator = numerator
        self.denominator = denominator
    }

    public var perSecond: Double { Double(numerator) / Double(denominator) }

    /// When frame `index` (0 ... 2 · numerator) starts, in nanoseconds after frame 0, rounded down.
    /// `numerator` frames take exactly `denominator` seconds; callers count whole seconds beside it.
    public func nanoseconds(ofFrame index: Int) -> Int64 {
        Int64(index) * Int64(denominator) * 1_000_000_000 / Int64(numerator)
    }

    /// "30" or "30000/1001 (29.97)".
    public var description: String {
        if denominator == 1 { return "\(numerator)" }
        let hundredths = (numerator * 100 + denominator / 2) / denominator
        let fraction = hundredths % 100
        return "\(numerator)/\(denominator) (\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction))"
    }
}
