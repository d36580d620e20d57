import Foundation
import XCTest
@testable import DactylModel
import DactylTestSupport

/// The localiser's sections (LMET, LTEN, LOPS): loaded, and each broken field a distinct error
/// naming the file, the offset and what was expected.
final class LocaliserParserTests: XCTestCase {
    var withLocaliser = Data()
    var scratch: URL!

    override func setUpWithError() throws {
        let original = try Data(contentsOf: goldenFolder.appendingPathComponent("tiny.dmdl"))
        withLocaliser = LocaliserBuilder().adding(to: original)
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("dactyl-localiser-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: scratch)
    }

    func load(_ data: Data) throws(ModelError) -> Model {
        let url = scratch.appendingPathComponent("model-\(UUID().uuidString).dmdl")
        try! data.write(to: url)
        return try Model.load(path: url.path)
    }

    /// The error for `edit` applied to the model with a localiser; checks kind, offset (as a file
    /// offset inside section `tag` at `at`) and that the message mentions `text`.
    func assertRejected(_ kind: ModelError.Kind, section tag: String? = nil, at fieldOffset: Int? = nil, mentioning text: String,
                        file: StaticString = #filePath, line: UInt = #line, _ edit: (inout ModelFileEditor) -> Void) {
        var editor = ModelFileEditor(withLocaliser)
        edit(&editor)
        let data = editor.serialized()
        do {
            _ = try load(data)
            XCTFail("accepted, expected \(kind) mentioning \(text)", file: file, line: line)
        } catch {
            XCTAssertEqual(error.kind, kind, "\(error)", file: file, line: line)
            XCTAssertTrue(error.description.contains(": offset \(error.offset): "), "\(error)", file: file, line: line)
            XCTAssertTrue(error.detail.contains(text), "\(error) should mention \(text)", file: file, line: line)
            if let tag, let fieldOffset {
                let written = ModelFileEditor(data)
                let index = written.sections.firstIndex { $0.tag == tag }!
                let sectionOffset = Int(data.u64(at: 64 + index * 32 + 8))
                XCTAssertEqual(error.offset, sectionOffset + fieldOffset, "\(error)", file: file, line: line)
            }
        }
    }

    func testLocaliserLoadsWithShapesAndCost() throws {
        let model = try load(withLocaliser)
        XCTAssertEqual(Model.versionMinor, 2)
        XCTAssertEqual(model.versionMinor, 2)
        let localiser = try XCTUnwrap(model.localiser)
        XCTAssertEqual(localiser.inputHeight, 24)
        XCTAssertEqual(localiser.inputWidth, 32)
        XCTAssertEqual(localiser.interval, 2)
        XCTAssertEqual(localiser.presenceLogit, 3.0)
        XCTAssertEqual(localiser.heatShape, TensorShape(height: 6, width: 8, channels: 1))
        XCTAssertEqual(localiser.shapes[localiser.boxTensor], TensorShape(height: 6, width: 8, channels: 4))
        XCTAssertEqual(localiser.ops.count, 2)
        // Two 4x4x3 convolutions over 6x8 cells, with 1 and 4 outputs.
        XCTAssertEqual(localiser.multiplyAccumulates, 6 * 8 * 48 * 5)
        XCTAssertEqual(localiser.inputLUT[0], -128)
        XCTAssertEqual(localiser.inputLUT[255], 127)
        // The recogniser is untouched; the golden file has none.
        XCTAssertNil(try load(try Data(contentsOf: goldenFolder.appendingPathComponent("tiny.dmdl"))).localiser)
    }

    func testTheThreeSectionsComeTogether() {
        for missing in ["LMET", "LTEN", "LOPS"] {
            assertRejected(.missingSection, mentioning: "'\(missing)' is missing") { editor in
                editor.sections.removeAll { $0.tag == missing }
            }
        }
    }

    func testLMETFields() {
        assertRejected(.sectionTooShort, section: "LMET", at: 0, mentioning: "LMET is 60 bytes, expected 64") { editor in
            editor.setSection("LMET", editor.section("LMET").prefix(60))
        }
        assertRejected(.badMeta, section: "LMET", at: 0, mentioning: "input_height is 0") { $0.setU32("LMET", at: 0, 0) }
        assertRejected(.badMeta, section: "LMET", at: 4, mentioning: "input_width is 8193") { $0.setU32("LMET", at: 4, 8193) }
        assertRejected(.badMeta, section: "LMET", at: 8, mentioning: "input_channels is 1, expected 3") { $0.setU32("LMET", at: 8, 1) }
        assertRejected(.badArray, section: "LMET", at: 12, mentioning: "localiser input LUT") { $0.setU32("LMET", at: 12, 1 << 30) }
        assertRejected(.badArray, section: "LMET", at: 12, mentioning: "aligned") { editor in
            editor.setU32("LMET", at: 12, editor.u32("LMET", at: 12) + 4)
        }
        assertRejected(.badMeta, section: "LMET", at: 16, mentioning: "heat_tensor is tensor 0") { $0.setU32("LMET", at: 16, 0) }
        assertRejected(.badMeta, section: "LMET", at: 16, mentioning: "heat_tensor is tensor 3") { $0.setU32("LMET", at: 16, 3) }
        assertRejected(.badMeta, section: "LMET", at: 16, mentioning: "of 4 channels, expected 1") { $0.setU32("LMET", at: 16, 2) }
        assertRejected(.badMeta, section: "LMET", at: 20, mentioning: "box_tensor is tensor 1 of 1 channels, expected 4") {
            $0.setU32("LMET", at: 20, 1)
        }
        assertRejected(.badMeta, section: "LMET", at: 24, mentioning: "presence_logit") { $0.setU32("LMET", at: 24, Float.nan.bitPattern) }
        assertRejected(.badMeta, section: "LMET", at: 24, mentioning: "presence_logit") {
            $0.setU32("LMET", at: 24, Float.infinity.bitPattern)
        }
        assertRejected(.badMeta, section: "LMET", at: 28, mentioning: "interval is 0") { $0.setU32("LMET", at: 28, 0) }
        assertRejected(.badMeta, section: "LMET", at: 28, mentioning: "interval is 1001") { $0.setU32("LMET", at: 28, 1001) }
        assertRejected(.badMeta, section: "LMET", at: 40, mentioning: "LMET bytes 32-63") { $0.setU32("LMET", at: 40, 1) }
    }

    func testLTENFields() {
        assertRejected(.badTensor, section: "LTEN", at: 0, mentioning: "LTEN tensor count 1") { $0.setU32("LTEN", at: 0, 1) }
        assertRejected(.sectionTooShort, section: "LTEN", at: 0, mentioning: "LTEN declares 9 tensors") { $0.setU32("LTEN", at: 0, 9) }
        assertRejected(.badTensor, section: "LTEN", at: 4, mentioning: "LTEN tensor 0") { $0.setU32("LTEN", at: 4, 1) }
        assertRejected(.badQuantization, section: "LTEN", at: 24, mentioning: "scale") { $0.setU32("LTEN", at: 24, 0) }
        assertRejected(.badQuantization, section: "LTEN", at: 28, mentioning: "zero point") {
            $0.setU32("LTEN", at: 28, UInt32(bitPattern: 300))
        }
        assertRejected(.badTensor, section: "LTEN", at: 32, mentioning: "reserved") { $0.setU32("LTEN", at: 32, 7) }
    }

    func testLOPSRecords() {
        let second = 4 + 72
        assertRejected(.badRecord, section: "LOPS", at: 0, mentioning: "LOPS has no ops") { $0.setU32("LOPS", at: 0, 0) }
        assertRejected(.sectionTooShort, mentioning: "LOPS ends before op 2") { $0.setU32("LOPS", at: 0, 3) }
        assertRejected(.unknownOpcode, section: "LOPS", at: second, mentioning: "LOPS op 1 has unknown opcode 9") {
            $0.setU32("LOPS", at: second, 9)
        }
        assertRejected(.badRecord, section: "LOPS", at: second, mentioning: "expected an int8 encoder op") {
            $0.setU32("LOPS", at: second, 18)
        }
        assertRejected(.badRecord, section: "LOPS", at: second + 4, mentioning: "record is 68 bytes, expected 72") {
            $0.setU32("LOPS", at: second + 4, 68)
        }
        // Field 0 (input) of op 1 reads tensor 1 (written by op 0: fine) ... then tensor 2, before it is written.
        assertRejected(.badTensorReference, section: "LOPS", at: second + 8, mentioning: "LOPS op 1 (conv2d_q8): reads tensor 2 before") {
            $0.setU32("LOPS", at: second + 8, 2)
        }
        assertRejected(.badTensorReference, section: "LOPS", at: second + 12, mentioning: "writes tensor 1, which is already written") {
            $0.setU32("LOPS", at: second + 12, 1)
        }
        assertRejected(.badArray, section: "LOPS", at: second + 8 + 40, mentioning: "LOPS op 1 (conv2d_q8) weights") {
            $0.setU32("LOPS", at: second + 8 + 40, 1 << 30)
        }
        assertRejected(.badQuantization, mentioning: "LOPS op 0: channel 0") { editor in
            let shift = Int(editor.u32("LOPS", at: 4 + 8 + 52))
            var data = editor.section("DATA")
            data.setU32(at: shift, 63)
            editor.setSection("DATA", data)
        }
        // A box map of another size than the heatmap: op 1 with stride 2.
        assertRejected(.impossibleShape, section: "LMET", at: 20, mentioning: "expected the heatmap's 6x8") { editor in
            editor.setU32("LOPS", at: second + 8 + 20, 2)
            editor.setU32("LOPS", at: second + 8 + 24, 2)
        }
        // A kernel larger than the input: shape inference names the op at LOPS.
        assertRejected(.impossibleShape, section: "LOPS", at: 0, mentioning: "LOPS op 0") { editor in
            editor.setU32("LMET", at: 0, 2)
        }
        // A tensor no op writes.
        assertRejected(.impossibleShape, mentioning: "the localiser: tensor 3 is never written") { editor in
            var tensors = editor.section("LTEN")
            tensors.setU32(at: 0, 4)
            tensors.append(tensors[tensors.startIndex + 20..<tensors.startIndex + 36])
            editor.setSection("LTEN", tensors)
        }
    }
}
