// Workaround for a bug in the Embedded Swift runtime of Swift 6.3.x (fixed upstream by
// swiftlang/swift PR #91151, "[Embedded] Don't corrupt the pointer returned from
// swift_bridgeObjectRetain_n", not in the 6.3.1 toolchain used here).
//
// The Embedded runtime's swift_bridgeObjectRetain / swift_bridgeObjectRetain_n return the
// *masked* object (bits & 0x8fff_ffff_ffff_fff8) instead of their argument. IRGen declares both
// with LLVM's `returned` attribute ("the result is the first argument"), and the AArch64 back
// end takes it at its word: after the call it keeps using x0 instead of the saved argument.
// For a small String the BridgeObject word *is* the string's data plus its discriminator, so
// the retain wipes the discriminator's isSmall/isASCII bits (0xEE.. -> 0x8E..) and the next
// String operation treats the characters as a heap pointer and crashes (seen as a SIGSEGV in
// String.count under `dactyl inspect` and `dactyl decode`). x86_64 does not use `returned`
// that way, which is why the host's EMBEDDED=1 build works.
//
// The Embedded runtime's functions are emitted into every Swift object file as WEAK symbols,
// so these strong definitions, linked into the aarch64 binary by cross/build.sh, replace
// them. They do the same retain through the runtime's own swift_retain_n and return the
// argument unchanged, as the regular runtime does and as the upstream fix does.
#include <stdint.h>

void *swift_retain_n(void *object, uint32_t n);

// HeapObject.bridgeObjectToPlainObjectMask of the Embedded runtime (64-bit).
#define DACTYL_BRIDGE_OBJECT_TO_PLAIN_OBJECT_MASK UINT64_C(0x8ffffffffffffff8)

void *swift_bridgeObjectRetain_n(void *object, uint32_t n) {
    uint64_t bits = (uint64_t)(uintptr_t)object;
    // Immortal / tagged values (bit 63, e.g. small strings) and null are skipped by swift_retain_n.
    (void)swift_retain_n((void *)(uintptr_t)(bits & DACTYL_BRIDGE_OBJECT_TO_PLAIN_OBJECT_MASK), n);
    return object;
}

void *swift_bridgeObjectRetain(void *object) {
    return swift_bridgeObjectRetain_n(object, 1);
}
