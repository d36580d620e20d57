import CDactylBuiltIn
import CDactylPlatform

/// Where `dactyl` looks for its model when `--model` is not given, in order:
/// $DACTYL_MODEL; the model built into the binary (builds with DACTYL_EMBED_MODEL);
/// `share/dactyl/default.dmdl` beside the installed binary's `bin/`; `models/default.dmdl` in a
/// folder above the binary (a build inside the repository); `models/default.dmdl` in the current folder.
enum DefaultModel {
    static let relativePath = "models/default.dmdl"
    static let builtInName = "built-in default model"

    /// The built-in model's bytes, unless $DACTYL_MODEL overrides it or the build has none.
    static func builtIn() -> UnsafeRawBufferPointer? {
        let blob = dactyl_builtin_default_model()
        guard dactyl_getenv("DACTYL_MODEL") == nil, blob.count > 0 else { return nil }
        return UnsafeRawBufferPointer(start: blob.bytes, count: blob.count)
    }

    static var isAvailable: Bool { builtIn() != nil || path() != nil }

    static func path() -> String? {
        if let variable = dactyl_getenv("DACTYL_MODEL") {
            return String(cString: variable)
        }
        return InstalledFile.find(relativePath, installedAs: "share/dactyl/default.dmdl")
    }
}

/// Finds a file that ships with `dactyl` (the default model, board profiles): installed under
/// the prefix beside the binary's `bin/`, else in the repository the binary was built in (a
/// folder above it), else relative to the current folder.
enum InstalledFile {
    /// `relativePath` as in the repository (e.g. `board/pi5.conf`); `installedPath` under the prefix.
    static func find(_ relativePath: String, installedAs installedPath: String) -> String? {
        var candidates: [String] = []
        if let executable = executablePath() {
            var folder = parent(executable)
            candidates.append(parent(folder) + "/" + installedPath)
            while !folder.isEmpty {
                candidates.append(folder + "/" + relativePath)
                folder = parent(folder)
            }
        }
        candidates.append(relativePath)
        return candidates.first { dactyl_is_readable_file($0) != 0 }
    }

    private static func executablePath() -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = buffer.withUnsafeMutableBufferPointer { dactyl_executable_path($0.baseAddress, $0.count) }
        guard length > 0 else { return nil }
        return String(decoding: buffer.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// "/a/b/c" -> "/a/b"; "/a" -> "".
    private static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[..<slash])
    }
}
