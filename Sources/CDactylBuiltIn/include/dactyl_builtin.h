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
// The hand localiser's golden vectors (Tests/golden/localiser, make_localiser_golden.py): a tiny
// model with a localiser, three frames, the reference's int8 heat and box maps per frame.
dactyl_builtin_blob dactyl_builtin_golden_localiser_model(void);
dactyl_builtin_blob dactyl_builtin_golden_localiser_clip(void);
dactyl_builtin_blob dactyl_builtin_golden_localiser_heat0(void);
dactyl_builtin_blob dactyl_builtin_golden_localiser_heat1(void);
dactyl_builtin_blob dactyl_builtin_golden_localiser_heat2(void);
dactyl_builtin_blob dactyl_builtin_golden_localiser_box0(void);
dactyl_builtin_blob dactyl_builtin_golden_localiser_box1(void);
dactyl_builtin_blob dactyl_builtin_golden_localiser_box2(void);
dactyl_builtin_blob dactyl_builtin_default_model(void);    // empty unless built with DACTYL_EMBED_MODEL

#endif
