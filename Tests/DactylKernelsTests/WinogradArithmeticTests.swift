import DactylTestSupport
import XCTest

/// The integer arithmetic of the NEON path's Winograd F(4x4, 3x3) (conv2d_q8_neon_winograd.c),
/// modelled in Swift so it is checked on every host: the scaled transforms give integers in int16,
/// and R * inv9 >> 6 recovers the exact direct sum whenever |Y| < 2^25, whatever wrapped in int32
/// on the way. (The kernel itself is checked against the reference by `dactyl selftest` under
/// qemu -cpu cortex-a72.)
final class WinogradArithmeticTests: XCTestCase {
    // G' = 24 G with its last row / 4; B^T; A''^T = A^T with its last column x 4.
    static let kernelTransform: [[Int32]] = [[6, 0, 0], [-4, -4, -4], [-4, 4, -4], [1, 2, 4], [1, -2, 4], [0, 0, 6]]
    static let inputTransform: [[Int32]] = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                                            [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]
    static let outputTransform: [[Int32]] = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 4]]
    static let inverse9: UInt32 = 954_437_177

    /// left * x * right^T for small integer matrices, wrapping in Int32 (as the kernel's int32 steps).
    static func sandwich(_ left: [[Int32]], _ x: [[Int32]], _ right: [[Int32]]) -> [[Int32]] {
        let inner = left.map { row in (0..<x[0].count).map { j in (0..<x.count).reduce(Int32(0)) { $0 &+ row[$1] &* x[$1][j] } } }
        return inner.map { row in right.map { r in (0..<row.count).reduce(Int32(0)) { $0 &+ row[$1] &* r[$1] } } }
    }

    /// A random int8 value, or with `extreme` only -128 / 127 (the sums then wrap on the way).
    static func value(_ random: inout SplitMix64, extreme: Bool) -> Int32 {
        extreme ? (random.next() & 1 == 0 ? -128 : 127) : Int32(random.int8())
    }

    /// One 4x4 output tile over `channels` input channels: the Winograd result recovered from R, and
    /// the direct sums.
    static func tile(channels: Int, extreme: Bool, random: inout SplitMix64) -> (winograd: [[Int32]], direct: [[Int64]], maxU: Int32, maxV: Int32) {
        var m = [[Int32]](repeating: [Int32](repeating: 0, count: 6), count: 6)
        var direct = [[Int64]](repeating: [Int64](repeating: 0, count: 4), count: 4)
        var maxU: Int32 = 0, maxV: Int32 = 0
        for _ in 0..<channels {
            let g = (0..<3).map { _ in (0..<3).map { _ in max(-127, value(&random, extreme: extreme)) } }
            let d = (0..<6).map { _ in (0..<6).map { _ in value(&random, extreme: extreme) } }
            let u = sandwich(kernelTransform, g, kernelTransform), v = sandwich(inputTransform, d, inputTransform)
            for i in 0..<6 {
                for j in 0..<6 {
                    maxU = max(maxU, abs(u[i][j]))
                    maxV = max(maxV, abs(v[i][j]))
                    // int16 x int16 into int32, wrapping (smlal).
                    m[i][j] = m[i][j] &+ Int32(Int16(u[i][j])) &* Int32(Int16(v[i][j]))
                }
            }
            for y in 0..<4 {
                for x in 0..<4 {
                    for ky in 0..<3 { for kx in 0..<3 { direct[y][x] += Int64(d[y + ky][x + kx]) * Int64(g[ky][kx]) } }
                }
            }
        }
        let r = sandwich(outputTransform, m, outputTransform)
        let recovered = r.map { row in row.map { Int32(bitPattern: UInt32(bitPattern: $0) &* inverse9) >> 6 } }
        return (recovered, direct, maxU, maxV)
    }

    func testTransformsFitInt16AndRecoverTheExactSum() {
        var random = SplitMix64(seed: 11)
        for index in 0..<60 {
            // Up to 200 channels of -128 / 127 inputs and +-127 weights: M and R wrap in int32,
            // while |Y| <= 200 * 9 * 128 * 127 < 2^25.
            let channels = [1, 3, 8, 64, 200][index % 5], extreme = index % 2 == 0
            let result = Self.tile(channels: channels, extreme: extreme, random: &random)
            XCTAssertLessThanOrEqual(result.maxU, 18432)
            XCTAssertLessThanOrEqual(result.maxV, 12800)
            for y in 0..<4 {
                for x in 0..<4 {
                    XCTAssertLessThan(abs(result.direct[y][x]), 1 << 25)
                    XCTAssertEqual(Int64(result.winograd[y][x]), result.direct[y][x], "case \(index), output (\(y), \(x))")
                }
            }
        }
    }

    func testTheRecoveryFailsPastTheBound() {
        // 9 * 240 * 127 * 128 > 2^25: all-extreme inputs and weights of one sign give |Y| past
        // the bound, where R * inv9 >> 6 no longer equals Y (why the packer checks it).
        var m = [[Int32]](repeating: [Int32](repeating: 0, count: 6), count: 6)
        let g = [[Int32]](repeating: [127, 127, 127], count: 3), d = [[Int32]](repeating: [Int32](repeating: 127, count: 6), count: 6)
        let u = Self.sandwich(Self.kernelTransform, g, Self.kernelTransform), v = Self.sandwich(Self.inputTransform, d, Self.inputTransform)
        for _ in 0..<240 { for i in 0..<6 { for j in 0..<6 { m[i][j] = m[i][j] &+ u[i][j] &* v[i][j] } } }
        let r = Self.sandwich(Self.outputTransform, m, Self.outputTransform)
        let exact = Int64(240 * 9 * 127 * 127)
        XCTAssertGreaterThanOrEqual(exact, 1 << 25)
        XCTAssertNotEqual(Int64(Int32(bitPattern: UInt32(bitPattern: r[0][0]) &* Self.inverse9) >> 6), exact)
    }
}
