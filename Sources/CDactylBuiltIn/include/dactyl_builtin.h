// Data built into the binary: the golden vectors (Tests/golden, made by make_golden.py from the
// numpy reference) so that `dactyl selftest` needs no files on a freshly installed board, and,
// in builds that ask for it (DACTYL_EMBED_MODEL), a default model.
#ifndef DACTYL_BUILTIN_H
#define DACTYL_BUILTIN_H
#include <stddef.h>

typedef struct {
    const unsigned char *bytes;
    size_t count;  // 0: not built in
} dactyl_builtin_blob;

dactyl_builtin_blob dactyl_builtin_golden_model(void);     // tiny.dmdl
dactyl_builtin_blob dactyl_builtin_golden_clip(void);      // clip420.y4m
dactyl_builtin_blob dactyl_builtin_golden_features(void);  // clip420.features.bin
dactyl_builtin_blob dactyl_builtin_golden_selftest(void);  // selftest.txt: crop and expected letters
dactyl_builtin_blob dactyl_builtin_default_model(void);    // empty unless built with DACTYL_EMBED_MODEL

#endif
