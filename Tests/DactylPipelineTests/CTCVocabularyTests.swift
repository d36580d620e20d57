import DactylTestSupport
import Foundation
import XCTest

@testable import DactylPipeline

/// The prefix beam search with a lexicon and a character LM: against the Python reference's golden
/// vectors (Tests/golden/vocabulary/make_golden.py) and against brute force.
final class CTCVocabularyTests: XCTestCase {
    static let folder = GoldenVectorTests.folder.appendingPathComponent("vocabulary")

    struct Expected: Decodable {
        struct Case: Decodable {
            struct Result: Decodable {
                let lexicon: Bool
                let lm: Bool
                let lm_weight: Float
                let insertion_bonus: Float
                let letters: String
            }
            let spelt: String
            let first_frame: Int
            let frames: Int
            let results: [Result]
        }
        let alphabet: [String]
        let classes: Int
        let beam_width: Int
        let lexicon: String
        let lm: String
        let logprobs: String
        let cases: [Case]
    }

    /// Decodes with a workspace of exactly the planned sizes, each followed by a guard zone.
    static func decode(_ table: UnsafePointer<Float>, frames: Int, classes: Int, width: Int,
                       vocabulary: BeamVocabulary?, file: StaticString = #filePath, line: UInt = #line) -> [Int32] {
        let size = CTCPrefixBeam.workspaceBytes(frames: frames, classes: classes, beamWidth: width)
        let vocabularySize = CTCPrefixBeam.vocabularyWorkspaceBytes(classes: classes, beamWidth: width)
        let guardBytes = 64
        let workspace = UnsafeMutableRawPointer.allocate(byteCount: size + guardBytes, alignment: 64)
        let vocabularyWorkspace = UnsafeMutableRawPointer.allocate(byteCount: vocabularySize + guardBytes, alignment: 64)
        defer {
            workspace.deallocate()
            vocabularyWorkspace.deallocate()
        }
        (workspace + size).initializeMemory(as: UInt8.self, repeating: 0xA5, count: guardBytes)
        (vocabularyWorkspace + vocabularySize).initializeMemory(as: UInt8.self, repeating: 0xA5, count: guardBytes)
        var labels = [Int32](repeating: -1, count: max(frames, 1))
        let count = labels.withUnsafeMutableBufferPointer { output in
            CTCPrefixBeam.decode(logProbs: table, frames: frames, classes: classes, beamWidth: width, workspace: workspace,
                                 vocabulary: vocabulary, vocabularyWorkspace: vocabularyWorkspace, into: output.baseAddress!)
        }
        for (zone, zoneSize) in [(workspace, size), (vocabularyWorkspace, vocabularySize)] {
            let bytes = UnsafeBufferPointer(start: (zone + zoneSize).assumingMemoryBound(to: UInt8.self), count: guardBytes)
            XCTAssertTrue(bytes.allSatisfy { $0 == 0xA5 }, "beam search wrote past a workspace", file: file, line: line)
        }
        return Array(labels.prefix(count))
    }

    /// Vocabulary files installed in memory that lives as long as the test.
    final class Installed {
        let memory: UnsafeMutableRawPointer
        let files: VocabularyFiles

        init(lexicon: String?, lm: String?, alphabet: [String]) throws {
            files = try VocabularyFiles(lexiconPath: lexicon, languageModelPath: lm, alphabet: alphabet)
            memory = UnsafeMutableRawPointer.allocate(byteCount: max(files.arenaBytes, 1), alignment: 64)
        }

        func vocabulary(weight: Float = 0, bonus: Float = 0) -> BeamVocabulary {
            files.install(into: memory, lmWeight: weight, insertionBonus: bonus)
        }

        deinit { memory.deallocate() }
    }

    func testGoldenVectorsOfThePythonReference() throws {
        let folder = CTCVocabularyTests.folder
        let expected = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: folder.appendingPathComponent("cases.json")))
        let data = try Data(contentsOf: folder.appendingPathComponent(expected.logprobs))
        let table = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let lexiconPath = folder.appendingPathComponent(expected.lexicon).path
        let lmPath = folder.appendingPathComponent(expected.lm).path
        var checked = 0
        var changed = 0
        for entry in expected.cases {
            var plain = ""
            for result in entry.results {
                let installed = try Installed(lexicon: result.lexicon ? lexiconPath : nil, lm: result.lm ? lmPath : nil,
                                              alphabet: expected.alphabet)
                let vocabulary = result.lexicon || result.lm
                    ? installed.vocabulary(weight: result.lm_weight, bonus: result.insertion_bonus) : nil
                let labels = table.withUnsafeBufferPointer { buffer in
                    CTCVocabularyTests.decode(buffer.baseAddress! + entry.first_frame * expected.classes, frames: entry.frames,
                                              classes: expected.classes, width: expected.beam_width, vocabulary: vocabulary)
                }
                let letters = labels.map { expected.alphabet[Int($0) - 1] }.joined()
                XCTAssertEqual(letters, result.letters, "\(entry.spelt): lexicon \(result.lexicon), lm \(result.lm)")
                if vocabulary == nil { plain = letters } else if letters != plain { changed += 1 }
                checked += 1
            }
        }
        XCTAssertEqual(checked, expected.cases.count * 4)
        XCTAssertGreaterThan(changed, expected.cases.count, "the vocabulary should change many golden decodings")
    }

    func testWideBeamWithALexiconPicksTheMostProbableWord() throws {
        let alphabet = ["a", "b", " "]
        let words: [[Int32]] = [[1, 2], [2, 1], [1, 1], [2, 2, 1]]
        let path = NSTemporaryDirectory() + "dactyl-lexicon-\(ProcessInfo.processInfo.processIdentifier).txt"
        try "ab\nba\naa\nbba\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let installed = try Installed(lexicon: path, lm: nil, alphabet: alphabet)
        XCTAssertEqual(installed.files.lexicon?.words, 4)
        var generator = SplitMix64(seed: 21)
        var checked = 0
        for _ in 0..<100 {
            let frames = Int.random(in: 2...5, using: &generator)
            let table = logTable((0..<frames).map { _ in
                let weights = (0..<4).map { _ in pow(Double.random(in: 0.01...1, using: &generator), 2) }
                let sum = weights.reduce(0, +)
                return weights.map { $0 / sum }
            })
            let totals = bruteForceLabellings(table, classes: 4)
            let ranked = words.map { ($0, totals[$0] ?? 0) }.sorted { $0.1 > $1.1 }
            guard ranked[0].1 > 0, ranked[0].1 - ranked[1].1 > 1e-4 else { continue }
            let labels = table.withUnsafeBufferPointer {
                CTCVocabularyTests.decode($0.baseAddress!, frames: frames, classes: 4, width: 500,
                                          vocabulary: installed.vocabulary())
            }
            XCTAssertEqual(labels, ranked[0].0)
            checked += 1
        }
        XCTAssertGreaterThan(checked, 50)
    }

    func testLexiconErrorsNameTheFileAndLine() throws {
        let path = NSTemporaryDirectory() + "dactyl-bad-lexicon-\(ProcessInfo.processInfo.processIdentifier).txt"
        defer { try? FileManager.default.removeItem(atPath: path) }
        for (text, message) in [("# words\nhello\nwörld\n", "\(path): line 3: \"ö\" at column 2 is not in the model's alphabet"),
                                ("hello\n\nnew york\n", "\(path): line 3: expected one word, found white space at column 4"),
                                ("# nothing\n\n", "\(path): line 1: the lexicon has no words")] {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try VocabularyFiles(lexiconPath: path, languageModelPath: nil, alphabet: Array("abcdefghijklmnopqrstuvwxyz").map(String.init))) {
                XCTAssertEqual(($0 as? VocabularyError)?.description, message)
            }
        }
        XCTAssertThrowsError(try VocabularyFiles(lexiconPath: path + ".missing", languageModelPath: nil, alphabet: ["a"])) {
            XCTAssertTrue(($0 as? VocabularyError)?.description.hasPrefix("\(path).missing: cannot open lexicon: ") ?? false)
        }
    }

    func testLanguageModelErrorsNameTheFileAndOffset() throws {
        let original = try Data(contentsOf: CTCVocabularyTests.folder.appendingPathComponent("lm.dclm"))
        let alphabet = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: CTCVocabularyTests.folder
            .appendingPathComponent("cases.json"))).alphabet
        let path = NSTemporaryDirectory() + "dactyl-bad-lm-\(ProcessInfo.processInfo.processIdentifier).dclm"
        defer { try? FileManager.default.removeItem(atPath: path) }
        var badMagic = original
        badMagic[0] = UInt8(ascii: "X")
        var badOrder = original
        badOrder[8] = 9
        for (data, expected) in [(original.prefix(original.count - 2), "the file ends after"),
                                 (badMagic, "offset 0: expected a character language model"),
                                 (badOrder, "offset 8: order 9, expected 2 to 6")] {
            try Data(data).write(to: URL(fileURLWithPath: path))
            XCTAssertThrowsError(try VocabularyFiles(lexiconPath: nil, languageModelPath: path, alphabet: alphabet)) {
                let description = ($0 as? VocabularyError)?.description ?? ""
                XCTAssertTrue(description.hasPrefix("\(path): offset ") && description.contains(expected), description)
            }
        }
        try original.write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try VocabularyFiles(lexiconPath: nil, languageModelPath: path, alphabet: alphabet + ["ß"])) {
            XCTAssertEqual(($0 as? VocabularyError)?.description,
                           "\(path): offset 16: the language model has no symbol \"ß\" of the model's alphabet")
        }
    }

    func testTrieSharesPrefixesAndIsSizedFromTheFile() throws {
        let installed = try Installed(lexicon: CTCVocabularyTests.folder.appendingPathComponent("lexicon.txt").path,
                                      lm: CTCVocabularyTests.folder.appendingPathComponent("lm.dclm").path,
                                      alphabet: try JSONDecoder().decode(Expected.self, from: Data(contentsOf: CTCVocabularyTests
                                        .folder.appendingPathComponent("cases.json"))).alphabet)
        // 8 words, 31 letters: room for 32 nodes; shared prefixes (ca-, c-, be-) leave 23 in use.
        XCTAssertEqual(installed.files.lexicon?.words, 8)
        XCTAssertEqual(installed.files.lexicon?.symbols, 31)
        let vocabulary = installed.vocabulary(weight: 1, bonus: 0)
        XCTAssertEqual(vocabulary.lexicon!.nodes, 23)
        XCTAssertEqual(vocabulary.languageModel?.order, 3)
    }
}
