#include "dactyl_jpeg.h"

#include <setjmp.h>
#include <stdio.h>  // jpeglib.h needs FILE
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>

static int32_t round_up(int32_t value, int32_t multiple) { return (value + multiple - 1) / multiple * multiple; }

dactyl_jpeg_layout dactyl_jpeg_layout_for(int32_t width, int32_t height) {
    dactyl_jpeg_layout layout;
    layout.width = width;
    layout.height = height;
    layout.luma_stride = round_up(width, 16);
    layout.luma_rows = round_up(height, 16);
    layout.chroma_stride = layout.luma_stride / 2;
    layout.chroma_rows = layout.luma_rows / 2;
    layout.bytes = (size_t)layout.luma_stride * (size_t)layout.luma_rows +
                   2 * (size_t)layout.chroma_stride * (size_t)layout.chroma_rows;
    return layout;
}

// Repeats the last written column into a row's padding, and the last written row into the
// plane's padding rows.
static void pad_plane(uint8_t *plane, int32_t stride, int32_t rows, int32_t width, int32_t height) {
    for (int32_t row = 0; row < height; row++) {
        uint8_t *line = plane + (size_t)row * (size_t)stride;
        memset(line + width, line[width - 1], (size_t)(stride - width));
    }
    for (int32_t row = height; row < rows; row++)
        memcpy(plane + (size_t)row * (size_t)stride, plane + (size_t)(height - 1) * (size_t)stride, (size_t)stride);
}

void dactyl_jpeg_copy_frame(uint8_t *destination, dactyl_jpeg_layout layout, int32_t scale,
                            const uint8_t *y, long y_stride, int32_t y_step,
                            const uint8_t *u, const uint8_t *v, long uv_stride, int32_t uv_step,
                            int32_t chroma_shift_x, int32_t chroma_shift_y, int32_t full_range) {
    // Limited range: Y 16..235 and Cb/Cr 16..240 stretched to 0..255 (BT.601, as JFIF reads them).
    uint8_t luma[256], chroma[256];
    for (int code = 0; code < 256; code++) {
        int l = full_range ? code : ((code - 16) * 255 + 109) / 219;
        int c = full_range ? code : ((code - 128) * 255 + (code >= 128 ? 112 : -112)) / 224 + 128;
        luma[code] = (uint8_t)(l < 0 ? 0 : l > 255 ? 255 : l);
        chroma[code] = (uint8_t)(c < 0 ? 0 : c > 255 ? 255 : c);
    }
    uint8_t *out_y = destination;
    uint8_t *out_u = out_y + (size_t)layout.luma_stride * (size_t)layout.luma_rows;
    uint8_t *out_v = out_u + (size_t)layout.chroma_stride * (size_t)layout.chroma_rows;
    for (int32_t row = 0; row < layout.height; row++) {
        const uint8_t *source = y + (long)row * scale * y_stride;
        uint8_t *line = out_y + (size_t)row * (size_t)layout.luma_stride;
        for (int32_t column = 0; column < layout.width; column++) line[column] = luma[source[(long)column * scale * y_step]];
    }
    int32_t chroma_width = (layout.width + 1) / 2, chroma_height = (layout.height + 1) / 2;
    for (int32_t row = 0; row < chroma_height; row++) {
        // The source chroma sample under output luma pixel (2*column, 2*row).
        long source_row = ((long)row * 2 * scale) >> chroma_shift_y;
        const uint8_t *source_u = u + source_row * uv_stride, *source_v = v + source_row * uv_stride;
        uint8_t *line_u = out_u + (size_t)row * (size_t)layout.chroma_stride;
        uint8_t *line_v = out_v + (size_t)row * (size_t)layout.chroma_stride;
        for (int32_t column = 0; column < chroma_width; column++) {
            long sample = (((long)column * 2 * scale) >> chroma_shift_x) * uv_step;
            line_u[column] = chroma[source_u[sample]];
            line_v[column] = chroma[source_v[sample]];
        }
    }
    pad_plane(out_y, layout.luma_stride, layout.luma_rows, layout.width, layout.height);
    pad_plane(out_u, layout.chroma_stride, layout.chroma_rows, chroma_width, chroma_height);
    pad_plane(out_v, layout.chroma_stride, layout.chroma_rows, chroma_width, chroma_height);
}

// --- the encoder --------------------------------------------------------------------------

enum { ARENA_BYTES = 512 * 1024, ARENA_ALIGN = 64 };

struct dactyl_jpeg {
    struct jpeg_compress_struct cinfo;
    struct jpeg_error_mgr error;
    struct jpeg_destination_mgr destination;
    jmp_buf jump;
    dactyl_jpeg_layout layout;
    // libjpeg's own memory manager, for its permanent pool (made once, at create).
    struct jpeg_memory_mgr original;
    // The per-image pool: a bump allocator over a fixed arena, reset by free_pool.
    uint8_t *arena;
    size_t arena_used, arena_high;
    uint8_t *output;
    size_t output_capacity;
    int output_overflowed;
    JSAMPROW rows[3][16];
};

static struct dactyl_jpeg *encoder_of(j_common_ptr cinfo) { return (struct dactyl_jpeg *)cinfo->client_data; }

static void *arena_take(j_common_ptr cinfo, size_t bytes) {
    struct dactyl_jpeg *encoder = encoder_of(cinfo);
    size_t start = (encoder->arena_used + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    if (bytes > ARENA_BYTES || start > ARENA_BYTES - bytes) ERREXIT1(cinfo, JERR_OUT_OF_MEMORY, 9);
    encoder->arena_used = start + bytes;
    if (encoder->arena_used > encoder->arena_high) encoder->arena_high = encoder->arena_used;
    return encoder->arena + start;
}

static void *alloc_small(j_common_ptr cinfo, int pool, size_t bytes) {
    if (pool == JPOOL_PERMANENT) return encoder_of(cinfo)->original.alloc_small(cinfo, pool, bytes);
    return arena_take(cinfo, bytes);
}

static void *alloc_large(j_common_ptr cinfo, int pool, size_t bytes) {
    if (pool == JPOOL_PERMANENT) return encoder_of(cinfo)->original.alloc_large(cinfo, pool, bytes);
    return arena_take(cinfo, bytes);
}

static JSAMPARRAY alloc_sarray(j_common_ptr cinfo, int pool, JDIMENSION samples, JDIMENSION rows) {
    if (pool == JPOOL_PERMANENT) return encoder_of(cinfo)->original.alloc_sarray(cinfo, pool, samples, rows);
    // Rows start on 64-byte boundaries and are whole multiples of 64 bytes: the SIMD routines
    // read and write whole vectors, as libjpeg-turbo's own allocator allows them to.
    size_t row_bytes = ((size_t)samples * sizeof(JSAMPLE) + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    JSAMPARRAY array = arena_take(cinfo, (size_t)rows * sizeof(JSAMPROW));
    for (JDIMENSION row = 0; row < rows; row++) array[row] = arena_take(cinfo, row_bytes);
    return array;
}

static JBLOCKARRAY alloc_barray(j_common_ptr cinfo, int pool, JDIMENSION blocks, JDIMENSION rows) {
    if (pool == JPOOL_PERMANENT) return encoder_of(cinfo)->original.alloc_barray(cinfo, pool, blocks, rows);
    JBLOCKARRAY array = arena_take(cinfo, (size_t)rows * sizeof(JBLOCKROW));
    for (JDIMENSION row = 0; row < rows; row++) array[row] = arena_take(cinfo, (size_t)blocks * sizeof(JBLOCK));
    return array;
}

static void free_pool(j_common_ptr cinfo, int pool) {
    struct dactyl_jpeg *encoder = encoder_of(cinfo);
    if (pool == JPOOL_IMAGE) encoder->arena_used = 0;
    encoder->original.free_pool(cinfo, pool);
}

static void error_exit(j_common_ptr cinfo) { longjmp(encoder_of(cinfo)->jump, 1); }
static void output_message(j_common_ptr cinfo) { (void)cinfo; }

static void destination_init(j_compress_ptr cinfo) {
    struct dactyl_jpeg *encoder = encoder_of((j_common_ptr)cinfo);
    encoder->destination.next_output_byte = encoder->output;
    encoder->destination.free_in_buffer = encoder->output_capacity;
    encoder->output_overflowed = 0;
}

static boolean destination_full(j_compress_ptr cinfo) {
    // Too big for the buffer (never, at the sizes and qualities used): finish into the same
    // buffer again and report the frame as failed.
    struct dactyl_jpeg *encoder = encoder_of((j_common_ptr)cinfo);
    encoder->output_overflowed = 1;
    encoder->destination.next_output_byte = encoder->output;
    encoder->destination.free_in_buffer = encoder->output_capacity;
    return TRUE;
}

static void destination_term(j_compress_ptr cinfo) { (void)cinfo; }

dactyl_jpeg *dactyl_jpeg_create(dactyl_jpeg_layout layout, int32_t quality) {
    struct dactyl_jpeg *encoder = calloc(1, sizeof *encoder);
    if (!encoder) return NULL;
    encoder->layout = layout;
    encoder->arena = aligned_alloc(ARENA_ALIGN, ARENA_BYTES);
    // A baseline JPEG of a camera picture at the qualities used is well under the raw frame.
    encoder->output_capacity = layout.bytes + 4096;
    encoder->output = malloc(encoder->output_capacity);
    if (!encoder->arena || !encoder->output) { dactyl_jpeg_destroy(encoder); return NULL; }
    struct jpeg_compress_struct *cinfo = &encoder->cinfo;
    cinfo->err = jpeg_std_error(&encoder->error);
    encoder->error.error_exit = error_exit;
    encoder->error.output_message = output_message;
    cinfo->client_data = encoder;
    if (setjmp(encoder->jump)) {
        jpeg_destroy_compress(cinfo);
        free(encoder->arena);
        free(encoder->output);
        free(encoder);
        return NULL;
    }
    jpeg_create_compress(cinfo);
    encoder->original = *cinfo->mem;
    cinfo->mem->alloc_small = alloc_small;
    cinfo->mem->alloc_large = alloc_large;
    cinfo->mem->alloc_sarray = alloc_sarray;
    cinfo->mem->alloc_barray = alloc_barray;
    cinfo->mem->free_pool = free_pool;
    encoder->destination.init_destination = destination_init;
    encoder->destination.empty_output_buffer = destination_full;
    encoder->destination.term_destination = destination_term;
    cinfo->dest = &encoder->destination;
    cinfo->image_width = (JDIMENSION)layout.width;
    cinfo->image_height = (JDIMENSION)layout.height;
    cinfo->input_components = 3;
    cinfo->in_color_space = JCS_YCbCr;
    jpeg_set_defaults(cinfo);
    jpeg_set_quality(cinfo, quality < 1 ? 1 : quality > 100 ? 100 : quality, TRUE);
    cinfo->raw_data_in = TRUE;
    cinfo->dct_method = JDCT_ISLOW;
    cinfo->comp_info[0].h_samp_factor = 2;
    cinfo->comp_info[0].v_samp_factor = 2;
    for (int component = 1; component < 3; component++) {
        cinfo->comp_info[component].h_samp_factor = 1;
        cinfo->comp_info[component].v_samp_factor = 1;
    }
    return encoder;
}

void dactyl_jpeg_destroy(dactyl_jpeg *encoder) {
    if (!encoder) return;
    if (encoder->cinfo.mem) jpeg_destroy_compress(&encoder->cinfo);
    free(encoder->arena);
    free(encoder->output);
    free(encoder);
}

long dactyl_jpeg_encode(dactyl_jpeg *encoder, const uint8_t *frame, const uint8_t **jpeg) {
    struct jpeg_compress_struct *cinfo = &encoder->cinfo;
    const dactyl_jpeg_layout *layout = &encoder->layout;
    if (setjmp(encoder->jump)) {
        jpeg_abort_compress(cinfo);
        return -1;
    }
    const uint8_t *planes[3];
    planes[0] = frame;
    planes[1] = planes[0] + (size_t)layout->luma_stride * (size_t)layout->luma_rows;
    planes[2] = planes[1] + (size_t)layout->chroma_stride * (size_t)layout->chroma_rows;
    jpeg_start_compress(cinfo, TRUE);
    JSAMPARRAY arrays[3] = {encoder->rows[0], encoder->rows[1], encoder->rows[2]};
    while (cinfo->next_scanline < cinfo->image_height) {
        int32_t luma_row = (int32_t)cinfo->next_scanline;
        for (int line = 0; line < 16; line++)
            encoder->rows[0][line] = (JSAMPROW)(planes[0] + (size_t)(luma_row + line) * (size_t)layout->luma_stride);
        for (int line = 0; line < 8; line++) {
            size_t offset = (size_t)(luma_row / 2 + line) * (size_t)layout->chroma_stride;
            encoder->rows[1][line] = (JSAMPROW)(planes[1] + offset);
            encoder->rows[2][line] = (JSAMPROW)(planes[2] + offset);
        }
        if (jpeg_write_raw_data(cinfo, arrays, 16) == 0) break;
    }
    jpeg_finish_compress(cinfo);
    if (encoder->output_overflowed) return -1;
    *jpeg = encoder->output;
    return (long)(encoder->output_capacity - encoder->destination.free_in_buffer);
}

size_t dactyl_jpeg_arena_used(const dactyl_jpeg *encoder) { return encoder->arena_high; }
