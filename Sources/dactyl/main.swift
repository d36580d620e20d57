import CDactylPlatform

/// dactyl: live fingerspelling recognition on a Raspberry Pi-class board.
let version = "0.1.0"

let help = """
    dactyl \(version): recognises fingerspelled letters in video, on the board.

    usage: dactyl COMMAND [ARGUMENTS]

    commands:
      run [SOURCE]     the live box: camera (or clip) in, words out to serial, GPIO, keyboard, stdout
      decode CLIP      the letters fingerspelled in a .y4m clip
      inspect [MODEL]  the model's ops, shapes, MACs and memory plan
      record DEVICE    records a V4L2 camera into a .y4m clip (--frames N --out FILE)
      selftest         checks this binary on this CPU against built-in golden vectors
      devices          the cameras, GPIO chips, serial ports and USB keyboard gadget here, and your access
      bench            times the encoder and the head on this CPU
      help [COMMAND]   this help, or a command's
      version          the version

    Without --model, dactyl uses $DACTYL_MODEL, else the model built into the binary (if it
    was built with one), else share/dactyl/default.dmdl beside its bin/ folder, else
    models/default.dmdl in a folder above the binary or the current folder.

    Exit status: 0 success, 1 failure (the message names the file and what was wrong),
    2 usage error.
    """

func commandUsage(_ command: String) -> String? {
    switch command {
    case "run": RunCommand.usage
    case "decode": DecodeCommand.usage
    case "inspect": InspectCommand.usage
    case "record": RecordCommand.usage
    case "selftest": SelfTestCommand.usage
    case "devices": DevicesCommand.usage
    case "bench": BenchCommand.usage
    default: nil
    }
}

func runCommand(_ words: [String]) -> Int32 {
    guard let command = words.first else {
        printError("no command given; commands: decode, inspect, selftest, help, version (see `dactyl help`)")
        return 2
    }
    let rest = words.dropFirst()
    if let usage = commandUsage(command), rest.contains("--help") || rest.contains("-h") {
        var out = OutputText()
        out.line(usage)
        out.write()
        return 0
    }
    do throws(CommandError) {
        switch command {
        case "run":
            try RunCommand.run(rest).write()
        case "decode":
            try DecodeCommand.run(rest).write()
        case "inspect":
            try InspectCommand.run(rest).write()
        case "record":
            try RecordCommand.run(rest).write()
        case "selftest":
            try SelfTestCommand.run(rest).write()
        case "devices":
            try DevicesCommand.run(rest).write()
        case "bench":
            try BenchCommand.run(rest).write()
        case "help", "--help", "-h":
            var out = OutputText()
            out.line(rest.first.flatMap(commandUsage) ?? help)
            out.write()
        case "version", "--version":
            var out = OutputText()
            out.line("dactyl \(version)")
            out.write()
        default:
            throw .usage("unknown command '\(command)'; commands: run, decode, inspect, record, selftest, devices, bench, help, version")
        }
        return 0
    } catch {
        switch error {
        case .usage(let message):
            // One line, like every other error, so that scripts and logs see it whole.
            printError("\(command): \(message) (see `dactyl help \(command)`)")
            return 2
        case .failed(let message):
            printError(message)
            return 1
        }
    }
}

func commandLineWords() -> [String] {
    var words: [String] = []
    for index in 1..<max(1, Int(dactyl_argument_count())) {
        words.append(String(cString: dactyl_argument(Int32(index))))
    }
    return words
}

dactyl_exit(runCommand(commandLineWords()))
