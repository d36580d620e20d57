/// `--crop auto`: the localiser run every `interval` model frames on the whole frame, its boxes
/// through the `CropTracker`. One per recogniser, on its arena; `step` allocates nothing.
public struct CropFollower {
    public let localiser: HandLocaliser
    public private(set) var tracker: CropTracker
    /// Model frames between localiser runs.
    public let interval: Int
    var framesUntilRun = 0
    /// The last run's box (nil before the first).
    public private(set) var lastBox: HandBox? = nil
    public private(set) var runs = 0
    /// Crop changes, model frames seen, and of those the ones with a hand tracked (`--stats`).
    public private(set) var moves = 0
    public private(set) var frames = 0
    public private(set) var framesWithHand = 0

    public init(localiser: HandLocaliser, tracker: CropTracker, interval: Int) {
        self.localiser = localiser
        self.tracker = tracker
        self.interval = max(1, interval)
    }

    /// A source frame that fills `modelFrames` model frames (0: it is resampled away and not
    /// looked at): runs the localiser when one is due. Returns the crop if it changed.
    public mutating func step(_ frame: YUVFrame, modelFrames: Int) -> CropRect? {
        guard modelFrames > 0 else { return nil }
        var changed = false
        if framesUntilRun <= 0 {
            let box = localiser.locate(frame)
            lastBox = box
            runs += 1
            changed = tracker.observe(box)
            framesUntilRun = interval
        }
        framesUntilRun -= modelFrames
        tracker.advance(frames: modelFrames)
        frames += modelFrames
        if tracker.handPresent { framesWithHand += modelFrames }
        if changed { moves += 1 }
        return changed ? tracker.crop : nil
    }

    /// Whether a hand is tracked (seen within the tracker's hold).
    public var handPresent: Bool { tracker.handPresent }
    public var crop: CropRect { tracker.crop }
}
