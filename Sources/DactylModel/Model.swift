import CDactylPlatform

/// A validated model file (docs/model-format.md). Everything is checked when it is loaded;
/// after that, the runtime trusts it.
///
/// `load` copies the file into memory the process owns (models are 1-30 MB) instead of mapping
/// it: a mapped file that is truncated or rewritten in place (`cp new.dmdl default.dmdl` on a
/// running box) would kill the process with SIGBUS or change weights under it. Install new
/// models by writing a new file and renaming it over the old one.
public final class Model {
    public static let magic: StaticString = "DACTYLMD"
    public static let versionMajor = 1
    /// 1: the optional `RATE` section (the model's frame rate); 2: the optional hand localiser
    /// (`LMET`, `LTEN`, `LOPS`).
    public static let versionMinor = 2
    public static let headerSize = 64
    public static let sectionEntrySize = 32
    public static let alignment = 64
    public static let metaSize = 128
    public static let inputLUTBytes = 3 * 256
    public static let rateSize = 16
    /// Largest encoder input height or width, in the file and at run time.
    public static let maximumInputSize = 8192

    public let path: String
    public let versionMinor: Int
    public let inputHeight: Int
    public let inputWidth: Int
    public let inputChannels: Int
    public let numClasses: Int
    public let blankIndex: Int
    public let defaultWindow: Int
    public let defaultCrop: CropThousandths
    public let mean: [Float]
    public let std: [Float]
    /// int8 [3][256]: the input quantisation of an 8-bit R, G or B value.
    public let inputLUT: UnsafePointer<Int8>
    public let featureTensor: Int
    /// Symbol of class i + 1 (class 0 is the CTC blank), UTF-8.
    public let alphabet: [String]
    public let info: String
    /// The frame rate the temporal head was trained at (`RATE`; 30 frames/s in files without it):
    /// sources at other rates are resampled to it.
    public let frameRate: FrameRate
    /// Whether the file has a `RATE` section (false: `frameRate` is the assumed 30).
    public let frameRateIsRecorded: Bool
    public let tensors: [TensorInfo]
    public let encoderOps: [EncoderOp]
    public let headOps: [HeadOp]
    /// The hand localiser (`--crop auto`), nil in a file without one.
    public let localiser: Localiser?
    /// Size of the whole file.
    public let fileBytes: Int

    private let storage: UnsafeRawPointer
    private let ownsStorage: Bool

    /// Reads the file at `path` into memory of its own and validates it. A FIFO, device or
    /// directory is refused without waiting on it.
    public static func load(path: String) throws(ModelError) -> Model {
        var size = 0
        var errorNumber: Int32 = 0
        guard let address = dactyl_read_file(path, Model.alignment, &size, &errorNumber) else {
            let reason = String(cString: dactyl_error_text(errorNumber))
            throw ModelError(.cannotOpen, path: path, offset: 0, "cannot open model file: \(reason)")
        }
        do {
            return try Model(bytes: UnsafeRawBufferPointer(start: address, count: size), path: path, ownsStorage: true)
        } catch {
            dactyl_free(address)
            throw error
        }
    }

    /// Validates a model that lives in memory the caller keeps alive (e.g. one built into the
    /// binary); `path` names it in errors.
    public static func borrowing(bytes: UnsafeRawBufferPointer, path: String) throws(ModelError) -> Model {
        try Model(bytes: bytes, path: path, ownsStorage: false)
    }

    deinit {
        if ownsStorage { dactyl_free(UnsafeMutableRawPointer(mutating: storage)) }
    }

    private init(bytes: UnsafeRawBufferPointer, path: String, ownsStorage: Bool) throws(ModelError) {
        let parsed = try ModelParser(bytes: bytes, path: path).parse()
        self.path = path
        self.storage = bytes.baseAddress ?? UnsafeRawPointer(bitPattern: Model.alignment)!
        self.ownsStorage = ownsStorage
        self.fileBytes = bytes.count
        self.versionMinor = parsed.versionMinor
        self.inputHeight = parsed.inputHeight
        self.inputWidth = parsed.inputWidth
        self.inputChannels = parsed.inputChannels
        self.numClasses = parsed.numClasses
        self.blankIndex = parsed.blankIndex
        self.defaultWindow = parsed.defaultWindow
        self.defaultCrop = parsed.defaultCrop
        self.mean = parsed.mean
        self.std = parsed.std
        self.inputLUT = parsed.inputLUT
        self.featureTensor = parsed.featureTensor
        self.alphabet = parsed.alphabet
        self.info = parsed.info
        self.frameRate = parsed.frameRate ?? FrameRate.assumedWithoutRATE
        self.frameRateIsRecorded = parsed.frameRate != nil
        self.tensors = parsed.tensors
        self.encoderOps = parsed.encoderOps
        self.headOps = parsed.headOps
        self.localiser = parsed.localiser
    }

    /// Length of the per-frame feature vector.
    public var featureSize: Int { tensors[featureTensor].channels }

    /// Every encoder tensor's shape for an input of `inputHeight` x `inputWidth`; errors if
    /// the ops cannot run at that size (e.g. a feature map shrinks below 1x1).
    public func encoderShapes(inputHeight: Int, inputWidth: Int) throws(ModelError) -> [TensorShape] {
        try ShapeInference.encoderShapes(
            tensors: tensors, ops: encoderOps, inputHeight: inputHeight, inputWidth: inputWidth,
            featureTensor: featureTensor, path: path)
    }
}
