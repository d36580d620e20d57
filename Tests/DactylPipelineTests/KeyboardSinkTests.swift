import DactylPipeline
import Foundation
import Glibc
import XCTest

/// The keyboard sink writing boot-protocol reports into a FIFO (as into /dev/hidg0); the test
/// reads them back and types them out with its own US-layout table.
final class KeyboardSinkTests: XCTestCase {
    var folder: URL!
    var fifo: String { folder.appendingPathComponent("hidg0").path }
    var reader: Int32 = -1

    override func setUpWithError() throws {
        folder = temporaryFolder("keyboard")
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        // The read end first: opening a FIFO's write end without a reader fails (ENXIO).
        reader = open(fifo, O_RDONLY | O_NONBLOCK)
        XCTAssertGreaterThanOrEqual(reader, 0)
    }

    override func tearDown() {
        close(reader)
        try? FileManager.default.removeItem(at: folder)
    }

    /// Text from reports, checking that every press is followed by an all-zero release.
    func decode(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> String {
        XCTAssertEqual(bytes.count % 8, 0, "reports are 8 bytes", file: file, line: line)
        var text = ""
        var expectRelease = false
        for start in stride(from: 0, to: bytes.count - bytes.count % 8, by: 8) {
            let report = Array(bytes[start..<start + 8])
            XCTAssertEqual(report[1], 0, "byte 1 is reserved", file: file, line: line)
            XCTAssertEqual(report[3...], [0, 0, 0, 0, 0], "one key at a time", file: file, line: line)
            if expectRelease {
                XCTAssertEqual(report, [0, 0, 0, 0, 0, 0, 0, 0], "a release after each press", file: file, line: line)
                expectRelease = false
                continue
            }
            XCTAssertNotEqual(report[2], 0, "a press", file: file, line: line)
            expectRelease = true
            let shift = report[0] == 0x02 || report[0] == 0x20
            XCTAssertTrue(report[0] == 0 || shift, "only shift as a modifier", file: file, line: line)
            text += Self.character(usage: report[2], shift: shift)
        }
        XCTAssertFalse(expectRelease, "the last press is released", file: file, line: line)
        return text
    }

    /// HID Usage Tables 1.3, keyboard page, US layout.
    static func character(usage: UInt8, shift: Bool) -> String {
        switch usage {
        case 0x04...0x1D:
            let letter = Character(UnicodeScalar(UInt8(ascii: "a") + usage - 0x04))
            return shift ? letter.uppercased() : String(letter)
        case 0x1E...0x27:
            let index = Int(usage - 0x1E)
            return String(Array(shift ? "!@#$%^&*()" : "1234567890")[index])
        case 0x28: return "\n"
        case 0x2B: return "\t"
        case 0x2C: return " "
        default:
            let table: [UInt8: (String, String)] = [
                0x2D: ("-", "_"), 0x2E: ("=", "+"), 0x2F: ("[", "{"), 0x30: ("]", "}"), 0x31: ("\\", "|"),
                0x33: (";", ":"), 0x34: ("'", "\""), 0x35: ("`", "~"), 0x36: (",", "<"), 0x37: (".", ">"),
                0x38: ("/", "?"),
            ]
            guard let pair = table[usage] else { return "<\(usage)>" }
            return shift ? pair.1 : pair.0
        }
    }

    func testWordsComeBackAsTypedTextWithTheSeparator() throws {
        let words = WordFixture()
        var sink = try KeyboardSink(configuration: KeyboardSink.Configuration(path: fifo, separator: .space))
        let texts = ["hello", "World", "dragon42", "it's", "a-b_c=d+e", "(x)!@#$%^&*", "\"q\"/?.,<>;:[]{}\\|`~"]
        for text in texts { sink.commit(words.word(text), now: 0) }
        sink.flush(deadline: monotonicNanoseconds() + 1_000_000_000)
        XCTAssertEqual(decode(readAvailable(reader, timeoutMs: 1000)), texts.map { $0 + " " }.joined())
        XCTAssertEqual(sink.charactersSkipped, 0)
        XCTAssertEqual(sink.wordsDropped, 0)
    }

    func testEnterSeparatorAndCharactersWithoutAKeyAreSkipped() throws {
        let words = WordFixture()
        var sink = try KeyboardSink(configuration: KeyboardSink.Configuration(path: fifo, separator: .enter))
        sink.commit(words.word("café"), now: 0)
        sink.commit(words.word(""), now: 0)
        sink.commit(words.word("ll"), now: 0)
        // A word committed in pieces is typed joined, with one separator after its last piece.
        sink.commit(words.word("dra", segment: 2, piece: 0, isFinal: false), now: 0)
        sink.commit(words.word("gon", segment: 2, piece: 1, isFinal: false), now: 0)
        sink.commit(words.word("", segment: 2, piece: 2, isFinal: true), now: 0)
        sink.flush(deadline: monotonicNanoseconds() + 1_000_000_000)
        XCTAssertEqual(decode(readAvailable(reader, timeoutMs: 1000)), "caf\nll\ndragon\n")
        XCTAssertEqual(sink.charactersSkipped, 2, "é is two UTF-8 bytes, neither has a key")
    }

    func testAHostThatDoesNotReadNeverBlocksAndWholeWordsAreDroppedAtTheBound() throws {
        let words = WordFixture()
        // The smallest pipe (one page: 512 reports) stands for a host that stops reading.
        let setPipeSize: Int32 = 1024 + 7  // F_SETPIPE_SZ (Linux), not exported by Glibc
        XCTAssertEqual(fcntl(reader, setPipeSize, 4096), 4096)
        var sink = try KeyboardSink(configuration: KeyboardSink.Configuration(path: fifo, separator: .space, queueReports: 64))
        var typed: [String] = []
        var slowest: UInt64 = 0
        for index in 0..<400 {
            let text = "w\(index)"
            let before = monotonicNanoseconds()
            let dropped = sink.wordsDropped
            sink.commit(words.word(text), now: before)
            slowest = max(slowest, monotonicNanoseconds() - before)
            if sink.wordsDropped == dropped { typed.append(text) }
        }
        XCTAssertLessThan(slowest, 500_000_000, "a blocking write would hang here")
        XCTAssertTrue(sink.hostNotListening)
        XCTAssertGreaterThan(sink.wordsDropped, 0)
        XCTAssertEqual(typed.count + sink.wordsDropped, 400)
        // The host reads again: exactly the words that were not dropped, whole, in order.
        var bytes: [UInt8] = []
        let end = Date().addingTimeInterval(5)
        while Date() < end {
            bytes += readAvailable(reader, timeoutMs: 5)
            _ = sink.service(now: monotonicNanoseconds())
            if sink.queuedReports == 0 { break }
        }
        bytes += readAvailable(reader, timeoutMs: 100)
        XCTAssertEqual(decode(bytes), typed.map { $0 + " " }.joined())
    }

    func testAMissingDeviceIsAClearError() {
        XCTAssertThrowsError(try KeyboardSink(configuration: KeyboardSink.Configuration(path: folder.path + "/no-hidg"))) { error in
            XCTAssertEqual("\(error)", "\(folder.path)/no-hidg: cannot open the keyboard sink's device: No such file or directory")
        }
    }
}
