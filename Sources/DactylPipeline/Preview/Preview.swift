import CDactylPlatform

/// `dactyl run --preview [ADDR:]PORT`: where the page listens and how it sends pictures.
public struct PreviewConfiguration: Equatable, Sendable {
    /// An IPv4 or IPv6 literal; the loopback address unless one is given.
    public var address: String = "127.0.0.1"
    /// 0: any free port (the URL printed at start-up says which).
    public var port: UInt16 = 0
    /// Pictures per second sent to a viewer, at most (fewer when the viewer or the link is slower).
    public var maximumFramesPerSecond: Double = 15
    /// JPEG quality, 1-100.
    public var quality: Int32 = 75
    /// The widest picture sent: a larger camera picture is halved (or quartered) first.
    public var maximumWidth = 640
    /// A request head must arrive within this time of connecting.
    public var requestTimeoutNanoseconds: UInt64 = 5_000_000_000
    /// A viewer that takes nothing of what is sent to it for this long is disconnected.
    public var stallTimeoutNanoseconds: UInt64 = 10_000_000_000

    public init() {}

    /// `PORT`, `ADDR:PORT` or `[IPV6]:PORT`.
    public init(parsing text: String) throws(PreviewError) {
        var address = "127.0.0.1", portText = Substring(text)
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw .badAddress(text)
            }
            address = String(text[text.index(after: text.startIndex)..<close])
            portText = text[text.index(close, offsetBy: 2)...]
        } else if let colon = text.lastIndex(of: ":") {
            guard !text[..<colon].contains(":") else { throw .badAddress(text) }  // IPv6 needs brackets
            address = String(text[..<colon])
            portText = text[text.index(after: colon)...]
        }
        guard !address.isEmpty, !portText.isEmpty, portText.utf8.count <= 5, portText.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
            throw .badAddress(text)
        }
        var port = 0
        for digit in portText.utf8 { port = port * 10 + Int(digit - 48) }
        guard port <= 65535 else { throw .badAddress(text) }
        self.init()
        self.address = address == "localhost" ? "127.0.0.1" : address
        self.port = UInt16(port)
    }
}

public enum PreviewError: Error, CustomStringConvertible, Equatable {
    case badAddress(String)
    case cannotListen(address: String, port: UInt16, reason: String)
    case cannotStart(String)

    public var description: String {
        switch self {
        case .badAddress(let text):
            "--preview \(text): expected PORT, ADDR:PORT or [IPV6]:PORT (ADDR an IP address, PORT 0-65535)"
        case .cannotListen(let address, let port, let reason):
            "preview: cannot listen on \(address) port \(port): \(reason)"
        case .cannotStart(let reason):
            "preview: \(reason)"
        }
    }
}

/// The preview page: a listening socket, the hand-off, the JPEG encoder and the server thread,
/// all made at start-up. `sink` goes into the run's sinks; `stop()` ends the thread.
public final class Preview {
    public let configuration: PreviewConfiguration
    /// The port listened on (the configured one, or the one the system chose for port 0).
    public let port: Int
    let handoff: OpaquePointer
    let wake: Int32
    let server: PreviewServer
    var thread = dactyl_thread(id: 0)
    var running = false
    public let sink: PreviewSink

    /// - Parameters:
    ///   - page: the HTML page (static memory: the binary's copy).
    ///   - frameWidth, frameHeight, framesPerSecond: the source's pictures.
    public init(configuration: PreviewConfiguration, page: UnsafeRawBufferPointer, frameWidth: Int, frameHeight: Int,
                framesPerSecond: Double, runStart: UInt64) throws(PreviewError) {
        self.configuration = configuration
        var scale = 1
        while frameWidth / scale > configuration.maximumWidth && scale < 4 { scale *= 2 }
        let layout = dactyl_jpeg_layout_for(Int32(max(1, frameWidth / scale)), Int32(max(1, frameHeight / scale)))
        var error: Int32 = 0
        let listener = dactyl_tcp_listen(configuration.address, configuration.port, 8, &error)
        guard listener >= 0 else {
            let reason = error == DACTYL_ERROR_NOT_AN_ADDRESS ? "not an IP address" : errorText(error)
            throw .cannotListen(address: configuration.address, port: configuration.port, reason: reason)
        }
        port = Int(dactyl_tcp_local_port(listener))
        wake = dactyl_wake_create(&error)
        guard wake >= 0 else {
            dactyl_close(listener)
            throw .cannotStart("cannot make a wake-up descriptor: \(errorText(error))")
        }
        guard let handoff = dactyl_handoff_create(layout.bytes, 64, PreviewSink.eventBytes, wake) else {
            dactyl_close(listener)
            dactyl_close(wake)
            throw .cannotStart("out of memory")
        }
        self.handoff = handoff
        guard let encoder = dactyl_jpeg_create(layout, configuration.quality) else {
            dactyl_handoff_destroy(handoff)
            dactyl_close(listener)
            dactyl_close(wake)
            throw .cannotStart("cannot set up the JPEG encoder (out of memory)")
        }
        server = PreviewServer(configuration: configuration, listener: listener, wake: wake, handoff: handoff, encoder: encoder,
                               page: page, frameWidth: frameWidth, frameHeight: frameHeight, framesPerSecond: framesPerSecond,
                               pictureWidth: Int(layout.width), pictureHeight: Int(layout.height))
        sink = PreviewSink(handoff: handoff, layout: layout, scale: Int32(scale), runStart: runStart)
    }

    /// Starts the server thread.
    public func start() throws(PreviewError) {
        let body: @convention(c) (UnsafeMutableRawPointer?) -> Void = { context in
            Unmanaged<PreviewServer>.fromOpaque(context!).takeUnretainedValue().serve()
        }
        let error = dactyl_thread_start(&thread, body, Unmanaged.passUnretained(server).toOpaque())
        guard error == 0 else { throw .cannotStart("cannot start the server thread: \(errorText(error))") }
        running = true
    }

    /// Ends the server thread (its viewers are disconnected) and waits for it.
    public func stop() {
        guard running else { return }
        dactyl_handoff_stop(handoff)
        dactyl_thread_join(thread)
        running = false
    }

    /// The URL to open, for the start-up line.
    public var url: String {
        let host = configuration.address.contains(":") ? "[\(configuration.address)]" : configuration.address
        return "http://\(host):\(port)/"
    }

    deinit {
        stop()
        server.release()
        dactyl_handoff_destroy(handoff)
        dactyl_close(wake)
    }
}
