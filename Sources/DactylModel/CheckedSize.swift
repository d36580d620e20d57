/// The one place where sizes computed from file fields (element counts, byte counts,
/// multiply-accumulates) are multiplied and added. A model file can hold any u32 in any field,
/// so plain `*` would trap on a crafted file; every size goes through here instead and an
/// overflow becomes a value the caller turns into an error.
///
/// Fixed arities rather than variadics: variadic arguments build an array, and some of these
/// run in the frame loop, which must not allocate.
public enum CheckedSize {
    /// a·b, or nil if it overflows or either factor is negative.
    @inline(__always)
    public static func product(_ a: Int, _ b: Int) -> Int? {
        guard a >= 0, b >= 0 else { return nil }
        let (result, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? nil : result
    }

    public static func product(_ a: Int, _ b: Int, _ c: Int) -> Int? {
        guard let ab = product(a, b) else { return nil }
        return product(ab, c)
    }

    public static func product(_ a: Int, _ b: Int, _ c: Int, _ d: Int) -> Int? {
        guard let abc = product(a, b, c) else { return nil }
        return product(abc, d)
    }

    /// a + b, or nil if it overflows or either term is negative.
    @inline(__always)
    public static func sum(_ a: Int, _ b: Int) -> Int? {
        guard a >= 0, b >= 0 else { return nil }
        let (result, overflow) = a.addingReportingOverflow(b)
        return overflow ? nil : result
    }

    /// a·b, or `Int.max` where it would overflow: for figures that are reported, not used to
    /// size memory (MACs), and whose inputs validation has already bounded far below that.
    public static func saturatingProduct(_ a: Int, _ b: Int) -> Int { product(a, b) ?? .max }

    public static func saturatingProduct(_ a: Int, _ b: Int, _ c: Int) -> Int { product(a, b, c) ?? .max }

    public static func saturatingProduct(_ a: Int, _ b: Int, _ c: Int, _ d: Int) -> Int { product(a, b, c, d) ?? .max }

    public static func saturatingSum(_ a: Int, _ b: Int) -> Int { sum(a, b) ?? .max }
}
