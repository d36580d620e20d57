import DactylModel
import Foundation
import XCTest
@testable import DactylPipeline

/// Issue 12 #5 and #6: sizes that grow with the window or the beam are checked arithmetic, and a
/// plan over the arena limit is refused before any memory is asked for, naming the limit.
final class PipelineLayoutLimitTests: XCTestCase {
    func model() throws -> Model {
        try Model.load(path: GoldenVectorTests.folder.appendingPathComponent("tiny.dmdl").path)
    }

    func testAPlanOverTheArenaLimitIsRefusedNamingTheLimitAndTheLongestWindow() throws {
        let model = try model()
        var configuration = PipelineConfiguration.modelDefaults(model)
        configuration.arenaLimitBytes = 1 << 20
        let longest = PipelineLayout.longestWindow(model: model, configuration: configuration)
        XCTAssertGreaterThan(longest, model.defaultWindow)

        configuration.window = longest
        let fits = try PipelineLayout(model: model, configuration: configuration)
        XCTAssertLessThanOrEqual(fits.plan.arenaBytes, 1 << 20)

        configuration.window = longest + 1
        XCTAssertThrowsError(try PipelineLayout(model: model, configuration: configuration)) { error in
            let error = error as! ModelError
            XCTAssertEqual(error.kind, .exceedsMemoryLimit)
            XCTAssertTrue(error.description.contains("arena limit of 1048576 bytes"), error.description)
            XCTAssertTrue(error.description.contains("at most \(longest) frames"), error.description)
        }
    }

    func testAbsurdWindowsAndBeamsAreErrorsNotTraps() throws {
        let model = try model()
        var configuration = PipelineConfiguration.modelDefaults(model)
        for (window, beam) in [(Int.max / 2, 0), (1 << 40, 4), (100, Int.max / 4), (1 << 20, 1 << 20)] {
            configuration.window = window
            configuration.beamWidth = beam
            XCTAssertThrowsError(try PipelineLayout(model: model, configuration: configuration), "window \(window), beam \(beam)") { error in
                XCTAssertEqual((error as? ModelError)?.kind, .exceedsMemoryLimit)
            }
        }
        XCTAssertEqual(CTCPrefixBeam.workspaceBytes(frames: 1 << 40, classes: 32, beamWidth: 1 << 30), Int.max)
        XCTAssertEqual(CTCDecoder.workspaceBytes(frames: Int.max, classes: 32, method: .beam(width: 4)), Int.max)
    }

    /// The default arena limit holds about ten minutes of 30 fps video for the default model.
    func testTheDefaultLimitHoldsTenMinutesForTheDefaultModel() throws {
        let url = GoldenVectorTests.folder.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("models/default.dmdl")
        let model = try Model.load(path: url.path)
        var configuration = PipelineConfiguration.modelDefaults(model)
        configuration.window = 10 * 60 * 30
        configuration.beamWidth = 8
        let layout = try PipelineLayout(model: model, configuration: configuration)
        XCTAssertLessThan(layout.plan.arenaBytes, PipelineLayout.defaultArenaLimit)
    }
}
