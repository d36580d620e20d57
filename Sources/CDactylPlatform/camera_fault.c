// See dactyl_camera_fault.h. The simulated camera behaves as V4L2Camera expects a driver to:
// mmap buffers it owns, QBUF/DQBUF in turn, poll readiness, POLLERR before a failing DQBUF.
#define _GNU_SOURCE
#include "dactyl_camera_fault.h"
#include "camera_sim.h"
#include "dactyl_camera.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { SIM_BUFFERS = 8 };

volatile int dactyl_camera_faults_armed;

static struct {
    int installed;
    char path[256];
    int fd;
    uint32_t width, height, frames_per_second;
    size_t frame_bytes, frame_count, next_frame;
    uint8_t *frames;
    uint8_t *buffers[SIM_BUFFERS];
    uint32_t buffer_count;
    int queued[SIM_BUFFERS];
    int streaming;
    uint32_t sequence;
    // The next frame's timestamp (the camera's clock: one interval after the previous frame, or
    // later after a stall, a hang or a reopen).
    uint64_t interval_ns, next_due_ns;
    // Stamps: stamp_origin_ns + (next_due_ns - wall_origin_ns) * time_scale.
    uint64_t wall_origin_ns, stamp_origin_ns, time_scale;
} sim = {.fd = -1};

static struct {
    uint32_t open_count;
    int open_error;
    uint32_t dequeue_count;
    int dequeue_error;
    uint64_t stall_until_ns;
    uint32_t hang_ms;
} fault;

static dactyl_camera_sim_counters counters;

static uint64_t now_ns(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
}

static void sleep_ns(uint64_t nanoseconds) {
    struct timespec delay = {(time_t)(nanoseconds / 1000000000u), (long)(nanoseconds % 1000000000u)};
    while (nanosleep(&delay, &delay) == -1 && errno == EINTR) {
    }
}

static void rearm(void) {
    dactyl_camera_faults_armed = sim.installed || fault.open_count || fault.dequeue_count || fault.stall_until_ns || fault.hang_ms;
}

void dactyl_camera_sim_remove(void) {
    if (sim.fd >= 0) close(sim.fd);
    free(sim.frames);
    for (int i = 0; i < SIM_BUFFERS; i++) free(sim.buffers[i]);
    memset(&sim, 0, sizeof sim);
    sim.fd = -1;
    memset(&fault, 0, sizeof fault);
    memset(&counters, 0, sizeof counters);
    rearm();
}

int dactyl_camera_sim_install(const char *path, uint32_t width, uint32_t height, const uint8_t *frames,
                              size_t frame_count, uint32_t frame_interval_us, uint32_t frames_per_second,
                              uint32_t time_scale) {
    dactyl_camera_sim_remove();
    if (width == 0 || height == 0 || width % 2 || height % 2 || frame_count == 0 || strlen(path) >= sizeof sim.path) return EINVAL;
    sim.frame_bytes = (size_t)width * height * 3 / 2;
    sim.frames = malloc(sim.frame_bytes * frame_count);
    if (sim.frames == NULL) return ENOMEM;
    memcpy(sim.frames, frames, sim.frame_bytes * frame_count);
    for (int i = 0; i < SIM_BUFFERS; i++) {
        sim.buffers[i] = malloc(sim.frame_bytes);
        if (sim.buffers[i] == NULL) { dactyl_camera_sim_remove(); return ENOMEM; }
    }
    strcpy(sim.path, path);
    sim.width = width;
    sim.height = height;
    sim.frame_count = frame_count;
    sim.frames_per_second = frames_per_second;
    sim.time_scale = time_scale == 0 ? 1 : time_scale;
    sim.interval_ns = (uint64_t)(frame_interval_us == 0 ? 1 : frame_interval_us) * 1000u / sim.time_scale;
    sim.wall_origin_ns = now_ns();
    // A faster clock runs ahead of the wall: start it up to 10 minutes behind (less on a machine
    // up for less), which covers a test's whole run at time_scale 10.
    uint64_t lead = sim.time_scale > 1 ? 600000000000u : 0;
    sim.stamp_origin_ns = sim.wall_origin_ns > lead ? sim.wall_origin_ns - lead : 0;
    sim.installed = 1;
    rearm();
    return 0;
}

void dactyl_camera_fault_open(uint32_t count, int error) { fault.open_count = count; fault.open_error = error; rearm(); }
void dactyl_camera_fault_dequeue(uint32_t count, int error) { fault.dequeue_count = count; fault.dequeue_error = error; rearm(); }
void dactyl_camera_fault_stall(uint32_t milliseconds) { fault.stall_until_ns = now_ns() + (uint64_t)milliseconds * 1000000u; rearm(); }
void dactyl_camera_fault_hang(uint32_t milliseconds) { fault.hang_ms = milliseconds; rearm(); }

void dactyl_camera_sim_read_counters(dactyl_camera_sim_counters *out) { *out = counters; }

int camera_sim_owns(int fd) { return sim.installed && fd >= 0 && fd == sim.fd; }

int camera_sim_owns_mapping(const void *address) {
    for (int i = 0; i < SIM_BUFFERS; i++) {
        if (sim.installed && address == sim.buffers[i]) return 1;
    }
    return 0;
}

static int sim_frame_ready(uint64_t now);

// --- faults on any camera (the simulated one, or a real device) ---------------------------------

int camera_fault_open(const char *path, int *fd) {
    int simulated = sim.installed && strcmp(path, sim.path) == 0;
    if (simulated) {
        if (counters.open_attempts < 16) counters.open_attempt_ns[counters.open_attempts] = now_ns();
        counters.open_attempts++;
    }
    if (fault.open_count) {
        fault.open_count--;
        counters.injected++;
        rearm();
        *fd = -1;
        return fault.open_error;
    }
    if (!simulated) return -1;
    // A real descriptor, so that close() and every "fd >= 0" test behave as with a device.
    *fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (*fd < 0) return errno;
    sim.fd = *fd;
    sim.streaming = 0;
    sim.buffer_count = 0;
    memset(sim.queued, 0, sizeof sim.queued);
    sim.sequence = 0;
    counters.opens++;
    return 0;
}

int camera_fault_close(int fd) {
    if (!camera_sim_owns(fd)) return -1;
    close(fd);
    sim.fd = -1;
    sim.streaming = 0;
    return 0;
}

int camera_fault_dequeue(int fd, uint32_t *index, uint32_t *sequence, uint64_t *timestamp_ns,
                         uint32_t *bytes_used, int *error_flag) {
    if (fault.hang_ms) {
        uint32_t milliseconds = fault.hang_ms;
        fault.hang_ms = 0;
        counters.injected++;
        rearm();
        sleep_ns((uint64_t)milliseconds * 1000000u);
        uint64_t now = now_ns();
        if (sim.next_due_ns < now) sim.next_due_ns = now;
    }
    if (fault.dequeue_count) {
        fault.dequeue_count--;
        counters.injected++;
        rearm();
        return fault.dequeue_error;
    }
    if (!camera_sim_owns(fd)) return -1;
    uint64_t now = now_ns();
    if (!sim.streaming) return EINVAL;
    if (!sim_frame_ready(now)) return EAGAIN;
    for (uint32_t i = 0; i < sim.buffer_count; i++) {
        if (!sim.queued[i]) continue;
        sim.queued[i] = 0;
        memcpy(sim.buffers[i], sim.frames + sim.frame_bytes * (sim.next_frame % sim.frame_count), sim.frame_bytes);
        sim.next_frame++;
        *index = i;
        *sequence = sim.sequence++;
        *timestamp_ns = sim.stamp_origin_ns + (sim.next_due_ns - sim.wall_origin_ns) * sim.time_scale;
        *bytes_used = (uint32_t)sim.frame_bytes;
        *error_flag = 0;
        sim.next_due_ns += sim.interval_ns;
        counters.frames++;
        return 0;
    }
    return EAGAIN;
}

// A frame is ready when the camera's clock has reached it and the reader holds no buffer: the
// reader drains ready frames (polling again right after a dequeue), and with at most one frame
// waiting it never skips one. On a slow machine the timestamps still step by the interval, so
// the recogniser's timing, hence its words, do not depend on the machine's load.
static int sim_frame_ready(uint64_t now) {
    if (!sim.streaming || now < sim.next_due_ns || sim.buffer_count == 0) return 0;
    for (uint32_t i = 0; i < sim.buffer_count; i++) {
        if (!sim.queued[i]) return 0;
    }
    return 1;
}

int camera_fault_wait(int fd, int timeout_ms, int *ready) {
    uint64_t deadline = now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000u;
    if (fault.stall_until_ns) {
        uint64_t now = now_ns();
        if (now < fault.stall_until_ns) {
            uint64_t until = fault.stall_until_ns < deadline ? fault.stall_until_ns : deadline;
            if (until > now) sleep_ns(until - now);
            *ready = 0;
            return 0;
        }
        // The camera's clock went on while it sent nothing.
        if (sim.next_due_ns < fault.stall_until_ns) sim.next_due_ns = fault.stall_until_ns;
        fault.stall_until_ns = 0;
        counters.injected++;
        rearm();
    }
    // A failing or hanging DQBUF is announced by poll, as a driver's POLLERR or a ready buffer.
    if (fault.dequeue_count) { *ready = 2; return 0; }
    if (fault.hang_ms) { *ready = 1; return 0; }
    if (!camera_sim_owns(fd)) return -1;
    *ready = 0;
    if (!sim.streaming) { *ready = 2; return 0; }
    for (;;) {
        uint64_t now = now_ns();
        if (sim_frame_ready(now)) break;
        if (now >= deadline) return 0;
        uint64_t until = sim.next_due_ns > now && sim.next_due_ns < deadline ? sim.next_due_ns : deadline;
        sleep_ns(until - now);
    }
    *ready = 1;
    return 0;
}

// --- the simulated camera's side of the other steps ----------------------------------------------

int camera_sim_query(int fd, int *capture, int *streaming, char *card, size_t card_capacity) {
    (void)fd;
    *capture = 1;
    *streaming = 1;
    const char *name = "Dactyl simulated camera";
    if (card_capacity > 0) {
        size_t length = strlen(name) < card_capacity ? strlen(name) : card_capacity - 1;
        memcpy(card, name, length);
        card[length] = 0;
    }
    return 0;
}

int camera_sim_offers(int fd, uint32_t fourcc, int *native) {
    (void)fd;
    *native = fourcc == DACTYL_FOURCC_YU12;
    return 0;
}

int camera_sim_set_format(int fd, uint32_t *width, uint32_t *height, uint32_t *fourcc,
                          uint32_t *bytes_per_line, uint32_t *image_bytes, int *full_range) {
    (void)fd;
    *width = sim.width;
    *height = sim.height;
    *fourcc = DACTYL_FOURCC_YU12;
    *bytes_per_line = sim.width;
    *image_bytes = (uint32_t)sim.frame_bytes;
    *full_range = 0;
    return 0;
}

int camera_sim_set_frame_rate(int fd, uint32_t *numerator, uint32_t *denominator) {
    (void)fd;
    *numerator = sim.frames_per_second;
    *denominator = sim.frames_per_second ? 1 : 0;
    return 0;
}

int camera_sim_request_buffers(int fd, uint32_t *count) {
    (void)fd;
    if (*count > SIM_BUFFERS) *count = SIM_BUFFERS;
    sim.buffer_count = *count;
    memset(sim.queued, 0, sizeof sim.queued);
    return 0;
}

int camera_sim_map_buffer(int fd, uint32_t index, void **address, size_t *length) {
    (void)fd;
    if (index >= sim.buffer_count) return EINVAL;
    *address = sim.buffers[index];
    *length = sim.frame_bytes;
    return 0;
}

int camera_sim_queue(int fd, uint32_t index) {
    (void)fd;
    if (index >= sim.buffer_count || sim.queued[index]) return EINVAL;
    sim.queued[index] = 1;
    return 0;
}

int camera_sim_stream(int fd, int on) {
    (void)fd;
    sim.streaming = on;
    // A camera (re)started now: its clock is at least the real one.
    uint64_t now = now_ns();
    if (on && sim.next_due_ns < now) sim.next_due_ns = now;
    if (!on) memset(sim.queued, 0, sizeof sim.queued);
    return 0;
}
