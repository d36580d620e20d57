import DactylTestSupport
import XCTest
@testable import DactylArena

final class MemoryPlanTests: XCTestCase {
    /// No two buffers that are live at the same step may share a byte.
    private func assertNoLiveOverlap(_ plan: MemoryPlan, file: StaticString = #filePath, line: UInt = #line) {
        for a in plan.requests.indices {
            for b in plan.requests.indices where a < b {
                let ra = plan.requests[a], rb = plan.requests[b]
                guard ra.overlapsInTime(rb), ra.bytes > 0, rb.bytes > 0 else { continue }
                let aRange = plan.offsets[a]..<(plan.offsets[a] + ra.bytes)
                let bRange = plan.offsets[b]..<(plan.offsets[b] + rb.bytes)
                XCTAssertFalse(aRange.overlaps(bRange), "\(ra.name) and \(rb.name) are live together and overlap", file: file, line: line)
            }
            XCTAssertEqual(plan.offsets[a] % MemoryPlan.alignment, 0, file: file, line: line)
            XCTAssertLessThanOrEqual(plan.offsets[a] + plan.requests[a].bytes, plan.arenaBytes, file: file, line: line)
        }
    }

    func testGreedyReusesMemoryOfDeadBuffers() {
        // A chain a -> b -> c: a and c never live together, so c can take a's place.
        let requests = [
            BufferRequest(name: "a", bytes: 1000, firstStep: 0, lastStep: 1),
            BufferRequest(name: "b", bytes: 500, firstStep: 1, lastStep: 2),
            BufferRequest(name: "c", bytes: 1000, firstStep: 2, lastStep: 3),
        ]
        let plan = MemoryPlan(requests: requests, strategy: .greedyBySize)
        XCTAssertEqual(plan.offsets, [0, 1024, 0])
        XCTAssertEqual(plan.arenaBytes, 1536)
        XCTAssertEqual(plan.largestLiveSet.bytes, 1536)
        assertNoLiveOverlap(plan)

        let linear = MemoryPlan(requests: requests, strategy: .linear)
        XCTAssertEqual(linear.offsets, [0, 1024, 1536])
        XCTAssertEqual(linear.arenaBytes, 2560)
        XCTAssertEqual(linear.unsharedBytes, 2560)
        assertNoLiveOverlap(linear)
    }

    func testGreedyFillsAGapBetweenLiveBuffers() {
        // big1 and big2 are live at step 5 and placed first; small (live at 5 too) goes above them,
        // but tiny (live only at step 9, with big2) fits into big1's place.
        let requests = [
            BufferRequest(name: "big1", bytes: 4096, firstStep: 0, lastStep: 5),
            BufferRequest(name: "big2", bytes: 4096, firstStep: 5, lastStep: 9),
            BufferRequest(name: "small", bytes: 100, firstStep: 5, lastStep: 5),
            BufferRequest(name: "tiny", bytes: 64, firstStep: 9, lastStep: 9),
        ]
        let plan = MemoryPlan(requests: requests, strategy: .greedyBySize)
        XCTAssertEqual(plan.offsets[plan.index(of: "big1")!], 0)
        XCTAssertEqual(plan.offsets[plan.index(of: "big2")!], 4096)
        XCTAssertEqual(plan.offsets[plan.index(of: "small")!], 8192)
        XCTAssertEqual(plan.offsets[plan.index(of: "tiny")!], 0)
        assertNoLiveOverlap(plan)
    }

    func testRandomPlansAreValidAndBounded() {
        var generator = SplitMix64(seed: 7)
        for _ in 0..<200 {
            let count = Int(generator.next() % 30) + 1
            var requests: [BufferRequest] = []
            for index in 0..<count {
                let first = Int(generator.next() % 20)
                let length = Int(generator.next() % 6)
                requests.append(BufferRequest(name: "b\(index)", bytes: Int(generator.next() % 5000),
                                              firstStep: first, lastStep: first + length))
            }
            let greedy = MemoryPlan(requests: requests, strategy: .greedyBySize)
            let linear = MemoryPlan(requests: requests, strategy: .linear)
            assertNoLiveOverlap(greedy)
            assertNoLiveOverlap(linear)
            XCTAssertLessThanOrEqual(greedy.arenaBytes, linear.arenaBytes)
            XCTAssertGreaterThanOrEqual(greedy.arenaBytes, greedy.largestLiveSet.bytes - 64 * count)
            // Deterministic: the same requests give the same plan.
            XCTAssertEqual(MemoryPlan(requests: requests, strategy: .greedyBySize).offsets, greedy.offsets)
        }
    }

    func testArenaGivesAlignedViewsAtPlannedOffsets() throws {
        let plan = MemoryPlan(requests: [
            BufferRequest(name: "x", bytes: 10, firstStep: 0, lastStep: 0),
            BufferRequest(name: "y", bytes: 40, firstStep: 0, lastStep: 0),
        ], strategy: .greedyBySize)
        let arena = try XCTUnwrap(Arena(plan: plan))
        let x = arena.buffer(plan.index(of: "x")!, as: Int8.self)
        let y = arena.buffer(plan.index(of: "y")!, as: Float.self)
        XCTAssertEqual(Int(bitPattern: UnsafeRawPointer(x)) % 64, 0)
        XCTAssertEqual(UnsafeRawPointer(x) - UnsafeRawPointer(arena.base), plan.offsets[0])
        XCTAssertEqual(UnsafeRawPointer(y) - UnsafeRawPointer(arena.base), plan.offsets[1])
        for index in 0..<10 { x[index] = 5 }
        for index in 0..<10 { y[index] = 1.5 }
        XCTAssertEqual(x[9], 5, "writing y must not touch x")
    }
}
