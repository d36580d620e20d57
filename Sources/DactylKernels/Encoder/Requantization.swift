/// The one requantisation rule (docs/model-format.md, "Arithmetic"): round to nearest, ties
/// up, as XNNPACK's "rndnu". Every int8 kernel, scalar or vector, must give exactly this.
@inline(__always)
public func rndnu(_ value: Int64, shift: Int32) -> Int64 {
    (value &+ (Int64(1) &<< Int64(shift &- 1))) &>> Int64(shift)
}

/// Clamps a requantised value to int8, with ReLU as a raised lower bound (the zero point).
@inline(__always)
public func clampToInt8(_ value: Int64, lowerBound: Int64) -> Int8 {
    Int8(truncatingIfNeeded: min(max(value, lowerBound), 127))
}
