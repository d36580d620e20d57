#define _GNU_SOURCE
#include "dactyl_signals.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t reload_requested;

static void on_signal(int number) {
    if (number == SIGHUP) reload_requested = 1;
    else stop_requested = 1;
}

int dactyl_signals_install(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: waits end early, and the loop sees the flag at once
    const int numbers[] = {SIGTERM, SIGINT, SIGHUP};
    for (unsigned i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        if (sigaction(numbers[i], &action, NULL) != 0) return errno;
    }
    // A serial or keyboard peer that goes away must be an error value, not a dead process.
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

uint32_t dactyl_signals_take(void) {
    uint32_t bits = 0;
    if (stop_requested) { stop_requested = 0; bits |= DACTYL_SIGNAL_STOP; }
    if (reload_requested) { reload_requested = 0; bits |= DACTYL_SIGNAL_RELOAD; }
    return bits;
}

void dactyl_sleep_until(uint64_t deadline_ns) {
    struct timespec deadline = {(time_t)(deadline_ns / 1000000000u), (long)(deadline_ns % 1000000000u)};
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL);  // EINTR: a signal, handled by the caller
}
