import CDactylPlatform
import DactylPipeline

/// `dactyl record`: a camera's frames into a clip that `dactyl decode` reads, so test clips can
/// be recorded on the box itself.
enum RecordCommand {
    static let usage = """
        usage: dactyl record DEVICE --frames N --out FILE.y4m [--size WxH] [--fps N] [--pixel-format F]

        Records N frames from a V4L2 camera into a YUV4MPEG2 clip, exactly as the camera delivers
        them: C422 for a YUYV camera, C420 for NV12 and YU12 (and MJPEG, decoded by libv4l2).
        When the clip cannot be written as fast as the camera sends, the newest frame wins and the
        skipped ones are counted. A summary goes to standard error.

          DEVICE             the camera, e.g. /dev/video0 or /dev/v4l/by-id/...
          --frames N         how many frames to record
          --out FILE         the clip to write (created or overwritten)
          --size WxH         frame size to ask for (default 640x480; the camera may choose another)
          --fps N            frame rate to ask for (default 30)
          --pixel-format F   auto (default: YUYV, NV12 or YU12 if the camera has one, else YU12
                             converted by libv4l2), yuyv, nv12, yu12, mjpeg
          --stall-ms N       no frame for N ms means the camera is lost (default 5000)
          --reconnect        when the camera is lost (unplugged, stalled), reopen it with back-off
                             (0.5 s doubling to 5 s, for up to a minute) and go on recording; it
                             must come back at the same size
        """

    static func run(_ words: ArraySlice<String>) throws(CommandError) -> OutputText {
        let arguments = try CommandError.parsing(
            words, valueOptions: ["--frames", "--out", "--size", "--fps", "--pixel-format", "--stall-ms"],
            flagOptions: ["--reconnect"])
        guard arguments.positionals.count == 1 else {
            throw .usage(arguments.positionals.isEmpty ? "record needs a camera device" : "record takes one device, got \(arguments.positionals.count)")
        }
        guard let outPath = arguments.value("--out") else { throw .usage("record needs --out FILE.y4m") }
        guard arguments.value("--frames") != nil else { throw .usage("record needs --frames N") }
        var configuration = CameraConfiguration(device: arguments.positionals[0])
        let frames: Int
        do throws(Arguments.UsageError) {
            frames = try arguments.integer("--frames", default: 0, range: 1...1_000_000)
            configuration.framesPerSecond = try arguments.integer("--fps", default: 30, range: 1...1000)
            configuration.stallTimeoutMilliseconds = try arguments.integer("--stall-ms", default: 5000, range: 100...600_000)
            if let size = try arguments.integers("--size", count: 2, separator: "x", range: 1...Y4MClip.maximumDimension,
                                                 example: "WxH such as 640x480") {
                configuration.width = size[0]
                configuration.height = size[1]
            }
            let formatName = try arguments.choice("--pixel-format", from: ["auto", "yuyv", "nv12", "yu12", "i420", "mjpeg"],
                                                  default: "auto")
            configuration.pixelFormat = CameraPixelFormat(name: formatName) ?? .auto
        } catch {
            throw .usage(error.message)
        }

        let camera = V4L2Camera(configuration: configuration)
        do {
            try camera.open()
        } catch {
            throw .failed(error.description)
        }
        defer { camera.close() }
        let chroma: ChromaSubsampling = camera.fourcc == UInt32(DACTYL_FOURCC_YUYV) ? .yuv422 : .yuv420
        let writer: Y4MWriter
        do {
            writer = try Y4MWriter(path: outPath, width: camera.width, height: camera.height, chroma: chroma,
                                   colorRange: camera.colorRange, frameRate: camera.frameRate)
        } catch {
            throw .failed(error.description)
        }
        var firstTimestamp: UInt64 = 0, lastTimestamp: UInt64 = 0
        var dropped = 0
        while writer.framesWritten < frames {
            switch camera.nextFrame(timeoutMilliseconds: 1000) {
            case .frame(let captured):
                if writer.framesWritten == 0 { firstTimestamp = captured.timestampNanoseconds } else { dropped += captured.droppedBefore }
                lastTimestamp = captured.timestampNanoseconds
                do {
                    try writer.append(captured.frame)
                } catch {
                    throw .failed(error.description)
                }
            case .timeout:
                continue
            case .lost(let error):
                guard arguments.has("--reconnect") else {
                    throw .failed("\(error.description) (after \(writer.framesWritten) of \(frames) frames)")
                }
                try reconnect(camera, lost: error)
            }
        }
        do {
            try writer.close()
        } catch {
            throw .failed(error.description)
        }

        var summary = OutputText()
        let rate = camera.frameRate.denominator > 0
            ? "\(fixed(Float(camera.frameRate.numerator) / Float(camera.frameRate.denominator), decimals: 2)) fps" : "an unknown rate"
        let seconds = Double(lastTimestamp &- firstTimestamp) / 1e9
        summary.line("dactyl: recorded \(writer.framesWritten) frames to \(outPath): \(camera.width)x\(camera.height) "
                     + "\(camera.pixelFormatName)\(camera.isNativeFormat ? "" : " (converted by libv4l2)") at \(rate) "
                     + "from \(configuration.device) (\"\(camera.card)\", \(camera.bufferCount) buffers); "
                     + "\(dropped) frames dropped between recorded ones; since opening \(camera.framesSkipped) skipped "
                     + "for the newest, \(camera.framesDroppedByDriver) dropped by the driver, \(camera.framesCorrupt) corrupt, "
                     + "\(camera.reconnects) reconnects, \(fixed(Float(seconds), decimals: 3)) s of camera time")
        summary.write(to: 2)
        return OutputText()
    }

    /// After a loss: says so once, reopens with back-off for up to a minute, says when it is back.
    private static func reconnect(_ camera: V4L2Camera, lost: CameraError) throws(CommandError) {
        printError("\(lost.description); reconnecting")
        let lostAt = dactyl_monotonic_ns()
        var backoff = CameraBackoff()
        let limit: UInt64 = 60_000_000_000
        guard camera.reconnect(backoff: &backoff, shouldStop: { dactyl_monotonic_ns() - lostAt > limit }) else {
            let last = camera.lastReconnectError.map { ": \($0.description)" } ?? ""
            throw .failed("\(camera.configuration.device): the camera did not come back within 60 s\(last)")
        }
        let seconds = Float(dactyl_monotonic_ns() - lostAt) / 1e9
        printError("\(camera.configuration.device): camera back after \(fixed(seconds, decimals: 2)) s "
                   + "(\(camera.width)x\(camera.height) \(camera.pixelFormatName))")
    }
}
