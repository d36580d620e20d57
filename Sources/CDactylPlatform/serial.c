#define _GNU_SOURCE
#include "dactyl_serial.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static speed_t speed_for(uint32_t baud) {
    switch (baud) {
    case 50: return B50; case 75: return B75; case 110: return B110; case 134: return B134;
    case 150: return B150; case 200: return B200; case 300: return B300; case 600: return B600;
    case 1200: return B1200; case 1800: return B1800; case 2400: return B2400; case 4800: return B4800;
    case 9600: return B9600; case 19200: return B19200; case 38400: return B38400;
    case 57600: return B57600; case 115200: return B115200; case 230400: return B230400;
    case 460800: return B460800; case 500000: return B500000; case 576000: return B576000;
    case 921600: return B921600; case 1000000: return B1000000; case 1152000: return B1152000;
    case 1500000: return B1500000; case 2000000: return B2000000; case 2500000: return B2500000;
    case 3000000: return B3000000; case 3500000: return B3500000; case 4000000: return B4000000;
    default: return B0;
    }
}

// The simulated output queue (dactyl_serial_sim_queue); off in a normal run.
static int sim_enabled;
static uint64_t sim_written, sim_received;

int dactyl_serial_baud_supported(uint32_t baud) { return speed_for(baud) != B0; }

int dactyl_serial_open(const char *path, uint32_t baud, int *error_number) {
    *error_number = 0;
    speed_t speed = speed_for(baud);
    if (speed == B0) { *error_number = EINVAL; return -1; }
    int fd = open(path, O_RDWR | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) { *error_number = errno; return -1; }
    // Exclusive: a second opener (another program, a getty) gets EBUSY instead of interleaving.
    if (ioctl(fd, TIOCEXCL) != 0) { *error_number = errno; close(fd); return -1; }
    struct termios tio;
    if (tcgetattr(fd, &tio) != 0) { *error_number = errno; close(fd); return -1; }
    cfmakeraw(&tio);
    tio.c_cflag &= ~(CSIZE | PARENB | CSTOPB | CRTSCTS);
    tio.c_cflag |= CS8 | CLOCAL | CREAD;
    tio.c_iflag &= ~(IXON | IXOFF | IXANY);
    tio.c_cc[VMIN] = 0;
    tio.c_cc[VTIME] = 0;
    if (cfsetispeed(&tio, speed) != 0 || cfsetospeed(&tio, speed) != 0 || tcsetattr(fd, TCSANOW, &tio) != 0) {
        *error_number = errno;
        close(fd);
        return -1;
    }
    if (sim_enabled) sim_written = sim_received = 0;
    return fd;
}

long dactyl_serial_write(int fd, const void *bytes, size_t count) {
    for (;;) {
        ssize_t n = write(fd, bytes, count);
        if (n >= 0) {
            if (sim_enabled) sim_written += (uint64_t)n;
            return (long)n;
        }
        if (errno != EINTR) return -(long)errno;
    }
}

long dactyl_serial_output_pending(int fd) {
    if (sim_enabled) return (long)(sim_written - sim_received);
    int pending = 0;
    if (ioctl(fd, TIOCOUTQ, &pending) != 0) return -(long)errno;
    return pending;
}

void dactyl_serial_sim_queue(int enabled) {
    sim_enabled = enabled;
    sim_written = sim_received = 0;
}

void dactyl_serial_sim_received(uint64_t count) {
    sim_received = sim_received + count > sim_written ? sim_written : sim_received + count;
}

int dactyl_poll_output(int fd, int timeout_ms) {
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int n;
    do { n = poll(&p, 1, timeout_ms); } while (n < 0 && errno == EINTR);
    if (n <= 0) return 0;
    int result = 0;
    if (p.revents & POLLOUT) result |= DACTYL_POLL_WRITABLE;
    if (p.revents & (POLLHUP | POLLERR | POLLNVAL)) result |= DACTYL_POLL_HANGUP;
    return result;
}

void dactyl_sleep_ns(uint64_t nanoseconds) {
    struct timespec ts = {.tv_sec = (time_t)(nanoseconds / 1000000000u), .tv_nsec = (long)(nanoseconds % 1000000000u)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}
