// The preview page's HTTP server (`dactyl run --preview`): TCP sockets (non-blocking), poll, a
// wake-up descriptor, the server thread, and the hand-off between the frame loop and that thread
// (a frame mailbox and an event ring, both lock-free: the loop never waits on the server).
#ifndef DACTYL_HTTP_H
#define DACTYL_HTTP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// An address that is not an IP literal (dactyl_tcp_listen's error).
enum { DACTYL_ERROR_NOT_AN_ADDRESS = -1010 };

// Listens on `address` (an IPv4 or IPv6 literal, e.g. "127.0.0.1", "0.0.0.0", "::1") and `port`
// (0: any free port), non-blocking and close-on-exec, with SO_REUSEADDR. Returns the descriptor,
// or -1 with *error_number set (an errno value, or DACTYL_ERROR_NOT_AN_ADDRESS).
int dactyl_tcp_listen(const char *address, uint16_t port, int backlog, int *error_number);
// The port a listening socket is bound to (after port 0), or -1.
int dactyl_tcp_local_port(int fd);
// Accepts one connection, non-blocking and close-on-exec. Returns the descriptor, or -errno
// (-EAGAIN when none is waiting).
int dactyl_tcp_accept(int fd);
// One recv(2): bytes read (> 0), 0 at the peer's end of stream, or -errno (-EAGAIN: nothing yet).
long dactyl_socket_read(int fd, void *buffer, size_t capacity);
// One send(2) without SIGPIPE: bytes written (>= 0) or -errno (-EAGAIN: the socket buffer is full).
long dactyl_socket_write(int fd, const void *bytes, size_t count);

// poll(2) over `count` entries (at most 64), retried on EINTR. `events` and `revents` use the
// DACTYL_IO_* bits. Returns the number of ready entries, 0 on timeout (-1: wait for ever), or -errno.
enum { DACTYL_IO_IN = 1, DACTYL_IO_OUT = 2, DACTYL_IO_ERROR = 4 };
typedef struct {
    int32_t fd;
    uint16_t events;
    uint16_t revents;
} dactyl_io_entry;
int dactyl_io_poll(dactyl_io_entry *entries, int count, int timeout_ms);

// A wake-up descriptor (eventfd): readable after dactyl_wake_signal until drained.
int dactyl_wake_create(int *error_number);
void dactyl_wake_signal(int fd);
void dactyl_wake_drain(int fd);

// A thread running body(context), with the process's signals blocked (they go to the thread that
// called this). Returns 0 or an errno value.
typedef struct { uint64_t id; } dactyl_thread;
int dactyl_thread_start(dactyl_thread *thread, void (*body)(void *), void *context);
void dactyl_thread_join(dactyl_thread thread);

// The hand-off from the frame loop to the server thread, made once at start-up.
//
// Frame mailbox: one buffer of `frame_bytes`. The server asks for a frame (request: IDLE -> WANT)
// when a viewer can take one; the loop, seeing WANT, claims the buffer (WANT -> FILLING), copies
// the frame in and publishes it (-> READY), and signals the wake descriptor; the server takes it
// (READY -> BUSY), encodes and sends it, and releases it (-> IDLE). A frame the server does not
// want is never copied: the loop's cost per frame is one atomic load when nobody is watching.
//
// Event ring: `event_slots` slots of `event_bytes`, single producer (the loop) and single consumer
// (the server). A push into a full ring is refused and counted; nothing ever waits.
typedef struct dactyl_handoff dactyl_handoff;
dactyl_handoff *dactyl_handoff_create(size_t frame_bytes, int event_slots, size_t event_bytes, int wake_fd);
void dactyl_handoff_destroy(dactyl_handoff *handoff);
// The loop's side.
int dactyl_handoff_frame_wanted(const dactyl_handoff *handoff);
uint8_t *dactyl_handoff_frame_claim(dactyl_handoff *handoff);  // NULL unless wanted
void dactyl_handoff_frame_publish(dactyl_handoff *handoff, uint64_t frame_number);
int dactyl_handoff_event_push(dactyl_handoff *handoff, const void *bytes, size_t count);  // 0, or -1 when full
uint64_t dactyl_handoff_events_dropped(const dactyl_handoff *handoff);
// The server's side.
void dactyl_handoff_frame_request(dactyl_handoff *handoff);  // IDLE -> WANT
void dactyl_handoff_frame_cancel(dactyl_handoff *handoff);   // WANT -> IDLE (no viewer left)
const uint8_t *dactyl_handoff_frame_take(dactyl_handoff *handoff, uint64_t *frame_number);  // NULL unless READY
void dactyl_handoff_frame_release(dactyl_handoff *handoff);  // BUSY -> IDLE
long dactyl_handoff_event_pop(dactyl_handoff *handoff, void *buffer, size_t capacity);  // length, or -1 when empty
// Either side: the stop flag (the loop sets it; the server thread ends when it sees it).
void dactyl_handoff_stop(dactyl_handoff *handoff);
int dactyl_handoff_stopping(const dactyl_handoff *handoff);
// Frames handed over so far (published by the loop).
uint64_t dactyl_handoff_frames_published(const dactyl_handoff *handoff);

#ifdef __cplusplus
}
#endif
#endif
