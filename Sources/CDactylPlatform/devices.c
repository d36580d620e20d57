// Listing helpers for `dactyl devices`; see dactyl_devices.h.
#define _GNU_SOURCE
#include "dactyl_devices.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

long dactyl_list_directory(const char *directory, const char *prefix, char *buffer, size_t capacity) {
    if (capacity == 0) return -EINVAL;
    buffer[0] = 0;
    DIR *folder = opendir(directory);
    if (folder == NULL) return -(long)errno;
    size_t used = 0, prefix_length = strlen(prefix);
    struct dirent *entry;
    while ((entry = readdir(folder)) != NULL) {
        if (entry->d_name[0] == '.' || strncmp(entry->d_name, prefix, prefix_length) != 0) continue;
        size_t length = strlen(entry->d_name);
        if (used + length + 2 > capacity) continue;
        memcpy(buffer + used, entry->d_name, length);
        used += length;
        buffer[used++] = '\n';
        buffer[used] = 0;
    }
    closedir(folder);
    return (long)used;
}

static char user_name_storage[256];

static const char *current_user_name(void) {
    struct passwd entry, *found = NULL;
    char storage[4096];
    if (getpwuid_r(getuid(), &entry, storage, sizeof storage, &found) != 0 || found == NULL) return NULL;
    strncpy(user_name_storage, found->pw_name, sizeof user_name_storage - 1);
    return user_name_storage;
}

int dactyl_node_info_get(const char *path, dactyl_node_info *info) {
    memset(info, 0, sizeof *info);
    struct stat status;
    if (stat(path, &status) != 0) return errno;
    info->group_id = status.st_gid;
    info->mode = status.st_mode & 07777;
    info->is_char_device = S_ISCHR(status.st_mode);
    info->may_open = access(path, R_OK | W_OK) == 0;
    gid_t groups[256];
    int count = getgroups(256, groups);
    info->has_group = getegid() == status.st_gid;
    for (int i = 0; i < count; i++) {
        if (groups[i] == status.st_gid) info->has_group = 1;
    }
    info->listed_in_group = info->has_group;
    const char *user = current_user_name();
    struct group entry, *found = NULL;
    char storage[16384];
    if (user != NULL && getgrgid_r(status.st_gid, &entry, storage, sizeof storage, &found) == 0 && found != NULL) {
        for (char **member = found->gr_mem; *member != NULL; member++) {
            if (strcmp(*member, user) == 0) info->listed_in_group = 1;
        }
    }
    return 0;
}

void dactyl_group_name(uint32_t group_id, char *buffer, size_t capacity) {
    if (capacity == 0) return;
    buffer[0] = 0;
    struct group entry, *found = NULL;
    char storage[16384];
    if (getgrgid_r((gid_t)group_id, &entry, storage, sizeof storage, &found) == 0 && found != NULL) {
        strncpy(buffer, found->gr_name, capacity - 1);
        buffer[capacity - 1] = 0;
    }
}

void dactyl_user_name(char *buffer, size_t capacity) {
    if (capacity == 0) return;
    const char *user = current_user_name();
    strncpy(buffer, user != NULL ? user : "", capacity - 1);
    buffer[capacity - 1] = 0;
}

int dactyl_user_is_root(void) { return geteuid() == 0; }

long dactyl_read_link(const char *path, char *buffer, size_t capacity) {
    if (capacity == 0) return -EINVAL;
    ssize_t length = readlink(path, buffer, capacity - 1);
    if (length < 0) { buffer[0] = 0; return -(long)errno; }
    buffer[length] = 0;
    return (long)length;
}

long dactyl_read_text_file(const char *path, char *buffer, size_t capacity) {
    if (capacity == 0) return -EINVAL;
    buffer[0] = 0;
    // Non-blocking: a FIFO or a device named by mistake must not hang the listing.
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return -(long)errno;
    size_t used = 0;
    while (used + 1 < capacity) {
        ssize_t n = read(fd, buffer + used, capacity - 1 - used);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        used += (size_t)n;
    }
    close(fd);
    while (used > 0 && (buffer[used - 1] == '\n' || buffer[used - 1] == 0)) used--;
    buffer[used] = 0;
    return (long)used;
}
