import Foundation
import Glibc
import XCTest

/// `dactyl devices` on trees of device nodes made here (--dev, --sys): a pseudo-terminal is a real
/// character device standing in for a serial port or the keyboard gadget; the virtual Raspberry Pi
/// (cross/vm-test.sh) lists real cameras, GPIO chips and USB serial ports.
extension CommandLineTests {
    /// A fake /dev and /sys under the scratch folder.
    func deviceTree() throws -> (dev: URL, sys: URL) {
        let dev = scratch.appendingPathComponent("dev"), sys = scratch.appendingPathComponent("sys")
        for folder in [dev, sys] { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }
        return (dev, sys)
    }

    /// A pseudo-terminal's follower, open for the test's duration.
    func pseudoTerminal() throws -> (path: String, leader: Int32, follower: Int32) {
        var leader: Int32 = -1, follower: Int32 = -1
        guard openpty(&leader, &follower, nil, nil, nil) == 0 else { throw XCTSkip("openpty failed: \(errno)") }
        return (String(cString: ttyname(follower)), leader, follower)
    }

    func testDevicesWithNothingThereSaysSoForEachKind() throws {
        let (dev, sys) = try deviceTree()
        let result = try dactyl(["devices", "--dev", dev.path, "--sys", sys.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stderr, "")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.filter { $0.hasSuffix(":") && !$0.hasPrefix(" ") },
                       ["cameras (V4L2):", "GPIO chips:", "serial ports:", "USB keyboard (HID gadget):"])
        XCTAssertTrue(lines.contains("  none: no \(dev.path)/video* (plug a USB camera in; `dmesg` says whether the kernel saw it)"), result.stdout)
        XCTAssertTrue(lines.contains { $0.hasPrefix("  none: no \(dev.path)/gpiochip*") }, result.stdout)
        XCTAssertTrue(lines.contains { $0.hasPrefix("  none: no USB serial adapter") }, result.stdout)
        XCTAssertTrue(lines.contains { $0.hasPrefix("  not possible here: no USB device controller") }, result.stdout)
    }

    func testDevicesListsSerialPortsWithTheirByIdNamesInNaturalOrder() throws {
        let (dev, sys) = try deviceTree()
        let terminal = try pseudoTerminal()
        defer { close(terminal.leader); close(terminal.follower) }
        let fm = FileManager.default
        for name in ["ttyUSB10", "ttyUSB2", "ttyACM0"] {
            try fm.createSymbolicLink(atPath: dev.appendingPathComponent(name).path, withDestinationPath: terminal.path)
        }
        let byID = dev.appendingPathComponent("serial/by-id")
        try fm.createDirectory(at: byID, withIntermediateDirectories: true)
        try fm.createSymbolicLink(atPath: byID.appendingPathComponent("usb-FTDI_FT232R_A1-if00-port0").path, withDestinationPath: "../../ttyUSB2")
        // A PC's ttyS ports with no UART behind them (sysfs type 0) are left out; one with a 16550A is listed.
        for (port, type) in [("ttyS0", "4"), ("ttyS1", "0")] {
            try fm.createSymbolicLink(atPath: dev.appendingPathComponent(port).path, withDestinationPath: terminal.path)
            let folder = sys.appendingPathComponent("class/tty/\(port)")
            try fm.createDirectory(at: folder, withIntermediateDirectories: true)
            try "\(type)\n".write(to: folder.appendingPathComponent("type"), atomically: true, encoding: .utf8)
        }
        let result = try dactyl(["devices", "--dev", dev.path, "--sys", sys.path])
        XCTAssertEqual(result.status, 0, result.stderr)
        let ports = result.stdout.split(separator: "\n").map(String.init).filter { $0.hasPrefix("  \(dev.path)/") }
        XCTAssertEqual(ports, [
            "  \(dev.path)/ttyUSB2 (-> \(terminal.path), by-id: \(dev.path)/serial/by-id/usb-FTDI_FT232R_A1-if00-port0): you may open it",
            "  \(dev.path)/ttyUSB10 (-> \(terminal.path)): you may open it",
            "  \(dev.path)/ttyACM0 (-> \(terminal.path)): you may open it",
            "  \(dev.path)/ttyS0 (-> \(terminal.path)): you may open it",
        ], result.stdout)
    }

    func testDevicesReportsTheKeyboardGadgetsState() throws {
        let (dev, sys) = try deviceTree()
        let fm = FileManager.default
        try fm.createDirectory(at: sys.appendingPathComponent("class/udc/fe980000.usb"), withIntermediateDirectories: true)
        var result = try dactyl(["devices", "--dev", dev.path, "--sys", sys.path])
        XCTAssertTrue(result.stdout.contains("  controllers: fe980000.usb\n  gadget not set up: sudo systemctl enable --now dactyl-usb-keyboard\n"), result.stdout)

        let gadget = sys.appendingPathComponent("kernel/config/usb_gadget/dactyl")
        try fm.createDirectory(at: gadget, withIntermediateDirectories: true)
        try "\n".write(to: gadget.appendingPathComponent("UDC"), atomically: true, encoding: .utf8)
        result = try dactyl(["devices", "--dev", dev.path, "--sys", sys.path])
        XCTAssertTrue(result.stdout.contains("  gadget dactyl set up but not bound to a controller"), result.stdout)

        try "fe980000.usb\n".write(to: gadget.appendingPathComponent("UDC"), atomically: true, encoding: .utf8)
        let terminal = try pseudoTerminal()
        defer { close(terminal.leader); close(terminal.follower) }
        try fm.createSymbolicLink(atPath: dev.appendingPathComponent("hidg0").path, withDestinationPath: terminal.path)
        result = try dactyl(["devices", "--dev", dev.path, "--sys", sys.path])
        XCTAssertTrue(result.stdout.contains("  gadget dactyl bound to fe980000.usb: \(dev.path)/hidg0, you may open it "
                                             + "(profile: keyboard.device = \(dev.path)/hidg0, and keyboard in sinks)"), result.stdout)
    }

    /// As an unprivileged user (nobody, through setpriv): a node of another group says which group
    /// would let it in; one only root may open says so.
    func testDevicesNamesTheGroupThatWouldGrantAccess() throws {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else {
            throw XCTSkip("needs root and setpriv to run dactyl as another user")
        }
        guard let dialout = getgrnam("dialout")?.pointee.gr_gid else { throw XCTSkip("no group dialout here") }
        let (dev, sys) = try deviceTree()
        // The scratch folder must be reachable for nobody.
        for url in [scratch!, dev, sys] { chmod(url.path, 0o755) }
        let port = dev.appendingPathComponent("ttyUSB0").path, chip = dev.appendingPathComponent("ttyACM0").path
        for (path, group, mode) in [(port, dialout, mode_t(0o660)), (chip, gid_t(0), mode_t(0o600))] {
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data()))
            XCTAssertEqual(chown(path, 0, group), 0)
            XCTAssertEqual(chmod(path, mode), 0)
        }
        let bundle = Bundle(for: CommandLineTests.self).bundleURL
        let binary = [bundle, bundle.deletingLastPathComponent()].map { $0.appendingPathComponent("dactyl") }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }!
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", "--", binary.path, "devices",
                             "--dev", dev.path, "--sys", sys.path]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        let result = (stdout: stdout, status: process.terminationStatus)
        let user = String(cString: getpwuid(65534).pointee.pw_name)
        XCTAssertTrue(result.stdout.contains("  \(port): you may not open it: add \(user) to group dialout (sudo adduser \(user) dialout, then log in again)\n"),
                      result.stdout)
        XCTAssertTrue(result.stdout.contains("  \(chip): you may not open it: only root may"), result.stdout)
    }

    func testDevicesRejectsArguments() throws {
        let result = try dactyl(["devices", "/dev/video0"])
        XCTAssertEqual(result.status, 2)
        XCTAssertEqual(result.stderr, "dactyl: devices: devices takes no arguments, got '/dev/video0' (see `dactyl help devices`)\n")
    }
}
