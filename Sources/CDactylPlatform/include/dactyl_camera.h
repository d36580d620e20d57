// V4L2 capture through libv4l2 (v4l2_open, v4l2_ioctl, v4l2_mmap): the small, non-variadic steps
// that Sources/DactylPipeline/Source/V4L2Camera.swift puts together. Every function returns 0 or an
// errno value (never -1 and a global errno), so Swift can name the failing step and its reason.
#ifndef DACTYL_CAMERA_H
#define DACTYL_CAMERA_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// FourCC codes of the formats Dactyl reads natively or asks for.
enum {
    DACTYL_FOURCC_YUYV = 0x56595559u,  // 'YUYV': packed 4:2:2, Y0 U Y1 V
    DACTYL_FOURCC_NV12 = 0x3231564Eu,  // 'NV12': Y plane, then interleaved U V at 4:2:0
    DACTYL_FOURCC_YU12 = 0x32315559u,  // 'YU12' (I420): Y, U, V planes at 4:2:0
    DACTYL_FOURCC_MJPG = 0x47504A4Du,  // 'MJPG': Motion-JPEG, decoded by libv4lconvert
};
// errno values the Swift side tells apart (it cannot import errno.h's macros in Embedded Swift).
enum { DACTYL_CAMERA_EAGAIN = EAGAIN, DACTYL_CAMERA_EIO = EIO };

// Opens `path` read-write and non-blocking. *fd receives the descriptor.
int dactyl_camera_open(const char *path, int *fd);
// Hands the descriptor to libv4l2 (v4l2_fd_open), so its format conversion serves formats the
// camera lacks; after dactyl_camera_query said it is a capture device.
int dactyl_camera_attach(int fd);
void dactyl_camera_close(int fd);

// VIDIOC_QUERYCAP (before dactyl_camera_attach). *capture: 1 for a single-planar video capture
// device; *streaming: 1 if it can stream (mmap). card receives the device's name, NUL-terminated.
int dactyl_camera_query(int fd, int *capture, int *streaming, char *card, size_t card_capacity);

// VIDIOC_ENUM_FMT over the capture formats: *native = 1 if the device itself (not libv4l2's
// emulation) offers `fourcc`.
int dactyl_camera_offers(int fd, uint32_t fourcc, int *native);

// VIDIOC_S_FMT with width, height and fourcc, then VIDIOC_G_FMT: all values are read back from
// what the driver (or libv4l2) settled on. *full_range: 1 when the driver says the codes are
// full range (V4L2_QUANTIZATION_FULL_RANGE), else 0 (limited, the default for YUV).
int dactyl_camera_set_format(int fd, uint32_t *width, uint32_t *height, uint32_t *fourcc,
                             uint32_t *bytes_per_line, uint32_t *image_bytes, int *full_range);

// VIDIOC_S_PARM asking for `frames_per_second` (skipped when 0 or the device cannot set it),
// then VIDIOC_G_PARM: *numerator / *denominator is the frame rate in effect (0/0 when unknown).
int dactyl_camera_set_frame_rate(int fd, uint32_t frames_per_second, uint32_t *numerator,
                                 uint32_t *denominator);

// VIDIOC_REQBUFS (mmap) asking for *count buffers; *count receives how many the driver gave.
// *count = 0 releases them.
int dactyl_camera_request_buffers(int fd, uint32_t *count);
// VIDIOC_QUERYBUF and v4l2_mmap of buffer `index`.
int dactyl_camera_map_buffer(int fd, uint32_t index, void **address, size_t *length);
void dactyl_camera_unmap_buffer(void *address, size_t length);

int dactyl_camera_queue(int fd, uint32_t index);

// One VIDIOC_DQBUF, non-blocking: EAGAIN when no buffer is ready. The timestamp is
// CLOCK_MONOTONIC in nanoseconds (the driver's when it stamps with that clock, else the time of
// dequeuing); *error_flag is 1 when the driver marked the buffer V4L2_BUF_FLAG_ERROR.
int dactyl_camera_dequeue(int fd, uint32_t *index, uint32_t *sequence, uint64_t *timestamp_ns,
                          uint32_t *bytes_used, int *error_flag);

// VIDIOC_STREAMON (on = 1) or VIDIOC_STREAMOFF (on = 0).
int dactyl_camera_stream(int fd, int on);

// poll() for a frame, at most timeout_ms: *ready = 1 when one can be dequeued, 2 when the
// device reports an error instead (POLLERR: the next dequeue names it), 0 on timeout.
int dactyl_camera_wait(int fd, int timeout_ms, int *ready);

void dactyl_camera_sleep_ms(uint32_t milliseconds);

// --- Listing (`dactyl devices`): the device's own formats, with plain ioctls (no libv4l2, whose
// emulated formats are not what the camera sends). Each enumeration returns EINVAL past its end.

// What a V4L2 node is (VIDIOC_QUERYCAP, the node's own capabilities).
enum {
    DACTYL_CAMERA_KIND_CAPTURE = 1,         // single-planar video capture: a camera dactyl can use
    DACTYL_CAMERA_KIND_CAPTURE_MPLANE = 2,  // multi-planar capture (e.g. the Pi's unicam/ISP nodes)
    DACTYL_CAMERA_KIND_OUTPUT = 4,          // video output (vivid's loop-back input, encoders)
    DACTYL_CAMERA_KIND_METADATA = 8,        // metadata (the second node of every UVC webcam)
    DACTYL_CAMERA_KIND_STREAMING = 16,
};
int dactyl_camera_describe(int fd, uint32_t *kind, char *card, size_t card_capacity, char *driver,
                           size_t driver_capacity, char *bus, size_t bus_capacity);
// VIDIOC_ENUM_FMT (capture): the format's FourCC and description; *compressed = 1 for MJPEG & co.
int dactyl_camera_enum_format(int fd, uint32_t index, uint32_t *fourcc, char *description,
                              size_t capacity, int *compressed);
// VIDIOC_ENUM_FRAMESIZES. *stepwise = 0: values[0..1] = width, height; 1: values = min width,
// max width, width step, min height, max height, height step.
int dactyl_camera_enum_size(int fd, uint32_t fourcc, uint32_t index, int *stepwise, uint32_t values[6]);
// VIDIOC_ENUM_FRAMEINTERVALS. *stepwise = 0: values[0..1] = the interval's numerator and
// denominator (seconds per frame); 1: min, max and step as three fractions.
int dactyl_camera_enum_interval(int fd, uint32_t fourcc, uint32_t width, uint32_t height, uint32_t index,
                                int *stepwise, uint32_t values[6]);

// A file for a recording: created (or truncated) write-only, mode 0644. *fd receives it.
int dactyl_record_create_file(const char *path, int *fd);
// close(); returns 0 or the errno of a failed close (a late write error on some file systems).
int dactyl_record_close_file(int fd);

#ifdef __cplusplus
}
#endif
#endif
