// systemd's service notification protocol (sd_notify(3)) without libsystemd: datagrams of
// "KEY=value" lines to the unix socket named by $NOTIFY_SOCKET (a path, or '@' for the abstract
// namespace). The unit has Type=notify and WatchdogSec=; outside systemd every call does nothing.
#ifndef DACTYL_NOTIFY_H
#define DACTYL_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID (once, at start-up: the socket and the
// interval are kept; calling it again re-reads them) and opens the socket. Returns 0 (also when
// $NOTIFY_SOCKET is unset: nothing will be sent) or an errno value for an unusable address.
int dactyl_notify_open(void);
// 1 once dactyl_notify_open found a socket to notify.
int dactyl_notify_active(void);
// The watchdog interval systemd asked for ($WATCHDOG_USEC) in nanoseconds; 0 when there is none
// (unset, unparsable, or $WATCHDOG_PID names another process).
uint64_t dactyl_notify_watchdog_ns(void);
// Sends `count` bytes as one datagram (e.g. "READY=1", "WATCHDOG=1"); never blocks, never
// allocates. Returns 0 (also when not active) or the errno of the failed send.
int dactyl_notify_send(const char *message, size_t count);
// Sends "STATUS=" followed by `text` (cut at 200 bytes; line breaks become spaces, since each
// line of a datagram is one assignment).
int dactyl_notify_status(const uint8_t *text, size_t count);
void dactyl_notify_close(void);

#ifdef __cplusplus
}
#endif
#endif
