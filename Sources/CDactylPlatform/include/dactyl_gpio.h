// GPIO lines through libgpiod 1.6 (Debian bookworm) for the GPIO sink: a chip, output lines
// (LEDs) and one input line with both-edge events (a button). libgpiod allocates when a chip
// is opened and lines are requested; setting values and reading events do not.
#ifndef DACTYL_GPIO_H
#define DACTYL_GPIO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Opaque here so that Swift does not import <gpiod.h>; they are libgpiod's chip and line.
typedef struct dactyl_gpio_chip dactyl_gpio_chip;
typedef struct dactyl_gpio_line dactyl_gpio_line;

// Opens a chip by name ("gpiochip0"), number ("0"), label ("pinctrl-rp1") or path
// ("/dev/gpiochip4"). NULL with *error_number (errno, ENOENT when no chip matches).
dactyl_gpio_chip *dactyl_gpio_open_chip(const char *description, int *error_number);
void dactyl_gpio_close_chip(dactyl_gpio_chip *chip);
// The chip's name and label (static storage of the chip, valid while it is open).
const char *dactyl_gpio_chip_name(dactyl_gpio_chip *chip);
const char *dactyl_gpio_chip_label(dactyl_gpio_chip *chip);
unsigned dactyl_gpio_chip_line_count(dactyl_gpio_chip *chip);

// The offset of the line called `name` on this chip ("GPIO17"), or -1.
int dactyl_gpio_find_line(dactyl_gpio_chip *chip, const char *name);

// For listing (`dactyl devices`): line `offset`'s name and consumer ("" when none), whether it is
// in use (requested by a program or the kernel) and an output. 0 or an errno value.
int dactyl_gpio_line_info(dactyl_gpio_chip *chip, unsigned offset, char *name, size_t name_capacity,
                          char *consumer, size_t consumer_capacity, int *used, int *output);

// Bias of an input line (GPIO request flags).
enum { DACTYL_GPIO_BIAS_AS_IS = 0, DACTYL_GPIO_BIAS_DISABLE = 1, DACTYL_GPIO_BIAS_PULL_UP = 2, DACTYL_GPIO_BIAS_PULL_DOWN = 3 };

// Requests line `offset` as an output for `consumer`, logically `initial` (1 = active).
// NULL with *error_number (EBUSY: another program holds it; EINVAL: no such offset).
dactyl_gpio_line *dactyl_gpio_request_output(dactyl_gpio_chip *chip, unsigned offset, int active_low,
                                             int initial, const char *consumer, int *error_number);
// Requests line `offset` as an input with both-edge events; edges are reported in logical
// terms (with active_low, a falling electrical edge is a rising logical one).
dactyl_gpio_line *dactyl_gpio_request_events(dactyl_gpio_chip *chip, unsigned offset, int active_low,
                                             int bias, const char *consumer, int *error_number);
void dactyl_gpio_release(dactyl_gpio_line *line);

// Sets an output line logically (1 = active). 0 or an errno value.
int dactyl_gpio_set(dactyl_gpio_line *line, int value);
// The line's current logical value (0 or 1), or -errno.
int dactyl_gpio_get(dactyl_gpio_line *line);

// One edge of an input line: the kernel's timestamp (CLOCK_MONOTONIC on Linux >= 5.7) and
// whether the line became active.
typedef struct {
    uint64_t timestamp_ns;
    int32_t rising;
} dactyl_gpio_edge;

// Reads the edges waiting on the line without blocking, at most `capacity` (<= 16).
// Returns how many, or -errno.
int dactyl_gpio_read_edges(dactyl_gpio_line *line, dactyl_gpio_edge *edges, int capacity);

#ifdef __cplusplus
}
#endif
#endif
