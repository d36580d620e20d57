// Signals for the live box: SIGTERM/SIGINT (finish the word, flush, exit 0) and SIGHUP (re-read
// the board profile). The handlers only set flags; the run loop takes them between frames.
#ifndef DACTYL_SIGNALS_H
#define DACTYL_SIGNALS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum {
    DACTYL_SIGNAL_STOP = 1u << 0,    // SIGTERM or SIGINT
    DACTYL_SIGNAL_RELOAD = 1u << 1,  // SIGHUP
};

// Installs the handlers without SA_RESTART, so a sleep or poll returns early on a signal.
// Returns 0 or an errno value.
int dactyl_signals_install(void);
// The signals received since the last call (DACTYL_SIGNAL_* bits), cleared.
uint32_t dactyl_signals_take(void);
// Sleeps until CLOCK_MONOTONIC reaches deadline_ns, or a signal arrives.
void dactyl_sleep_until(uint64_t deadline_ns);

#ifdef __cplusplus
}
#endif
#endif
