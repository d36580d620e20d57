/// Parses and validates a model file's bytes (docs/model-format.md). Every read is bounds-checked,
/// every size computed from fields goes through `CheckedSize`, and every failure is a
/// `ModelError` naming the offset; nothing here can trap on bad input. Op records are read by
/// each op type's `parse` (ModelTypes.swift) through `OpRecord`.
struct ModelParser {
    struct Parsed {
        var versionMinor = 0
        var inputHeight = 0
        var inputWidth = 0
        var inputChannels = 0
        var numClasses = 0
        var blankIndex = 0
        var defaultWindow = 0
        var defaultCrop = CropThousandths(x: 0, y: 0, width: 1000, height: 1000)
        var mean: [Float] = []
        var std: [Float] = []
        var inputLUT: UnsafePointer<Int8>
        var featureTensor = 0
        var alphabet: [String] = []
        var info = ""
        var frameRate: FrameRate? = nil
        var tensors: [TensorInfo] = []
        var encoderOps: [EncoderOp] = []
        var headOps: [HeadOp] = []
        var localiser: Localiser? = nil
    }

    struct Section {
        let offset: Int
        let size: Int
    }

    let bytes: UnsafeRawBufferPointer
    let path: String

    private func fail(_ kind: ModelError.Kind, _ offset: Int, _ detail: String) -> ModelError {
        ModelError(kind, path: path, offset: offset, detail)
    }

    // MARK: bounds-checked little-endian reads

    func u32(_ offset: Int) throws(ModelError) -> UInt32 {
        guard offset >= 0, offset + 4 <= bytes.count else {
            throw fail(.truncated, offset, "file ends at \(bytes.count) bytes, expected 4 more bytes at offset \(offset)")
        }
        return UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    private func i32(_ offset: Int) throws(ModelError) -> Int32 { Int32(bitPattern: try u32(offset)) }
    private func f32(_ offset: Int) throws(ModelError) -> Float { Float(bitPattern: try u32(offset)) }

    private func u64(_ offset: Int) throws(ModelError) -> UInt64 {
        UInt64(try u32(offset)) | (UInt64(try u32(offset + 4)) << 32)
    }

    private func u16(_ offset: Int) throws(ModelError) -> UInt16 {
        guard offset + 2 <= bytes.count else {
            throw fail(.truncated, offset, "file ends at \(bytes.count) bytes, expected 2 more bytes at offset \(offset)")
        }
        return UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    private func tag(_ offset: Int) -> String {
        var text = ""
        for index in 0..<4 {
            let byte = bytes[offset + index]
            text.append((32...126).contains(byte) ? Character(Unicode.Scalar(byte)) : "?")
        }
        return text
    }

    // MARK: parse

    func parse() throws(ModelError) -> Parsed {
        let sections = try parseHeaderAndTable()
        func section(_ name: String) throws(ModelError) -> Section {
            guard let found = sections[name] else {
                throw fail(.missingSection, Model.headerSize, "required section '\(name)' is missing")
            }
            return found
        }
        let data = try section("DATA")
        var parsed = try parseMeta(try section("META"), data: data)
        parsed.versionMinor = Int(try u16(10))
        parsed.alphabet = try parseAlphabet(try section("ALPH"), expected: parsed.numClasses - 1)
        if let info = sections["INFO"] {
            parsed.info = try printableText(info.offset, info.offset + info.size, what: "INFO")
        }
        if let rate = sections["RATE"] { parsed.frameRate = try parseRate(rate) }
        parsed.tensors = try parseTensors(try section("TENS"))
        guard parsed.tensors[0].channels == parsed.inputChannels else {
            throw fail(.badTensor, try section("TENS").offset + 4, "tensor 0 (the input) has \(parsed.tensors[0].channels) channels, META says \(parsed.inputChannels)")
        }
        guard parsed.featureTensor < parsed.tensors.count else {
            throw fail(.badMeta, try section("META").offset + 68, "feature tensor \(parsed.featureTensor) does not exist (\(parsed.tensors.count) tensors)")
        }
        try parseOps(try section("OPS "), data: data, into: &parsed)
        parsed.localiser = try parseLocaliser(sections, data: data)
        return parsed
    }

    private func parseHeaderAndTable() throws(ModelError) -> [String: Section] {
        guard bytes.count >= Model.headerSize else {
            throw fail(.truncated, bytes.count, "file is \(bytes.count) bytes, shorter than the \(Model.headerSize)-byte header")
        }
        let magic = Model.magic
        for index in 0..<magic.utf8CodeUnitCount where bytes[index] != magic.utf8Start[index] {
            throw fail(.badMagic, 0, "not a Dactyl model: expected magic 'DACTYLMD'")
        }
        let major = Int(try u16(8))
        let minor = Int(try u16(10))
        guard major == Model.versionMajor else {
            throw fail(.unsupportedVersion, 8, "model format version \(major).\(minor), this build reads version \(Model.versionMajor).x")
        }
        let headerSize = Int(try u32(12))
        guard headerSize == Model.headerSize else {
            throw fail(.badHeader, 12, "header size \(headerSize), expected \(Model.headerSize)")
        }
        try requireZero(32, bytes: 32, "header bytes 32-63", kind: .badHeader)
        let declaredSize = try u64(16)
        guard declaredSize == UInt64(bytes.count) else {
            let kind: ModelError.Kind = declaredSize > UInt64(bytes.count) ? .truncated : .fileSizeMismatch
            throw fail(kind, 16, "header says the file is \(declaredSize) bytes, it is \(bytes.count)")
        }
        let count = Int(try u32(24))
        guard (1...64).contains(count) else {
            throw fail(.badSectionTable, 24, "section count \(count), expected 1 to 64")
        }
        let tableEnd = Model.headerSize + count * Model.sectionEntrySize
        guard tableEnd <= bytes.count else {
            throw fail(.truncated, Model.headerSize, "section table of \(count) entries runs past the end of the file")
        }
        let crc = CRC32()
        let tableChecksum = crc.checksum(UnsafeRawBufferPointer(rebasing: bytes[Model.headerSize..<tableEnd]))
        let storedTableChecksum = try u32(28)
        guard tableChecksum == storedTableChecksum else {
            throw fail(.checksumMismatch, 28, "section table checksum is \(hex(tableChecksum)), header says \(hex(storedTableChecksum))")
        }

        var sections: [String: Section] = [:]
        var ranges: [(start: Int, end: Int, name: String)] = []
        for index in 0..<count {
            let entry = Model.headerSize + index * Model.sectionEntrySize
            let name = tag(entry)
            try requireZero(entry + 4, bytes: 4, "section '\(name)' flags", kind: .badSectionTable)
            try requireZero(entry + 28, bytes: 4, "section '\(name)' reserved field", kind: .badSectionTable)
            let offset = try u64(entry + 8)
            let size = try u64(entry + 16)
            guard offset <= UInt64(bytes.count), size <= UInt64(bytes.count) - offset else {
                throw fail(.truncated, entry + 8, "section '\(name)' (\(size) bytes at \(offset)) runs past the end of the file (\(bytes.count) bytes)")
            }
            let start = Int(offset)
            let end = start + Int(size)
            guard start % Model.alignment == 0, start >= tableEnd else {
                throw fail(.badSectionTable, entry + 8, "section '\(name)' starts at \(start), expected a multiple of \(Model.alignment) after the section table")
            }
            guard sections[name] == nil else {
                throw fail(.badSectionTable, entry, "section '\(name)' appears twice")
            }
            for other in ranges where start < other.end && other.start < end {
                throw fail(.badSectionTable, entry + 8, "section '\(name)' overlaps section '\(other.name)'")
            }
            let checksum = crc.checksum(UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
            let stored = try u32(entry + 24)
            guard checksum == stored else {
                throw fail(.checksumMismatch, start, "section '\(name)' checksum is \(hex(checksum)), the table says \(hex(stored))")
            }
            sections[name] = Section(offset: start, size: end - start)
            ranges.append((start, end, name))
        }
        return sections
    }

    private func parseMeta(_ meta: Section, data: Section) throws(ModelError) -> Parsed {
        guard meta.size >= Model.metaSize else {
            throw fail(.sectionTooShort, meta.offset, "META is \(meta.size) bytes, expected \(Model.metaSize)")
        }
        let base = meta.offset
        func positive(_ field: Int, _ name: String, max: Int = 1 << 20) throws(ModelError) -> Int {
            let value = Int(try u32(base + field))
            guard value >= 1, value <= max else {
                throw fail(.badMeta, base + field, "META \(name) is \(value), expected 1 to \(max)")
            }
            return value
        }
        let lutOffset = Int(try u32(base + 64))
        let lut: UnsafePointer<Int8> = try array(data: data, offset: lutOffset, byteCount: Model.inputLUTBytes, field: base + 64, what: "input LUT")
        var parsed = Parsed(inputLUT: lut)
        parsed.inputHeight = try positive(0, "input_height", max: Model.maximumInputSize)
        parsed.inputWidth = try positive(4, "input_width", max: Model.maximumInputSize)
        parsed.inputChannels = try positive(8, "input_channels")
        guard parsed.inputChannels == 3 else {
            throw fail(.badMeta, base + 8, "META input_channels is \(parsed.inputChannels), expected 3 (RGB)")
        }
        parsed.numClasses = try positive(12, "num_classes", max: 4096)
        guard parsed.numClasses >= 2 else {
            throw fail(.badMeta, base + 12, "META num_classes is \(parsed.numClasses), expected the alphabet plus the blank (at least 2)")
        }
        parsed.blankIndex = Int(try u32(base + 16))
        guard parsed.blankIndex == 0 else {
            throw fail(.badMeta, base + 16, "META blank_index is \(parsed.blankIndex), expected 0")
        }
        parsed.defaultWindow = try positive(20, "default_window")
        let x = Int(try u32(base + 24)), y = Int(try u32(base + 28))
        let width = Int(try u32(base + 32)), height = Int(try u32(base + 36))
        guard width >= 1, height >= 1, x + width <= 1000, y + height <= 1000 else {
            throw fail(.badMeta, base + 24, "META default_crop \(x),\(y),\(width),\(height) (thousandths) is not a non-empty rectangle inside the frame")
        }
        parsed.defaultCrop = CropThousandths(x: x, y: y, width: width, height: height)
        for channel in 0..<3 {
            parsed.mean.append(try f32(base + 40 + 4 * channel))
            parsed.std.append(try f32(base + 52 + 4 * channel))
        }
        parsed.featureTensor = Int(try u32(base + 68))
        try requireZero(base + 72, bytes: Model.metaSize - 72, "META bytes 72-127", kind: .badMeta)
        return parsed
    }

    /// `RATE` (format 1.1): the frame rate the model was trained at, as numerator/denominator.
    private func parseRate(_ section: Section) throws(ModelError) -> FrameRate {
        guard section.size >= Model.rateSize else {
            throw fail(.sectionTooShort, section.offset, "RATE is \(section.size) bytes, expected \(Model.rateSize)")
        }
        let numerator = Int(try u32(section.offset)), denominator = Int(try u32(section.offset + 4))
        guard let rate = FrameRate(numerator: numerator, denominator: denominator) else {
            throw fail(.badMeta, section.offset, "RATE frame rate \(numerator)/\(denominator) frames/s, expected numerator and "
                       + "denominator 1 to \(FrameRate.maximumTerm) and a rate of \(FrameRate.minimumPerSecond) to \(FrameRate.maximumPerSecond) frames/s")
        }
        try requireZero(section.offset + 8, bytes: Model.rateSize - 8, "RATE bytes 8-15", kind: .badMeta)
        return rate
    }

    private func parseAlphabet(_ section: Section, expected: Int) throws(ModelError) -> [String] {
        let count = Int(try u32(section.offset))
        guard count == expected else {
            throw fail(.badAlphabet, section.offset, "alphabet has \(count) symbols, META num_classes says \(expected) plus the blank")
        }
        var cursor = section.offset + 4
        let end = section.offset + section.size
        var symbols: [String] = []
        for index in 0..<count {
            guard cursor < end else {
                throw fail(.sectionTooShort, cursor, "ALPH ends before symbol \(index) of \(count)")
            }
            let length = Int(bytes[cursor])
            guard (1...8).contains(length), cursor + 1 + length <= end else {
                throw fail(.badAlphabet, cursor, "symbol \(index) has length \(length), expected 1 to 8 bytes inside ALPH")
            }
            let symbol = try printableText(cursor + 1, cursor + 1 + length, what: "symbol \(index)", kind: .badAlphabet)
            guard !symbols.contains(symbol) else {
                throw fail(.badAlphabet, cursor + 1, "symbol \(index) '\(symbol)' appears twice")
            }
            symbols.append(symbol)
            cursor += 1 + length
        }
        return symbols
    }

    /// `TENS`, or the localiser's `LTEN` (`name`), which has its layout.
    private func parseTensors(_ section: Section, name: String = "TENS") throws(ModelError) -> [TensorInfo] {
        let count = Int(try u32(section.offset))
        guard count >= 2, count <= 4096 else {
            throw fail(.badTensor, section.offset, "\(name) tensor count \(count), expected 2 to 4096")
        }
        guard 4 + count * 16 <= section.size else {
            throw fail(.sectionTooShort, section.offset, "\(name) declares \(count) tensors (\(4 + count * 16) bytes), the section has \(section.size)")
        }
        var tensors: [TensorInfo] = []
        for id in 0..<count {
            let entry = section.offset + 4 + id * 16
            let channels = Int(try u32(entry))
            let scale = try f32(entry + 4)
            let zeroPoint = try i32(entry + 8)
            try requireZero(entry + 12, bytes: 4, "tensor \(id) reserved field", kind: .badTensor)
            guard (1...65536).contains(channels) else {
                throw fail(.badTensor, entry, "tensor \(id) has \(channels) channels, expected 1 to 65536")
            }
            guard scale.isFinite, scale > 0 else {
                throw fail(.badQuantization, entry + 4, "tensor \(id) scale is \(scale), expected a positive finite number")
            }
            guard (-128...127).contains(zeroPoint) else {
                throw fail(.badQuantization, entry + 8, "tensor \(id) zero point is \(zeroPoint), expected -128 to 127")
            }
            tensors.append(TensorInfo(channels: channels, scale: scale, zeroPoint: zeroPoint))
        }
        return tensors
    }

    /// A typed view of `byteCount` bytes at `offset` in DATA, checked for bounds and alignment.
    func array<Element>(data: Section, offset: Int, byteCount: Int, field: Int, what: String) throws(ModelError) -> UnsafePointer<Element> {
        guard offset % Model.alignment == 0 else {
            throw fail(.badArray, field, "\(what) at DATA offset \(offset) is not \(Model.alignment)-byte aligned")
        }
        guard offset >= 0, byteCount >= 0, offset <= data.size, byteCount <= data.size - offset else {
            throw fail(.badArray, field, "\(what) (\(byteCount) bytes at DATA offset \(offset)) lies outside DATA (\(data.size) bytes)")
        }
        return (bytes.baseAddress! + data.offset + offset).assumingMemoryBound(to: Element.self)
    }

    private func parseOps(_ section: Section, data: Section, into parsed: inout Parsed) throws(ModelError) {
        var previousHeadChannels: Int? = nil
        try forEachOpRecord(section, name: "OPS", labelPrefix: "op", data: data, tensors: parsed.tensors, encoderOnly: false) {
            (opcode: Opcode, cursor: Int, record: inout OpRecord) throws(ModelError) in
            let index = record.index
            if opcode.isEncoderOp, !parsed.headOps.isEmpty {
                throw fail(.badRecord, cursor, "op \(index) is an encoder op after the temporal head began")
            }
            switch opcode {
            case .conv2dQ8: parsed.encoderOps.append(.conv2d(try Conv2DOp.parse(&record)))
            case .maxPool2dQ8: parsed.encoderOps.append(.maxPool2d(try MaxPool2DOp.parse(&record)))
            case .globalAvgPoolQ8: parsed.encoderOps.append(.globalAvgPool(try GlobalAvgPoolOp.parse(&record)))
            case .conv1dF32: parsed.headOps.append(.conv1d(try Conv1DOp.parse(&record)))
            case .biGRUF32: parsed.headOps.append(.biGRU(try BiGRUOp.parse(&record)))
            case .linearF32: parsed.headOps.append(.linear(try LinearOp.parse(&record)))
            case .logSoftmaxF32: parsed.headOps.append(.logSoftmax(channels: try record.dimension(0, "channels")))
            }
            if !opcode.isEncoderOp {
                let op = parsed.headOps[parsed.headOps.count - 1]
                let expected = previousHeadChannels ?? parsed.tensors[parsed.featureTensor].channels
                guard op.inChannels == expected else {
                    throw fail(.impossibleShape, record.fieldsOffset, "op \(index) (\(op.name)) takes \(op.inChannels) channels, its input has \(expected)")
                }
                previousHeadChannels = op.outChannels
            }
        }

        guard let lastEncoderOp = parsed.encoderOps.last else {
            throw fail(.badRecord, section.offset, "the model has no encoder ops")
        }
        guard lastEncoderOp.output == parsed.featureTensor, case .globalAvgPool = lastEncoderOp else {
            throw fail(.badRecord, section.offset, "the last encoder op must be the global_avgpool_q8 that writes the feature tensor \(parsed.featureTensor)")
        }
        guard let headChannels = previousHeadChannels, case .logSoftmax = parsed.headOps[parsed.headOps.count - 1] else {
            throw fail(.badRecord, section.offset, "the temporal head must end with log_softmax_f32")
        }
        guard headChannels == parsed.numClasses else {
            throw fail(.impossibleShape, section.offset, "the temporal head ends with \(headChannels) channels, META num_classes is \(parsed.numClasses)")
        }
        // Shapes at the model's own input size must work; other sizes are checked when chosen.
        _ = try ShapeInference.encoderShapes(
            tensors: parsed.tensors, ops: parsed.encoderOps, inputHeight: parsed.inputHeight,
            inputWidth: parsed.inputWidth, featureTensor: parsed.featureTensor, path: path)
    }

    /// Walks an op list (`OPS ` or `LOPS`: u32 count, then records): checks each record's opcode,
    /// size and bounds, then hands it to `parse` (with the record's file offset), tracking which
    /// tensors earlier ops wrote. `encoderOnly` refuses the temporal head's opcodes.
    private func forEachOpRecord(_ section: Section, name: String, labelPrefix: String, data: Section, tensors: [TensorInfo],
                                 encoderOnly: Bool,
                                 _ parse: (Opcode, Int, inout OpRecord) throws(ModelError) -> Void) throws(ModelError) {
        let count = Int(try u32(section.offset))
        let end = section.offset + section.size
        var cursor = section.offset + 4
        var written = [Bool](repeating: false, count: tensors.count)
        written[0] = true
        for index in 0..<count {
            let label = "\(labelPrefix) \(index)"
            guard cursor + 8 <= end else {
                throw fail(.sectionTooShort, cursor, "\(name) ends before op \(index) of \(count)")
            }
            let code = try u32(cursor)
            guard let opcode = Opcode(rawValue: code) else {
                throw fail(.unknownOpcode, cursor, "\(label) has unknown opcode \(code)")
            }
            guard !encoderOnly || opcode.isEncoderOp else {
                throw fail(.badRecord, cursor, "\(label) is \(opcode.name), expected an int8 encoder op (opcodes 1-3)")
            }
            let recordSize = Int(try u32(cursor + 4))
            guard recordSize == 8 + 4 * opcode.fieldCount else {
                throw fail(.badRecord, cursor + 4, "\(label) (opcode \(code)) record is \(recordSize) bytes, expected \(8 + 4 * opcode.fieldCount)")
            }
            guard cursor + recordSize <= end else {
                throw fail(.sectionTooShort, cursor, "\(label) runs past the end of \(name)")
            }
            var record = OpRecord(parser: self, index: index, label: label, opcode: opcode, fieldsOffset: cursor + 8,
                                  data: data, tensors: tensors, written: written)
            try parse(opcode, cursor, &record)
            written = record.written
            cursor += recordSize
        }
    }

    /// The hand localiser (`LMET`, `LTEN`, `LOPS`, format 1.2): all three sections or none.
    private func parseLocaliser(_ sections: [String: Section], data: Section) throws(ModelError) -> Localiser? {
        let names = ["LMET", "LTEN", "LOPS"]
        guard let present = names.first(where: { sections[$0] != nil }) else { return nil }
        var found: [Section] = []
        for name in names {
            guard let section = sections[name] else {
                throw fail(.missingSection, Model.headerSize,
                           "section '\(present)' is there but '\(name)' is missing (the localiser's LMET, LTEN and LOPS come together)")
            }
            found.append(section)
        }
        let meta = found[0], tensorSection = found[1], opSection = found[2]
        guard meta.size >= Localiser.metaSize else {
            throw fail(.sectionTooShort, meta.offset, "LMET is \(meta.size) bytes, expected \(Localiser.metaSize)")
        }
        let base = meta.offset
        func size(_ field: Int, _ name: String) throws(ModelError) -> Int {
            let value = Int(try u32(base + field))
            guard (1...Model.maximumInputSize).contains(value) else {
                throw fail(.badMeta, base + field, "LMET \(name) is \(value), expected 1 to \(Model.maximumInputSize)")
            }
            return value
        }
        let inputHeight = try size(0, "input_height"), inputWidth = try size(4, "input_width")
        let inputChannels = Int(try u32(base + 8))
        guard inputChannels == 3 else {
            throw fail(.badMeta, base + 8, "LMET input_channels is \(inputChannels), expected 3 (RGB)")
        }
        let lut: UnsafePointer<Int8> = try array(data: data, offset: Int(try u32(base + 12)), byteCount: Model.inputLUTBytes,
                                                  field: base + 12, what: "localiser input LUT")
        let presenceLogit = try f32(base + 24)
        guard presenceLogit.isFinite else {
            throw fail(.badMeta, base + 24, "LMET presence_logit is \(presenceLogit), expected a finite number")
        }
        let interval = Int(try u32(base + 28))
        guard (1...Localiser.maximumInterval).contains(interval) else {
            throw fail(.badMeta, base + 28, "LMET interval is \(interval), expected 1 to \(Localiser.maximumInterval) frames")
        }
        try requireZero(base + 32, bytes: Localiser.metaSize - 32, "LMET bytes 32-63", kind: .badMeta)

        let tensors = try parseTensors(tensorSection, name: "LTEN")
        guard tensors[0].channels == inputChannels else {
            throw fail(.badTensor, tensorSection.offset + 4, "LTEN tensor 0 (the localiser's input) has \(tensors[0].channels) channels, LMET says \(inputChannels)")
        }
        func outputTensor(_ field: Int, _ name: String, channels: Int) throws(ModelError) -> Int {
            let id = Int(try u32(base + field))
            guard id >= 1, id < tensors.count else {
                throw fail(.badMeta, base + field, "LMET \(name) is tensor \(id), expected an LTEN tensor written by an op (1 to \(tensors.count - 1))")
            }
            guard tensors[id].channels == channels else {
                throw fail(.badMeta, base + field, "LMET \(name) is tensor \(id) of \(tensors[id].channels) channels, expected \(channels)")
            }
            return id
        }
        let heatTensor = try outputTensor(16, "heat_tensor", channels: 1)
        let boxTensor = try outputTensor(20, "box_tensor", channels: 4)
        guard heatTensor != boxTensor else {
            throw fail(.badMeta, base + 20, "LMET box_tensor is the heat tensor \(heatTensor), expected another")
        }

        // LOPS: OPS's layout, encoder ops only.
        let count = Int(try u32(opSection.offset))
        guard count >= 1 else { throw fail(.badRecord, opSection.offset, "LOPS has no ops, expected at least one") }
        var ops: [EncoderOp] = []
        try forEachOpRecord(opSection, name: "LOPS", labelPrefix: "LOPS op", data: data, tensors: tensors, encoderOnly: true) {
            (opcode: Opcode, _: Int, record: inout OpRecord) throws(ModelError) in
            switch opcode {
            case .conv2dQ8: ops.append(.conv2d(try Conv2DOp.parse(&record)))
            case .maxPool2dQ8: ops.append(.maxPool2d(try MaxPool2DOp.parse(&record)))
            case .globalAvgPoolQ8: ops.append(.globalAvgPool(try GlobalAvgPoolOp.parse(&record)))
            default: break  // refused by encoderOnly
            }
        }
        let shapes = try ShapeInference.encoderShapes(
            tensors: tensors, ops: ops, inputHeight: inputHeight, inputWidth: inputWidth, featureTensor: nil, path: path,
            label: "LOPS op", network: "the localiser", offset: opSection.offset)
        let heat = shapes[heatTensor], box = shapes[boxTensor]
        guard heat.height == box.height, heat.width == box.width else {
            throw fail(.impossibleShape, base + 20, "LMET box_tensor \(boxTensor) is \(box), expected the heatmap's \(heat.height)x\(heat.width) with 4 channels")
        }
        return Localiser(inputHeight: inputHeight, inputWidth: inputWidth, inputChannels: inputChannels, inputLUT: lut,
                         heatTensor: heatTensor, boxTensor: boxTensor, presenceLogit: presenceLogit, interval: interval,
                         tensors: tensors, ops: ops, shapes: shapes)
    }

    /// The UTF-8 text in `bytes[start..<end]`, which must be valid and free of control
    /// characters (C0, DEL, C1): they would reach the terminal raw, and a newline in a symbol
    /// breaks "the letters are the last line". Errors name the first offending byte.
    private func printableText(_ start: Int, _ end: Int, what: String, kind: ModelError.Kind = .badMeta) throws(ModelError) -> String {
        let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
        let text = String(decoding: raw, as: UTF8.self)
        // Decoding replaces invalid UTF-8, so any difference from the bytes means they were invalid.
        guard text.utf8.elementsEqual(raw) else {
            var offset = start
            for (position, pair) in zip(text.utf8, raw).enumerated() where pair.0 != pair.1 {
                offset = start + position
                break
            }
            throw fail(kind, offset, "\(what) is not valid UTF-8 text")
        }
        var offset = start
        for scalar in text.unicodeScalars {
            let value = scalar.value
            guard value >= 0x20, !(0x7F...0x9F).contains(value) else {
                throw fail(kind, offset, "\(what) contains the control character U+\(hex4(value)), expected printable text")
            }
            offset += UTF8.width(scalar)
        }
        return text
    }

    private func hex4(_ value: UInt32) -> String {
        let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "A", "B", "C", "D", "E", "F"]
        var text = ""
        for nibble in (0..<4).reversed() { text.append(digits[Int((value >> (4 * UInt32(nibble))) & 0xF)]) }
        return text
    }

    /// A reserved field, which the spec says is zero (so a later version can give it a meaning).
    private func requireZero(_ offset: Int, bytes count: Int, _ what: String, kind: ModelError.Kind) throws(ModelError) {
        for position in offset..<offset + count where bytes[position] != 0 {
            throw fail(kind, position, "\(what) is not zero (reserved)")
        }
    }

    private func hex(_ value: UInt32) -> String {
        let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
        var text = "0x"
        for nibble in (0..<8).reversed() { text.append(digits[Int((value >> (4 * UInt32(nibble))) & 0xF)]) }
        return text
    }
}
