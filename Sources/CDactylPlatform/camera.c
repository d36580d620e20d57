// V4L2 capture through libv4l2; see dactyl_camera.h. Each function is one step (one or two
// ioctls) so that the Swift side can report which step failed.
#define _GNU_SOURCE
#include "dactyl_camera.h"
#include "camera_sim.h"

#include <errno.h>
#include <fcntl.h>
#include <libv4l2.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

// Test-only faults and the simulated camera (dactyl_camera_fault.h): off unless a test arms them.
#define FAULTS_ARMED __builtin_expect(dactyl_camera_faults_armed, 0)
#define SIMULATED(fd) (FAULTS_ARMED && camera_sim_owns(fd))

// v4l2_ioctl, retried when a signal interrupts it.
static int camera_ioctl(int fd, unsigned long request, void *argument) {
    int result;
    do {
        result = v4l2_ioctl(fd, request, argument);
    } while (result == -1 && errno == EINTR);
    return result == -1 ? (errno ? errno : EIO) : 0;
}

int dactyl_camera_open(const char *path, int *fd) {
    if (FAULTS_ARMED) {
        int injected = camera_fault_open(path, fd);
        if (injected >= 0) return injected;
    }
    *fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    return *fd < 0 ? errno : 0;
}

int dactyl_camera_attach(int fd) {
    if (SIMULATED(fd)) return 0;
    return v4l2_fd_open(fd, 0) < 0 ? (errno ? errno : EIO) : 0;
}

void dactyl_camera_close(int fd) {
    if (FAULTS_ARMED && camera_fault_close(fd) == 0) return;
    if (fd >= 0) v4l2_close(fd);
}

int dactyl_camera_query(int fd, int *capture, int *streaming, char *card, size_t card_capacity) {
    if (SIMULATED(fd)) return camera_sim_query(fd, capture, streaming, card, card_capacity);
    struct v4l2_capability capability;
    memset(&capability, 0, sizeof capability);
    // The plain ioctl: this runs before libv4l2 takes the descriptor (which would print its
    // own message about a node that is not a V4L2 device).
    int result;
    do {
        result = ioctl(fd, VIDIOC_QUERYCAP, &capability);
    } while (result == -1 && errno == EINTR);
    if (result == -1) return errno;
    uint32_t caps = (capability.capabilities & V4L2_CAP_DEVICE_CAPS) ? capability.device_caps
                                                                      : capability.capabilities;
    *capture = (caps & V4L2_CAP_VIDEO_CAPTURE) != 0;
    *streaming = (caps & V4L2_CAP_STREAMING) != 0;
    if (card_capacity > 0) {
        size_t length = strnlen((const char *)capability.card, sizeof capability.card);
        if (length >= card_capacity) length = card_capacity - 1;
        memcpy(card, capability.card, length);
        card[length] = 0;
    }
    return 0;
}

int dactyl_camera_offers(int fd, uint32_t fourcc, int *native) {
    if (SIMULATED(fd)) return camera_sim_offers(fd, fourcc, native);
    *native = 0;
    for (uint32_t index = 0;; index++) {
        struct v4l2_fmtdesc description;
        memset(&description, 0, sizeof description);
        description.index = index;
        description.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        int error = camera_ioctl(fd, VIDIOC_ENUM_FMT, &description);
        if (error == EINVAL) return 0;  // the end of the list
        if (error) return error;
        if (description.pixelformat == fourcc && !(description.flags & V4L2_FMT_FLAG_EMULATED)) {
            *native = 1;
            return 0;
        }
    }
}

int dactyl_camera_set_format(int fd, uint32_t *width, uint32_t *height, uint32_t *fourcc,
                             uint32_t *bytes_per_line, uint32_t *image_bytes, int *full_range) {
    if (SIMULATED(fd)) return camera_sim_set_format(fd, width, height, fourcc, bytes_per_line, image_bytes, full_range);
    struct v4l2_format format;
    memset(&format, 0, sizeof format);
    format.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    format.fmt.pix.width = *width;
    format.fmt.pix.height = *height;
    format.fmt.pix.pixelformat = *fourcc;
    format.fmt.pix.field = V4L2_FIELD_ANY;
    int error = camera_ioctl(fd, VIDIOC_S_FMT, &format);
    if (error) return error;
    // Read back what is in effect: drivers adjust what they cannot do.
    memset(&format, 0, sizeof format);
    format.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    error = camera_ioctl(fd, VIDIOC_G_FMT, &format);
    if (error) return error;
    *width = format.fmt.pix.width;
    *height = format.fmt.pix.height;
    *fourcc = format.fmt.pix.pixelformat;
    *bytes_per_line = format.fmt.pix.bytesperline;
    *image_bytes = format.fmt.pix.sizeimage;
    *full_range = format.fmt.pix.quantization == V4L2_QUANTIZATION_FULL_RANGE;
    return 0;
}

int dactyl_camera_set_frame_rate(int fd, uint32_t frames_per_second, uint32_t *numerator,
                                 uint32_t *denominator) {
    if (SIMULATED(fd)) return camera_sim_set_frame_rate(fd, numerator, denominator);
    *numerator = 0;
    *denominator = 0;
    struct v4l2_streamparm parameters;
    memset(&parameters, 0, sizeof parameters);
    parameters.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    int error = camera_ioctl(fd, VIDIOC_G_PARM, &parameters);
    if (error == ENOTTY || error == EINVAL) return 0;  // no frame-rate control: leave it unknown
    if (error) return error;
    if (frames_per_second > 0 && (parameters.parm.capture.capability & V4L2_CAP_TIMEPERFRAME)) {
        parameters.parm.capture.timeperframe.numerator = 1;
        parameters.parm.capture.timeperframe.denominator = frames_per_second;
        error = camera_ioctl(fd, VIDIOC_S_PARM, &parameters);
        if (error) return error;
        memset(&parameters, 0, sizeof parameters);
        parameters.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        error = camera_ioctl(fd, VIDIOC_G_PARM, &parameters);
        if (error) return error;
    }
    // timeperframe is seconds per frame; the rate is its inverse.
    *numerator = parameters.parm.capture.timeperframe.denominator;
    *denominator = parameters.parm.capture.timeperframe.numerator;
    return 0;
}

int dactyl_camera_request_buffers(int fd, uint32_t *count) {
    if (SIMULATED(fd)) return camera_sim_request_buffers(fd, count);
    struct v4l2_requestbuffers request;
    memset(&request, 0, sizeof request);
    request.count = *count;
    request.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    request.memory = V4L2_MEMORY_MMAP;
    int error = camera_ioctl(fd, VIDIOC_REQBUFS, &request);
    if (error) return error;
    *count = request.count;
    return 0;
}

int dactyl_camera_map_buffer(int fd, uint32_t index, void **address, size_t *length) {
    if (SIMULATED(fd)) return camera_sim_map_buffer(fd, index, address, length);
    struct v4l2_buffer buffer;
    memset(&buffer, 0, sizeof buffer);
    buffer.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    buffer.memory = V4L2_MEMORY_MMAP;
    buffer.index = index;
    int error = camera_ioctl(fd, VIDIOC_QUERYBUF, &buffer);
    if (error) return error;
    void *mapped = v4l2_mmap(NULL, buffer.length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, buffer.m.offset);
    if (mapped == MAP_FAILED) return errno ? errno : ENOMEM;
    *address = mapped;
    *length = buffer.length;
    return 0;
}

void dactyl_camera_unmap_buffer(void *address, size_t length) {
    if (FAULTS_ARMED && camera_sim_owns_mapping(address)) return;
    if (address != NULL && length > 0) v4l2_munmap(address, length);
}

int dactyl_camera_queue(int fd, uint32_t index) {
    if (SIMULATED(fd)) return camera_sim_queue(fd, index);
    struct v4l2_buffer buffer;
    memset(&buffer, 0, sizeof buffer);
    buffer.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    buffer.memory = V4L2_MEMORY_MMAP;
    buffer.index = index;
    return camera_ioctl(fd, VIDIOC_QBUF, &buffer);
}

int dactyl_camera_dequeue(int fd, uint32_t *index, uint32_t *sequence, uint64_t *timestamp_ns,
                          uint32_t *bytes_used, int *error_flag) {
    if (FAULTS_ARMED) {
        int injected = camera_fault_dequeue(fd, index, sequence, timestamp_ns, bytes_used, error_flag);
        if (injected >= 0) return injected;
    }
    struct v4l2_buffer buffer;
    memset(&buffer, 0, sizeof buffer);
    buffer.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    buffer.memory = V4L2_MEMORY_MMAP;
    int error = camera_ioctl(fd, VIDIOC_DQBUF, &buffer);
    if (error) return error;
    *index = buffer.index;
    *sequence = buffer.sequence;
    *bytes_used = buffer.bytesused;
    *error_flag = (buffer.flags & V4L2_BUF_FLAG_ERROR) != 0;
    if ((buffer.flags & V4L2_BUF_FLAG_TIMESTAMP_MASK) == V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC) {
        *timestamp_ns = (uint64_t)buffer.timestamp.tv_sec * 1000000000u + (uint64_t)buffer.timestamp.tv_usec * 1000u;
    } else {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        *timestamp_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
    }
    return 0;
}

int dactyl_camera_stream(int fd, int on) {
    if (SIMULATED(fd)) return camera_sim_stream(fd, on);
    int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    return camera_ioctl(fd, on ? VIDIOC_STREAMON : VIDIOC_STREAMOFF, &type);
}

int dactyl_camera_wait(int fd, int timeout_ms, int *ready) {
    if (FAULTS_ARMED) {
        int injected = camera_fault_wait(fd, timeout_ms, ready);
        if (injected >= 0) return injected;
    }
    struct pollfd descriptor = {.fd = fd, .events = POLLIN | POLLPRI};
    *ready = 0;
    int result;
    do {
        result = poll(&descriptor, 1, timeout_ms);
    } while (result == -1 && errno == EINTR);
    if (result < 0) return errno;
    if (result == 0) return 0;
    if (descriptor.revents & POLLNVAL) return EBADF;
    // POLLERR without a frame (a vanished device, streaming stopped): 2, and the dequeue names it.
    *ready = (descriptor.revents & (POLLIN | POLLPRI)) ? 1 : 2;
    return 0;
}

void dactyl_camera_sleep_ms(uint32_t milliseconds) {
    struct timespec delay = {.tv_sec = milliseconds / 1000, .tv_nsec = (long)(milliseconds % 1000) * 1000000L};
    while (nanosleep(&delay, &delay) == -1 && errno == EINTR) {
    }
}

int dactyl_record_create_file(const char *path, int *fd) {
    *fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    return *fd < 0 ? errno : 0;
}

int dactyl_record_close_file(int fd) {
    return close(fd) == 0 ? 0 : errno;
}

// --- listing --------------------------------------------------------------------------------

static int plain_ioctl(int fd, unsigned long request, void *argument) {
    int result;
    do {
        result = ioctl(fd, request, argument);
    } while (result == -1 && errno == EINTR);
    return result == -1 ? (errno ? errno : EIO) : 0;
}

static void copy_text(char *to, size_t capacity, const unsigned char *from, size_t from_size) {
    if (capacity == 0) return;
    size_t length = strnlen((const char *)from, from_size);
    if (length >= capacity) length = capacity - 1;
    memcpy(to, from, length);
    to[length] = 0;
}

int dactyl_camera_describe(int fd, uint32_t *kind, char *card, size_t card_capacity, char *driver,
                           size_t driver_capacity, char *bus, size_t bus_capacity) {
    struct v4l2_capability capability;
    memset(&capability, 0, sizeof capability);
    int error = plain_ioctl(fd, VIDIOC_QUERYCAP, &capability);
    if (error != 0) return error;
    uint32_t caps = (capability.capabilities & V4L2_CAP_DEVICE_CAPS) ? capability.device_caps
                                                                      : capability.capabilities;
    *kind = 0;
    if (caps & V4L2_CAP_VIDEO_CAPTURE) *kind |= DACTYL_CAMERA_KIND_CAPTURE;
    if (caps & V4L2_CAP_VIDEO_CAPTURE_MPLANE) *kind |= DACTYL_CAMERA_KIND_CAPTURE_MPLANE;
    if (caps & (V4L2_CAP_VIDEO_OUTPUT | V4L2_CAP_VIDEO_OUTPUT_MPLANE | V4L2_CAP_VIDEO_M2M | V4L2_CAP_VIDEO_M2M_MPLANE))
        *kind |= DACTYL_CAMERA_KIND_OUTPUT;
    if (caps & (V4L2_CAP_META_CAPTURE | V4L2_CAP_META_OUTPUT)) *kind |= DACTYL_CAMERA_KIND_METADATA;
    if (caps & V4L2_CAP_STREAMING) *kind |= DACTYL_CAMERA_KIND_STREAMING;
    copy_text(card, card_capacity, capability.card, sizeof capability.card);
    copy_text(driver, driver_capacity, capability.driver, sizeof capability.driver);
    copy_text(bus, bus_capacity, capability.bus_info, sizeof capability.bus_info);
    return 0;
}

int dactyl_camera_enum_format(int fd, uint32_t index, uint32_t *fourcc, char *description,
                              size_t capacity, int *compressed) {
    struct v4l2_fmtdesc format;
    memset(&format, 0, sizeof format);
    format.index = index;
    format.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    int error = plain_ioctl(fd, VIDIOC_ENUM_FMT, &format);
    if (error != 0) return error;
    *fourcc = format.pixelformat;
    *compressed = (format.flags & V4L2_FMT_FLAG_COMPRESSED) != 0;
    copy_text(description, capacity, format.description, sizeof format.description);
    return 0;
}

int dactyl_camera_enum_size(int fd, uint32_t fourcc, uint32_t index, int *stepwise, uint32_t values[6]) {
    struct v4l2_frmsizeenum size;
    memset(&size, 0, sizeof size);
    size.index = index;
    size.pixel_format = fourcc;
    int error = plain_ioctl(fd, VIDIOC_ENUM_FRAMESIZES, &size);
    if (error != 0) return error;
    memset(values, 0, 6 * sizeof values[0]);
    if (size.type == V4L2_FRMSIZE_TYPE_DISCRETE) {
        *stepwise = 0;
        values[0] = size.discrete.width;
        values[1] = size.discrete.height;
    } else {
        *stepwise = 1;
        values[0] = size.stepwise.min_width;
        values[1] = size.stepwise.max_width;
        values[2] = size.stepwise.step_width;
        values[3] = size.stepwise.min_height;
        values[4] = size.stepwise.max_height;
        values[5] = size.stepwise.step_height;
    }
    return 0;
}

int dactyl_camera_enum_interval(int fd, uint32_t fourcc, uint32_t width, uint32_t height, uint32_t index,
                                int *stepwise, uint32_t values[6]) {
    struct v4l2_frmivalenum interval;
    memset(&interval, 0, sizeof interval);
    interval.index = index;
    interval.pixel_format = fourcc;
    interval.width = width;
    interval.height = height;
    int error = plain_ioctl(fd, VIDIOC_ENUM_FRAMEINTERVALS, &interval);
    if (error != 0) return error;
    memset(values, 0, 6 * sizeof values[0]);
    if (interval.type == V4L2_FRMIVAL_TYPE_DISCRETE) {
        *stepwise = 0;
        values[0] = interval.discrete.numerator;
        values[1] = interval.discrete.denominator;
    } else {
        *stepwise = 1;
        values[0] = interval.stepwise.min.numerator;
        values[1] = interval.stepwise.min.denominator;
        values[2] = interval.stepwise.max.numerator;
        values[3] = interval.stepwise.max.denominator;
        values[4] = interval.stepwise.step.numerator;
        values[5] = interval.stepwise.step.denominator;
    }
    return 0;
}
