import CDactylPlatform
import DactylModel
import DactylPipeline

/// Opens the sinks a run's profile selects. A sink whose device cannot be used at start-up (no
/// GPIO chip, no keyboard gadget) is left out with one line on stderr, and the box runs without
/// it; a serial port that is not there yet is not an error: words queue until it appears.
enum RunSinks {
    static func open(profile: BoardProfile, format: StdoutSink.Format, model: Model, runStart: UInt64) throws(CommandError) -> SinkSet {
        var sinks = SinkSet()
        let now = dactyl_monotonic_ns()
        if profile.sinks.stdout {
            sinks.stdout = StdoutSink(configuration: StdoutSink.Configuration(format: format), alphabet: model.alphabet,
                                      runStart: runStart)
        }
        if profile.sinks.serial {
            let configuration = SerialSink.Configuration(
                path: profile.serialDevice, baud: UInt32(profile.serialBaud),
                mode: profile.serialMode == "text" ? .plainText : .tagged)
            do {
                sinks.serial = try SerialSink(configuration: configuration, runStart: runStart, now: now)
            } catch {
                throw .failed(error.description)
            }
            if let problem = sinks.serial?.portError {
                printError("\(problem.description) (words wait for the port, up to 64)")
            }
        }
        if profile.sinks.gpio {
            func line(_ text: String) -> GPIOSink.Line? { text.isEmpty ? nil : GPIOSink.Line(parsing: text) }
            let configuration = GPIOSink.Configuration(
                chip: profile.gpioChip, statusLED: line(profile.gpioStatusLED), statusActiveLow: profile.gpioActiveLow,
                wordLED: line(profile.gpioWordLED), wordActiveLow: profile.gpioActiveLow, button: line(profile.gpioButton))
            do {
                sinks.gpio = try GPIOSink(configuration: configuration, now: now)
            } catch {
                printError("\(error.description); running without GPIO")
            }
        }
        if profile.sinks.keyboard {
            let configuration = KeyboardSink.Configuration(
                path: profile.keyboardDevice, separator: profile.keyboardSeparator == "enter" ? .enter : .space)
            do {
                sinks.keyboard = try KeyboardSink(configuration: configuration)
            } catch {
                printError("\(error.description) (is board/usb-keyboard-gadget.sh set up?); running without the keyboard")
            }
        }
        return sinks
    }
}

extension LatencySummary {
    init(_ log: LatencyLog) {
        self.init(count: log.recorded, medianMilliseconds: Float(log.quantileMilliseconds(0.5) ?? .nan),
                  p90Milliseconds: Float(log.quantileMilliseconds(0.9) ?? .nan))
    }
}
