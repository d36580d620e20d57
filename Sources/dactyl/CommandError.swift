import CDactylBuiltIn
import DactylModel

/// How a command fails: a usage error (exit 2, with a hint to the help) or a failure of the
/// work itself (exit 1). Either is printed as one line on standard error.
enum CommandError: Error {
    case usage(String)
    case failed(String)

    static func parsing(_ words: ArraySlice<String>, valueOptions: [String], flagOptions: [String] = []) throws(CommandError) -> Arguments {
        do {
            return try Arguments(words, valueOptions: valueOptions, flagOptions: flagOptions)
        } catch {
            throw .usage(error.message)
        }
    }
}

/// The model at `path`, or the default model.
func loadModel(_ path: String?) throws(CommandError) -> Model {
    if path == nil, let builtIn = DefaultModel.builtIn() {
        do {
            return try Model.borrowing(bytes: builtIn, path: DefaultModel.builtInName)
        } catch {
            throw .failed(error.description)
        }
    }
    guard let path = path ?? DefaultModel.path() else {
        throw .failed("no model given and no default model found (looked for $DACTYL_MODEL and \(DefaultModel.relativePath)); use --model FILE")
    }
    do {
        return try Model.load(path: path)
    } catch {
        throw .failed(error.description)
    }
}
