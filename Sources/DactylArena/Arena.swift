import CDactylPlatform

/// The one block of memory every activation, ring and scratch buffer lives in, allocated once
/// at start-up from a `MemoryPlan`. Views are raw pointers at planned offsets.
public final class Arena {
    public let plan: MemoryPlan
    public let base: UnsafeMutableRawPointer

    /// Returns nil when the system cannot provide `plan.arenaBytes`.
    public init?(plan: MemoryPlan) {
        guard let memory = dactyl_alloc_aligned(plan.arenaBytes, MemoryPlan.alignment) else { return nil }
        self.plan = plan
        self.base = memory
    }

    deinit { dactyl_free(base) }

    /// The buffer of request `index`, typed.
    public func buffer<Element>(_ index: Int, as type: Element.Type) -> UnsafeMutablePointer<Element> {
        (base + plan.offsets[index]).bindMemory(to: Element.self, capacity: plan.requests[index].bytes / MemoryLayout<Element>.stride)
    }
}
