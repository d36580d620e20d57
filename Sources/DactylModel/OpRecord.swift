/// The op codes of docs/model-format.md, "OPS ". Each op type's fields are read by its own
/// `parse(_:)` beside its definition (ModelTypes.swift); adding an op means a case here, its
/// type with `fieldCount` and `parse`, and one line in `ModelParser.parseOps`.
public enum Opcode: UInt32, Sendable {
    case conv2dQ8 = 1
    case maxPool2dQ8 = 2
    case globalAvgPoolQ8 = 3
    case conv1dF32 = 16
    case biGRUF32 = 17
    case linearF32 = 18
    case logSoftmaxF32 = 19

    /// Ops below 16 run per frame in the int8 encoder; the others form the fp32 temporal head.
    public var isEncoderOp: Bool { rawValue < 16 }

    /// 4-byte fields after the record's 8-byte header.
    var fieldCount: Int {
        switch self {
        case .conv2dQ8: Conv2DOp.fieldCount
        case .maxPool2dQ8: MaxPool2DOp.fieldCount
        case .globalAvgPoolQ8: GlobalAvgPoolOp.fieldCount
        case .conv1dF32: Conv1DOp.fieldCount
        case .biGRUF32: BiGRUOp.fieldCount
        case .linearF32: LinearOp.fieldCount
        case .logSoftmaxF32: 1
        }
    }

    public var name: String {
        switch self {
        case .conv2dQ8: "conv2d_q8"
        case .maxPool2dQ8: "maxpool2d_q8"
        case .globalAvgPoolQ8: "global_avgpool_q8"
        case .conv1dF32: "conv1d_f32"
        case .biGRUF32: "bigru_f32"
        case .linearF32: "linear_f32"
        case .logSoftmaxF32: "log_softmax_f32"
        }
    }
}

/// One op record being parsed: reads its fields with bounds, tensor-reference and value checks,
/// and turns array offsets into typed views of DATA. Every array size goes through
/// `CheckedSize` before it is compared with DATA, so no field value can make it overflow.
struct OpRecord {
    let parser: ModelParser
    /// The op's position in its list, for messages.
    let index: Int
    /// How messages name the op: "op 3" (OPS) or "LOPS op 3" (the localiser's).
    let label: String
    let opcode: Opcode
    /// File offset of field 0.
    let fieldsOffset: Int
    let data: ModelParser.Section
    let tensors: [TensorInfo]
    /// Which encoder tensors an earlier op (or the input) has written.
    var written: [Bool]

    /// Largest value of a size field (channels, kernel, stride): the spec allows no more.
    static let maximumDimension = 65536

    func fieldOffset(_ n: Int) -> Int { fieldsOffset + 4 * n }

    func fail(_ kind: ModelError.Kind, field n: Int, _ detail: String) -> ModelError {
        ModelError(kind, path: parser.path, offset: fieldOffset(n), "\(label) (\(opcode.name)): \(detail)")
    }

    func field(_ n: Int) throws(ModelError) -> Int {
        guard n < opcode.fieldCount else {
            throw fail(.badRecord, field: n, "reads field \(n) of \(opcode.fieldCount)")
        }
        return Int(try parser.u32(fieldOffset(n)))
    }

    func signedField(_ n: Int) throws(ModelError) -> Int32 { Int32(truncatingIfNeeded: try field(n)) }

    /// A size: 1 to `maximumDimension`.
    func dimension(_ n: Int, _ name: String) throws(ModelError) -> Int {
        let value = try field(n)
        guard value >= 1, value <= OpRecord.maximumDimension else {
            throw fail(.impossibleShape, field: n, "\(name) is \(value), expected 1 to \(OpRecord.maximumDimension)")
        }
        return value
    }

    func flag(_ n: Int, _ name: String) throws(ModelError) -> Bool {
        let value = try field(n)
        guard value <= 1 else { throw fail(.badRecord, field: n, "\(name) is \(value), expected 0 or 1") }
        return value == 1
    }

    func shift(_ n: Int) throws(ModelError) -> Int32 {
        let value = try signedField(n)
        guard (1...62).contains(value) else { throw fail(.badQuantization, field: n, "shift \(value), expected 1 to 62") }
        return value
    }

    func multiplier(_ n: Int) throws(ModelError) -> Int32 {
        let value = try signedField(n)
        guard value >= 0 else { throw fail(.badQuantization, field: n, "multiplier \(value), expected 0 to 2^31-1") }
        return value
    }

    func readTensor(_ n: Int) throws(ModelError) -> Int {
        let id = try field(n)
        guard id < written.count else {
            throw fail(.badTensorReference, field: n, "reads tensor \(id), there are \(written.count)")
        }
        guard written[id] else { throw fail(.badTensorReference, field: n, "reads tensor \(id) before any op writes it") }
        return id
    }

    mutating func writeTensor(_ n: Int) throws(ModelError) -> Int {
        let id = try field(n)
        guard id < written.count else {
            throw fail(.badTensorReference, field: n, "writes tensor \(id), there are \(written.count)")
        }
        guard !written[id] else { throw fail(.badTensorReference, field: n, "writes tensor \(id), which is already written") }
        written[id] = true
        return id
    }

    /// The array whose DATA offset is field `n`: `count` elements (nil: the size overflowed).
    func array<Element>(_ n: Int, count: Int?, _ what: String) throws(ModelError) -> UnsafePointer<Element> {
        guard let count, let byteCount = CheckedSize.product(count, MemoryLayout<Element>.stride) else {
            throw fail(.badArray, field: n, "\(what) is larger than any file can hold")
        }
        return try parser.array(data: data, offset: try field(n), byteCount: byteCount, field: fieldOffset(n),
                                what: "\(label) (\(opcode.name)) \(what)")
    }
}
