// The USB HID keyboard gadget (/dev/hidg0) for the keyboard sink: open and write 8-byte
// boot-protocol reports without blocking. The same calls work on a FIFO (the tests).
#ifndef DACTYL_KEYBOARD_H
#define DACTYL_KEYBOARD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Opens `path` O_WRONLY|O_NONBLOCK|O_CLOEXEC (O_RDWR is not needed: LED reports from the host
// are ignored). The descriptor, or -1 with *error_number (errno).
int dactyl_keyboard_open(const char *path, int *error_number);

// Writes one 8-byte report without blocking: 8, 0 < n < 8 (partial, rare on a pipe, never on
// hidg), or -errno (-EAGAIN: the host has not read the previous report; -ESHUTDOWN: no host
// has configured the gadget).
long dactyl_keyboard_write(int fd, const uint8_t *report, size_t count);

#ifdef __cplusplus
}
#endif
#endif
