// Camera faults on demand, and a simulated camera to inject them into, so that host tests drive
// V4L2Camera, CameraFrameSource and the live box through a lost, failing or hung camera without
// a device (the virtual Raspberry Pi tests the real vivid driver). Test-only: nothing calls these
// in a normal run, where they cost one branch per camera call.
#ifndef DACTYL_CAMERA_FAULT_H
#define DACTYL_CAMERA_FAULT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// A camera at `path` (opened by dactyl_camera_open as if it were a V4L2 node): YU12 frames of
// width x height (even), `frame_count` of them at `frames` (width * height * 3 / 2 bytes each,
// copied now), shown in a loop, stamped `frame_interval_us` apart on the camera's own clock.
// A frame is ready when that clock reaches it and the reader has re-queued the previous one,
// so none is ever skipped, however slow the reader; the rate it reports is `frames_per_second`.
// `time_scale` (>= 1) plays the camera that many times faster than real time: frames come every
// frame_interval_us / time_scale of wall time but are stamped frame_interval_us apart (stalls and
// reopens stretched likewise), on a clock set back far enough that a stamp is never in the
// future; so a test sees the timing of a real-time camera (the recogniser resamples by stamps)
// in a tenth of the time. Returns 0 or an errno value. One simulated camera at a time.
int dactyl_camera_sim_install(const char *path, uint32_t width, uint32_t height, const uint8_t *frames,
                              size_t frame_count, uint32_t frame_interval_us, uint32_t frames_per_second,
                              uint32_t time_scale);
// Removes the simulated camera and clears every fault and counter.
void dactyl_camera_sim_remove(void);

// The next `count` opens fail with `error` (a camera unplugged: ENOENT, ENODEV).
void dactyl_camera_fault_open(uint32_t count, int error);
// The next `count` VIDIOC_DQBUF fail with `error` (EIO: a USB camera's transfer failed); poll
// reports POLLERR first, as a driver does.
void dactyl_camera_fault_dequeue(uint32_t count, int error);
// No frame for `milliseconds` from now: poll times out (a camera that stopped sending).
void dactyl_camera_fault_stall(uint32_t milliseconds);
// The next VIDIOC_DQBUF blocks for `milliseconds` before it returns (a driver that blocks
// despite O_NONBLOCK, the hang after an unplug that only a watchdog ends).
void dactyl_camera_fault_hang(uint32_t milliseconds);

// What happened, since dactyl_camera_sim_install.
typedef struct {
    uint32_t open_attempts;   // dactyl_camera_open calls on the simulated camera
    uint32_t opens;           // ... that succeeded
    uint32_t frames;          // frames dequeued
    uint32_t injected;        // faults that took effect (failed opens, failed dequeues, stalls, hangs)
    uint64_t open_attempt_ns[16];  // CLOCK_MONOTONIC of the first 16 open attempts
} dactyl_camera_sim_counters;
void dactyl_camera_sim_read_counters(dactyl_camera_sim_counters *counters);

#ifdef __cplusplus
}
#endif
#endif
