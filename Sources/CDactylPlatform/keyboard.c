#define _GNU_SOURCE
#include "dactyl_keyboard.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int dactyl_keyboard_open(const char *path, int *error_number) {
    *error_number = 0;
    int fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) *error_number = errno;
    return fd;
}

long dactyl_keyboard_write(int fd, const uint8_t *report, size_t count) {
    for (;;) {
        ssize_t n = write(fd, report, count);
        if (n >= 0) return (long)n;
        if (errno != EINTR) return -(long)errno;
    }
}
