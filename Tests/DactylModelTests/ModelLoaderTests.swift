import Foundation
import XCTest
@testable import DactylModel
import DactylTestSupport

final class ModelLoaderTests: XCTestCase {
    var original = Data()
    var scratch: URL!

    override func setUpWithError() throws {
        original = try Data(contentsOf: goldenFolder.appendingPathComponent("tiny.dmdl"))
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("dactyl-model-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }

    /// Writes `data` to a file and loads it; returns the error, or nil if it loaded.
    func loadError(_ data: Data, file: StaticString = #filePath, line: UInt = #line) -> ModelError? {
        let url = scratch.appendingPathComponent("model-\(UUID().uuidString).dmdl")
        try! data.write(to: url)
        do {
            _ = try Model.load(path: url.path)
            return nil
        } catch {
            XCTAssertTrue(error.description.hasPrefix(url.path + ": offset "), "error must name the file and offset: \(error)", file: file, line: line)
            return error
        }
    }

    func assertRejected(_ data: Data, _ kind: ModelError.Kind, mentioning text: String? = nil,
                        file: StaticString = #filePath, line: UInt = #line) {
        guard let error = loadError(data, file: file, line: line) else {
            return XCTFail("model was accepted, expected \(kind)", file: file, line: line)
        }
        XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
        if let text { XCTAssertTrue(error.detail.contains(text), "\(error) should mention \(text)", file: file, line: line) }
    }

    func testGoldenModelLoads() throws {
        let model = try Model.load(path: goldenFolder.appendingPathComponent("tiny.dmdl").path)
        XCTAssertEqual(model.alphabet.count, 31)
        XCTAssertEqual(model.numClasses, 32)
        XCTAssertEqual(model.alphabet.prefix(3), ["a", "b", "c"])
        XCTAssertEqual(model.alphabet.suffix(5), [" ", "'", "&", ".", "@"])
        XCTAssertEqual(model.inputChannels, 3)
        XCTAssertTrue(model.info.contains("untrained"))
        guard case .globalAvgPool = model.encoderOps.last! else { return XCTFail("last encoder op must be the pool") }
        guard case .logSoftmax = model.headOps.last! else { return XCTFail("head must end in log-softmax") }
        let shapes = try model.encoderShapes(inputHeight: model.inputHeight, inputWidth: model.inputWidth)
        XCTAssertEqual(shapes[model.featureTensor], TensorShape(height: 1, width: 1, channels: model.featureSize))
        // The editor used by the other tests writes a file the loader accepts unchanged.
        XCTAssertNil(loadError(ModelFileEditor(original).serialized()))
    }

    func testFrameRateIsReadFromRATEAndAssumedThirtyWithout() throws {
        let golden = try Model.load(path: goldenFolder.appendingPathComponent("tiny.dmdl").path)
        XCTAssertEqual(golden.versionMinor, 1)
        XCTAssertTrue(golden.frameRateIsRecorded)
        XCTAssertEqual(golden.frameRate, FrameRate(numerator: 30, denominator: 1))

        var editor = ModelFileEditor(original)
        editor.setU32("RATE", at: 0, 30000)
        editor.setU32("RATE", at: 4, 1001)
        let url = scratch.appendingPathComponent("ntsc.dmdl")
        try editor.serialized().write(to: url)
        let ntsc = try Model.load(path: url.path)
        XCTAssertEqual(ntsc.frameRate.numerator, 30000)
        XCTAssertEqual(ntsc.frameRate.denominator, 1001)
        XCTAssertEqual(ntsc.frameRate.description, "30000/1001 (29.97)")

        // A version 1.0 file (no RATE) is read as trained at the generator's 30 frames/s.
        editor = ModelFileEditor(original)
        editor.sections.removeAll { $0.tag == "RATE" }
        var old = editor.serialized()
        old[10] = 0
        let oldURL = scratch.appendingPathComponent("old.dmdl")
        try old.write(to: oldURL)
        let oldModel = try Model.load(path: oldURL.path)
        XCTAssertFalse(oldModel.frameRateIsRecorded)
        XCTAssertEqual(oldModel.frameRate, FrameRate.assumedWithoutRATE)
        XCTAssertEqual(oldModel.frameRate.perSecond, 30)
    }

    func testBadFrameRatesAreRejected() {
        for (numerator, denominator, why) in [(0, 1, "zero"), (30, 0, "no denominator"), (1001, 1, "over 1000 frames/s"),
                                             (1, 2, "under 1 frame/s"), (65_536, 65_536, "terms too large")] {
            var editor = ModelFileEditor(original)
            editor.setU32("RATE", at: 0, UInt32(numerator))
            editor.setU32("RATE", at: 4, UInt32(denominator))
            assertRejected(editor.serialized(), .badMeta, mentioning: "RATE frame rate \(numerator)/\(denominator)")
            _ = why
        }
        var editor = ModelFileEditor(original)
        editor.setU32("RATE", at: 12, 1)
        assertRejected(editor.serialized(), .badMeta, mentioning: "RATE bytes 8-15")
        editor = ModelFileEditor(original)
        editor.setSection("RATE", editor.section("RATE").prefix(8))
        assertRejected(editor.serialized(), .sectionTooShort, mentioning: "RATE is 8 bytes")
    }

    func testTruncatedFilesAreRejectedAtEveryLength() {
        for length in stride(from: 0, to: original.count, by: max(1, original.count / 97)) {
            XCTAssertEqual(loadError(original.prefix(length))?.kind, .truncated, "length \(length)")
        }
    }

    func testHeaderDamage() {
        var data = original
        data[0] = UInt8(ascii: "X")
        assertRejected(data, .badMagic)

        data = original
        data[8] = 2
        data[10] = 0
        assertRejected(data, .unsupportedVersion, mentioning: "2.0")

        data = original
        data[10] = 7  // a later minor version only adds sections: accepted
        XCTAssertNil(loadError(data))

        data = original
        data.append(0)
        assertRejected(data, .fileSizeMismatch)

        data = original
        data.setU32(at: 12, 65)
        assertRejected(data, .badHeader)
    }

    func testChecksumsCatchFlippedBytes() {
        var data = original
        data[64 + 9] ^= 0x01  // inside the section table
        assertRejected(data, .checksumMismatch, mentioning: "section table")

        let editor = ModelFileEditor(original)
        let dataSection = editor.sections.firstIndex { $0.tag == "DATA" }!
        let start = Int(original.u64(at: 64 + dataSection * 32 + 8))
        data = original
        data[start + 100] ^= 0x40
        assertRejected(data, .checksumMismatch, mentioning: "'DATA'")
    }

    func testMissingAndDuplicateSections() {
        var editor = ModelFileEditor(original)
        editor.renameSection("OPS ", to: "OPSX")
        assertRejected(editor.serialized(), .missingSection, mentioning: "OPS ")

        editor = ModelFileEditor(original)
        editor.renameSection("ALPH", to: "META")
        assertRejected(editor.serialized(), .badSectionTable, mentioning: "twice")
    }

    func testOpRecordDamage() {
        let conv: UInt32 = 1, pool: UInt32 = 3, logSoftmax: UInt32 = 19
        func edited(_ change: (inout ModelFileEditor) -> Void) -> Data {
            var editor = ModelFileEditor(original)
            change(&editor)
            return editor.serialized()
        }
        assertRejected(edited { e in e.setU32("OPS ", at: e.opRecords()[0].offset, 99) }, .unknownOpcode, mentioning: "99")
        assertRejected(edited { e in e.setU32("OPS ", at: e.opRecords()[0].offset + 4, 100) }, .badRecord)
        // kernel_h of the first conv
        assertRejected(edited { e in e.setU32("OPS ", at: e.fieldOffset(opcode: conv, field: 3), 0) }, .impossibleShape, mentioning: "kernel_h")
        // the first conv reads its own output: read before write
        assertRejected(edited { e in
            let output = e.u32("OPS ", at: e.fieldOffset(opcode: conv, field: 1))
            e.setU32("OPS ", at: e.fieldOffset(opcode: conv, field: 0), output)
        }, .badTensorReference, mentioning: "before")
        assertRejected(edited { e in e.setU32("OPS ", at: e.fieldOffset(opcode: conv, field: 0), 5000) }, .badTensorReference)
        // weights misaligned, then outside DATA
        assertRejected(edited { e in
            let offset = e.fieldOffset(opcode: conv, field: 10)
            e.setU32("OPS ", at: offset, e.u32("OPS ", at: offset) + 4)
        }, .badArray, mentioning: "aligned")
        assertRejected(edited { e in e.setU32("OPS ", at: e.fieldOffset(opcode: conv, field: 10), 1 << 30) }, .badArray, mentioning: "outside")
        // a shift of 63 in the pool, and a shift of 0 in the first conv's per-channel shifts
        assertRejected(edited { e in e.setU32("OPS ", at: e.fieldOffset(opcode: pool, field: 3), 63) }, .badQuantization)
        assertRejected(edited { e in
            let shifts = Int(e.u32("OPS ", at: e.fieldOffset(opcode: conv, field: 13)))
            e.setU32("DATA", at: shifts, 0)
        }, .badQuantization, mentioning: "channel 0")
        // the head no longer ends in num_classes
        assertRejected(edited { e in e.setU32("OPS ", at: e.fieldOffset(opcode: logSoftmax, field: 0), 7) }, .impossibleShape)
        // padding as large as the kernel
        assertRejected(edited { e in e.setU32("OPS ", at: e.fieldOffset(opcode: conv, field: 7), 7) }, .impossibleShape, mentioning: "padding")
    }

    func testTensorMetaAndAlphabetDamage() {
        func edited(_ change: (inout ModelFileEditor) -> Void) -> Data {
            var editor = ModelFileEditor(original)
            change(&editor)
            return editor.serialized()
        }
        let scaleOfTensor1 = 4 + 16 + 4, zeroPointOfTensor1 = 4 + 16 + 8
        assertRejected(edited { $0.setU32("TENS", at: scaleOfTensor1, 0) }, .badQuantization, mentioning: "scale")
        assertRejected(edited { $0.setU32("TENS", at: scaleOfTensor1, Float.nan.bitPattern) }, .badQuantization, mentioning: "scale")
        assertRejected(edited { $0.setU32("TENS", at: zeroPointOfTensor1, 300) }, .badQuantization, mentioning: "zero point")
        assertRejected(edited { $0.setU32("TENS", at: 4, 4) }, .badTensor, mentioning: "tensor 0")
        assertRejected(edited { $0.setU32("META", at: 8, 1) }, .badMeta, mentioning: "input_channels")
        assertRejected(edited { $0.setU32("META", at: 24, 900) }, .badMeta, mentioning: "default_crop")
        assertRejected(edited { $0.setU32("META", at: 68, 9999) }, .badMeta, mentioning: "feature tensor")
        assertRejected(edited { $0.setU32("ALPH", at: 0, 30) }, .badAlphabet, mentioning: "30 symbols")
        assertRejected(edited { e in
            var alphabet = e.section("ALPH")
            alphabet[4 + 2 + 1] = UInt8(ascii: "a")  // the second symbol "b" becomes "a"
            e.setSection("ALPH", alphabet)
        }, .badAlphabet, mentioning: "twice")
        assertRejected(edited { e in
            var alphabet = e.section("ALPH")
            alphabet[4 + 1] = 0xFF  // not UTF-8
            e.setSection("ALPH", alphabet)
        }, .badAlphabet, mentioning: "UTF-8")
    }

    func testInputSizesTheEncoderCannotTake() throws {
        let model = try Model.load(path: goldenFolder.appendingPathComponent("tiny.dmdl").path)
        XCTAssertThrowsError(try model.encoderShapes(inputHeight: 0, inputWidth: 32))
        let larger = try model.encoderShapes(inputHeight: 2 * model.inputHeight, inputWidth: model.inputWidth)
        XCTAssertEqual(larger[model.featureTensor].channels, model.featureSize)
    }

    /// Issue 12 #1: a conv2d whose weights hold 2^64 values (valid checksums) trapped the loader
    /// on `out * kh * kw * in` before the weights' bounds check.
    func testConv2DWeightCountThatOverflowsIsRejected() {
        assertRejected(CraftedModels.conv2dWeightCountOverflow(original), .badArray, mentioning: "weights")
    }

    /// Issue 12 #2: input sizes whose tensors or MACs would overflow are errors, not traps.
    func testHugeInputSizesAreRejected() throws {
        let model = try Model.load(path: goldenFolder.appendingPathComponent("tiny.dmdl").path)
        for (height, width) in [(Model.maximumInputSize + 1, 32), (1 << 31, 1 << 31), (Int.max / 2, 3)] {
            XCTAssertThrowsError(try model.encoderShapes(inputHeight: height, inputWidth: width), "\(height)x\(width)") { error in
                XCTAssertEqual((error as? ModelError)?.kind, .impossibleShape)
            }
        }
        // The largest size allowed works, and its MACs are exact (no saturation).
        let shapes = try model.encoderShapes(inputHeight: Model.maximumInputSize, inputWidth: Model.maximumInputSize)
        let first = model.multiplyAccumulates(encoderOp: 0, shapes: shapes)
        guard case .conv2d(let conv) = model.encoderOps[0] else { return XCTFail("op 0 is a conv") }
        XCTAssertEqual(first, shapes[conv.output].elementCount * conv.kernelHeight * conv.kernelWidth * conv.inChannels)
        XCTAssertLessThan(first, Int.max)
        // A head over an absurd window saturates instead of trapping.
        XCTAssertEqual(model.multiplyAccumulates(headOp: 0, frames: Int.max / 2), Int.max)
        XCTAssertEqual(TensorShape(height: Int.max, width: 2, channels: 2).elementCount, Int.max)
    }

    /// Issue 12 #8: the spec says reserved and flag fields are zero; the loader now holds files to it.
    func testReservedAndFlagFieldsMustBeZero() {
        var data = original
        data[40] = 1  // header reserved bytes 32-63
        assertRejected(data, .badHeader, mentioning: "reserved")
        XCTAssertEqual(loadError(data)?.offset, 40)

        func edited(_ change: (inout ModelFileEditor) -> Void) -> Data {
            var editor = ModelFileEditor(original)
            change(&editor)
            return editor.serialized()
        }
        assertRejected(edited { $0.setU32("META", at: 100, 7) }, .badMeta, mentioning: "reserved")
        assertRejected(edited { $0.setU32("TENS", at: 4 + 16 + 12, 1) }, .badTensor, mentioning: "reserved")

        // Section table entry 0: flags at +4, reserved at +28; the table checksum is recomputed.
        for field in [4, 28] {
            var table = ModelFileEditor(original).serialized()
            table[64 + field] = 1
            table.setU32(at: 28, crc32(table[64..<64 + Int(table.u32(at: 24)) * 32]))
            assertRejected(table, .badSectionTable, mentioning: field == 4 ? "flags" : "reserved")
            XCTAssertEqual(loadError(table)?.offset, 64 + field)
        }
    }

    /// Issue 12 #8: control characters in the alphabet or INFO reached the terminal raw; a
    /// newline in a symbol broke "the letters are the last line".
    func testControlCharactersInAlphabetAndInfoAreRejected() throws {
        assertRejected(CraftedModels.newlineInAlphabet(original), .badAlphabet, mentioning: "U+000A")
        for (byte, text) in [(UInt8(0x1B), "U+001B"), (0x7F, "U+007F"), (0x00, "U+0000")] {
            var editor = ModelFileEditor(original)
            var alphabet = editor.section("ALPH")
            alphabet[alphabet.startIndex + 4 + 1] = byte
            editor.setSection("ALPH", alphabet)
            assertRejected(editor.serialized(), .badAlphabet, mentioning: text)
        }
        var editor = ModelFileEditor(original)
        editor.setSection("INFO", Data("tiny model\u{1B}[2J".utf8))
        let error = loadError(editor.serialized())
        XCTAssertEqual(error?.kind, .badMeta)
        XCTAssertTrue(error?.detail.contains("INFO") ?? false, "\(String(describing: error))")
        // A C1 control (U+009B, the 8-bit CSI) is two bytes in UTF-8; the offset is its first.
        editor.setSection("INFO", Data("ab\u{9B}2J".utf8))
        let c1 = loadError(editor.serialized())
        XCTAssertEqual(c1?.kind, .badMeta)
        XCTAssertTrue(c1?.detail.contains("U+009B") ?? false)
        editor.setSection("INFO", Data("caf\u{E9}, 1 \u{2013} ok".utf8))  // printable non-ASCII stays fine
        XCTAssertNil(loadError(editor.serialized()))
    }

    /// Issue 12 #3: a FIFO (no writer), a device or a directory is refused at once, naming the
    /// file as not a regular file; before, open() on a FIFO blocked forever.
    func testNonRegularFilesAreRefusedWithoutBlocking() throws {
        let fifo = scratch.appendingPathComponent("model.fifo").path
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        for path in [fifo, "/dev/zero", scratch.path] {
            final class Outcome: @unchecked Sendable { var error: ModelError? = nil; var loaded = false }
            let finished = DispatchSemaphore(value: 0)
            let outcome = Outcome()
            Thread.detachNewThread {
                do { _ = try Model.load(path: path); outcome.loaded = true } catch { outcome.error = error as? ModelError }
                finished.signal()
            }
            guard finished.wait(timeout: .now() + 10) == .success else {
                // Unblock the loader so that the run can end, then fail.
                if path == fifo, let writer = FileHandle(forWritingAtPath: fifo) { try? writer.close() }
                return XCTFail("loading \(path) blocked")
            }
            guard let error = outcome.error else { return XCTFail("\(path) loaded") }
            XCTAssertEqual(error.kind, .cannotOpen)
            XCTAssertTrue(error.description.hasPrefix(path + ": "), error.description)
            XCTAssertTrue(error.description.contains("not a regular file"), error.description)
        }
    }

    /// Issue 12 #4: the model is copied at load, so truncating or rewriting the file in place
    /// (`cp new.dmdl default.dmdl` on a running box) cannot fault (SIGBUS) or change the weights.
    func testTruncatingTheFileAfterLoadingDoesNotAffectTheModel() throws {
        let url = scratch.appendingPathComponent("in-use.dmdl")
        try original.write(to: url)
        let model = try Model.load(path: url.path)
        func weightSum() -> Int {
            var sum = 0
            for op in model.encoderOps {
                guard case .conv2d(let conv) = op else { continue }
                let count = conv.outChannels * conv.kernelHeight * conv.kernelWidth * conv.inChannels
                for index in 0..<count { sum = sum &* 31 &+ Int(conv.weights[index]) }
            }
            for index in 0..<Model.inputLUTBytes { sum = sum &* 31 &+ Int(model.inputLUT[index]) }
            return sum
        }
        let before = weightSum()
        let handle = try FileHandle(forWritingTo: url)
        try handle.truncate(atOffset: 0)
        try handle.close()
        XCTAssertEqual(weightSum(), before)
        try Data(repeating: 0x55, count: original.count).write(to: url, options: [])
        XCTAssertEqual(weightSum(), before)
    }

    /// Issue 12 #1, #2, #7: every op field, every META size and every tensor's channel count set
    /// to the values that break unchecked arithmetic (0, 2^16, 2^16 + 1, 2^31, 2^32 − 1), behind
    /// valid checksums. Each must load or give an error; a model that loads must also take the
    /// largest input size, and report its MACs and weight bytes, without trapping.
    func testExtremeFieldValuesNeverTrap() throws {
        let extremes: [UInt32] = [0, 65536, 65537, 0x8000_0000, 0xFFFF_FFFF]
        let editor = ModelFileEditor(original)
        var targets: [(tag: String, offset: Int)] = []
        for record in editor.opRecords() {
            let fields = (Int(editor.u32("OPS ", at: record.offset + 4)) - 8) / 4
            targets += (0..<fields).map { ("OPS ", record.offset + 8 + 4 * $0) }
        }
        targets += stride(from: 0, to: 24, by: 4).map { ("META", $0) }
        let tensors = Int(editor.u32("TENS", at: 0))
        targets += (0..<tensors).map { ("TENS", 4 + 16 * $0) }
        var loaded = 0, rejected = 0
        for target in targets {
            for value in extremes {
                var damaged = editor
                damaged.setU32(target.tag, at: target.offset, value)
                let url = scratch.appendingPathComponent("extreme.dmdl")
                try damaged.serialized().write(to: url)
                do {
                    let model = try Model.load(path: url.path)
                    loaded += 1
                    if let shapes = try? model.encoderShapes(inputHeight: Model.maximumInputSize, inputWidth: Model.maximumInputSize) {
                        for index in model.encoderOps.indices { _ = model.multiplyAccumulates(encoderOp: index, shapes: shapes) }
                    }
                    for index in model.headOps.indices { _ = model.multiplyAccumulates(headOp: index, frames: 1 << 40) }
                    _ = model.weightBytes
                } catch {
                    rejected += 1
                }
            }
        }
        XCTAssertGreaterThan(rejected, targets.count, "most extreme values must be rejected")
        XCTAssertGreaterThan(loaded, 0, "some fields (e.g. a zero pad) take these values")
    }

    /// Random damage behind valid checksums: the loader must answer with a model or an error,
    /// and never crash (a crash ends the test run).
    func testRandomFieldDamageNeverCrashes() {
        var random = UInt64(12345)
        func next() -> Int {
            random = random &* 6364136223846793005 &+ 1442695040888963407
            return Int(random >> 33)
        }
        let editor = ModelFileEditor(original)
        var rejected = 0
        for _ in 0..<300 {
            var damaged = editor
            let index = next() % damaged.sections.count
            guard damaged.sections[index].tag != "DATA" || next() % 4 == 0 else { continue }
            var bytes = damaged.sections[index].bytes
            guard !bytes.isEmpty else { continue }
            let position = next() % min(bytes.count, 4096)
            bytes[position] = UInt8(truncatingIfNeeded: next())
            damaged.sections[index].bytes = bytes
            if loadError(damaged.serialized()) != nil { rejected += 1 }
        }
        XCTAssertGreaterThan(rejected, 50)
    }
}
