import DactylTestSupport
import Foundation
import XCTest
@testable import DactylPipeline

final class BoardProfileTests: XCTestCase {
    static let boards = SessionClip.repository.appendingPathComponent("board")

    func testEveryShippedProfileParses() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.boards.path).filter { $0.hasSuffix(".conf") }.sorted()
        XCTAssertEqual(files, ["pc.conf", "pi4.conf", "pi5.conf", "zero2w.conf"])
        for file in files {
            let profile = try BoardProfile.load(path: Self.boards.appendingPathComponent(file).path)
            // The default model has a hand localiser: the shipped boards follow the hand.
            XCTAssertNil(profile.crop, file)
            XCTAssertEqual(profile.cropAuto, true, file)
            XCTAssertTrue(profile.sinks.stdout, file)
        }
        let pi5 = try BoardProfile.load(path: Self.boards.appendingPathComponent("pi5.conf").path)
        XCTAssertEqual(pi5.gpioChip, "pinctrl-rp1")
        XCTAssertEqual(pi5.gpioStatusLED, "GPIO17")
        XCTAssertEqual(pi5.threads, 4)
        XCTAssertTrue(pi5.sinks.gpio && !pi5.sinks.serial)
    }

    func testValuesCommentsAndOverridesAreRead() throws {
        let text = """
            # a comment line
            camera.size = 320x240   # trailing comment
              serial.baud=9600
            sinks = serial,keyboard
            crop = 10,20,200,180

            serial.baud = 57600
            gpio.active-low = yes
            """
        let profile = try BoardProfile.parse(text, source: "test.conf")
        XCTAssertEqual(profile.cameraWidth, 320)
        XCTAssertEqual(profile.cameraHeight, 240)
        XCTAssertEqual(profile.serialBaud, 57600, "a later line wins")
        XCTAssertTrue(profile.sinks.serial && profile.sinks.keyboard && !profile.sinks.stdout)
        XCTAssertEqual(profile.crop, CropRect(x: 10, y: 20, width: 200, height: 180))
        XCTAssertEqual(profile.cropAuto, false)
        XCTAssertTrue(profile.gpioActiveLow)
        // crop = auto follows the hand; model is the model's crop; not set, the model decides.
        XCTAssertNil(try BoardProfile.parse("sinks = stdout", source: "t.conf").cropAuto)
        let auto = try BoardProfile.parse(text + "\ncrop = auto\n", source: "t.conf")
        XCTAssertNil(auto.crop)
        XCTAssertEqual(auto.cropAuto, true)
        let model = try BoardProfile.parse(text + "\ncrop = model\n", source: "t.conf")
        XCTAssertNil(model.crop)
        XCTAssertEqual(model.cropAuto, false)
        XCTAssertEqual(profile.cameraDevice, "/dev/video0", "keys not given keep their defaults")
    }

    func testErrorsNameTheFileTheLineAndTheKey() {
        let cases: [(String, Int, String, String)] = [
            ("camera.size = 640x480\nnot.a.key = 1", 2, "not.a.key", "unknown key"),
            ("camera.size = 0x480", 1, "camera.size", "WIDTHxHEIGHT"),
            ("\n\nserial.baud = 12345", 3, "serial.baud", "baud rate"),
            ("crop = 1,2,3", 1, "crop", "X,Y,W,H"),
            ("crop = 1,2,0,4", 1, "crop", "X,Y,W,H"),
            ("sinks = stdout,printer", 1, "sinks", "printer"),
            ("threads = +4", 1, "threads", "'+4'"),
            ("camera.fps = 1000", 1, "camera.fps", "1 to 240"),
            ("camera.format = h264", 1, "camera.format", "yuyv"),
            ("gpio.active-low = maybe", 1, "gpio.active-low", "yes, no"),
            ("gpio.button = GPIO 22", 1, "gpio.button", "without spaces"),
            ("just some words", 1, "", "expected 'key = value'"),
        ]
        for (text, line, key, fragment) in cases {
            XCTAssertThrowsError(try BoardProfile.parse(text, source: "box.conf"), text) { error in
                let error = error as! BoardProfileError
                XCTAssertEqual(error.line, line, text)
                XCTAssertEqual(error.key, key, text)
                XCTAssertTrue(error.description.hasPrefix("box.conf:\(line): "), error.description)
                XCTAssertTrue(error.description.contains(fragment), error.description)
            }
        }
    }

    func testABinaryOrMissingFileIsAClearError() throws {
        let folder = FileManager.default.temporaryDirectory
        let binary = folder.appendingPathComponent("binary-\(UUID().uuidString).conf")
        try Data([0x63, 0x00, 0x3D]).write(to: binary)
        XCTAssertThrowsError(try BoardProfile.load(path: binary.path)) { error in
            XCTAssertTrue("\(error)".contains("NUL byte"), "\(error)")
        }
        XCTAssertThrowsError(try BoardProfile.load(path: "/nonexistent/box.conf")) { error in
            XCTAssertTrue((error as! BoardProfileError).description.hasPrefix("/nonexistent/box.conf: cannot read"), "\(error)")
        }
    }

    func testEveryKeyHasACommandLineOption() {
        XCTAssertEqual(BoardProfile.options.count, BoardProfile.keys.count)
        XCTAssertEqual(BoardProfile.key(forOption: "--serial-baud"), "serial.baud")
        XCTAssertEqual(BoardProfile.key(forOption: "--gpio-status-led"), "gpio.status-led")
        XCTAssertEqual(BoardProfile.key(forOption: "--crop"), "crop")
        XCTAssertNil(BoardProfile.key(forOption: "--serial.baud"))
        XCTAssertNil(BoardProfile.key(forOption: "--model"))
        for option in BoardProfile.options {
            XCTAssertNotNil(BoardProfile.key(forOption: option), option)
        }
    }
}
