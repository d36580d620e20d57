import CDactylPlatform

/// The frame loop's side of the preview page: a sink that hands words, partials, status and the
/// segmenter's figures to the server thread as Server-Sent Events (formatted here, into a fixed
/// buffer, and pushed into the hand-off's event ring), and a frame to the server only when the
/// server asked for one (a viewer is ready for the next picture): the frame is then copied into
/// the hand-off's buffer, scaled and converted for the JPEG encoder. Nothing here waits or
/// allocates; a viewer that is slow only means fewer frames copied.
public struct PreviewSink: BoxSink {
    let handoff: OpaquePointer
    let layout: dactyl_jpeg_layout
    let scale: Int32
    let runStart: UInt64
    let storage: SinkStorage
    var event: FixedText
    var zone: CropRect? = nil
    var nextMeter: UInt64 = 0
    /// Events not handed over: the ring was full (the server thread stalled) or one did not fit a slot.
    public private(set) var eventsDropped = 0
    /// Frames copied for the server.
    public private(set) var framesHanded = 0

    /// The segmenter's figures go out at most this often (5 per second).
    static let meterInterval: UInt64 = 200_000_000
    /// One event's bytes: a kind byte and the SSE message (`event: ...\ndata: {...}\n\n`).
    public static let eventBytes = 1024

    init(handoff: OpaquePointer, layout: dactyl_jpeg_layout, scale: Int32, runStart: UInt64) {
        self.handoff = handoff
        self.layout = layout
        self.scale = scale
        self.runStart = runStart
        storage = SinkStorage(capacity: PreviewSink.eventBytes)
        event = FixedText(base: storage.base, capacity: PreviewSink.eventBytes)
    }

    public mutating func partial(_ word: WordView, now: UInt64) {
        begin(.partial)
        event.append(",\"segment\":")
        event.append(integer: word.segment)
        event.append(",\"text\":")
        event.append(jsonString: word.text)
        end(now: now)
    }

    public mutating func commit(_ word: WordView, now: UInt64) {
        begin(.commit)
        event.appendCommitFields(word)
        end(now: now)
    }

    public mutating func status(_ status: BoxStatus, message: UnsafeBufferPointer<UInt8>, now: UInt64) {
        begin(.status)
        event.append(",\"status\":\"")
        event.append(status.name)
        event.append("\",\"message\":")
        event.append(jsonString: UnsafeBufferPointer(rebasing: message.prefix(256)))
        end(now: now)
    }

    public mutating func service(now: UInt64) -> SinkRequest? { nil }

    public mutating func flush(deadline: UInt64) {}

    public mutating func frame(_ frame: LiveFrame, now: UInt64) {
        if zone != frame.zone {
            zone = frame.zone
            begin(.zone)
            event.append(",\"x\":")
            event.append(integer: frame.zone.x)
            event.append(",\"y\":")
            event.append(integer: frame.zone.y)
            event.append(",\"width\":")
            event.append(integer: frame.zone.width)
            event.append(",\"height\":")
            event.append(integer: frame.zone.height)
            end(now: now)
        }
        if now >= nextMeter {
            nextMeter = now + PreviewSink.meterInterval
            begin(.meter)
            event.append(",\"frame\":")
            event.append(integer: frame.number)
            event.append(",\"motion\":")
            event.append(fixed: frame.motion - frame.motionFloor, decimals: 2)
            event.append(",\"start\":")
            event.append(fixed: frame.startMotion, decimals: 2)
            event.append(",\"stop\":")
            event.append(fixed: frame.stopMotion, decimals: 2)
            event.append(",\"segment\":")
            event.append(frame.segmentOpen ? "true" : "false")
            end(now: now)
        }
        guard dactyl_handoff_frame_wanted(handoff) != 0, let buffer = dactyl_handoff_frame_claim(handoff) else { return }
        let picture = frame.picture
        let chroma = picture.chroma
        dactyl_jpeg_copy_frame(buffer, layout, scale, picture.y, picture.yStride, Int32(picture.ySampleStep),
                               picture.u, picture.v, picture.uvStride, Int32(picture.uvSampleStep),
                               Int32(chroma.horizontalShift), Int32(chroma.verticalShift),
                               picture.colorRange == .full ? 1 : 0)
        dactyl_handoff_frame_publish(handoff, UInt64(frame.number))
        framesHanded += 1
    }

    // MARK: - Events

    /// The first byte of each event in the ring says what it is, for the server's replay to a
    /// page that connects later (the last status, partial and zone; the committed words).
    enum Kind: UInt8 {
        case status = 0x53, partial = 0x50, commit = 0x43, zone = 0x5A, meter = 0x4D

        var name: StaticString {
            switch self {
            case .status: "status"
            case .partial: "partial"
            case .commit: "commit"
            case .zone: "zone"
            case .meter: "meter"
            }
        }
    }

    mutating func begin(_ kind: Kind) {
        event.clear()
        event.append(kind.rawValue)
        event.append("event: ")
        event.append(kind.name)
        event.append("\ndata: {\"type\":\"")
        event.append(kind.name)
        event.append("\"")
    }

    mutating func end(now: UInt64) {
        event.append(",\"t_ms\":")
        event.append(milliseconds: now, since: runStart)
        event.append("}\n\n")
        // A cut event would be broken JSON: never sent.
        guard !event.overflowed, dactyl_handoff_event_push(handoff, event.base, event.count) == 0 else {
            eventsDropped += 1
            return
        }
    }
}
