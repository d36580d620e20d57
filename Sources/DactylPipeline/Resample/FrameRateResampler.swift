import DactylModel

/// Puts a source's frames on the model's time grid (docs/frame-rate.md). The temporal head was
/// trained on features `1 / model rate` apart; a camera at 15, 25 or 60 frames/s, or one that
/// drops frames, gives them at other times. The model's frames ("ticks") are at `origin + k /
/// rate`; tick k is filled when the first source frame at or after `t_k − period/4` arrives, with
/// the linear interpolation of the features of the last encoded frame (time `s_e`) and this one
/// (time `s`), weight `w/256` on this one:
///
///     w = clamp(((t_k − s_e) · 256 + (s − s_e) / 2) / (s − s_e), 0, 256)      (integers, ns)
///     feature[k][i] = (previous[i] · (256 − w) + current[i] · w + 128) >> 8    (int8, >> arithmetic)
///
/// A frame that fills no tick is not encoded at all: at 60 frames/s every other frame is skipped,
/// halving the encoder's work, and a frame that arrives a little early (a camera's jitter, up to a
/// quarter period) still fills its tick. A source slower than the model fills two or more ticks
/// from one frame, the earlier ones interpolated. After a gap of more than `maximumGapNanoseconds`
/// (a stalled camera, a paused clip) nothing is interpolated across it: the grid restarts at the
/// new frame. The first frame fills tick 0 with w = 256.
///
/// Pure arithmetic on a few integers: no memory, nothing allocated. The Python reference is
/// `quantization/dactyl_quant/resample.py`; `Tests/golden/resample/` ties the two bit for bit.
public struct FrameRateResampler: Sendable {
    /// No interpolation across a gap longer than this (below 4 frames/s).
    public static let maximumGapNanoseconds: Int64 = 250_000_000
    /// Interpolation weights are in 1/256.
    public static let weightOne = 256

    public let rate: FrameRate
    let tolerance: Int64
    /// Tick k (counted from the origin) is at `origin + rate.nanoseconds(ofFrame: k)`; the origin
    /// moves on by whole seconds (`numerator` ticks) so that k stays below `numerator` + a few.
    var origin: Int64 = 0
    var nextTick = 0
    var lastEncoded: Int64 = 0
    public private(set) var started = false

    public init(rate: FrameRate) {
        self.rate = rate
        tolerance = rate.nanoseconds(ofFrame: 1) / 4
    }

    /// What one source frame does: it fills `ticks` model frames (0: it is not encoded), the first
    /// of them `weight(ofTick: 0)` and so on.
    public struct Step: Equatable, Sendable {
        public var ticks: Int
        /// Whether the grid restarted at this frame (the first frame, or after a gap).
        public var restarted: Bool
        let origin: Int64
        let firstTick: Int
        let previousTime: Int64
        let time: Int64
        let rate: FrameRate

        /// The weight (0 ... 256) of this frame's feature in its `index`-th tick; the rest is the
        /// previous encoded frame's.
        public func weight(ofTick index: Int) -> Int {
            if restarted { return FrameRateResampler.weightOne }
            let span = time - previousTime
            guard span > 0 else { return FrameRateResampler.weightOne }
            let tickTime = origin + rate.nanoseconds(ofFrame: firstTick + index)
            let weighted = ((tickTime - previousTime) * 256 + span / 2) / span
            return Int(min(max(weighted, 0), 256))
        }
    }

    /// Takes the source frame at `time` (ns, any origin; non-decreasing) and says which ticks it fills.
    public mutating func step(time: Int64) -> Step {
        if !started || time - lastEncoded > FrameRateResampler.maximumGapNanoseconds {
            started = true
            origin = time
            nextTick = 1
            lastEncoded = time
            return Step(ticks: 1, restarted: true, origin: time, firstTick: 0, previousTime: time, time: time, rate: rate)
        }
        let first = origin + rate.nanoseconds(ofFrame: nextTick)
        guard first - tolerance <= time else {
            return Step(ticks: 0, restarted: false, origin: origin, firstTick: nextTick, previousTime: lastEncoded, time: time, rate: rate)
        }
        var ticks = 1
        while origin + rate.nanoseconds(ofFrame: nextTick + ticks) - tolerance <= time { ticks += 1 }
        let step = Step(ticks: ticks, restarted: false, origin: origin, firstTick: nextTick, previousTime: lastEncoded, time: time, rate: rate)
        nextTick += ticks
        lastEncoded = time
        if nextTick >= rate.numerator {
            // `numerator` ticks take exactly `denominator` seconds.
            origin += Int64(rate.denominator) * 1_000_000_000
            nextTick -= rate.numerator
        }
        return step
    }

    /// How many ticks `frames` source frames at `sourceRate` fill (a clip's window at the model's rate).
    public static func ticks(frames: Int, sourceRate: FrameRate, modelRate: FrameRate) -> Int {
        var resampler = FrameRateResampler(rate: modelRate)
        var total = 0
        for frame in 0..<frames { total += resampler.step(time: sourceTime(frame: frame, rate: sourceRate)).ticks }
        return total
    }

    /// When frame `frame` of a stream at `rate` starts, in ns from frame 0 (exact to the ns, rounded down).
    public static func sourceTime(frame: Int, rate: FrameRate) -> Int64 {
        let seconds = Int64(frame / rate.numerator) * Int64(rate.denominator)
        return seconds * 1_000_000_000 + rate.nanoseconds(ofFrame: frame % rate.numerator)
    }
}

/// `out = (previous · (256 − weight) + current · weight + 128) >> 8`, element by element.
@inline(__always)
public func interpolateFeatures(_ previous: UnsafePointer<Int8>, _ current: UnsafePointer<Int8>, weight: Int,
                                count: Int, into out: UnsafeMutablePointer<Int8>) {
    if weight >= FrameRateResampler.weightOne {
        out.update(from: current, count: count)
        return
    }
    let w = Int32(weight), rest = Int32(FrameRateResampler.weightOne - weight)
    for index in 0..<count {
        out[index] = Int8(truncatingIfNeeded: (Int32(previous[index]) * rest + Int32(current[index]) * w + 128) >> 8)
    }
}
