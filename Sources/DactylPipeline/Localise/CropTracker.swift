import CDactylPlatform

/// How the crop follows the localiser's box (docs/localiser.md has the reasons and the measured
/// jitter). The scheme is the auto-framing one of edge cameras: a smoothed target, a dead zone
/// around the current framing so it holds still while the subject stays in it, an eased move
/// when the subject leaves it, and a hold through short losses of the detection.
public struct CropTrackerSettings: Sendable, Equatable {
    /// Weight of a new detection in the smoothed target (exponential smoothing per localiser run).
    public var targetSmoothing: Double = 0.5
    /// The crop starts to move when the target's centre is this far from the crop's (a fraction
    /// of the crop's width or height) ...
    public var centreDeadZone: Double = 0.2
    /// ... or its size differs by this factor (|ln(target / crop)|; 0.25 is about 28 %).
    public var sizeDeadZone: Double = 0.25
    /// A moving crop stops when it is this close to the target (hysteresis: well inside the dead zone).
    public var settle: Double = 0.04
    /// Each localiser run moves a moving crop this fraction of the way to the target.
    public var easing: Double = 0.5
    /// Consecutive detections that acquire a hand when none is tracked (one false positive does
    /// not move the crop).
    public var acquireRuns = 2
    /// Seconds the crop is held, and the hand counted present, after the last detection.
    public var holdSeconds: Double = 1.0

    public init() {}
}

/// A smoothed crop from the localiser's boxes: the recogniser input's aspect ratio, inside the
/// frame, still while the hand signs in place, following when it moves away, held for a while
/// when the hand is lost. Plain state, no memory: usable per frame.
public struct CropTracker {
    public let settings: CropTrackerSettings
    public let frameWidth: Int
    public let frameHeight: Int
    /// Width / height of the recogniser's input: every crop has it.
    public let aspect: Double
    /// Model frames per second, for the hold.
    public let framesPerSecond: Double

    /// The crop, as centre and size in frame pixels (valid when `tracking`).
    public private(set) var centreX = 0.0, centreY = 0.0, width = 0.0, height = 0.0
    var targetX = 0.0, targetY = 0.0, targetWidth = 0.0, targetHeight = 0.0
    /// A hand was acquired and not yet released.
    public private(set) var tracking = false
    public private(set) var moving = false
    var detections = 0
    /// Model frames since the last detection.
    var framesSinceDetection = 0
    /// The crop in whole pixels; the `initial` crop until a hand is acquired.
    public private(set) var crop: CropRect

    public init(frameWidth: Int, frameHeight: Int, aspect: Double, framesPerSecond: Double, initial: CropRect,
                settings: CropTrackerSettings = CropTrackerSettings()) {
        self.settings = settings
        self.frameWidth = frameWidth
        self.frameHeight = frameHeight
        self.aspect = aspect
        self.framesPerSecond = framesPerSecond
        self.crop = initial
    }

    /// Whether the hand counts as present: tracked and seen within the hold.
    public var handPresent: Bool { tracking }

    /// Model frames pass without a localiser run (the hold counts them).
    public mutating func advance(frames: Int) {
        framesSinceDetection += frames
        if tracking && Double(framesSinceDetection) > settings.holdSeconds * framesPerSecond {
            // Released: the crop stays where it was (no reframing without a hand), the hand is
            // absent, and the next detection places the crop at once.
            tracking = false
            moving = false
            detections = 0
        }
    }

    /// One localiser run's box; returns true if the whole-pixel crop changed.
    @discardableResult
    public mutating func observe(_ box: HandBox) -> Bool {
        guard box.present, box.width > 0, box.height > 0, box.width.isFinite, box.height.isFinite,
              box.centreX.isFinite, box.centreY.isFinite else {
            if !tracking { detections = 0 }
            return false
        }
        framesSinceDetection = 0
        let (x, y, w, h) = fitted(box.centreX, box.centreY, box.width, box.height)
        if !tracking {
            detections += 1
            if detections == 1 || !isNear(x, y, w, h) {
                detections = 1
                (targetX, targetY, targetWidth, targetHeight) = (x, y, w, h)
                return false
            }
            guard detections >= settings.acquireRuns else { return false }
            tracking = true
            moving = false
            (targetX, targetY, targetWidth, targetHeight) = (x, y, w, h)
            (centreX, centreY, width, height) = (x, y, w, h)
            return publish()
        }
        let a = settings.targetSmoothing
        targetX += a * (x - targetX)
        targetY += a * (y - targetY)
        targetWidth *= power((w / targetWidth), a)
        targetHeight = targetWidth / aspect
        let offset = max(abs(targetX - centreX) / width, abs(targetY - centreY) / height)
        let scale = abs(ln(targetWidth / width))
        if !moving && (offset > settings.centreDeadZone || scale > settings.sizeDeadZone) { moving = true }
        guard moving else { return false }
        let e = settings.easing
        centreX += e * (targetX - centreX)
        centreY += e * (targetY - centreY)
        width *= power(targetWidth / width, e)
        height = width / aspect
        let left = max(abs(targetX - centreX) / width, abs(targetY - centreY) / height)
        if left <= settings.settle && abs(ln(targetWidth / width)) <= settings.settle { moving = false }
        (centreX, centreY, width, height) = fitted(centreX, centreY, width, height)
        return publish()
    }

    /// Whether a second acquiring detection agrees with the first (the same hand, not noise).
    func isNear(_ x: Double, _ y: Double, _ w: Double, _ h: Double) -> Bool {
        abs(x - targetX) <= 0.5 * targetWidth && abs(y - targetY) <= 0.5 * targetHeight
            && abs(ln(w / targetWidth)) <= 0.5
    }

    /// The box grown to the recogniser's aspect ratio (never cut: the hand stays inside), at most
    /// the frame, moved inside it.
    func fitted(_ x: Double, _ y: Double, _ w: Double, _ h: Double) -> (Double, Double, Double, Double) {
        var width = max(w, h * aspect), height = width / aspect
        let frameW = Double(frameWidth), frameH = Double(frameHeight)
        if width > frameW { width = frameW; height = width / aspect }
        if height > frameH { height = frameH; width = height * aspect }
        width = max(width, min(8, frameW))
        height = max(height, min(8, frameH))
        let cx = min(max(x, width / 2), frameW - width / 2)
        let cy = min(max(y, height / 2), frameH - height / 2)
        return (cx, cy, width, height)
    }

    /// Rounds the crop to whole pixels inside the frame; true if that changed it.
    mutating func publish() -> Bool {
        let w = min(frameWidth, max(1, Int((width).rounded())))
        let h = min(frameHeight, max(1, Int((height).rounded())))
        let x = min(max(0, Int((centreX - width / 2).rounded())), frameWidth - w)
        let y = min(max(0, Int((centreY - height / 2).rounded())), frameHeight - h)
        let next = CropRect(x: x, y: y, width: w, height: h)
        guard next != crop else { return false }
        crop = next
        return true
    }
}

/// ln and powers through the platform's libm (Embedded Swift has no Foundation); single
/// precision is far finer than a pixel here.
@inline(__always)
func ln(_ x: Double) -> Double { Double(dactyl_logf(Float(x))) }

/// base^e for base > 0.
@inline(__always)
func power(_ base: Double, _ e: Double) -> Double { Double(dactyl_expf(Float(e * ln(base)))) }
