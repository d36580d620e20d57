// Private to camera.c and camera_fault.c: the hooks camera.c calls before touching a device.
#ifndef DACTYL_CAMERA_SIM_H
#define DACTYL_CAMERA_SIM_H

#include <stddef.h>
#include <stdint.h>

// Set while a simulated camera is installed or a fault is armed: camera.c checks it first, so
// a normal run pays one load and branch per call.
extern volatile int dactyl_camera_faults_armed;

// Faults on any camera, and the simulated camera's open, close, dequeue and poll: each returns
// -1 when it does not apply (not the simulated camera, no fault armed), else the step's result.
int camera_fault_open(const char *path, int *fd);
int camera_fault_close(int fd);
int camera_fault_dequeue(int fd, uint32_t *index, uint32_t *sequence, uint64_t *timestamp_ns,
                         uint32_t *bytes_used, int *error_flag);
int camera_fault_wait(int fd, int timeout_ms, int *ready);
// The simulated camera's other steps, for a descriptor camera_sim_owns.
int camera_sim_query(int fd, int *capture, int *streaming, char *card, size_t card_capacity);
int camera_sim_offers(int fd, uint32_t fourcc, int *native);
int camera_sim_set_format(int fd, uint32_t *width, uint32_t *height, uint32_t *fourcc,
                          uint32_t *bytes_per_line, uint32_t *image_bytes, int *full_range);
int camera_sim_set_frame_rate(int fd, uint32_t *numerator, uint32_t *denominator);
int camera_sim_request_buffers(int fd, uint32_t *count);
int camera_sim_map_buffer(int fd, uint32_t index, void **address, size_t *length);
int camera_sim_owns_mapping(const void *address);
int camera_sim_queue(int fd, uint32_t index);
int camera_sim_stream(int fd, int on);
int camera_sim_owns(int fd);

#endif
