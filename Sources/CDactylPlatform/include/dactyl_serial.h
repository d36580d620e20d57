// Serial ports (termios) for the serial sink: open raw 8N1 without becoming the controlling
// terminal and without blocking, write without blocking, poll for hang-up.
#ifndef DACTYL_SERIAL_H
#define DACTYL_SERIAL_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// The errno values the sinks tell apart, as constants Swift can import.
enum {
    DACTYL_EAGAIN = EAGAIN,
    DACTYL_EIO = EIO,
    DACTYL_ESHUTDOWN = ESHUTDOWN,
    DACTYL_ENOENT = ENOENT,
    DACTYL_ENOTTY = ENOTTY,
    DACTYL_EINVAL = EINVAL,
};

// 1 if `baud` is a rate termios can set (50 ... 4000000), else 0.
int dactyl_serial_baud_supported(uint32_t baud);

// Opens `path` O_RDWR|O_NONBLOCK|O_NOCTTY|O_CLOEXEC, claims it (TIOCEXCL), and sets raw mode,
// 8 data bits, no parity, 1 stop bit, CLOCAL|CREAD, no flow control, `baud` both ways.
// Returns the descriptor, or -1 with *error_number set (errno; EINVAL for an unsupported baud,
// ENOTTY when `path` is not a terminal).
int dactyl_serial_open(const char *path, uint32_t baud, int *error_number);

// One non-blocking write(2): the number of bytes written (>= 0), or -errno (-EAGAIN when the
// port's buffer is full). EINTR is retried.
long dactyl_serial_write(int fd, const void *bytes, size_t count);

// Polls `fd` once, waiting at most `timeout_ms` (0: not at all).
// Returns DACTYL_POLL_WRITABLE and/or DACTYL_POLL_HANGUP bits, or 0.
enum { DACTYL_POLL_WRITABLE = 1, DACTYL_POLL_HANGUP = 2 };
int dactyl_poll_output(int fd, int timeout_ms);

// Bytes written to `fd` that the kernel has not sent yet (ioctl TIOCOUTQ: its output queue, the
// driver's and, for a USB adapter, the URBs in flight), or -errno (-EIO once the port is hung up).
// A pty reports 0 always: Linux keeps a pty's unread bytes on the far side, where this does not
// count them.
long dactyl_serial_output_pending(int fd);

// Test-only: a simulated output queue, for ptys, which have none (above). While enabled, every
// serial port's pending count is the bytes dactyl_serial_write wrote since the port was opened
// minus those the test says the far side received; a successful dactyl_serial_open starts both
// at 0. Enabling or disabling also clears them. Not thread-safe: one test at a time.
void dactyl_serial_sim_queue(int enabled);
// The far side read `count` more bytes (they left the simulated queue).
void dactyl_serial_sim_received(uint64_t count);

// (dactyl_close is in dactyl_platform.h.)

// Sleeps `nanoseconds` (shutdown paths only: a sink's flush waiting for a port to return).
void dactyl_sleep_ns(uint64_t nanoseconds);

#ifdef __cplusplus
}
#endif
#endif
