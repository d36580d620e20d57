import DactylModel

/// Durations in nanoseconds kept in memory allocated once (the newest `capacity` of them), for
/// medians and percentiles at the end of a run. A class so that the memory is freed with the last
/// reference (as a struct it leaked 160 KB with every LiveBox: LeakSanitizer, scripts/test.sh's ASan job).
public final class LatencyLog {
    private let values: UnsafeMutablePointer<UInt64>
    public let capacity: Int
    public private(set) var recorded = 0

    public init(capacity: Int) {
        self.capacity = capacity
        values = UnsafeMutablePointer<UInt64>.allocate(capacity: capacity)
    }

    deinit { values.deallocate() }

    public func record(_ nanoseconds: UInt64) {
        values[recorded % capacity] = nanoseconds
        recorded += 1
    }

    /// The q-quantile (0...1) in milliseconds, by the nearest-rank rule; nil when empty.
    public func quantileMilliseconds(_ q: Double) -> Double? {
        let count = min(recorded, capacity)
        guard count > 0 else { return nil }
        var sorted = [UInt64](UnsafeBufferPointer(start: values, count: count))
        sorted.sort()
        let rank = max(0, min(count - 1, Int((q * Double(count)).rounded(.up)) - 1))
        return Double(sorted[rank]) / 1e6
    }
}

/// Frame latency (frame arrival → its feature in the ring), word latency, frames dropped.
public struct RunStatistics {
    public var frameLatencies = LatencyLog(capacity: 16384)
    public var wordLatencies = LatencyLog(capacity: 4096)
    public var framesDropped = 0

    public init() {}

    private func milliseconds(_ value: Double?) -> String {
        guard let value else { return "null" }
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    public func summary(frames: Int, modelFrames: Int, modelRate: FrameRate, words: Int) -> String {
        "\(frames) frames encoded, \(framesDropped) dropped; \(modelFrames) model frames at \(modelRate) frames/s; \(words) words; "
            + "frame latency median \(milliseconds(frameLatencies.quantileMilliseconds(0.5))) ms, "
            + "p90 \(milliseconds(frameLatencies.quantileMilliseconds(0.9))) ms; "
            + "word latency median \(milliseconds(wordLatencies.quantileMilliseconds(0.5))) ms, "
            + "p90 \(milliseconds(wordLatencies.quantileMilliseconds(0.9))) ms"
    }
}
