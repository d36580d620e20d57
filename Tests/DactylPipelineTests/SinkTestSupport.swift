import DactylPipeline
import Foundation
import Glibc

/// Builds WordViews over memory the test owns, as the run loop does over its arena.
final class WordFixture {
    private var texts: [UnsafeMutableBufferPointer<UInt8>] = []
    private var spans: [UnsafeMutableBufferPointer<CTCLetterSpan>] = []

    func word(_ text: String, segment: Int = 0, piece: Int = 0, isFinal: Bool = true, letters: [CTCLetterSpan] = [],
              startFrame: Int = 0, endFrame: Int = 0, startNanoseconds: UInt64 = 0, endNanoseconds: UInt64 = 0) -> WordView {
        let bytes = Array(text.utf8)
        let textBuffer = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(bytes.count, 1))
        _ = textBuffer.initialize(from: bytes)
        texts.append(textBuffer)
        let spanBuffer = UnsafeMutableBufferPointer<CTCLetterSpan>.allocate(capacity: max(letters.count, 1))
        _ = spanBuffer.initialize(from: letters)
        spans.append(spanBuffer)
        return WordView(text: UnsafeBufferPointer(rebasing: textBuffer[0..<bytes.count]),
                        letters: UnsafeBufferPointer(rebasing: spanBuffer[0..<letters.count]),
                        segment: segment, piece: piece, isFinal: isFinal, startFrame: startFrame, endFrame: endFrame,
                        startNanoseconds: startNanoseconds, endNanoseconds: endNanoseconds)
    }

    deinit {
        for buffer in texts { buffer.deallocate() }
        for buffer in spans { buffer.deallocate() }
    }
}

func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Calls `body` with the UTF-8 bytes of `text` as the sinks take a message.
func withBytes<R>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
    let bytes = Array(text.utf8)
    return bytes.withUnsafeBufferPointer(body)
}

/// Reads what is available on `fd` (non-blocking), waiting up to `timeoutMs` for the first byte.
func readAvailable(_ fd: Int32, timeoutMs: Int32) -> [UInt8] {
    var result: [UInt8] = []
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    guard poll(&descriptor, 1, timeoutMs) > 0, descriptor.revents & Int16(POLLIN) != 0 else { return result }
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fd, &buffer, buffer.count)
        guard n > 0 else { break }
        result += buffer[0..<n]
    }
    return result
}

/// A fresh temporary folder, removed by the caller.
func temporaryFolder(_ name: String) -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("dactyl-\(name)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
