/// Everything that can be wrong with a model file. Each error names the file, the byte offset
/// where the problem was found and what was expected there; the CLI prints `description`.
public struct ModelError: Error, Equatable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        case cannotOpen
        case truncated
        case badMagic
        case unsupportedVersion
        case badHeader
        case fileSizeMismatch
        case badSectionTable
        case checksumMismatch
        case missingSection
        case sectionTooShort
        case badMeta
        case badAlphabet
        case badTensor
        case unknownOpcode
        case badRecord
        case badTensorReference
        case badArray
        case impossibleShape
        case badQuantization
        /// The memory plan for a run configuration (window, input size, beam) exceeds the
        /// arena limit; about the configuration, not a place in the file.
        case exceedsMemoryLimit
    }

    public let kind: Kind
    public let path: String
    public let offset: Int
    public let detail: String

    public init(_ kind: Kind, path: String, offset: Int, _ detail: String) {
        self.kind = kind
        self.path = path
        self.offset = offset
        self.detail = detail
    }

    public var description: String {
        kind == .cannotOpen || kind == .exceedsMemoryLimit ? "\(path): \(detail)" : "\(path): offset \(offset): \(detail)"
    }
}
