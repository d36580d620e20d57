import CDactylPlatform

/// The preview page's HTTP server, on a thread of its own (`Preview` starts it). It serves:
///   GET /              the page (HTML, CSS and JavaScript in one response; no other assets)
///   GET /stream.mjpg   the camera picture as MJPEG (multipart/x-mixed-replace), at most
///                      `maximumFramesPerSecond`, each picture only when the viewer took the last
///   GET /snapshot.jpg  the next picture as one JPEG
///   GET /events        Server-Sent Events: hello (geometry), zone, status, partial, commit, meter;
///                      a page that connects late gets the zone, the last status and partial and
///                      the words committed so far (the last 16)
/// Bounded: `slots` connections at once (more wait in the listen backlog), at most two picture
/// and two event streams, a request head of at most 4 KiB read within 5 s, fixed buffers per
/// connection, a viewer that takes nothing for 10 s is dropped. One request per connection
/// (`Connection: close`). Everything is allocated in `init`; serving allocates nothing.
///
/// Why a thread and not non-blocking sockets polled from the frame loop: the JPEG encoding
/// (milliseconds per picture on a Pi) and the socket writes then never run on the loop, whose
/// whole cost is a bounded copy of a frame the server asked for (and nothing when nobody
/// watches); with polling, every picture sent would delay the frame it was taken from.
final class PreviewServer {
    enum Phase: UInt8 {
        case free, reading, responding, pictures, snapshot, events
    }

    struct Connection {
        var fd: Int32 = -1
        var phase = Phase.free
        var received = 0
        /// Pending output: the connection's own buffer [outStart, outEnd), then `body`.
        var outStart = 0
        var outEnd = 0
        var body: UnsafeRawPointer? = nil
        var bodyRemaining = 0
        /// A picture is being sent (pictures and snapshot phases).
        var sendingPicture = false
        var closeWhenSent = false
        /// Reading: when the head must be in; writing: when the last byte went out.
        var deadline: UInt64 = 0
        var lastProgress: UInt64 = 0
    }

    static let slots = 6
    static let maximumPictureStreams = 2
    static let maximumEventStreams = 2
    static let requestBytes = 4096
    static let outputBytes = 32 * 1024
    static let historyWords = 16
    static let boundary: StaticString = "dactylframe"

    let configuration: PreviewConfiguration
    let listener: Int32
    let wake: Int32
    let handoff: OpaquePointer
    let encoder: OpaquePointer
    let page: UnsafeRawBufferPointer
    let frameWidth: Int, frameHeight: Int, framesPerSecond: Double
    let pictureWidth: Int, pictureHeight: Int
    let connections: UnsafeMutablePointer<Connection>
    let requestMemory: UnsafeMutablePointer<UInt8>
    let outputMemory: UnsafeMutablePointer<UInt8>
    let pollEntries: UnsafeMutablePointer<dactyl_io_entry>
    let pollOwners: UnsafeMutablePointer<Int>
    let eventMemory: UnsafeMutablePointer<UInt8>
    /// Replay for a page that connects later: the zone, the last status, the last partial (until
    /// the next commit), the words committed (a ring of the last `historyWords`).
    let zoneEvent: UnsafeMutablePointer<UInt8>
    var zoneLength = 0
    let statusEvent: UnsafeMutablePointer<UInt8>
    var statusLength = 0
    let partialEvent: UnsafeMutablePointer<UInt8>
    var partialLength = 0
    let history: UnsafeMutablePointer<UInt8>
    let historyLengths: UnsafeMutablePointer<Int>
    var historyCount = 0
    /// The current JPEG (the encoder's buffer) while viewers are sending it.
    var picture: UnsafePointer<UInt8>? = nil
    var pictureLength = 0
    var nextPictureDue: UInt64 = 0
    var frameRequested = false
    /// Counters, for tests and the fuzz target.
    private(set) var picturesEncoded = 0
    private(set) var requestsRefused = 0
    private(set) var connectionsTimedOut = 0

    init(configuration: PreviewConfiguration, listener: Int32, wake: Int32, handoff: OpaquePointer, encoder: OpaquePointer,
         page: UnsafeRawBufferPointer, frameWidth: Int, frameHeight: Int, framesPerSecond: Double, pictureWidth: Int,
         pictureHeight: Int) {
        self.configuration = configuration
        self.listener = listener
        self.wake = wake
        self.handoff = handoff
        self.encoder = encoder
        self.page = page
        self.frameWidth = frameWidth
        self.frameHeight = frameHeight
        self.framesPerSecond = framesPerSecond
        self.pictureWidth = pictureWidth
        self.pictureHeight = pictureHeight
        let slots = PreviewServer.slots
        connections = .allocate(capacity: slots)
        connections.initialize(repeating: Connection(), count: slots)
        requestMemory = .allocate(capacity: slots * PreviewServer.requestBytes)
        outputMemory = .allocate(capacity: slots * PreviewServer.outputBytes)
        pollEntries = .allocate(capacity: slots + 2)
        pollOwners = .allocate(capacity: slots + 2)
        eventMemory = .allocate(capacity: PreviewSink.eventBytes)
        zoneEvent = .allocate(capacity: PreviewSink.eventBytes)
        statusEvent = .allocate(capacity: PreviewSink.eventBytes)
        partialEvent = .allocate(capacity: PreviewSink.eventBytes)
        history = .allocate(capacity: PreviewServer.historyWords * PreviewSink.eventBytes)
        historyLengths = .allocate(capacity: PreviewServer.historyWords)
        historyLengths.initialize(repeating: 0, count: PreviewServer.historyWords)
    }

    /// Frees what `init` allocated and the encoder (after the thread ended).
    func release() {
        for index in 0..<PreviewServer.slots where connections[index].fd >= 0 { dactyl_close(connections[index].fd) }
        dactyl_close(listener)
        dactyl_jpeg_destroy(encoder)
        connections.deallocate()
        requestMemory.deallocate()
        outputMemory.deallocate()
        pollEntries.deallocate()
        pollOwners.deallocate()
        eventMemory.deallocate()
        zoneEvent.deallocate()
        statusEvent.deallocate()
        partialEvent.deallocate()
        history.deallocate()
        historyLengths.deallocate()
    }

    // MARK: - The thread's loop

    func serve() {
        while dactyl_handoff_stopping(handoff) == 0 {
            let now = dactyl_monotonic_ns()
            // What to wait for: the wake-up (events, a frame, stop), new connections while a
            // slot is free, requests coming in, output going out.
            var entries = 0
            watch(wake, DACTYL_IO_IN, owner: -1, &entries)
            if freeSlot() != nil { watch(listener, DACTYL_IO_IN, owner: -2, &entries) }
            var deadline = UInt64.max
            for index in 0..<PreviewServer.slots where connections[index].fd >= 0 {
                let connection = connections[index]
                var events = DACTYL_IO_IN  // requests, and a stream's peer closing
                if hasOutput(connection) {
                    events |= DACTYL_IO_OUT
                    deadline = min(deadline, connection.lastProgress &+ configuration.stallTimeoutNanoseconds)
                }
                if connection.phase == .reading { deadline = min(deadline, connection.deadline) }
                watch(connection.fd, events, owner: index, &entries)
            }
            requestPictureIfDue(now: now)
            if wantsPicture() && !frameRequested { deadline = min(deadline, nextPictureDue) }
            let timeout: Int32 = deadline == UInt64.max ? -1 : Int32(min(10_000, (deadline &- min(deadline, now)) / 1_000_000 + 1))
            guard dactyl_io_poll(pollEntries, Int32(entries), timeout) >= 0 else {
                dactyl_sleep_ns(10_000_000)  // not expected (EINTR is retried); never spin on it
                continue
            }
            let after = dactyl_monotonic_ns()
            for entry in 0..<entries where pollEntries[entry].revents != 0 {
                let owner = pollOwners[entry], ready = Int(pollEntries[entry].revents)
                if owner == -1 {
                    dactyl_wake_drain(wake)
                    takeEvents()
                    takePicture(now: after)
                } else if owner == -2 {
                    acceptConnections(now: after)
                } else {
                    if ready & (DACTYL_IO_IN | DACTYL_IO_ERROR) != 0 { readFrom(owner, now: after) }
                    if connections[owner].fd >= 0 && ready & DACTYL_IO_OUT != 0 { writeTo(owner, now: after) }
                }
            }
            expire(now: after)
        }
        for index in 0..<PreviewServer.slots where connections[index].fd >= 0 { close(index) }
        dactyl_handoff_frame_cancel(handoff)
    }

    func watch(_ fd: Int32, _ events: Int, owner: Int, _ entries: inout Int) {
        pollEntries[entries] = dactyl_io_entry(fd: fd, events: UInt16(events), revents: 0)
        pollOwners[entries] = owner
        entries += 1
    }

    func freeSlot() -> Int? {
        for index in 0..<PreviewServer.slots where connections[index].fd < 0 { return index }
        return nil
    }

    func hasOutput(_ connection: Connection) -> Bool { connection.outEnd > connection.outStart || connection.bodyRemaining > 0 }

    func count(_ phase: Phase) -> Int {
        var total = 0
        for index in 0..<PreviewServer.slots where connections[index].fd >= 0 && connections[index].phase == phase { total += 1 }
        return total
    }

    func acceptConnections(now: UInt64) {
        while let slot = freeSlot() {
            let fd = dactyl_tcp_accept(listener)
            guard fd >= 0 else {
                // Out of descriptors (EMFILE): the connection stays queued; wait rather than spin.
                if fd != -Int32(DACTYL_EAGAIN) { dactyl_sleep_ns(10_000_000) }
                return
            }
            connections[slot] = Connection(fd: fd, phase: .reading, deadline: now + configuration.requestTimeoutNanoseconds,
                                           lastProgress: now)
        }
    }

    func close(_ index: Int) {
        dactyl_close(connections[index].fd)
        connections[index] = Connection()
    }

    /// Drops connections whose request is late or which took nothing for too long.
    func expire(now: UInt64) {
        for index in 0..<PreviewServer.slots where connections[index].fd >= 0 {
            let connection = connections[index]
            let late = connection.phase == .reading && now >= connection.deadline
            let stalled = hasOutput(connection) && now >= connection.lastProgress &+ configuration.stallTimeoutNanoseconds
            if late || stalled {
                connectionsTimedOut += 1
                close(index)
            }
        }
    }

    // MARK: - Requests

    func readFrom(_ index: Int, now: UInt64) {
        let buffer = requestMemory + index * PreviewServer.requestBytes
        if connections[index].phase != .reading {
            // After the request nothing more is expected; read and discard, to see the peer leave.
            let read = dactyl_socket_read(connections[index].fd, buffer, PreviewServer.requestBytes)
            if read == 0 || (read < 0 && read != -Int(DACTYL_EAGAIN)) { close(index) }
            return
        }
        let received = connections[index].received
        let read = dactyl_socket_read(connections[index].fd, buffer + received, PreviewServer.requestBytes - received)
        if read == 0 || (read < 0 && read != -Int(DACTYL_EAGAIN)) {
            close(index)
            return
        }
        guard read > 0 else { return }
        connections[index].received += read
        let bytes = UnsafeBufferPointer(start: buffer, count: connections[index].received)
        do {
            guard let request = try HTTPRequest.parse(bytes, headLimit: PreviewServer.requestBytes) else { return }
            respond(index, to: request, bytes: bytes, now: now)
        } catch {
            refuse(index, error, now: now)
        }
    }

    func respond(_ index: Int, to request: HTTPRequest, bytes: UnsafeBufferPointer<UInt8>, now: UInt64) {
        let head = request.method == .head
        connections[index].lastProgress = now
        if request.pathIs("/", in: bytes) || request.pathIs("/index.html", in: bytes) {
            startResponse(index, status: 200, reason: "OK", type: "text/html; charset=utf-8", length: page.count)
            if !head { send(index, body: page.baseAddress, count: page.count) }
            finish(index, phase: .responding)
        } else if request.pathIs("/stream.mjpg", in: bytes) || request.pathIs("/snapshot.jpg", in: bytes) {
            let stream = request.pathIs("/stream.mjpg", in: bytes)
            guard count(.pictures) + count(.snapshot) < PreviewServer.maximumPictureStreams else {
                plain(index, status: 503, reason: "Service Unavailable", "two picture streams are open already", head: head)
                return
            }
            if head || !stream {
                // A snapshot's headers go out with its picture (its length is not known yet).
                if head {
                    startResponse(index, status: 200, reason: "OK", type: stream ? "multipart/x-mixed-replace; boundary=dactylframe" : "image/jpeg",
                                  length: nil)
                    finish(index, phase: .responding)
                } else {
                    connections[index].phase = .snapshot
                }
                return
            }
            startResponse(index, status: 200, reason: "OK", type: "multipart/x-mixed-replace; boundary=dactylframe", length: nil)
            connections[index].phase = .pictures
        } else if request.pathIs("/events", in: bytes) {
            guard count(.events) < PreviewServer.maximumEventStreams else {
                plain(index, status: 503, reason: "Service Unavailable", "two event streams are open already", head: head)
                return
            }
            startResponse(index, status: 200, reason: "OK", type: "text/event-stream", length: nil)
            if head {
                finish(index, phase: .responding)
                return
            }
            connections[index].phase = .events
            replay(index)
        } else {
            plain(index, status: 404, reason: "Not Found", "no such page: / is the preview", head: head)
        }
    }

    func refuse(_ index: Int, _ error: HTTPRequestError, now: UInt64) {
        requestsRefused += 1
        connections[index].lastProgress = now
        if error == .methodNotAllowed {
            var text = output(index)
            text.append("HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            commit(index, text)
            finish(index, phase: .responding)
            return
        }
        plain(index, status: error.status, reason: error.reason, error.reason, head: false)
    }

    /// A short text/plain response, then close.
    func plain(_ index: Int, status: Int, reason: StaticString, _ message: StaticString, head: Bool) {
        startResponse(index, status: status, reason: reason, type: "text/plain; charset=utf-8",
                      length: message.utf8CodeUnitCount + 1)
        if !head {
            var text = output(index)
            text.append(message)
            text.append(UInt8(ascii: "\n"))
            commit(index, text)
        }
        finish(index, phase: .responding)
    }

    func startResponse(_ index: Int, status: Int, reason: StaticString, type: StaticString, length: Int?) {
        var text = output(index)
        text.append("HTTP/1.1 ")
        text.append(integer: status)
        text.append(" ")
        text.append(reason)
        text.append("\r\nContent-Type: ")
        text.append(type)
        if let length {
            text.append("\r\nContent-Length: ")
            text.append(integer: length)
        }
        // The page's assets are all inline; nothing may load from elsewhere.
        text.append("\r\nCache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n")
        text.append("Content-Security-Policy: default-src 'none'; img-src 'self'; connect-src 'self'; ")
        text.append("style-src 'unsafe-inline'; script-src 'unsafe-inline'\r\nConnection: close\r\n\r\n")
        commit(index, text)
    }

    func finish(_ index: Int, phase: Phase) {
        connections[index].phase = phase
        connections[index].closeWhenSent = true
    }

    // MARK: - Output

    /// A writer over the free end of a connection's output buffer; `commit` keeps what it wrote.
    /// Pending bytes are moved to the front first, so the whole free space is usable.
    func output(_ index: Int) -> FixedText {
        let base = outputMemory + index * PreviewServer.outputBytes
        let start = connections[index].outStart, end = connections[index].outEnd
        if start > 0 {
            if end > start { base.update(from: base + start, count: end - start) }
            connections[index].outStart = 0
            connections[index].outEnd = end - start
        }
        let used = connections[index].outEnd
        return FixedText(base: base + used, capacity: PreviewServer.outputBytes - used)
    }

    /// Keeps what `text` wrote; false (and nothing kept) when it did not fit.
    @discardableResult
    func commit(_ index: Int, _ text: FixedText) -> Bool {
        guard !text.overflowed else { return false }
        connections[index].outEnd += text.count
        return true
    }

    func send(_ index: Int, body: UnsafeRawPointer?, count: Int) {
        connections[index].body = body
        connections[index].bodyRemaining = count
    }

    func writeTo(_ index: Int, now: UInt64) {
        let fd = connections[index].fd
        while connections[index].outEnd > connections[index].outStart {
            let base = outputMemory + index * PreviewServer.outputBytes
            let start = connections[index].outStart
            let written = dactyl_socket_write(fd, base + start, connections[index].outEnd - start)
            guard written > 0 else {
                if written != -Int(DACTYL_EAGAIN) { close(index) }
                return
            }
            connections[index].outStart += written
            connections[index].lastProgress = now
        }
        connections[index].outStart = 0
        connections[index].outEnd = 0
        while connections[index].bodyRemaining > 0, let body = connections[index].body {
            let written = dactyl_socket_write(fd, body, connections[index].bodyRemaining)
            guard written > 0 else {
                if written != -Int(DACTYL_EAGAIN) { close(index) }
                return
            }
            connections[index].body = body + written
            connections[index].bodyRemaining -= written
            connections[index].lastProgress = now
        }
        connections[index].body = nil
        if connections[index].sendingPicture {
            connections[index].sendingPicture = false
            if connections[index].phase == .snapshot { connections[index].closeWhenSent = true }
        }
        if connections[index].closeWhenSent { close(index) }
    }

    // MARK: - Pictures

    func wantsPicture() -> Bool {
        var viewers = 0
        for index in 0..<PreviewServer.slots where connections[index].fd >= 0 {
            let phase = connections[index].phase
            guard phase == .pictures || phase == .snapshot else { continue }
            // The current picture must be out everywhere before the encoder's buffer is reused.
            if connections[index].sendingPicture { return false }
            viewers += 1
        }
        return viewers > 0
    }

    func requestPictureIfDue(now: UInt64) {
        if wantsPicture() {
            if !frameRequested && now >= nextPictureDue {
                frameRequested = true
                dactyl_handoff_frame_request(handoff)
            }
        } else if frameRequested && count(.pictures) + count(.snapshot) == 0 {
            frameRequested = false
            dactyl_handoff_frame_cancel(handoff)
        }
    }

    func takePicture(now: UInt64) {
        var number: UInt64 = 0
        guard let frame = dactyl_handoff_frame_take(handoff, &number) else { return }
        frameRequested = false
        var jpeg: UnsafePointer<UInt8>? = nil
        let length = dactyl_jpeg_encode(encoder, frame, &jpeg)
        dactyl_handoff_frame_release(handoff)
        nextPictureDue = now &+ UInt64(1e9 / max(0.5, configuration.maximumFramesPerSecond))
        guard length > 0, let jpeg else { return }
        picturesEncoded += 1
        picture = jpeg
        pictureLength = length
        for index in 0..<PreviewServer.slots where connections[index].fd >= 0 && !connections[index].sendingPicture {
            let phase = connections[index].phase
            guard phase == .pictures || phase == .snapshot else { continue }
            if phase == .pictures {
                var text = output(index)
                text.append("\r\n--")
                text.append(PreviewServer.boundary)
                text.append("\r\nContent-Type: image/jpeg\r\nContent-Length: ")
                text.append(integer: length)
                text.append("\r\n\r\n")
                guard commit(index, text) else { continue }
            } else {
                startResponse(index, status: 200, reason: "OK", type: "image/jpeg", length: length)
            }
            send(index, body: UnsafeRawPointer(jpeg), count: length)
            connections[index].sendingPicture = true
            connections[index].lastProgress = now
        }
    }

    // MARK: - Events

    func takeEvents() {
        while true {
            let length = dactyl_handoff_event_pop(handoff, eventMemory, PreviewSink.eventBytes)
            guard length > 1 else { return }
            let kind = PreviewSink.Kind(rawValue: eventMemory[0])
            let message = UnsafeBufferPointer(start: eventMemory + 1, count: length - 1)
            switch kind {
            case .zone: keep(message, in: zoneEvent, length: &zoneLength)
            case .status: keep(message, in: statusEvent, length: &statusLength)
            case .partial: keep(message, in: partialEvent, length: &partialLength)
            case .commit:
                let slot = historyCount % PreviewServer.historyWords
                keep(message, in: history + slot * PreviewSink.eventBytes, length: &historyLengths[slot])
                historyCount += 1
                partialLength = 0
            case .meter, nil: break
            }
            for index in 0..<PreviewServer.slots where connections[index].fd >= 0 && connections[index].phase == .events {
                var text = output(index)
                text.append(message)
                // A viewer too slow for its events is dropped; its page reconnects and is replayed.
                if !commit(index, text) { close(index) }
            }
        }
    }

    func keep(_ message: UnsafeBufferPointer<UInt8>, in storage: UnsafeMutablePointer<UInt8>, length: inout Int) {
        storage.update(from: message.baseAddress!, count: message.count)
        length = message.count
    }

    /// What a page that just connected needs: the retry interval, the geometry, the zone, the
    /// words so far, the status and the partial.
    func replay(_ index: Int) {
        var text = output(index)
        text.append("retry: 1000\n\nevent: hello\ndata: {\"type\":\"hello\",\"width\":")
        text.append(integer: frameWidth)
        text.append(",\"height\":")
        text.append(integer: frameHeight)
        text.append(",\"fps\":")
        text.append(fixed: Float(framesPerSecond), decimals: 2)
        text.append(",\"picture_width\":")
        text.append(integer: pictureWidth)
        text.append(",\"picture_height\":")
        text.append(integer: pictureHeight)
        text.append(",\"picture_fps\":")
        text.append(fixed: Float(configuration.maximumFramesPerSecond), decimals: 2)
        text.append("}\n\n")
        text.append(UnsafeBufferPointer(start: zoneEvent, count: zoneLength))
        let kept = min(historyCount, PreviewServer.historyWords)
        for order in 0..<kept {
            let slot = (historyCount - kept + order) % PreviewServer.historyWords
            text.append(UnsafeBufferPointer(start: history + slot * PreviewSink.eventBytes, count: historyLengths[slot]))
        }
        text.append(UnsafeBufferPointer(start: statusEvent, count: statusLength))
        text.append(UnsafeBufferPointer(start: partialEvent, count: partialLength))
        if !commit(index, text) { close(index) }
    }
}
