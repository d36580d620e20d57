import CDactylPlatform
import DactylPipeline

/// The sinks of one run, each a concrete value (Embedded Swift has no existentials), fanned out
/// in a fixed order; word latency (end of signing → the word handed to the sinks) is logged here.
struct RunSinks: BoxSink {
    let format: String
    let selection: SinkSelection

    init(format: String, selection: SinkSelection) {
        self.format = format
        self.selection = selection
    }

    mutating func partial(_ word: WordView, now: UInt64) {}

    mutating func commit(_ word: WordView, now: UInt64) {
        if selection.stdout && format == "jsonl" {
            // Interim: commit lines only, until the stdout sink lands.
            var line = "{\"type\":\"commit\",\"segment\":\(word.segment),\"piece\":\(word.piece),\"final\":\(word.isFinal),\"text\":\""
            line += String(decoding: word.text, as: UTF8.self)
            line += "\",\"start_frame\":\(word.startFrame),\"end_frame\":\(word.endFrame),\"letters\":[]}\n"
            line.withUTF8 { _ = dactyl_write_all(1, $0.baseAddress, $0.count) }
        } else if selection.stdout {
            _ = dactyl_write_all(1, word.text.baseAddress, word.text.count)
            var newline: UInt8 = 10
            if word.isFinal { _ = dactyl_write_all(1, &newline, 1) }
        }
    }

    mutating func status(_ status: BoxStatus, message: UnsafeBufferPointer<UInt8>, now: UInt64) {}

    mutating func service(now: UInt64) -> SinkRequest? { nil }

    mutating func flush(deadline: UInt64) {}
}
