import CDactylPlatform
import DactylPipeline

/// `dactyl devices`: what this machine offers a fingerspelling box (cameras, GPIO chips, serial
/// ports, the USB keyboard gadget) and whether the user running it may open each, as a person
/// setting a box up needs it.
enum DevicesCommand {
    static let usage = """
        usage: dactyl devices [--dev DIR] [--sys DIR]

        Lists what a fingerspelling box can use on this machine, and for each device whether you
        (the user running this) may open it, and which group would let you:
          cameras       V4L2 capture devices: their formats, frame sizes and frame rates
          GPIO chips    their lines, and which are in use (by whom, input or output)
          serial ports  USB serial adapters (ttyUSB, ttyACM), the board's UARTs (ttyAMA, ttyS,
                        serial0), consoles (hvc), with their /dev/serial/by-id names
          USB keyboard  whether the board can be a USB keyboard, and the gadget is set up
        To check what the service may open, run it as the service's user:
          sudo -u dactyl dactyl devices

          --dev DIR     look for device nodes in DIR instead of /dev (a chroot, a test)
          --sys DIR     read sysfs and configfs under DIR instead of /sys
        """

    static func run(_ words: ArraySlice<String>) throws(CommandError) -> OutputText {
        let arguments = try CommandError.parsing(words, valueOptions: ["--dev", "--sys"])
        guard arguments.positionals.isEmpty else {
            throw .usage("devices takes no arguments, got '\(arguments.positionals[0])'")
        }
        let listing = DeviceListing(dev: arguments.value("--dev") ?? "/dev", sys: arguments.value("--sys") ?? "/sys")
        var out = OutputText()
        listing.cameras(&out)
        out.line()
        listing.gpioChips(&out)
        out.line()
        listing.serialPorts(&out)
        out.line()
        listing.usbKeyboard(&out)
        return out
    }
}

/// The listing, with the folders it reads.
struct DeviceListing {
    let dev: String
    let sys: String

    // MARK: cameras

    func cameras(_ out: inout OutputText) {
        let nodes = names(in: dev, prefix: "video")
        out.line("cameras (V4L2):")
        guard !nodes.isEmpty else {
            out.line("  none: no \(dev)/video* (plug a USB camera in; `dmesg` says whether the kernel saw it)")
            return
        }
        for node in nodes { camera("\(dev)/\(node)", &out) }
    }

    private func camera(_ path: String, _ out: inout OutputText) {
        var fd: Int32 = -1
        let openError = dactyl_camera_open(path, &fd)
        guard openError == 0 else {
            out.line("  \(path): cannot open: \(errorText(openError)); \(access(path))")
            return
        }
        defer { dactyl_close(fd) }
        var kind: UInt32 = 0
        var card = [CChar](repeating: 0, count: 64), driver = [CChar](repeating: 0, count: 32), bus = [CChar](repeating: 0, count: 64)
        let describeError = dactyl_camera_describe(fd, &kind, &card, card.count, &driver, driver.count, &bus, bus.count)
        guard describeError == 0 else {
            out.line("  \(path): not a V4L2 device (\(errorText(describeError)))")
            return
        }
        let name = "\"\(text(card))\" (\(text(driver)), \(text(bus)))"
        guard kind & UInt32(DACTYL_CAMERA_KIND_CAPTURE) != 0 else {
            let what = kind & UInt32(DACTYL_CAMERA_KIND_METADATA) != 0 ? "a metadata node (a camera's second node)"
                : kind & UInt32(DACTYL_CAMERA_KIND_OUTPUT) != 0 ? "an output or memory-to-memory node"
                : kind & UInt32(DACTYL_CAMERA_KIND_CAPTURE_MPLANE) != 0 ? "a multi-planar capture node (not supported)"
                : "not a video capture node"
            out.line("  \(path): \(name): \(what)")
            return
        }
        out.line("  \(path): \(name), \(access(path))")
        var index: UInt32 = 0
        while true {
            var fourcc: UInt32 = 0, compressed: Int32 = 0
            var description = [CChar](repeating: 0, count: 32)
            guard dactyl_camera_enum_format(fd, index, &fourcc, &description, description.count, &compressed) == 0 else { break }
            index += 1
            let native = [UInt32(DACTYL_FOURCC_YUYV), UInt32(DACTYL_FOURCC_NV12), UInt32(DACTYL_FOURCC_YU12), UInt32(DACTYL_FOURCC_MJPG)].contains(fourcc)
            out.line("    \(fourccText(fourcc)) \"\(text(description))\"\(native ? " (dactyl reads it)" : ""): "
                     + sizes(fd, fourcc: fourcc))
        }
        if index == 0 { out.line("    no capture formats listed by the driver") }
    }

    /// "640x480 at 30, 15 fps; 1280x720 at 10 fps", or a stepwise range.
    private func sizes(_ fd: Int32, fourcc: UInt32) -> String {
        var parts: [String] = []
        var index: UInt32 = 0
        var values = [UInt32](repeating: 0, count: 6)
        var stepwise: Int32 = 0
        while index < 64, dactyl_camera_enum_size(fd, fourcc, index, &stepwise, &values) == 0 {
            index += 1
            if stepwise != 0 {
                // Frame rates of a range of sizes: asked at the profiles' default size, 640x480, when it is inside.
                let width = min(max(640, values[0]), values[1]), height = min(max(480, values[3]), values[4])
                parts.append("any size from \(values[0])x\(values[3]) to \(values[1])x\(values[4]) in steps of \(values[2])x\(values[5])"
                             + rates(fd, fourcc: fourcc, width: width, height: height, label: " (at \(width)x\(height): ", close: ")"))
                break
            }
            parts.append("\(values[0])x\(values[1])" + rates(fd, fourcc: fourcc, width: values[0], height: values[1], label: " at ", close: ""))
        }
        if parts.isEmpty { return "sizes not listed by the driver" }
        return joined(parts, "; ")
    }

    private func rates(_ fd: Int32, fourcc: UInt32, width: UInt32, height: UInt32, label: String, close: String) -> String {
        var rates: [String] = []
        var index: UInt32 = 0
        var values = [UInt32](repeating: 0, count: 6)
        var stepwise: Int32 = 0
        while index < 32, dactyl_camera_enum_interval(fd, fourcc, width, height, index, &stepwise, &values) == 0 {
            index += 1
            if stepwise != 0 {
                // The shortest interval is the highest rate.
                rates.append("\(framesPerSecond(numerator: values[2], denominator: values[3]))-\(framesPerSecond(numerator: values[0], denominator: values[1]))")
                break
            }
            rates.append(framesPerSecond(numerator: values[0], denominator: values[1]))
        }
        return rates.isEmpty ? "" : label + joined(rates, ", ") + " fps" + close
    }

    // MARK: GPIO

    func gpioChips(_ out: inout OutputText) {
        let chips = names(in: dev, prefix: "gpiochip")
        out.line("GPIO chips:")
        guard !chips.isEmpty else {
            out.line("  none: no \(dev)/gpiochip* (this machine has no GPIO lines the kernel exposes)")
            return
        }
        for chip in chips { gpioChip("\(dev)/\(chip)", &out) }
    }

    private func gpioChip(_ path: String, _ out: inout OutputText) {
        var errorNumber: Int32 = 0
        guard let chip = dactyl_gpio_open_chip(path, &errorNumber) else {
            out.line("  \(path): cannot open: \(errorText(errorNumber)); \(access(path))")
            return
        }
        defer { dactyl_gpio_close_chip(chip) }
        let label = String(cString: dactyl_gpio_chip_label(chip))
        let count = dactyl_gpio_chip_line_count(chip)
        out.line("  \(path): \(label), \(count) lines, \(access(path)) (profile: gpio.chip = \(label))")
        var named: [String] = [], used: [String] = []
        for offset in 0..<count {
            var name = [CChar](repeating: 0, count: 64), consumer = [CChar](repeating: 0, count: 64)
            var isUsed: Int32 = 0, isOutput: Int32 = 0
            guard dactyl_gpio_line_info(chip, offset, &name, name.count, &consumer, consumer.count, &isUsed, &isOutput) == 0 else { continue }
            let lineName = text(name)
            if !lineName.isEmpty { named.append("\(offset) \(lineName)") }
            if isUsed != 0 {
                let by = text(consumer)
                used.append("\(offset)\(lineName.isEmpty ? "" : " " + lineName) \(isOutput != 0 ? "output" : "input")"
                            + (by.isEmpty ? " (kernel)" : " by \(by)"))
            }
        }
        wrapped("lines: ", named.isEmpty ? ["unnamed (give offsets: gpio.status-led = 17)"] : named, &out)
        wrapped("in use: ", used.isEmpty ? ["none"] : used, &out)
    }

    // MARK: serial

    func serialPorts(_ out: inout OutputText) {
        out.line("serial ports:")
        var ports: [String] = []
        for prefix in ["ttyUSB", "ttyACM", "ttyAMA", "serial", "hvc"] {
            ports += names(in: dev, prefix: prefix).filter { prefix != "serial" || $0.count > 6 }
        }
        // A PC's kernel makes ttyS0-31 whether or not a UART is behind them; sysfs says type 0 for those.
        for port in names(in: dev, prefix: "ttyS") {
            let type = readText("\(sys)/class/tty/\(port)/type")
            if let type, type != "0" { ports.append(port) }
        }
        var byID: [(name: String, target: String)] = []
        for link in names(in: "\(dev)/serial/by-id", prefix: "") {
            byID.append((link, baseName(readLink("\(dev)/serial/by-id/\(link)") ?? "")))
        }
        guard !ports.isEmpty else {
            out.line("  none: no USB serial adapter (ttyUSB, ttyACM), UART (ttyAMA, ttyS) or console (hvc) in \(dev)")
            return
        }
        for port in ports {
            let path = "\(dev)/\(port)"
            var notes: [String] = []
            if let target = readLink(path) { notes.append("-> \(target)") }
            for entry in byID where entry.target == port { notes.append("by-id: \(dev)/serial/by-id/\(entry.name)") }
            out.line("  \(path)\(notes.isEmpty ? "" : " (" + joined(notes, ", ") + ")"): \(access(path))")
        }
    }

    // MARK: USB keyboard

    func usbKeyboard(_ out: inout OutputText) {
        out.line("USB keyboard (HID gadget):")
        let controllers = names(in: "\(sys)/class/udc", prefix: "")
        let gadget = "\(sys)/kernel/config/usb_gadget/dactyl"
        guard !controllers.isEmpty else {
            out.line("  not possible here: no USB device controller (\(sys)/class/udc is empty); on a Pi, add "
                     + "dtoverlay=dwc2,dr_mode=peripheral to /boot/firmware/config.txt and reboot")
            return
        }
        out.line("  controllers: \(joined(controllers, ", "))")
        guard let bound = readText("\(gadget)/UDC") else {
            out.line("  gadget not set up: sudo systemctl enable --now dactyl-usb-keyboard")
            return
        }
        guard !bound.isEmpty else {
            out.line("  gadget dactyl set up but not bound to a controller: sudo systemctl restart dactyl-usb-keyboard")
            return
        }
        let devices = names(in: dev, prefix: "hidg")
        guard !devices.isEmpty else {
            out.line("  gadget dactyl bound to \(bound), but no \(dev)/hidg* yet")
            return
        }
        for device in devices {
            out.line("  gadget dactyl bound to \(bound): \(dev)/\(device), \(access("\(dev)/\(device)")) "
                     + "(profile: keyboard.device = \(dev)/\(device), and keyboard in sinks)")
        }
    }

    // MARK: access

    /// Whether this process may open `path`, and what would let it.
    func access(_ path: String) -> String {
        var info = dactyl_node_info()
        let error = dactyl_node_info_get(path, &info)
        guard error == 0 else { return "cannot stat it: \(errorText(error))" }
        if info.may_open != 0 { return "you may open it" }
        var buffer = [CChar](repeating: 0, count: 64)
        dactyl_group_name(info.group_id, &buffer, buffer.count)
        let group = text(buffer)
        dactyl_user_name(&buffer, buffer.count)
        let user = text(buffer)
        // A static binary may find no group database (NSS): the number then stands for the name.
        return DeviceAccess.advice(group: group.isEmpty && info.group_id != 0 ? String(info.group_id) : group,
                                   groupCanWrite: info.mode & 0o060 == 0o060,
                                   inGroupNow: info.has_group != 0, listedInGroup: info.listed_in_group != 0, user: user)
    }

    // MARK: helpers

    /// Names in `folder` starting with `prefix`, in natural order (video2 before video10); none if no such folder.
    func names(in folder: String, prefix: String) -> [String] {
        var buffer = [CChar](repeating: 0, count: 16384)
        let length = dactyl_list_directory(folder, prefix, &buffer, buffer.count)
        guard length > 0 else { return [] }
        return text(buffer).split(separator: "\n").map { String($0) }.sorted(by: DeviceAccess.naturalOrder)
    }

    private func readText(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        return dactyl_read_text_file(path, &buffer, buffer.count) >= 0 ? text(buffer) : nil
    }

    private func readLink(_ path: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 512)
        return dactyl_read_link(path, &buffer, buffer.count) > 0 ? text(buffer) : nil
    }

    private func baseName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    private func wrapped(_ label: String, _ items: [String], _ out: inout OutputText) {
        var line = "    " + label
        let indent = "    " + String(repeating: " ", count: label.count)
        for (index, item) in items.enumerated() {
            let piece = item + (index + 1 < items.count ? "," : "")
            if line.count + piece.count + 1 > 100 && line != "    " + label {
                out.line(line)
                line = indent
            } else if line != "    " + label && line != indent {
                line += " "
            }
            line += piece
        }
        out.line(line)
    }
}

/// The pure parts of the listing: advice on access, natural order, frame rates, FourCCs.
enum DeviceAccess {
    static func advice(group: String, groupCanWrite: Bool, inGroupNow: Bool, listedInGroup: Bool, user: String) -> String {
        let who = user.isEmpty ? "$USER" : user
        guard !group.isEmpty, group != "root", groupCanWrite else {
            return "you may not open it: only root may (a udev rule can give it a group, as the dactyl package's "
                + "60-dactyl.rules does for GPIO chips and the keyboard gadget)"
        }
        if listedInGroup && !inGroupNow {
            return "you may not open it yet: \(who) is in group \(group), but this login started before; log in again"
        }
        if inGroupNow {
            return "you may not open it: group \(group) may, but its permissions do not let you"
        }
        return "you may not open it: add \(who) to group \(group) (sudo adduser \(who) \(group), then log in again)"
    }

    /// video2 < video10: the trailing numbers compare as numbers.
    static func naturalOrder(_ a: String, _ b: String) -> Bool {
        let (aStem, aNumber) = split(a), (bStem, bNumber) = split(b)
        if aStem != bStem { return aStem < bStem }
        if aNumber != bNumber { return aNumber < bNumber }
        return a < b
    }

    private static func split(_ name: String) -> (String, Int) {
        var digits = name.utf8.count
        let bytes = Array(name.utf8)
        while digits > 0, bytes[digits - 1] >= 0x30, bytes[digits - 1] <= 0x39 { digits -= 1 }
        let number = digits < bytes.count ? parseWholeNumberBytes(bytes[digits...]) : -1
        return (String(decoding: bytes[..<digits], as: UTF8.self), number)
    }

    private static func parseWholeNumberBytes(_ bytes: ArraySlice<UInt8>) -> Int {
        var value = 0
        for byte in bytes.prefix(18) { value = value * 10 + Int(byte - 0x30) }
        return value
    }
}

/// Frames per second for an interval of numerator/denominator seconds: "30", "29.97", "?" for 0.
func framesPerSecond(numerator: UInt32, denominator: UInt32) -> String {
    guard numerator > 0 else { return "?" }
    if denominator % numerator == 0 { return String(denominator / numerator) }
    return fixed(Float(denominator) / Float(numerator), decimals: 2)
}

func joined(_ parts: [String], _ separator: String) -> String {
    var result = ""
    for (index, part) in parts.enumerated() {
        if index > 0 { result += separator }
        result += part
    }
    return result
}

/// A NUL-terminated C buffer as a String.
func text(_ buffer: [CChar]) -> String {
    buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}

func errorText(_ errorNumber: Int32) -> String {
    String(cString: dactyl_error_text(errorNumber))
}
