// The libFuzzer targets (fuzz/README.md). Each target's contract: any input gives a valid result or one of the reader's documented
// errors (ModelError, ClipError, BoardProfileError, VocabularyError, Arguments.UsageError);
// a trap, an ASan report, a hang (-timeout) or an allocation over -malloc_limit_mb is a finding.
import CDactylFuzz
import CDactylPlatform
@testable import DactylModel
@testable import DactylPipeline
import DactylKernels
import Glibc

enum FuzzTarget: String, CaseIterable {
    case model, y4m, profile, lexicon, lm, args, http
}

/// The model alphabet the lexicon and language model are checked against: the one of
/// Tests/golden/vocabulary (a–z, space, ' & . @), so its lm.dclm seed reaches the LM tables.
let alphabet: [String] = (UInt8(ascii: "a")...UInt8(ascii: "z")).map { String(UnicodeScalar($0)) } + [" ", "'", "&", ".", "@"]

/// The readers that take a path read this in-memory regular file.
let memoryFile = dactyl_fuzz_memfd()
let memoryFilePath = "/proc/self/fd/\(memoryFile)"

func withFile(_ data: UnsafeRawBufferPointer, _ body: (String) -> Void) {
    guard dactyl_fuzz_fill(memoryFile, data.baseAddress, data.count) == 0 else { fatalError("cannot write the memfd") }
    body(memoryFilePath)
}

/// Reads every byte of a result so ASan sees any pointer into memory the reader does not own.
@inline(never) func touch(_ pointer: UnsafePointer<UInt8>, _ count: Int) -> UInt8 {
    var sum: UInt8 = 0
    for index in 0..<count { sum &+= pointer[index] }
    return sum
}
var sink: Int = 0

/// DACTYL_FUZZ_VERBOSE=1 prints each documented error met, to see what a replayed input gives.
let verbose = getenv("DACTYL_FUZZ_VERBOSE") != nil
func report(_ message: String) {
    sink &+= message.utf8.count
    if verbose { print("documented error: " + message) }
}

// MARK: model

/// Recomputes a model's section checksums and the table checksum in place (where the header
/// and table are readable), so mutations reach the validation behind the checksums, as the
/// crafted models of part 1 did.
func fixChecksums(_ bytes: UnsafeMutableRawBufferPointer) {
    guard bytes.count >= Model.headerSize else { return }
    let count = Int(bytes.loadUnaligned(fromByteOffset: 24, as: UInt32.self).littleEndian)
    let tableEnd = Model.headerSize + count * Model.sectionEntrySize
    guard count <= 64, tableEnd <= bytes.count else { return }
    let crc = CRC32()
    for index in 0..<count {
        let entry = Model.headerSize + index * Model.sectionEntrySize
        let offset = bytes.loadUnaligned(fromByteOffset: entry + 8, as: UInt64.self).littleEndian
        let size = bytes.loadUnaligned(fromByteOffset: entry + 16, as: UInt64.self).littleEndian
        guard offset <= UInt64(bytes.count), size <= UInt64(bytes.count) - offset else { continue }
        let checksum = crc.checksum(UnsafeRawBufferPointer(rebasing: bytes[Int(offset)..<Int(offset + size)]))
        bytes.storeBytes(of: checksum.littleEndian, toByteOffset: entry + 24, as: UInt32.self)
    }
    let tableChecksum = crc.checksum(UnsafeRawBufferPointer(rebasing: bytes[Model.headerSize..<tableEnd]))
    bytes.storeBytes(of: tableChecksum.littleEndian, toByteOffset: 28, as: UInt32.self)
}

/// What `inspect` and the recogniser do with a model that passed validation: shapes, costs and
/// the arena plan at the model's own size and at a size taken from the input.
func exercise(_ model: Model, _ data: UnsafeRawBufferPointer) {
    var configuration = PipelineConfiguration.modelDefaults(model)
    configuration.beamWidth = 8
    configuration.localiser = model.localiser != nil
    if let localiser = model.localiser {
        sink &+= localiser.multiplyAccumulates &+ localiser.weightBytes &+ localiser.heatShape.elementCount
    }
    if let layout = try? PipelineLayout(model: model, configuration: configuration) {
        for index in model.encoderOps.indices { sink &+= model.multiplyAccumulates(encoderOp: index, shapes: layout.shapes) }
        for index in model.headOps.indices { sink &+= model.multiplyAccumulates(headOp: index, frames: configuration.window) }
    }
    sink &+= model.weightBytes &+ model.featureSize
    for symbol in model.alphabet { sink &+= symbol.utf8.count }
    sink &+= model.info.utf8.count
    run(model)
    for index in 0..<Model.inputLUTBytes { sink &+= Int(model.inputLUT[index]) }
    // An --input size from the last bytes (1...8192 each), as `inspect --input HxW` gives.
    if data.count >= 4 {
        let height = 1 + Int(data.loadUnaligned(fromByteOffset: data.count - 4, as: UInt16.self)) % Model.maximumInputSize
        let width = 1 + Int(data.loadUnaligned(fromByteOffset: data.count - 2, as: UInt16.self)) % Model.maximumInputSize
        configuration.inputHeight = height
        configuration.inputWidth = width
        if let shapes = try? model.encoderShapes(inputHeight: height, inputWidth: width) { sink &+= shapes.count }
        if let layout = try? PipelineLayout(model: model, configuration: configuration) { sink &+= layout.plan.arenaBytes }
    }
}

/// A two-frame 64x48 4:2:0 clip (a gradient) to run valid models on.
let runClipBytes: [UInt8] = {
    var bytes = Array("YUV4MPEG2 W64 H48 F30:1 C420jpeg\n".utf8)
    for frame in 0..<2 {
        bytes += Array("FRAME\n".utf8)
        for index in 0..<(64 * 48 * 3 / 2) { bytes.append(UInt8(truncatingIfNeeded: index * 7 + frame * 91)) }
    }
    return bytes
}()
let runClip: Y4MClip = runClipBytes.withUnsafeBytes { bytes in
    // The array is a global constant: its storage outlives the clip that borrows it.
    try! Y4MClip(borrowing: UnsafeRawBufferPointer(start: bytes.baseAddress, count: bytes.count), name: "run.y4m")
}

/// Runs a model that passed validation (as `decode` does: preprocess, encoder, head, greedy and
/// beam decoding) when it is small enough to run in a fuzzing budget: validation must leave no
/// model that traps later.
func run(_ model: Model) {
    guard let shapes = try? model.encoderShapes(inputHeight: model.inputHeight, inputWidth: model.inputWidth) else { return }
    var macs = 0
    for index in model.encoderOps.indices {
        macs = CheckedSize.saturatingSum(macs, model.multiplyAccumulates(encoderOp: index, shapes: shapes))
    }
    for index in model.headOps.indices { macs = CheckedSize.saturatingSum(macs, model.multiplyAccumulates(headOp: index, frames: 2)) }
    macs = CheckedSize.saturatingSum(macs, model.localiser?.multiplyAccumulates ?? 0)
    guard macs <= 4_000_000 else { return }
    let crop = CropRect(x: 0, y: 0, width: 48, height: 48)
    // The reference kernels with the greedy decoder, this CPU's fastest (packed weights) with the beam.
    for (method, kernelPath) in [(CTCDecoder.Method.greedy, KernelPath.scalar), (.beam(width: 4), nil)] {
        guard let recogniser = try? Recogniser(model: model, clip: runClip, crop: crop, method: method, kernelPath: kernelPath,
                                               threads: 1, followHand: model.localiser != nil) else { return }
        guard recogniser.layout.plan.arenaBytes <= 64 << 20 else { return }
        // --crop auto: the localiser on every frame, its box read and tracked (the crop may move).
        var cursor = runClip.makeFrameCursor()
        while let frame = cursor.next() {
            if let moved = recogniser.followHand(frame, modelFrames: 3) { sink &+= moved.width }
        }
        do { try recogniser.add(clip: runClip) } catch { return }
        let result = recogniser.makeDecoder(method).decode(logProbs: recogniser.runHead(), frames: recogniser.frames)
        sink &+= result.labels.count
    }
}

func fuzzModel(_ data: UnsafeRawBufferPointer) {
    // The loader hands the parser 64-byte-aligned memory; so does the copy.
    let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, data.count), alignment: Model.alignment)
    defer { copy.deallocate() }
    let bytes = UnsafeMutableRawBufferPointer(rebasing: copy[0..<data.count])
    if data.count > 0 { bytes.copyMemory(from: data) }
    // As it is, through the file loader (dactyl_read_file: file checks, the read into aligned
    // memory of its own) ...
    withFile(data) { path in
        do throws(ModelError) {
            exercise(try Model.load(path: path), data)
        } catch {
            report(error.description)
        }
    }
    // ... and with its checksums made right, through the in-memory entry point.
    fixChecksums(bytes)
    do {
        let model = try Model.borrowing(bytes: UnsafeRawBufferPointer(bytes), path: "fuzz.dmdl")
        exercise(model, data)
    } catch {
        report(error.description)
    }
}

// MARK: y4m

func fuzzY4M(_ data: UnsafeRawBufferPointer) {
    do {
        let clip = try Y4MClip(borrowing: data, name: "fuzz.y4m")
        var cursor = clip.makeFrameCursor()
        while let frame = cursor.next() {
            let chromaWidth = clip.chroma.chromaWidth(forWidth: clip.width)
            let chromaHeight = clip.chroma.chromaHeight(forHeight: clip.height)
            sink &+= Int(touch(frame.y, (frame.height - 1) * frame.yStride + frame.width))
            sink &+= Int(touch(frame.u, (chromaHeight - 1) * frame.uvStride + chromaWidth))
            sink &+= Int(touch(frame.v, (chromaHeight - 1) * frame.uvStride + chromaWidth))
        }
        if let error = cursor.error { report(error.description) }
        if clip.frameCount > 1, let frame = try? clip.frame(at: clip.frameCount - 1) { sink &+= Int(frame.y[0]) }
        let crop = CropRect.fromThousandths(x: 100, y: 0, width: 800, height: 1000,
                                            frameWidth: clip.width, frameHeight: clip.height)
        sink &+= crop.width
    } catch {
        report(error.description)
    }
    // The same bytes through the path reader (pread, file checks).
    withFile(data) { path in
        do throws(ClipError) {
            let clip = try Y4MClip(path: path)
            var cursor = clip.makeFrameCursor()
            while let frame = cursor.next() { sink &+= Int(frame.y[0]) }
        } catch {
            report(error.description)
        }
    }
}

// MARK: board profile

func fuzzProfile(_ data: UnsafeRawBufferPointer) {
    withFile(data) { path in
        do throws(BoardProfileError) {
            let profile = try BoardProfile.load(path: path)
            sink &+= profile.cameraWidth &+ profile.serialBaud &+ profile.threads
            if let crop = profile.crop { sink &+= crop.width }
        } catch {
            report(error.description)
        }
    }
}

// MARK: lexicon and language model

/// Installs what was read into arena memory and walks it with a label sequence taken from the
/// input, as the beam search does.
func exercise(_ files: VocabularyFiles, _ data: UnsafeRawBufferPointer) {
    let memory = UnsafeMutableRawPointer.allocate(byteCount: max(64, files.arenaBytes), alignment: 64)
    defer { memory.deallocate() }
    let vocabulary = files.install(into: memory, lmWeight: 0.3, insertionBonus: 0.5)
    var labels: [Int32] = []
    var node: Int32 = 0
    for byte in data.suffix(24) {
        let c = Int32(byte) % Int32(alphabet.count) + 1
        let row = labels.withUnsafeBufferPointer { vocabulary.languageModelRow(labels: $0.baseAddress!, count: $0.count) }
        sink &+= Int(vocabulary.extensionScore(row, Int(c)).isFinite ? 1 : 0)
        if node >= 0 { node = vocabulary.lexiconNode(after: node, c) }
        labels.append(c)
    }
    sink &+= Int(node)
    let final = labels.withUnsafeBufferPointer { vocabulary.finalScore(labels: $0.baseAddress!, count: $0.count) }
    sink &+= final.isFinite ? 1 : 0
}

func fuzzLexicon(_ data: UnsafeRawBufferPointer) {
    withFile(data) { path in
        do throws(VocabularyError) {
            exercise(try VocabularyFiles(lexiconPath: path, languageModelPath: nil, alphabet: alphabet), data)
        } catch {
            report(error.description)
        }
    }
}

func fuzzLanguageModel(_ data: UnsafeRawBufferPointer) {
    withFile(data) { path in
        do throws(VocabularyError) {
            exercise(try VocabularyFiles(lexiconPath: nil, languageModelPath: path, alphabet: alphabet), data)
        } catch {
            report(error.description)
        }
    }
}

// MARK: command-line arguments

/// Words separated by NUL bytes (as argv is), parsed with every option of `decode`, `run`,
/// `inspect` and `record`, then read back with the accessors and ranges those commands use.
/// Arguments.swift and Output.swift are compiled into this binary (symlinks): the `dactyl`
/// target is an executable, which no other target may import.
func fuzzArguments(_ data: UnsafeRawBufferPointer) {
    var words: [String] = []
    for part in data.split(separator: 0, omittingEmptySubsequences: false) {
        words.append(String(decoding: part, as: UTF8.self))
    }
    let aliases = ["--sink": "--sinks", "--serial": "--serial-device", "--keyboard": "--keyboard-device",
                   "--baud": "--serial-baud"]
    let valueOptions = ["--board", "--model", "--beam", "--window", "--max-frames", "--format", "--crop", "--input",
                        "--planner", "--kernel", "--threads", "--frames", "--out", "--size", "--fps", "--pixel-format",
                        "--stall-ms", "--golden", "--lexicon", "--lm", "--lm-weight", "--insertion-bonus", "--localiser-interval"]
        + BoardProfile.options + aliases.keys.sorted()
    let arguments: Arguments
    do {
        arguments = try Arguments(words[...], valueOptions: valueOptions, flagOptions: ["--fast", "--loop", "--timing", "--json", "--trace-boxes"])
    } catch {
        report(error.message)
        return
    }
    func check<T>(_ body: () throws(Arguments.UsageError) -> T) {
        do { _ = try body() } catch { report(error.message) }
    }
    check { () throws(Arguments.UsageError) in try arguments.integer("--beam", default: 0, range: 1...256) }
    check { () throws(Arguments.UsageError) in try arguments.integer("--max-frames", default: Int.max, range: 1...Int.max) }
    check { () throws(Arguments.UsageError) in try arguments.integer("--window", default: 0, range: 32...4096) }
    check { () throws(Arguments.UsageError) in try arguments.integer("--localiser-interval", default: 1, range: 1...Localiser.maximumInterval) }
    check { () throws(Arguments.UsageError) in try arguments.choice("--format", from: ["text", "jsonl"], default: "text") }
    check { () throws(Arguments.UsageError) in
        try arguments.integers("--crop", count: 4, separator: ",", range: 0...Y4MClip.maximumDimension, example: "X,Y,W,H")
    }
    check { () throws(Arguments.UsageError) in
        try arguments.integers("--input", count: 2, separator: "x", range: 1...Model.maximumInputSize, example: "HxW")
    }
    check { () throws(Arguments.UsageError) in
        try arguments.integers("--size", count: 2, separator: "x", range: 1...Y4MClip.maximumDimension, example: "WxH")
    }
    check { () throws(Arguments.UsageError) in try arguments.decimal("--lm-weight", default: 0.3, range: 0...100) }
    check { () throws(Arguments.UsageError) in try arguments.decimal("--insertion-bonus", default: 0, range: -100...100) }
    // A valid result is also the right one: digits that Int reads within the range must be
    // accepted as that number (19-digit --max-frames values were refused, see CommandLineTests).
    if let text = arguments.value("--max-frames"), !text.isEmpty, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
       let expected = Int(text), expected >= 1 {
        let parsed = try? arguments.integer("--max-frames", default: 0, range: 1...Int.max)
        precondition(parsed == expected, "--max-frames \(text) read as \(String(describing: parsed))")
    }
    sink &+= arguments.positionals.count &+ (arguments.has("--fast") ? 1 : 0)
    // Profile options on the command line, as `run` applies them.
    var profile = BoardProfile()
    for option in BoardProfile.options + aliases.keys.sorted() {
        guard let value = arguments.value(option), let key = BoardProfile.key(forOption: aliases[option] ?? option) else { continue }
        do { try profile.set(key, value, source: "command line", line: 0) } catch { report(error.description) }
    }
}

// MARK: HTTP requests (the preview page's server)

/// A request head as a client sends it, through `HTTPRequest.parse`: nil (wait for more), a
/// request, or an HTTPRequestError. A request must lie inside the bytes and the head limit, its
/// path start with `/`, and it must read the same from its own head alone and under a smaller
/// limit that still holds it (what the server sees when the head arrives in pieces).
func fuzzHTTP(_ data: UnsafeRawBufferPointer) {
    let bytes = data.bindMemory(to: UInt8.self)
    let limit = HTTPRequest.defaultHeadLimit
    let request: HTTPRequest?
    do {
        request = try HTTPRequest.parse(bytes, headLimit: limit)
    } catch {
        precondition([400, 405, 413, 414, 431, 505].contains(error.status), "status \(error.status)")
        report(error.description)
        return
    }
    guard let request else {
        precondition(bytes.count < limit, "an incomplete head at the limit must be refused")
        return
    }
    precondition(request.headBytes <= min(bytes.count, limit), "head beyond the bytes")
    precondition(request.path.lowerBound >= 0 && request.path.upperBound <= request.headBytes && !request.path.isEmpty)
    precondition(bytes[request.path.lowerBound] == UInt8(ascii: "/"), "a path starts with /")
    if let query = request.query { precondition(query.lowerBound == request.path.upperBound + 1 && query.upperBound <= request.headBytes) }
    let alone = try? HTTPRequest.parse(UnsafeBufferPointer(rebasing: bytes[0..<request.headBytes]), headLimit: limit)
    precondition(alone == request, "the head alone reads differently")
    let tight = try? HTTPRequest.parse(bytes, headLimit: request.headBytes)
    precondition(tight == request, "a limit that holds the head changes the request")
    for index in request.path { sink &+= Int(bytes[index]) }
}

// MARK: selecting the target

let targetFunctions: [FuzzTarget: (UnsafeRawBufferPointer) -> Void] = [
    .model: fuzzModel, .y4m: fuzzY4M, .profile: fuzzProfile, .lexicon: fuzzLexicon, .lm: fuzzLanguageModel,
    .args: fuzzArguments, .http: fuzzHTTP,
]
var selected: ((UnsafeRawBufferPointer) -> Void)? = nil

/// Called by libFuzzer's LLVMFuzzerInitialize (fuzz.c) before anything else: takes the target
/// name from argv[1] (removing it, so libFuzzer sees only its own flags and folders) or from
/// $DACTYL_FUZZ_TARGET, which it sets, so -fork/-jobs children run the same target.
@_cdecl("dactyl_fuzz_select")
func selectTarget(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) {
    let words = argv.pointee!
    var target: FuzzTarget? = nil
    if argc.pointee > 1, let name = words[1], let named = FuzzTarget(rawValue: String(cString: name)) {
        target = named
        for index in 1..<Int(argc.pointee) { words[index] = words[index + 1] }
        argc.pointee -= 1
        setenv("DACTYL_FUZZ_TARGET", named.rawValue, 1)
    } else if let name = getenv("DACTYL_FUZZ_TARGET"), let named = FuzzTarget(rawValue: String(cString: name)) {
        target = named
    }
    guard let target, memoryFile >= 0 else {
        var names = ""
        for name in FuzzTarget.allCases { names += " " + name.rawValue }
        print("usage: dactyl-fuzz TARGET [libFuzzer flags] [corpus folders]; TARGET is one of:\(names)")
        exit(2)
    }
    selected = targetFunctions[target]!
}

@_cdecl("dactyl_fuzz_run")
func runTarget(_ data: UnsafePointer<UInt8>?, _ size: Int) {
    selected!(UnsafeRawBufferPointer(start: data, count: size))
}
