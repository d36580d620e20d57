#define _GNU_SOURCE
#include "dactyl_gpio.h"

#include <errno.h>
#include <gpiod.h>
#include <string.h>
#include <time.h>

dactyl_gpio_chip *dactyl_gpio_open_chip(const char *description, int *error_number) {
    *error_number = 0;
    errno = 0;
    // gpiod_chip_open_lookup tries number, name, label and path in turn.
    struct gpiod_chip *chip = gpiod_chip_open_lookup(description);
    if (chip == NULL) *error_number = errno != 0 ? errno : ENOENT;
    return (dactyl_gpio_chip *)chip;
}

void dactyl_gpio_close_chip(dactyl_gpio_chip *chip) {
    if (chip != NULL) gpiod_chip_close((struct gpiod_chip *)chip);
}

const char *dactyl_gpio_chip_name(dactyl_gpio_chip *chip) { return gpiod_chip_name((struct gpiod_chip *)chip); }
const char *dactyl_gpio_chip_label(dactyl_gpio_chip *chip) { return gpiod_chip_label((struct gpiod_chip *)chip); }
unsigned dactyl_gpio_chip_line_count(dactyl_gpio_chip *chip) { return gpiod_chip_num_lines((struct gpiod_chip *)chip); }

int dactyl_gpio_find_line(dactyl_gpio_chip *chip, const char *name) {
    struct gpiod_line *line = gpiod_chip_find_line((struct gpiod_chip *)chip, name);
    return line == NULL ? -1 : (int)gpiod_line_offset(line);
}

static void copy_name(char *to, size_t capacity, const char *from) {
    if (capacity == 0) return;
    size_t length = from != NULL ? strlen(from) : 0;
    if (length >= capacity) length = capacity - 1;
    if (length > 0) memcpy(to, from, length);
    to[length] = 0;
}

int dactyl_gpio_line_info(dactyl_gpio_chip *chip, unsigned offset, char *name, size_t name_capacity,
                          char *consumer, size_t consumer_capacity, int *used, int *output) {
    if (offset >= gpiod_chip_num_lines((struct gpiod_chip *)chip)) return EINVAL;
    errno = 0;
    // gpiod_chip_get_line reads the line's current info from the kernel (GPIO_GET_LINEINFO_IOCTL).
    struct gpiod_line *line = gpiod_chip_get_line((struct gpiod_chip *)chip, offset);
    if (line == NULL) return errno != 0 ? errno : EIO;
    copy_name(name, name_capacity, gpiod_line_name(line));
    copy_name(consumer, consumer_capacity, gpiod_line_consumer(line));
    *used = gpiod_line_is_used(line) ? 1 : 0;
    *output = gpiod_line_direction(line) == GPIOD_LINE_DIRECTION_OUTPUT;
    return 0;
}

static struct gpiod_line *line_at(dactyl_gpio_chip *chip, unsigned offset, int *error_number) {
    if (offset >= gpiod_chip_num_lines((struct gpiod_chip *)chip)) { *error_number = EINVAL; return NULL; }
    struct gpiod_line *line = gpiod_chip_get_line((struct gpiod_chip *)chip, offset);
    if (line == NULL) *error_number = errno != 0 ? errno : EINVAL;
    return line;
}

dactyl_gpio_line *dactyl_gpio_request_output(dactyl_gpio_chip *chip, unsigned offset, int active_low,
                                             int initial, const char *consumer, int *error_number) {
    *error_number = 0;
    struct gpiod_line *line = line_at(chip, offset, error_number);
    if (line == NULL) return NULL;
    int flags = active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0;
    if (gpiod_line_request_output_flags(line, consumer, flags, initial ? 1 : 0) != 0) {
        *error_number = errno != 0 ? errno : EIO;
        return NULL;
    }
    return (dactyl_gpio_line *)line;
}

dactyl_gpio_line *dactyl_gpio_request_events(dactyl_gpio_chip *chip, unsigned offset, int active_low,
                                             int bias, const char *consumer, int *error_number) {
    *error_number = 0;
    struct gpiod_line *line = line_at(chip, offset, error_number);
    if (line == NULL) return NULL;
    int flags = active_low ? GPIOD_LINE_REQUEST_FLAG_ACTIVE_LOW : 0;
    switch (bias) {
    case DACTYL_GPIO_BIAS_DISABLE: flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_DISABLE; break;
    case DACTYL_GPIO_BIAS_PULL_UP: flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_UP; break;
    case DACTYL_GPIO_BIAS_PULL_DOWN: flags |= GPIOD_LINE_REQUEST_FLAG_BIAS_PULL_DOWN; break;
    default: break;
    }
    if (gpiod_line_request_both_edges_events_flags(line, consumer, flags) != 0) {
        *error_number = errno != 0 ? errno : EIO;
        return NULL;
    }
    return (dactyl_gpio_line *)line;
}

void dactyl_gpio_release(dactyl_gpio_line *line) {
    if (line != NULL) gpiod_line_release((struct gpiod_line *)line);
}

int dactyl_gpio_set(dactyl_gpio_line *line, int value) {
    return gpiod_line_set_value((struct gpiod_line *)line, value ? 1 : 0) == 0 ? 0 : (errno != 0 ? errno : EIO);
}

int dactyl_gpio_get(dactyl_gpio_line *line) {
    int value = gpiod_line_get_value((struct gpiod_line *)line);
    return value < 0 ? -(errno != 0 ? errno : EIO) : value;
}

int dactyl_gpio_read_edges(dactyl_gpio_line *line, dactyl_gpio_edge *edges, int capacity) {
    struct gpiod_line *gline = (struct gpiod_line *)line;
    if (capacity > 16) capacity = 16;
    if (capacity <= 0) return 0;
    // A zero timeout: poll only, never wait.
    struct timespec zero = {0, 0};
    int ready = gpiod_line_event_wait(gline, &zero);
    if (ready < 0) return -(errno != 0 ? errno : EIO);
    if (ready == 0) return 0;
    struct gpiod_line_event events[16];
    int count = gpiod_line_event_read_multiple(gline, events, (unsigned)capacity);
    if (count < 0) return errno == EAGAIN ? 0 : -(errno != 0 ? errno : EIO);
    for (int i = 0; i < count; i++) {
        edges[i].timestamp_ns = (uint64_t)events[i].ts.tv_sec * 1000000000u + (uint64_t)events[i].ts.tv_nsec;
        edges[i].rising = events[i].event_type == GPIOD_LINE_EVENT_RISING_EDGE;
    }
    return count;
}
