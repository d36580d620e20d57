import CDactylPlatform
import DactylKernels
import DactylModel
import DactylPipeline

/// `dactyl run`: the live box. Frames from a camera or a clip, continuous recognition, words to the sinks.
enum RunCommand {
    static let usage = """
        usage: dactyl run [SOURCE] [--board NAME|FILE] [--model FILE] [OPTIONS]

        The fingerspelling box: reads frames from a camera (or a .y4m clip, played as a camera
        would), finds where signing starts and ends, shows partial results while a word is being
        signed and sends each finished word to the sinks. Runs until stopped (SIGTERM or Ctrl-C
        finish the current word first) or, for a clip, until its end. SIGHUP re-reads the board profile.

          SOURCE                 a V4L2 camera (/dev/video0, /dev/v4l/by-id/...) or a .y4m clip
                                 (default: the board profile's camera.device)
          --board NAME|FILE      a board profile: pi5, pi4, zero2w, pc (board/*.conf) or a file
          --model FILE           model file (default: the default model, see `dactyl help`)
          --beam N               decode finished words with prefix beam search of width N (default: greedy)
          --lexicon FILE, --lm FILE, --lm-weight W, --insertion-bonus B
                                 a word list and/or character language model for the beam search
                                 (as for `dactyl decode`)
          --window N             frames the recogniser sees at once (default: the model's); longer
                                 words are committed in pieces
          --fast                 a clip is played as fast as frames are processed, not in real time
          --loop                 play a clip again and again
          --max-frames N         stop after N source frames
          --format text|jsonl    stdout: words, one per line (default), or JSON lines with partial
                                 results, letter spans, status and timings
          --kernel PATH          the encoder's kernel path (as for `dactyl decode`; default: the fastest)
          --stats                at the end, frame and word latency, frames dropped (stderr, and a
                                 JSON line with --format jsonl)
          --trace                each frame's motion, noise floor and segmenter state on stderr
                                 (for setting up a box's crop and light)
          --preview [ADDR:]PORT  serve the setup preview page (the camera picture with the signing
                                 zone, the box's state, the words as they come) on PORT of ADDR
                                 (default 127.0.0.1: this machine only; 0.0.0.0 for the network;
                                 port 0: any free port); the URL is printed on stderr

        Every board profile key can be given as an option, overriding the profile (board/README.md):
          --camera-device DEV  --camera-size WxH  --camera-fps N  --camera-format auto|yuyv|nv12|yu12|mjpeg
          --crop X,Y,W,H|auto|model  --sinks LIST (--sink)  --threads N
          (crop auto: follow the hand with the model's localiser, the default for a model that has one
          and no crop set; --localiser-interval N runs it every N model frames; docs/localiser.md)
          --serial-device DEV (--serial)  --serial-baud N  --serial-mode tagged|text
          --gpio-chip CHIP  --gpio-status-led LINE  --gpio-word-led LINE  --gpio-button LINE  --gpio-active-low yes|no
          --keyboard-device DEV (--keyboard)  --keyboard-separator space|enter
          --segment-quiet SECONDS  --segment-start MOTION  --segment-stop MOTION  --segment-travel MOTION
        Sinks (any of): stdout, serial, gpio, keyboard.
        """

    static let aliases: [(String, String)] = [("--sink", "--sinks"), ("--serial", "--serial-device"),
                                               ("--keyboard", "--keyboard-device"), ("--baud", "--serial-baud")]

    static func run(_ words: ArraySlice<String>) throws(CommandError) -> OutputText {
        var valueOptions = ["--board", "--model", "--beam", "--window", "--max-frames", "--format", "--preview", "--localiser-interval"]
            + BoardProfile.options
            + VocabularyOptions.names + ["--kernel"]
        for (alias, _) in aliases { valueOptions.append(alias) }
        let arguments = try CommandError.parsing(words, valueOptions: valueOptions, flagOptions: ["--fast", "--loop", "--stats", "--trace"])
        guard arguments.positionals.count <= 1 else {
            throw .usage("run takes one source (a camera device or a .y4m clip), got \(arguments.positionals.count)")
        }
        let beamWidth: Int, maxFrames: Int, format: String, windowOption: Int?, localiserInterval: Int?
        do {
            localiserInterval = arguments.value("--localiser-interval") == nil ? nil
                : try arguments.integer("--localiser-interval", default: 1, range: 1...Localiser.maximumInterval)
            beamWidth = try arguments.integer("--beam", default: 0, range: 1...maximumBeamWidth)
            maxFrames = try arguments.integer("--max-frames", default: Int.max, range: 1...Int.max)
            format = try arguments.choice("--format", from: ["text", "jsonl"], default: "text")
            windowOption = arguments.value("--window") == nil ? nil : try arguments.integer("--window", default: 0, range: 32...4096)
        } catch {
            throw .usage(error.message)
        }
        var previewOption: PreviewConfiguration? = nil
        if let text = arguments.value("--preview") {
            do {
                previewOption = try PreviewConfiguration(parsing: text)
            } catch {
                throw .usage(error.description)
            }
        }
        let boardName = arguments.value("--board")
        let trace = arguments.has("--trace")
        var profile = try loadProfile(boardName, overrides: arguments)

        let vocabularyOptions = try VocabularyOptions(arguments, beamWidth: beamWidth)
        let kernelPath = try KernelOptions.kernelPath(arguments)
        let model = try loadModel(arguments.value("--model"))
        let vocabulary = try vocabularyOptions.map { options throws(CommandError) in
            (files: try options.load(alphabet: model.alphabet), lmWeight: options.lmWeight, insertionBonus: options.insertionBonus)
        }
        let method: CTCDecoder.Method = beamWidth > 0 ? .beam(width: beamWidth) : .greedy
        let sourcePath = arguments.positionals.first ?? profile.cameraDevice
        let source: FrameSource
        let frameWidth: Int, frameHeight: Int
        if isClip(sourcePath) {
            let clip: Y4MClip
            do {
                clip = try Y4MClip(path: sourcePath)
            } catch {
                throw .failed(error.description)
            }
            source = .clip(ClipPlayer(clip: clip, realtime: !arguments.has("--fast"), loop: arguments.has("--loop")))
            (frameWidth, frameHeight) = (clip.width, clip.height)
        } else {
            let camera = try openCamera(sourcePath, profile: profile)
            source = .camera(camera)
            (frameWidth, frameHeight) = camera.frameSize
        }
        let defaultCrop = CropRect.fromThousandths(
            x: model.defaultCrop.x, y: model.defaultCrop.y, width: model.defaultCrop.width, height: model.defaultCrop.height,
            frameWidth: frameWidth, frameHeight: frameHeight)
        let crop = profile.crop ?? defaultCrop
        let followHand = try DecodeCommand.autoCrop(profile.cropAuto == true ? "auto" : profile.cropAuto == false ? "model" : nil,
                                                    given: profile.crop != nil, model: model)
        let window = windowOption ?? model.defaultWindow
        let recogniser: ContinuousRecogniser
        do {
            recogniser = try ContinuousRecogniser(model: model, window: window, method: method, crop: crop,
                                                  frameWidth: frameWidth, frameHeight: frameHeight,
                                                  settings: profile.segmenter,
                                                  vocabulary: vocabulary, kernelPath: kernelPath,
                                                  threads: profile.threads > 0 ? profile.threads : nil,
                                                  followHand: followHand, localiserInterval: localiserInterval)
        } catch {
            throw .failed("\(sourcePath): \(error.description)")
        }
        let errorNumber = dactyl_signals_install()
        guard errorNumber == 0 else { throw .failed("cannot install signal handlers: \(String(cString: dactyl_error_text(errorNumber)))") }
        let runStart = dactyl_monotonic_ns()
        var sinks = try RunSinks.open(profile: profile, format: format == "jsonl" ? .jsonLines : .text, model: model,
                                      runStart: runStart)
        let preview = try previewOption.map { configuration throws(CommandError) in
            try startPreview(configuration, frameWidth: frameWidth, frameHeight: frameHeight,
                             framesPerSecond: source.framesPerSecond, runStart: runStart)
        }
        sinks.preview = preview?.sink
        // systemd (Type=notify, WatchdogSec=): READY=1 now that the model is loaded and the source
        // open, WATCHDOG=1 from every step of the loop, STATUS= when the camera is lost or back.
        let notifier = ServiceNotifier(sinks: sinks, now: dactyl_monotonic_ns())
        if notifier.openError != 0 {
            printError("NOTIFY_SOCKET: \(String(cString: dactyl_error_text(notifier.openError))); not notifying systemd")
        }
        let box = LiveBox(recogniser: recogniser, source: source, sinks: notifier)
        box.start()
        box.sinks.ready()
        loop: while box.sourceFrames < maxFrames {
            let signals = dactyl_signals_take()
            if signals & UInt32(DACTYL_SIGNAL_STOP) != 0 { break }
            if signals & UInt32(DACTYL_SIGNAL_RELOAD) != 0 {
                reload(&profile, board: boardName, arguments: arguments, box: box, defaultCrop: defaultCrop)
            }
            switch box.step() {
            case .frame:
                if trace { traceFrame(box.recogniser, frame: box.sourceFrames - 1) }
            case .waiting: continue
            case .ended: break loop
            }
        }
        box.sinks.stopping()
        box.finish()
        preview?.stop()
        let statistics = box.statistics
        if arguments.has("--stats") {
            var counters = RunCounters()
            counters.framesSeen = box.sourceFrames
            counters.framesEncoded = recogniser.framesEncoded
            counters.framesDropped = statistics.framesDropped
            counters.wordsCommitted = recogniser.wordsCommitted
            var report = OutputText()
            report.line("dactyl: " + statistics.summary(frames: recogniser.framesEncoded, modelFrames: recogniser.encoded,
                                                              modelRate: recogniser.recogniser.model.frameRate, words: recogniser.wordsCommitted))
            if let follower = recogniser.recogniser.cropFollower {
                let share = follower.frames > 0 ? Float(100 * follower.framesWithHand) / Float(follower.frames) : 0
                report.line("dactyl: hand localiser: \(follower.runs) runs (every \(follower.interval) model frames), "
                            + "hand tracked in \(fixed(share, decimals: 1)) % of model frames, crop moved \(follower.moves) times")
            }
            report.write(to: 2)
            if format == "jsonl" {
                box.sinks.sinks.stdout?.stats(counters, wordLatency: LatencySummary(statistics.wordLatencies),
                                              frameLatency: LatencySummary(statistics.frameLatencies), now: dactyl_monotonic_ns())
            }
        }
        box.sinks.sinks.close()
        box.sinks.close()
        let out = OutputText()
        return out
    }

    /// `--preview`: the page's server, listening and running; its URL on stderr.
    static func startPreview(_ configuration: PreviewConfiguration, frameWidth: Int, frameHeight: Int, framesPerSecond: Double,
                             runStart: UInt64) throws(CommandError) -> Preview {
        do {
            let page = UnsafeRawBufferPointer(start: PreviewPage.html.utf8Start, count: PreviewPage.html.utf8CodeUnitCount)
            let preview = try Preview(configuration: configuration, page: page, frameWidth: frameWidth, frameHeight: frameHeight,
                                      framesPerSecond: framesPerSecond, runStart: runStart)
            try preview.start()
            printError("preview at \(preview.url)")
            return preview
        } catch {
            throw .failed(error.description)
        }
    }

    /// The profile's camera, opened (an absent camera is reopened with back-off by the loop; a
    /// device that can never work is an error now).
    static func openCamera(_ device: String, profile: BoardProfile) throws(CommandError) -> CameraFrameSource {
        let configuration = CameraConfiguration(device: device, width: profile.cameraWidth, height: profile.cameraHeight,
                                                framesPerSecond: profile.cameraFramesPerSecond,
                                                pixelFormat: CameraPixelFormat(name: profile.cameraFormat) ?? .auto)
        let source = CameraFrameSource(camera: V4L2Camera(configuration: configuration))
        do {
            try source.start()
        } catch {
            throw .failed(error.description)
        }
        return source
    }

    /// SIGHUP: re-reads the board profile and applies what can change while running (the crop),
    /// keeping the word being signed; a profile with an error is reported and ignored.
    static func reload<Sinks: BoxSink>(_ profile: inout BoardProfile, board: String?, arguments: Arguments, box: LiveBox<Sinks>,
                                       defaultCrop: CropRect) {
        let reloaded: BoardProfile
        do {
            reloaded = try loadProfile(board, overrides: arguments)
        } catch {
            printError(message(error) + " (SIGHUP: keeping the profile loaded before)")
            return
        }
        if box.recogniser.recogniser.cropFollower != nil {
            if reloaded.crop != nil || reloaded.cropAuto == false {
                printError("SIGHUP: the crop follows the hand (crop = auto); a fixed crop takes effect when dactyl restarts")
            }
        } else if reloaded.crop == nil && reloaded.cropAuto == true {
            printError("SIGHUP: crop = auto takes effect when dactyl restarts (keeping the crop \(profile.crop ?? defaultCrop))")
        } else if reloaded.crop != profile.crop {
            do {
                try box.recogniser.setCrop(reloaded.crop ?? defaultCrop)
            } catch {
                printError("SIGHUP: \(error.description) (keeping the crop \(profile.crop ?? defaultCrop))")
                return
            }
        }
        if reloaded.cameraDevice != profile.cameraDevice || reloaded.sinks != profile.sinks {
            printError("SIGHUP: camera and sink changes take effect when dactyl restarts")
        }
        profile = reloaded
    }

    /// `--trace`: the segmenter's view of each frame on stderr, for setting a box up.
    static func traceFrame(_ recogniser: ContinuousRecogniser, frame: Int) {
        var line = OutputText()
        line.line("trace frame \(frame) motion \(fixed(recogniser.lastMotion, decimals: 2)) floor \(fixed(recogniser.motionFloor.floor, decimals: 2)) "
                  + "\(recogniser.segmentOpen ? "segment" : "idle") \(recogniser.status.name)"
                  + (recogniser.recogniser.cropFollower.map { " hand \($0.handPresent ? "yes" : "no") crop \($0.crop.x),\($0.crop.y),\($0.crop.width),\($0.crop.height)" } ?? ""))
        line.write(to: 2)
    }

    static func message(_ error: CommandError) -> String {
        switch error {
        case .usage(let text), .failed(let text): text
        }
    }

    static func isClip(_ path: String) -> Bool {
        path.hasSuffix(".y4m") || (!path.hasPrefix("/dev/") && dactyl_is_readable_file(path) != 0)
    }

    /// The board profile (`--board`, else the defaults) with the command line's overrides applied.
    static func loadProfile(_ board: String?, overrides arguments: Arguments) throws(CommandError) -> BoardProfile {
        var profile = BoardProfile()
        if let board {
            let isPath = board.contains("/") || board.hasSuffix(".conf")
            guard let path = isPath ? board : InstalledFile.find("board/\(board).conf", installedAs: "share/dactyl/board/\(board).conf") else {
                throw .failed("no board profile '\(board)' (looked for board/\(board).conf); give a name such as pi5, pi4, zero2w, pc, or a file")
            }
            do {
                profile = try BoardProfile.load(path: path)
            } catch {
                throw .failed(error.description)
            }
        }
        do {
            for option in BoardProfile.options {
                if let value = arguments.value(option), let key = BoardProfile.key(forOption: option) {
                    try profile.set(key, value, source: "command line", line: 0)
                }
            }
            for (alias, option) in aliases {
                if let value = arguments.value(alias), let key = BoardProfile.key(forOption: option) {
                    try profile.set(key, value, source: "command line", line: 0)
                }
            }
        } catch {
            throw .usage(error.description)
        }
        return profile
    }
}
