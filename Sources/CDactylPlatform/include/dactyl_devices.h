// What `dactyl devices` needs beyond the per-kind queries in camera.c and gpio.c: the names in a
// folder, a device node's owner and whether this process may open it, small text files (sysfs,
// configfs) and the user's name. All return 0 / a length, or an errno value (never -1 + errno).
#ifndef DACTYL_DEVICES_H
#define DACTYL_DEVICES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// The names in `directory` that start with `prefix`, each followed by '\n', into `buffer`
// (NUL-terminated, unsorted). Returns the bytes written, or -errno (-ENOENT: no such folder).
// Names that do not fit are left out.
long dactyl_list_directory(const char *directory, const char *prefix, char *buffer, size_t capacity);

// A device node (symbolic links followed) and this process's access to it.
typedef struct {
    uint32_t group_id;
    uint32_t mode;              // permission bits
    int32_t is_char_device;
    int32_t may_open;           // access(R_OK | W_OK) succeeds for this process
    int32_t has_group;          // the group is among this process's groups
    int32_t listed_in_group;    // the user is a member in the group database (maybe not yet in this login)
} dactyl_node_info;
int dactyl_node_info_get(const char *path, dactyl_node_info *info);

// The group's name, or "" when the group database does not know it.
void dactyl_group_name(uint32_t group_id, char *buffer, size_t capacity);
// The name of the user this process runs as ("" when unknown), and whether that is root.
void dactyl_user_name(char *buffer, size_t capacity);
int dactyl_user_is_root(void);

// readlink(2) into buffer (NUL-terminated); the length, or -errno.
long dactyl_read_link(const char *path, char *buffer, size_t capacity);
// A small text file's first capacity-1 bytes (NUL-terminated, trailing newlines removed); the
// length, or -errno.
long dactyl_read_text_file(const char *path, char *buffer, size_t capacity);

#ifdef __cplusplus
}
#endif
#endif
