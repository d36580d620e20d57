// JPEG encoding of preview frames (`dactyl run --preview`) with libjpeg-turbo: baseline, 4:2:0,
// from planar YCbCr (libjpeg's raw-data input: no colour conversion, no resampling). Everything
// the encoder needs is allocated by dactyl_jpeg_create; encoding a frame allocates nothing
// (libjpeg's per-image memory comes from a fixed arena that each frame reuses).
#ifndef DACTYL_JPEG_H
#define DACTYL_JPEG_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// The planar frame the encoder reads: full-range 4:2:0, each plane padded to whole 16x16
// (luma) and 8x8 (chroma) blocks by repeating the last column and row.
typedef struct {
    int32_t width, height;          // the picture
    int32_t luma_stride, luma_rows;  // the padded luma plane
    int32_t chroma_stride, chroma_rows;
    size_t bytes;                   // Y, then Cb, then Cr
} dactyl_jpeg_layout;
dactyl_jpeg_layout dactyl_jpeg_layout_for(int32_t width, int32_t height);

// Copies a frame into `destination` (laid out as `layout`), taking every `scale`-th pixel
// (1, 2, 4: the preview of a large camera picture), from any of the sources' layouts: planar,
// semi-planar (uv_step 2) or packed YUYV (y_step 2, uv_step 4), chroma subsampled by
// 1 << chroma_shift_x horizontally and 1 << chroma_shift_y vertically; limited-range codes
// (full_range 0) are stretched to full range, which JPEG (JFIF) expects.
void dactyl_jpeg_copy_frame(uint8_t *destination, dactyl_jpeg_layout layout, int32_t scale,
                            const uint8_t *y, long y_stride, int32_t y_step,
                            const uint8_t *u, const uint8_t *v, long uv_stride, int32_t uv_step,
                            int32_t chroma_shift_x, int32_t chroma_shift_y, int32_t full_range);

typedef struct dactyl_jpeg dactyl_jpeg;
// An encoder for frames of `layout` at `quality` (1-100). NULL when out of memory.
dactyl_jpeg *dactyl_jpeg_create(dactyl_jpeg_layout layout, int32_t quality);
void dactyl_jpeg_destroy(dactyl_jpeg *encoder);
// Encodes a frame laid out as the encoder's layout. Returns the JPEG's length, its bytes at
// *jpeg (valid until the next call), or -1 (libjpeg's error, or a JPEG larger than the buffer).
long dactyl_jpeg_encode(dactyl_jpeg *encoder, const uint8_t *frame, const uint8_t **jpeg);
// The most arena bytes a frame has needed so far (for tests: the arena is big enough).
size_t dactyl_jpeg_arena_used(const dactyl_jpeg *encoder);

#ifdef __cplusplus
}
#endif
#endif
