// dactyl-fuzz: the libFuzzer targets for every reader of outside input (fuzz/README.md).
//
//     dactyl-fuzz TARGET [libFuzzer flags] [corpus folders]
//
// The targets are in Targets.swift; fuzz.c has libFuzzer's entry points. Whichever `main` the
// linker keeps (this one, or libFuzzer's own), the driver starts with LLVMFuzzerInitialize.
import CDactylFuzz
import Glibc

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput))
