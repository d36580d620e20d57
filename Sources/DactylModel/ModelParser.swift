/// Parses and validates a model file's bytes (docs/model-format.md). Every read is bounds-checked
/// and every failure is a `ModelError` naming the offset; nothing here can trap on bad input.
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
        var tensors: [TensorInfo] = []
        var encoderOps: [EncoderOp] = []
        var headOps: [HeadOp] = []
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

    private func u32(_ offset: Int) throws(ModelError) -> UInt32 {
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
        parsed.alphabet = try parseAlphabet(try section("ALPH"), expected: parsed.numClasses - 1)
        if let info = sections["INFO"] {
            parsed.info = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[info.offset..<info.offset + info.size]), as: UTF8.self)
        }
        parsed.tensors = try parseTensors(try section("TENS"))
        guard parsed.tensors[0].channels == parsed.inputChannels else {
            throw fail(.badTensor, try section("TENS").offset + 4, "tensor 0 (the input) has \(parsed.tensors[0].channels) channels, META says \(parsed.inputChannels)")
        }
        guard parsed.featureTensor < parsed.tensors.count else {
            throw fail(.badMeta, try section("META").offset + 68, "feature tensor \(parsed.featureTensor) does not exist (\(parsed.tensors.count) tensors)")
        }
        try parseOps(try section("OPS "), data: data, into: &parsed)
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
        let lut: UnsafePointer<Int8> = try array(data: data, offset: lutOffset, count: Model.inputLUTBytes, field: base + 64, what: "input LUT")
        var parsed = Parsed(inputLUT: lut)
        parsed.inputHeight = try positive(0, "input_height", max: 8192)
        parsed.inputWidth = try positive(4, "input_width", max: 8192)
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
        return parsed
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
            let raw = UnsafeRawBufferPointer(rebasing: bytes[cursor + 1..<cursor + 1 + length])
            let symbol = String(decoding: raw, as: UTF8.self)
            // Decoding replaces invalid UTF-8, so a changed byte count means the symbol was invalid.
            guard symbol.utf8.count == length, !raw.contains(0) else {
                throw fail(.badAlphabet, cursor + 1, "symbol \(index) is not valid UTF-8 text")
            }
            guard !symbols.contains(symbol) else {
                throw fail(.badAlphabet, cursor + 1, "symbol \(index) '\(symbol)' appears twice")
            }
            symbols.append(symbol)
            cursor += 1 + length
        }
        return symbols
    }

    private func parseTensors(_ section: Section) throws(ModelError) -> [TensorInfo] {
        let count = Int(try u32(section.offset))
        guard count >= 2, count <= 4096 else {
            throw fail(.badTensor, section.offset, "tensor count \(count), expected 2 to 4096")
        }
        guard 4 + count * 16 <= section.size else {
            throw fail(.sectionTooShort, section.offset, "TENS declares \(count) tensors (\(4 + count * 16) bytes), the section has \(section.size)")
        }
        var tensors: [TensorInfo] = []
        for id in 0..<count {
            let entry = section.offset + 4 + id * 16
            let channels = Int(try u32(entry))
            let scale = try f32(entry + 4)
            let zeroPoint = try i32(entry + 8)
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

    /// A typed view of `count` elements at `offset` in DATA, checked for bounds and alignment.
    private func array<Element>(data: Section, offset: Int, count: Int, field: Int, what: String) throws(ModelError) -> UnsafePointer<Element> {
        let byteCount = count * MemoryLayout<Element>.stride
        guard offset % Model.alignment == 0 else {
            throw fail(.badArray, field, "\(what) at DATA offset \(offset) is not \(Model.alignment)-byte aligned")
        }
        guard offset >= 0, byteCount >= 0, offset <= data.size, byteCount <= data.size - offset else {
            throw fail(.badArray, field, "\(what) (\(byteCount) bytes at DATA offset \(offset)) lies outside DATA (\(data.size) bytes)")
        }
        return (bytes.baseAddress! + data.offset + offset).assumingMemoryBound(to: Element.self)
    }

    private func parseOps(_ section: Section, data: Section, into parsed: inout Parsed) throws(ModelError) {
        let count = Int(try u32(section.offset))
        let end = section.offset + section.size
        var cursor = section.offset + 4
        var written = [Bool](repeating: false, count: parsed.tensors.count)
        written[0] = true
        var previousHeadChannels: Int? = nil

        for index in 0..<count {
            guard cursor + 8 <= end else {
                throw fail(.sectionTooShort, cursor, "OPS ends before op \(index) of \(count)")
            }
            let opcode = try u32(cursor)
            let recordSize = Int(try u32(cursor + 4))
            let fieldCount: Int
            switch opcode {
            case 1: fieldCount = 16
            case 2: fieldCount = 8
            case 3: fieldCount = 4
            case 16: fieldCount = 6
            case 17: fieldCount = 10
            case 18: fieldCount = 4
            case 19: fieldCount = 1
            default:
                throw fail(.unknownOpcode, cursor, "op \(index) has unknown opcode \(opcode)")
            }
            guard recordSize == 8 + 4 * fieldCount else {
                throw fail(.badRecord, cursor + 4, "op \(index) (opcode \(opcode)) record is \(recordSize) bytes, expected \(8 + 4 * fieldCount)")
            }
            guard cursor + recordSize <= end else {
                throw fail(.sectionTooShort, cursor, "op \(index) runs past the end of OPS")
            }
            let fields = cursor + 8
            func field(_ n: Int) throws(ModelError) -> Int { Int(try u32(fields + 4 * n)) }
            func signedField(_ n: Int) throws(ModelError) -> Int32 { try i32(fields + 4 * n) }
            func positiveField(_ n: Int, _ name: String) throws(ModelError) -> Int {
                let value = try field(n)
                guard value >= 1, value <= 65536 else {
                    throw fail(.impossibleShape, fields + 4 * n, "op \(index): \(name) is \(value), expected 1 to 65536")
                }
                return value
            }
            func flag(_ n: Int, _ name: String) throws(ModelError) -> Bool {
                let value = try field(n)
                guard value <= 1 else {
                    throw fail(.badRecord, fields + 4 * n, "op \(index): \(name) is \(value), expected 0 or 1")
                }
                return value == 1
            }
            func shift(_ n: Int) throws(ModelError) -> Int32 {
                let value = try signedField(n)
                guard (1...62).contains(value) else {
                    throw fail(.badQuantization, fields + 4 * n, "op \(index): shift \(value), expected 1 to 62")
                }
                return value
            }
            func multiplier(_ n: Int) throws(ModelError) -> Int32 {
                let value = try signedField(n)
                guard value >= 0 else {
                    throw fail(.badQuantization, fields + 4 * n, "op \(index): multiplier \(value), expected 0 to 2^31-1")
                }
                return value
            }
            func readTensor(_ n: Int) throws(ModelError) -> Int {
                let id = try field(n)
                guard id < written.count else {
                    throw fail(.badTensorReference, fields + 4 * n, "op \(index) reads tensor \(id), there are \(written.count)")
                }
                guard written[id] else {
                    throw fail(.badTensorReference, fields + 4 * n, "op \(index) reads tensor \(id) before any op writes it")
                }
                return id
            }
            func writeTensor(_ n: Int) throws(ModelError) -> Int {
                let id = try field(n)
                guard id < written.count else {
                    throw fail(.badTensorReference, fields + 4 * n, "op \(index) writes tensor \(id), there are \(written.count)")
                }
                guard !written[id] else {
                    throw fail(.badTensorReference, fields + 4 * n, "op \(index) writes tensor \(id), which is already written")
                }
                written[id] = true
                return id
            }
            func floats(_ n: Int, count: Int, _ what: String) throws(ModelError) -> UnsafePointer<Float> {
                try array(data: data, offset: try field(n), count: count, field: fields + 4 * n, what: "op \(index) \(what)")
            }
            func int32s(_ n: Int, count: Int, _ what: String) throws(ModelError) -> UnsafePointer<Int32> {
                try array(data: data, offset: try field(n), count: count, field: fields + 4 * n, what: "op \(index) \(what)")
            }

            let isEncoderOp = opcode < 16
            if isEncoderOp, !parsed.headOps.isEmpty {
                throw fail(.badRecord, cursor, "op \(index) is an encoder op after the temporal head began")
            }
            switch opcode {
            case 1:
                let input = try readTensor(0)
                let residualId = try field(2)
                let residual: Int? = residualId == 0xFFFF_FFFF ? nil : try readTensor(2)
                let output = try writeTensor(1)
                let kernelHeight = try positiveField(3, "kernel_h"), kernelWidth = try positiveField(4, "kernel_w")
                let strideHeight = try positiveField(5, "stride_h"), strideWidth = try positiveField(6, "stride_w")
                let padHeight = try field(7), padWidth = try field(8)
                guard padHeight < kernelHeight, padWidth < kernelWidth else {
                    throw fail(.impossibleShape, fields + 28, "op \(index): padding \(padHeight)x\(padWidth) must be smaller than the kernel \(kernelHeight)x\(kernelWidth)")
                }
                let inChannels = parsed.tensors[input].channels
                let outChannels = parsed.tensors[output].channels
                let weights: UnsafePointer<Int8> = try array(
                    data: data, offset: try field(10), count: outChannels * kernelHeight * kernelWidth * inChannels,
                    field: fields + 40, what: "op \(index) conv2d weights")
                let shifts = try int32s(13, count: outChannels, "shifts")
                let multipliers = try int32s(12, count: outChannels, "multipliers")
                for channel in 0..<outChannels {
                    guard (1...62).contains(shifts[channel]), multipliers[channel] >= 0 else {
                        throw fail(.badQuantization, data.offset + (try field(13)) + 4 * channel,
                                   "op \(index): channel \(channel) multiplier \(multipliers[channel]) shift \(shifts[channel]), expected 0 to 2^31-1 and 1 to 62")
                    }
                }
                parsed.encoderOps.append(.conv2d(Conv2DOp(
                    input: input, output: output, residual: residual,
                    kernelHeight: kernelHeight, kernelWidth: kernelWidth,
                    strideHeight: strideHeight, strideWidth: strideWidth,
                    padHeight: padHeight, padWidth: padWidth,
                    relu: try flag(9, "relu"), inChannels: inChannels, outChannels: outChannels,
                    weights: weights, bias: try int32s(11, count: outChannels, "bias"),
                    multipliers: multipliers, shifts: shifts,
                    residualMultiplier: residual == nil ? 0 : try multiplier(14),
                    residualShift: residual == nil ? 1 : try shift(15))))
            case 2:
                let input = try readTensor(0)
                let output = try writeTensor(1)
                let kernelHeight = try positiveField(2, "kernel_h"), kernelWidth = try positiveField(3, "kernel_w")
                let padHeight = try field(6), padWidth = try field(7)
                guard padHeight < kernelHeight, padWidth < kernelWidth else {
                    throw fail(.impossibleShape, fields + 24, "op \(index): padding \(padHeight)x\(padWidth) must be smaller than the kernel \(kernelHeight)x\(kernelWidth)")
                }
                let inputInfo = parsed.tensors[input], outputInfo = parsed.tensors[output]
                guard inputInfo.scale == outputInfo.scale, inputInfo.zeroPoint == outputInfo.zeroPoint else {
                    throw fail(.badQuantization, fields + 4, "op \(index) (maxpool2d_q8): output tensor \(output) must share the input's scale and zero point")
                }
                parsed.encoderOps.append(.maxPool2d(MaxPool2DOp(
                    input: input, output: output, kernelHeight: kernelHeight, kernelWidth: kernelWidth,
                    strideHeight: try positiveField(4, "stride_h"), strideWidth: try positiveField(5, "stride_w"),
                    padHeight: padHeight, padWidth: padWidth)))
            case 3:
                let input = try readTensor(0)
                let output = try writeTensor(1)
                parsed.encoderOps.append(.globalAvgPool(GlobalAvgPoolOp(
                    input: input, output: output, multiplier: try multiplier(2), shift: try shift(3))))
            case 16:
                let inChannels = try positiveField(0, "in_channels"), outChannels = try positiveField(1, "out_channels")
                let kernel = try positiveField(2, "kernel")
                guard kernel % 2 == 1 else {
                    throw fail(.impossibleShape, fields + 8, "op \(index) (conv1d_f32): kernel \(kernel) must be odd")
                }
                parsed.headOps.append(.conv1d(Conv1DOp(
                    inChannels: inChannels, outChannels: outChannels, kernel: kernel, relu: try flag(3, "relu"),
                    weights: try floats(4, count: outChannels * kernel * inChannels, "conv1d weights"),
                    bias: try floats(5, count: outChannels, "conv1d bias"))))
            case 17:
                let inputSize = try positiveField(0, "input_size"), hidden = try positiveField(1, "hidden_size")
                func direction(_ first: Int, _ name: String) throws(ModelError) -> GRUWeights {
                    GRUWeights(
                        inputWeights: try floats(first, count: 3 * hidden * inputSize, "\(name) w_ih"),
                        hiddenWeights: try floats(first + 1, count: 3 * hidden * hidden, "\(name) w_hh"),
                        inputBias: try floats(first + 2, count: 3 * hidden, "\(name) b_ih"),
                        hiddenBias: try floats(first + 3, count: 3 * hidden, "\(name) b_hh"))
                }
                parsed.headOps.append(.biGRU(BiGRUOp(
                    inputSize: inputSize, hiddenSize: hidden,
                    forward: try direction(2, "forward"), backward: try direction(6, "backward"))))
            case 18:
                let inFeatures = try positiveField(0, "in_features"), outFeatures = try positiveField(1, "out_features")
                parsed.headOps.append(.linear(LinearOp(
                    inFeatures: inFeatures, outFeatures: outFeatures,
                    weights: try floats(2, count: outFeatures * inFeatures, "linear weights"),
                    bias: try floats(3, count: outFeatures, "linear bias"))))
            default: // 19
                parsed.headOps.append(.logSoftmax(channels: try positiveField(0, "channels")))
            }

            if !isEncoderOp {
                let op = parsed.headOps[parsed.headOps.count - 1]
                let expected = previousHeadChannels ?? parsed.tensors[parsed.featureTensor].channels
                guard op.inChannels == expected else {
                    throw fail(.impossibleShape, fields, "op \(index) (\(op.name)) takes \(op.inChannels) channels, its input has \(expected)")
                }
                previousHeadChannels = op.outChannels
            }
            cursor += recordSize
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

    private func hex(_ value: UInt32) -> String {
        let digits: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
        var text = "0x"
        for nibble in (0..<8).reversed() { text.append(digits[Int((value >> (4 * UInt32(nibble))) & 0xF)]) }
        return text
    }
}
