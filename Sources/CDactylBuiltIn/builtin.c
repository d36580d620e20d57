#include "dactyl_builtin.h"

// .incbin copies a file into .rodata at build time (the paths come from Package.swift), which
// keeps binary data out of generated source files. 64-byte alignment keeps a model's weights
// aligned as the format requires.
#define DACTYL_EMBED(name, path)                                     \
    __asm__(".section .rodata\n"                                     \
            ".balign 64\n"                                           \
            ".global dactyl_builtin_" #name "_start\n"               \
            "dactyl_builtin_" #name "_start:\n"                      \
            ".incbin \"" path "\"\n"                                 \
            ".global dactyl_builtin_" #name "_end\n"                 \
            "dactyl_builtin_" #name "_end:\n"                        \
            ".byte 0\n"                                              \
            ".previous\n");                                          \
    extern const unsigned char dactyl_builtin_##name##_start[];      \
    extern const unsigned char dactyl_builtin_##name##_end[];        \
    dactyl_builtin_blob dactyl_builtin_##name(void) {                \
        dactyl_builtin_blob blob = {dactyl_builtin_##name##_start,   \
            (size_t)(dactyl_builtin_##name##_end - dactyl_builtin_##name##_start)}; \
        return blob;                                                 \
    }

DACTYL_EMBED(golden_model, DACTYL_GOLDEN_DIR "/tiny.dmdl")
DACTYL_EMBED(golden_clip, DACTYL_GOLDEN_DIR "/clip420.y4m")
DACTYL_EMBED(golden_features, DACTYL_GOLDEN_DIR "/clip420.features.bin")
DACTYL_EMBED(golden_selftest, DACTYL_GOLDEN_DIR "/selftest.txt")
DACTYL_EMBED(golden_localiser_model, DACTYL_GOLDEN_DIR "/localiser/tiny-localiser.dmdl")
DACTYL_EMBED(golden_localiser_clip, DACTYL_GOLDEN_DIR "/localiser/frames.y4m")
DACTYL_EMBED(golden_localiser_heat0, DACTYL_GOLDEN_DIR "/localiser/frame0.heat.bin")
DACTYL_EMBED(golden_localiser_heat1, DACTYL_GOLDEN_DIR "/localiser/frame1.heat.bin")
DACTYL_EMBED(golden_localiser_heat2, DACTYL_GOLDEN_DIR "/localiser/frame2.heat.bin")
DACTYL_EMBED(golden_localiser_box0, DACTYL_GOLDEN_DIR "/localiser/frame0.box.bin")
DACTYL_EMBED(golden_localiser_box1, DACTYL_GOLDEN_DIR "/localiser/frame1.box.bin")
DACTYL_EMBED(golden_localiser_box2, DACTYL_GOLDEN_DIR "/localiser/frame2.box.bin")

#ifdef DACTYL_DEFAULT_MODEL_FILE
DACTYL_EMBED(default_model, DACTYL_DEFAULT_MODEL_FILE)
#else
dactyl_builtin_blob dactyl_builtin_default_model(void) {
    dactyl_builtin_blob none = {0, 0};
    return none;
}
#endif
