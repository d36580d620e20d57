import CDactylPlatform

/// Which pixel format to ask a camera for.
public enum CameraPixelFormat: Equatable, Sendable {
    /// The first of YUYV, NV12 and YU12 that the camera itself offers; otherwise YU12 converted
    /// by libv4l2 from whatever the camera sends (usually MJPEG).
    case auto
    case yuyv
    case nv12
    /// I420: Y, U and V planes.
    case yu12
    /// The camera's Motion-JPEG, decoded to YU12 by libv4l2 (the camera must offer MJPEG).
    case mjpeg

    /// `auto`, `yuyv`, `nv12`, `yu12` (or `i420`), `mjpeg`; nil for anything else.
    public init?(name: String) {
        var lower = ""
        for scalar in name.unicodeScalars {
            let value = scalar.value >= 65 && scalar.value <= 90 ? scalar.value + 32 : scalar.value
            lower.unicodeScalars.append(Unicode.Scalar(value) ?? scalar)
        }
        // Byte comparisons: String equality would pull the Unicode tables into the board binary.
        let bytes = Array(lower.utf8)
        func isName(_ literal: StaticString) -> Bool {
            bytes.count == literal.utf8CodeUnitCount && (0..<bytes.count).allSatisfy { bytes[$0] == literal.utf8Start[$0] }
        }
        if isName("auto") { self = .auto }
        else if isName("yuyv") { self = .yuyv }
        else if isName("nv12") { self = .nv12 }
        else if isName("yu12") || isName("i420") { self = .yu12 }
        else if isName("mjpeg") || isName("mjpg") { self = .mjpeg }
        else { return nil }
    }

    public var name: String {
        switch self {
        case .auto: "auto"
        case .yuyv: "yuyv"
        case .nv12: "nv12"
        case .yu12: "yu12"
        case .mjpeg: "mjpeg"
        }
    }
}

/// What to open and what to ask it for. The camera may give a different size or frame rate:
/// `V4L2Camera` reports what was negotiated.
public struct CameraConfiguration: Sendable {
    /// e.g. `/dev/video0`, or better a stable `/dev/v4l/by-id/...` path (nodes renumber on replug).
    public var device: String
    public var width: Int
    public var height: Int
    public var framesPerSecond: Int
    public var pixelFormat: CameraPixelFormat
    /// No frame for this long while streaming means the camera is lost.
    public var stallTimeoutMilliseconds: Int
    /// Buffers to ask REQBUFS for; the driver may give more or fewer (at least 2 are needed).
    public var bufferCount: Int

    public init(device: String, width: Int = 640, height: Int = 480, framesPerSecond: Int = 30,
                pixelFormat: CameraPixelFormat = .auto, stallTimeoutMilliseconds: Int = 5000,
                bufferCount: Int = 4) {
        self.device = device
        self.width = width
        self.height = height
        self.framesPerSecond = framesPerSecond
        self.pixelFormat = pixelFormat
        self.stallTimeoutMilliseconds = stallTimeoutMilliseconds
        self.bufferCount = bufferCount
    }
}

/// Why a camera cannot be used, or stopped being usable. Each case names the device; ioctl
/// failures name the step (`VIDIOC_S_FMT`) and the operating system's text for errno.
public enum CameraError: Error, CustomStringConvertible {
    case cannotOpen(device: String, reason: String)
    /// An ioctl (or mmap, poll) failed while setting the camera up.
    case stepFailed(device: String, step: String, reason: String)
    case notCapture(device: String, card: String)
    case noStreaming(device: String, card: String)
    /// The configuration names a format the camera does not offer.
    case formatNotOffered(device: String, format: String)
    /// After VIDIOC_S_FMT the driver settled on a format Dactyl does not read.
    case unreadableFormat(device: String, fourcc: String)
    /// The format's line or image size is too small for its width and height.
    case badGeometry(device: String, detail: String)
    case tooFewBuffers(device: String, count: Int)
    /// After a reconnect the camera came back with another frame size.
    case sizeChanged(device: String, expectedWidth: Int, expectedHeight: Int, width: Int, height: Int)
    /// Streaming failed (unplugged: ENODEV, EIO, ...): the camera is lost.
    case disconnected(device: String, step: String, reason: String)
    /// No frame came for `milliseconds`: the camera is lost.
    case stalled(device: String, milliseconds: Int)

    public var description: String {
        switch self {
        case .cannotOpen(let device, let reason):
            return "\(device): cannot open camera: \(reason)"
        case .stepFailed(let device, let step, let reason):
            return "\(device): \(step): \(reason)"
        case .notCapture(let device, let card):
            return "\(device): \"\(card)\" is not a video capture device (VIDIOC_QUERYCAP has no VIDEO_CAPTURE)"
        case .noStreaming(let device, let card):
            return "\(device): \"\(card)\" cannot stream (VIDIOC_QUERYCAP has no STREAMING)"
        case .formatNotOffered(let device, let format):
            return "\(device): the camera does not offer \(format) (VIDIOC_ENUM_FMT); try --pixel-format auto"
        case .unreadableFormat(let device, let fourcc):
            return "\(device): VIDIOC_S_FMT: the camera settled on \(fourcc), expected YUYV, NV12 or YU12"
        case .badGeometry(let device, let detail):
            return "\(device): VIDIOC_G_FMT: \(detail)"
        case .tooFewBuffers(let device, let count):
            return "\(device): VIDIOC_REQBUFS: the driver gave \(count) buffer(s), expected at least 2"
        case .sizeChanged(let device, let expectedWidth, let expectedHeight, let width, let height):
            return "\(device): the camera came back at \(width)x\(height), expected \(expectedWidth)x\(expectedHeight) as before"
        case .disconnected(let device, let step, let reason):
            return "\(device): camera lost: \(step): \(reason)"
        case .stalled(let device, let milliseconds):
            return "\(device): camera lost: no frame for \(milliseconds) ms"
        }
    }

    /// True for the errors that mean "the camera went away" rather than "it cannot be used".
    public var isLoss: Bool {
        switch self {
        case .disconnected, .stalled, .cannotOpen: true
        default: false
        }
    }
}

/// One frame from the camera. `frame` points into a camera buffer that stays valid until the
/// next `nextFrame` or `close`.
public struct CameraFrame {
    public let frame: YUVFrame
    /// The driver's frame counter.
    public let sequence: UInt32
    /// CLOCK_MONOTONIC, nanoseconds.
    public let timestampNanoseconds: UInt64
    /// Frames lost since the previous frame returned: skipped to reach this newest one, and
    /// dropped by the driver (gaps in `sequence`).
    public let droppedBefore: Int
}

/// What `nextFrame` found.
public enum CameraRead {
    case frame(CameraFrame)
    /// No frame within the wait asked for; the camera is not (yet) considered lost.
    case timeout
    /// The camera is gone; `close()` happened already. Reconnect with `reconnect` or `reopen`.
    case lost(CameraError)
}

/// The delays between reconnection attempts: `initialMilliseconds`, doubling up to
/// `maximumMilliseconds`.
public struct CameraBackoff: Sendable {
    public let initialMilliseconds: Int
    public let maximumMilliseconds: Int
    /// How long to wait before the next attempt.
    public private(set) var delayMilliseconds: Int

    public init(initialMilliseconds: Int = 500, maximumMilliseconds: Int = 5000) {
        self.initialMilliseconds = max(1, initialMilliseconds)
        self.maximumMilliseconds = max(self.initialMilliseconds, maximumMilliseconds)
        delayMilliseconds = self.initialMilliseconds
    }

    /// After a failed attempt: the next delay doubles (up to the maximum).
    public mutating func failed() {
        delayMilliseconds = min(maximumMilliseconds, delayMilliseconds * 2)
    }

    /// After a success: back to the initial delay.
    public mutating func reset() { delayMilliseconds = initialMilliseconds }
}

/// A V4L2 camera through libv4l2: non-blocking, mmap streaming with a fixed ring of buffers,
/// the newest frame on each read (older ready frames are re-queued and counted as dropped).
/// After `open()` nothing allocates until `close()`; `nextFrame` allocates only to build an error.
public final class V4L2Camera {
    public let configuration: CameraConfiguration
    /// What was negotiated (valid after `open()`).
    public private(set) var width = 0
    public private(set) var height = 0
    public private(set) var fourcc: UInt32 = 0
    public private(set) var bytesPerLine = 0
    /// Frame rate in effect as a fraction (0/0 when the driver does not say).
    public private(set) var frameRate: (numerator: Int, denominator: Int) = (0, 0)
    /// The device's name from VIDIOC_QUERYCAP.
    public private(set) var card = ""
    public private(set) var bufferCount = 0
    /// Whether the camera itself sends `fourcc`; false when libv4l2 converts.
    public private(set) var isNativeFormat = false
    public private(set) var colorRange = ColorRange.limited

    /// Totals since the first open: frames returned, frames skipped to reach the newest one,
    /// frames the driver dropped (sequence gaps), frames with the error flag or short data.
    public private(set) var framesDelivered = 0
    public private(set) var framesSkipped = 0
    public private(set) var framesDroppedByDriver = 0
    public private(set) var framesCorrupt = 0
    public private(set) var reconnects = 0
    /// The last error of a failed reconnection attempt (`reconnect` reports each one only here).
    public private(set) var lastReconnectError: CameraError?

    private var fd: Int32 = -1
    private var buffers: [UnsafeMutableRawPointer?] = []
    private var bufferLengths: [Int] = []
    private var streaming = false
    /// The buffer whose frame the caller holds, re-queued at the next read.
    private var heldIndex: Int = -1
    private var lastSequence: UInt32 = 0
    private var hasLastSequence = false
    private var lastFrameNanoseconds: UInt64 = 0
    private var frameBytes = 0
    /// The size of the first successful open; a reopened camera must match it.
    private var firstSize: (width: Int, height: Int)?

    public init(configuration: CameraConfiguration) {
        self.configuration = configuration
    }

    deinit { close() }

    public var isOpen: Bool { fd >= 0 }

    /// The negotiated fourcc as text, e.g. `YUYV`.
    public var pixelFormatName: String { fourccText(fourcc) }

    /// Opens the device, negotiates format, size and frame rate, maps the buffers and starts streaming.
    public func open() throws(CameraError) {
        close()
        do {
            try start()
        } catch {
            close()
            throw error
        }
    }

    /// Makes every later open insist on this frame size (as after a first open at that size):
    /// for a camera that was absent when the pipeline was set up for the configured size.
    public func requireSize(width: Int, height: Int) {
        firstSize = (width, height)
    }

    /// Full teardown, then `open()`; the frame size must be the one of the first open.
    public func reopen() throws(CameraError) {
        close()
        try open()
        reconnects += 1
    }

    /// After `.lost`: waits `backoff.delayMilliseconds`, tries `reopen()`, and repeats with
    /// longer delays until it succeeds (true) or `shouldStop` says so (false, checked every
    /// 100 ms). Each failure is kept in `lastReconnectError`, so the caller can report it once.
    public func reconnect(backoff: inout CameraBackoff, shouldStop: () -> Bool) -> Bool {
        while true {
            var waited = 0
            while waited < backoff.delayMilliseconds {
                if shouldStop() { return false }
                let slice = min(100, backoff.delayMilliseconds - waited)
                dactyl_camera_sleep_ms(UInt32(slice))
                waited += slice
            }
            if shouldStop() { return false }
            do {
                try reopen()
                backoff.reset()
                lastReconnectError = nil
                return true
            } catch {
                lastReconnectError = error
                backoff.failed()
            }
        }
    }

    /// Stops streaming, unmaps the buffers and closes the device. Safe to call twice.
    public func close() {
        guard fd >= 0 else { return }
        if streaming { _ = dactyl_camera_stream(fd, 0) }
        streaming = false
        for index in 0..<buffers.count {
            dactyl_camera_unmap_buffer(buffers[index], bufferLengths[index])
        }
        buffers.removeAll()
        bufferLengths.removeAll()
        dactyl_camera_close(fd)
        fd = -1
        heldIndex = -1
        hasLastSequence = false
    }

    /// The newest frame, waiting up to `timeoutMilliseconds` for one. Frames that were ready
    /// before it are re-queued unseen (counted in `droppedBefore`). The previous frame's buffer
    /// goes back to the driver now.
    public func nextFrame(timeoutMilliseconds: Int) -> CameraRead {
        guard fd >= 0 else {
            return .lost(.disconnected(device: configuration.device, step: "read", reason: "the camera is not open"))
        }
        if heldIndex >= 0 {
            let error = dactyl_camera_queue(fd, UInt32(heldIndex))
            heldIndex = -1
            if error != 0 { return lose("VIDIOC_QBUF", error) }
        }
        let start = dactyl_monotonic_ns()
        let deadline = start + UInt64(max(0, timeoutMilliseconds)) * 1_000_000
        while true {
            let now = dactyl_monotonic_ns()
            let remaining = now < deadline ? Int32(min(Int(Int32.max), Int((deadline - now + 999_999) / 1_000_000))) : 0
            var ready: Int32 = 0
            let waitError = dactyl_camera_wait(fd, remaining, &ready)
            if waitError != 0 { return lose("poll", waitError) }
            if ready == 0 {
                let silentNanoseconds = dactyl_monotonic_ns() - lastFrameNanoseconds
                if silentNanoseconds >= UInt64(configuration.stallTimeoutMilliseconds) * 1_000_000 {
                    let device = configuration.device
                    close()
                    return .lost(.stalled(device: device, milliseconds: configuration.stallTimeoutMilliseconds))
                }
                return .timeout
            }
            var newest = -1
            var newestSequence: UInt32 = 0
            var newestTimestamp: UInt64 = 0
            var skipped = 0
            var driverDropped = 0
            var first = true
            while true {
                if !first {
                    // Another frame ready? Asked with poll rather than a DQBUF that fails with
                    // EAGAIN, which libv4l2 would print on standard error every time.
                    var more: Int32 = 0
                    let pollError = dactyl_camera_wait(fd, 0, &more)
                    if pollError != 0 { return lose("poll", pollError) }
                    if more == 0 { break }
                }
                first = false
                var index: UInt32 = 0, sequence: UInt32 = 0, bytesUsed: UInt32 = 0
                var timestamp: UInt64 = 0
                var errorFlag: Int32 = 0
                let error = dactyl_camera_dequeue(fd, &index, &sequence, &timestamp, &bytesUsed, &errorFlag)
                if error == EAGAIN_VALUE {
                    // poll said "error" and there is no frame: the device is gone or stopped.
                    if ready == 2 && newest < 0 { return lose("poll", EIO_VALUE) }
                    break
                }
                if error != 0 { return lose("VIDIOC_DQBUF", error) }
                guard Int(index) < buffers.count else {
                    return lose("VIDIOC_DQBUF", EIO_VALUE)
                }
                if hasLastSequence {
                    // Unsigned wrap-around: a gap of 0 is the next frame.
                    driverDropped += Int(sequence &- lastSequence &- 1)
                }
                lastSequence = sequence
                hasLastSequence = true
                if errorFlag != 0 || (bytesUsed != 0 && Int(bytesUsed) < frameBytes) {
                    framesCorrupt += 1
                    let queueError = dactyl_camera_queue(fd, index)
                    if queueError != 0 { return lose("VIDIOC_QBUF", queueError) }
                    continue
                }
                if newest >= 0 {
                    skipped += 1
                    let queueError = dactyl_camera_queue(fd, UInt32(newest))
                    if queueError != 0 { return lose("VIDIOC_QBUF", queueError) }
                }
                newest = Int(index)
                newestSequence = sequence
                newestTimestamp = timestamp
            }
            if newest < 0 {
                // Woken without a frame: an error the driver signalled only through poll, or a
                // corrupt frame. Wait again for what is left of the time.
                if dactyl_monotonic_ns() >= deadline { return .timeout }
                continue
            }
            heldIndex = newest
            lastFrameNanoseconds = dactyl_monotonic_ns()
            framesDelivered += 1
            framesSkipped += skipped
            framesDroppedByDriver += driverDropped
            return .frame(CameraFrame(frame: frame(in: newest), sequence: newestSequence,
                                      timestampNanoseconds: newestTimestamp,
                                      droppedBefore: skipped + driverDropped))
        }
    }

    // MARK: - Set-up

    private func start() throws(CameraError) {
        let device = configuration.device
        var descriptor: Int32 = -1
        let openError = dactyl_camera_open(device, &descriptor)
        guard openError == 0 else { throw .cannotOpen(device: device, reason: errorText(openError)) }
        fd = descriptor

        var capture: Int32 = 0, canStream: Int32 = 0
        var cardBytes = [CChar](repeating: 0, count: 33)
        try check("VIDIOC_QUERYCAP", dactyl_camera_query(fd, &capture, &canStream, &cardBytes, cardBytes.count))
        card = cardBytes.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        guard capture != 0 else { throw .notCapture(device: device, card: card) }
        guard canStream != 0 else { throw .noStreaming(device: device, card: card) }
        try check("v4l2_fd_open", dactyl_camera_attach(fd))

        var requested: UInt32
        switch configuration.pixelFormat {
        case .yuyv: requested = UInt32(DACTYL_FOURCC_YUYV)
        case .nv12: requested = UInt32(DACTYL_FOURCC_NV12)
        case .yu12: requested = UInt32(DACTYL_FOURCC_YU12)
        case .mjpeg:
            guard try offersNatively(UInt32(DACTYL_FOURCC_MJPG)) else {
                throw .formatNotOffered(device: device, format: "MJPEG")
            }
            // libv4l2 decodes the camera's MJPEG into the YU12 asked for.
            requested = UInt32(DACTYL_FOURCC_YU12)
        case .auto:
            requested = UInt32(DACTYL_FOURCC_YU12)
            for candidate in [UInt32(DACTYL_FOURCC_YUYV), UInt32(DACTYL_FOURCC_NV12), UInt32(DACTYL_FOURCC_YU12)]
            where try offersNatively(candidate) {
                requested = candidate
                break
            }
        }
        if configuration.pixelFormat == .yuyv || configuration.pixelFormat == .nv12 {
            // An explicit YUYV or NV12 must be the camera's own: libv4l2 would otherwise convert
            // silently and the frames would not be what the camera sends. YU12 is what libv4l2
            // converts to, so it may come from any format the camera has.
            guard try offersNatively(requested) else {
                throw .formatNotOffered(device: device, format: fourccText(requested))
            }
        }
        isNativeFormat = try offersNatively(requested)

        var negotiatedWidth = UInt32(clamping: configuration.width)
        var negotiatedHeight = UInt32(clamping: configuration.height)
        var negotiatedFourcc = requested
        var lineBytes: UInt32 = 0, imageBytes: UInt32 = 0
        var fullRange: Int32 = 0
        try check("VIDIOC_S_FMT", dactyl_camera_set_format(fd, &negotiatedWidth, &negotiatedHeight, &negotiatedFourcc,
                                                          &lineBytes, &imageBytes, &fullRange))
        width = Int(negotiatedWidth)
        height = Int(negotiatedHeight)
        fourcc = negotiatedFourcc
        bytesPerLine = Int(lineBytes)
        colorRange = fullRange != 0 ? .full : .limited
        guard fourcc == UInt32(DACTYL_FOURCC_YUYV) || fourcc == UInt32(DACTYL_FOURCC_NV12)
                || fourcc == UInt32(DACTYL_FOURCC_YU12) else {
            throw .unreadableFormat(device: device, fourcc: fourccText(fourcc))
        }
        try checkGeometry(imageBytes: Int(imageBytes))
        if let firstSize, firstSize.width != width || firstSize.height != height {
            throw .sizeChanged(device: device, expectedWidth: firstSize.width, expectedHeight: firstSize.height,
                               width: width, height: height)
        }

        var numerator: UInt32 = 0, denominator: UInt32 = 0
        try check("VIDIOC_S_PARM", dactyl_camera_set_frame_rate(fd, UInt32(clamping: max(0, configuration.framesPerSecond)),
                                                               &numerator, &denominator))
        frameRate = (Int(numerator), Int(denominator))

        var count = UInt32(clamping: max(2, configuration.bufferCount))
        try check("VIDIOC_REQBUFS", dactyl_camera_request_buffers(fd, &count))
        guard count >= 2 else { throw .tooFewBuffers(device: device, count: Int(count)) }
        bufferCount = Int(count)
        buffers = [UnsafeMutableRawPointer?](repeating: nil, count: bufferCount)
        bufferLengths = [Int](repeating: 0, count: bufferCount)
        for index in 0..<bufferCount {
            var address: UnsafeMutableRawPointer? = nil
            var length = 0
            try check("VIDIOC_QUERYBUF/mmap", dactyl_camera_map_buffer(fd, UInt32(index), &address, &length))
            buffers[index] = address
            bufferLengths[index] = length
            guard length >= frameBytes else {
                throw .badGeometry(device: device, detail: "buffer \(index) has \(length) bytes, a frame needs \(frameBytes)")
            }
        }
        for index in 0..<bufferCount {
            try check("VIDIOC_QBUF", dactyl_camera_queue(fd, UInt32(index)))
        }
        try check("VIDIOC_STREAMON", dactyl_camera_stream(fd, 1))
        streaming = true
        lastFrameNanoseconds = dactyl_monotonic_ns()
        hasLastSequence = false
        if firstSize == nil { firstSize = (width, height) }
    }

    private func offersNatively(_ code: UInt32) throws(CameraError) -> Bool {
        var native: Int32 = 0
        try check("VIDIOC_ENUM_FMT", dactyl_camera_offers(fd, code, &native))
        return native != 0
    }

    /// The line and image sizes the driver gave must hold a whole frame of the negotiated format.
    private func checkGeometry(imageBytes: Int) throws(CameraError) {
        let device = configuration.device
        guard width > 0, height > 0, width <= Y4MClip.maximumDimension, height <= Y4MClip.maximumDimension else {
            throw .badGeometry(device: device, detail: "frame size \(width)x\(height) is out of range")
        }
        let packed = fourcc == UInt32(DACTYL_FOURCC_YUYV)
        let minimumLine = packed ? 2 * width : width
        if bytesPerLine == 0 { bytesPerLine = minimumLine }
        guard bytesPerLine >= minimumLine else {
            throw .badGeometry(device: device, detail: "\(bytesPerLine) bytes per line, \(pixelFormatName) at width \(width) needs \(minimumLine)")
        }
        if packed {
            guard width % 2 == 0 else {
                throw .badGeometry(device: device, detail: "YUYV with an odd width \(width)")
            }
            frameBytes = bytesPerLine * height
        } else if fourcc == UInt32(DACTYL_FOURCC_NV12) {
            frameBytes = bytesPerLine * height + bytesPerLine * ((height + 1) / 2)
        } else {
            frameBytes = bytesPerLine * height + 2 * (bytesPerLine / 2) * ((height + 1) / 2)
        }
        guard imageBytes == 0 || imageBytes >= frameBytes else {
            throw .badGeometry(device: device, detail: "image size \(imageBytes) bytes, \(pixelFormatName) \(width)x\(height) needs \(frameBytes)")
        }
    }

    /// The frame in buffer `index`, read in place in the camera's layout.
    private func frame(in index: Int) -> YUVFrame {
        let base = UnsafePointer(buffers[index]!.assumingMemoryBound(to: UInt8.self))
        if fourcc == UInt32(DACTYL_FOURCC_YUYV) {
            // Y0 U Y1 V: luma every 2 bytes, each chroma every 4.
            return YUVFrame(width: width, height: height, chroma: .yuv422, colorRange: colorRange,
                            y: base, yStride: bytesPerLine, u: base + 1, v: base + 3, uvStride: bytesPerLine,
                            ySampleStep: 2, uvSampleStep: 4)
        }
        let chromaPlane = base + bytesPerLine * height
        if fourcc == UInt32(DACTYL_FOURCC_NV12) {
            return YUVFrame(width: width, height: height, chroma: .yuv420, colorRange: colorRange,
                            y: base, yStride: bytesPerLine, u: chromaPlane, v: chromaPlane + 1,
                            uvStride: bytesPerLine, ySampleStep: 1, uvSampleStep: 2)
        }
        let chromaStride = bytesPerLine / 2
        return YUVFrame(width: width, height: height, chroma: .yuv420, colorRange: colorRange,
                        y: base, yStride: bytesPerLine, u: chromaPlane,
                        v: chromaPlane + chromaStride * ((height + 1) / 2), uvStride: chromaStride)
    }

    private func check(_ step: String, _ error: Int32) throws(CameraError) {
        guard error == 0 else {
            throw .stepFailed(device: configuration.device, step: step, reason: errorText(error))
        }
    }

    /// Streaming failed: tear down and say so.
    private func lose(_ step: String, _ error: Int32) -> CameraRead {
        let device = configuration.device
        close()
        return .lost(.disconnected(device: device, step: step, reason: errorText(error)))
    }
}

private let EAGAIN_VALUE = Int32(DACTYL_CAMERA_EAGAIN)
private let EIO_VALUE = Int32(DACTYL_CAMERA_EIO)

/// A fourcc's four characters, e.g. `YUYV`; unprintable bytes as `?`.
public func fourccText(_ code: UInt32) -> String {
    var text = ""
    for shift in stride(from: 0, to: 32, by: 8) {
        let byte = UInt8(truncatingIfNeeded: code >> UInt32(shift))
        text.unicodeScalars.append(Unicode.Scalar(byte >= 0x20 && byte < 0x7F ? byte : 0x3F))
    }
    return text
}
