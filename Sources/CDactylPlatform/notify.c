// See dactyl_notify.h. State is set up once; each send is one sendto() on memory that exists
// already (the frame loop's watchdog ping must not allocate).
#define _GNU_SOURCE
#include "dactyl_notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int notify_fd = -1;
static struct sockaddr_un notify_address;
static socklen_t notify_address_length;
static uint64_t watchdog_ns;

// A whole decimal number, or 0 for anything else (systemd's own parser is as strict).
static uint64_t parse_unsigned(const char *text) {
    if (text == NULL || *text == 0) return 0;
    uint64_t value = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9') return 0;
        uint64_t digit = (uint64_t)(*p - '0');
        if (value > (UINT64_MAX - digit) / 10) return 0;
        value = value * 10 + digit;
    }
    return value;
}

void dactyl_notify_close(void) {
    if (notify_fd >= 0) close(notify_fd);
    notify_fd = -1;
    notify_address_length = 0;
    watchdog_ns = 0;
}

int dactyl_notify_open(void) {
    dactyl_notify_close();
    const char *socket_name = getenv("NOTIFY_SOCKET");
    if (socket_name == NULL || socket_name[0] == 0) return 0;
    size_t length = strlen(socket_name);
    if ((socket_name[0] != '/' && socket_name[0] != '@') || length >= sizeof notify_address.sun_path) return EINVAL;
    memset(&notify_address, 0, sizeof notify_address);
    notify_address.sun_family = AF_UNIX;
    memcpy(notify_address.sun_path, socket_name, length);
    // '@' is the abstract namespace: a leading NUL, and the length counts exactly the name.
    if (socket_name[0] == '@') notify_address.sun_path[0] = 0;
    notify_address_length = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + length + (socket_name[0] == '/' ? 1 : 0));
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return errno;
    notify_fd = fd;
    // The watchdog is ours unless WATCHDOG_PID names another process (a wrapper's child).
    const char *pid_text = getenv("WATCHDOG_PID");
    uint64_t pid = parse_unsigned(pid_text);
    if (pid_text == NULL || pid_text[0] == 0 || pid == (uint64_t)getpid()) {
        uint64_t microseconds = parse_unsigned(getenv("WATCHDOG_USEC"));
        watchdog_ns = microseconds > UINT64_MAX / 1000 ? UINT64_MAX : microseconds * 1000;
    }
    return 0;
}

int dactyl_notify_active(void) { return notify_fd >= 0; }

uint64_t dactyl_notify_watchdog_ns(void) { return watchdog_ns; }

int dactyl_notify_send(const char *message, size_t count) {
    if (notify_fd < 0) return 0;
    ssize_t sent;
    do {
        sent = sendto(notify_fd, message, count, MSG_NOSIGNAL | MSG_DONTWAIT,
                      (const struct sockaddr *)&notify_address, notify_address_length);
    } while (sent < 0 && errno == EINTR);
    return sent < 0 ? errno : 0;
}

int dactyl_notify_status(const uint8_t *text, size_t count) {
    char line[8 + 200];
    memcpy(line, "STATUS=", 7);
    if (count > 200) count = 200;
    for (size_t i = 0; i < count; i++) {
        char c = (char)text[i];
        line[7 + i] = (c == '\n' || c == '\r') ? ' ' : c;
    }
    return dactyl_notify_send(line, 7 + count);
}
