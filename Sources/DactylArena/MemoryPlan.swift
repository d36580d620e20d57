/// One buffer the pipeline needs: its size and the steps during which it holds live data
/// (first and last step inclusive). Steps are positions in the order the pipeline runs.
public struct BufferRequest: Sendable {
    public let name: String
    public let bytes: Int
    public let firstStep: Int
    public let lastStep: Int

    public init(name: String, bytes: Int, firstStep: Int, lastStep: Int) {
        precondition(bytes >= 0 && firstStep <= lastStep, "buffer \(name): bad size or lifetime")
        self.name = name
        self.bytes = bytes
        self.firstStep = firstStep
        self.lastStep = lastStep
    }

    func overlapsInTime(_ other: BufferRequest) -> Bool {
        firstStep <= other.lastStep && other.firstStep <= lastStep
    }
}

/// How buffers are placed in the arena.
public enum PlanningStrategy: Sendable {
    /// Largest buffer first, each at the lowest offset free during its whole lifetime
    /// (TensorFlow Lite Micro's greedy planner): buffers whose lifetimes do not overlap share memory.
    case greedyBySize
    /// Every buffer gets its own memory, in request order. Makes reuse bugs visible: if
    /// results change between the two strategies, something reads a buffer after its lifetime.
    case linear
}

/// Every buffer's offset in one arena. The plan is plain data: print it, test it.
public struct MemoryPlan: Sendable {
    public static let alignment = 64

    public let requests: [BufferRequest]
    public let offsets: [Int]
    public let arenaBytes: Int
    public let strategy: PlanningStrategy

    public init(requests: [BufferRequest], strategy: PlanningStrategy) {
        self.requests = requests
        self.strategy = strategy
        var offsets = [Int](repeating: 0, count: requests.count)
        switch strategy {
        case .linear:
            var next = 0
            for index in requests.indices {
                offsets[index] = next
                next += MemoryPlan.aligned(requests[index].bytes)
            }
        case .greedyBySize:
            // Ties keep request order so the plan is deterministic.
            let order = requests.indices.sorted {
                requests[$0].bytes != requests[$1].bytes ? requests[$0].bytes > requests[$1].bytes : $0 < $1
            }
            var placed: [Int] = []
            for index in order {
                let request = requests[index]
                // Occupied ranges of already placed buffers that are live at the same time, by offset.
                let conflicts = placed.filter { requests[$0].overlapsInTime(request) }
                    .sorted { offsets[$0] < offsets[$1] }
                var candidate = 0
                for other in conflicts {
                    let otherStart = offsets[other]
                    let otherEnd = otherStart + MemoryPlan.aligned(requests[other].bytes)
                    if candidate + request.bytes <= otherStart { break }
                    candidate = max(candidate, otherEnd)
                }
                offsets[index] = candidate
                placed.append(index)
            }
        }
        self.offsets = offsets
        self.arenaBytes = MemoryPlan.aligned(requests.indices.reduce(0) { max($0, offsets[$1] + requests[$1].bytes) })
    }

    public static func aligned(_ bytes: Int) -> Int {
        (bytes + alignment - 1) / alignment * alignment
    }

    /// The step at which the most bytes are live, and how many: the lower bound of any plan.
    public var largestLiveSet: (step: Int, bytes: Int) {
        var best = (step: 0, bytes: 0)
        let lastStep = requests.reduce(0) { max($0, $1.lastStep) }
        for step in 0...lastStep {
            var live = 0
            for request in requests where request.firstStep <= step && step <= request.lastStep {
                live += MemoryPlan.aligned(request.bytes)
            }
            if live > best.bytes { best = (step, live) }
        }
        return best
    }

    /// Total bytes if nothing were shared.
    public var unsharedBytes: Int { requests.reduce(0) { $0 + MemoryPlan.aligned($1.bytes) } }

    /// Index of the request named `name`, if any.
    public func index(of name: String) -> Int? { requests.firstIndex { $0.name == name } }
}
