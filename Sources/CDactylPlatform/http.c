#define _GNU_SOURCE
#include "dactyl_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

int dactyl_tcp_listen(const char *address, uint16_t port, int backlog, int *error_number) {
    *error_number = 0;
    struct sockaddr_storage storage;
    memset(&storage, 0, sizeof storage);
    socklen_t length;
    int family;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&storage;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&storage;
    if (inet_pton(AF_INET, address, &v4->sin_addr) == 1) {
        family = AF_INET;
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        length = sizeof *v4;
    } else if (inet_pton(AF_INET6, address, &v6->sin6_addr) == 1) {
        family = AF_INET6;
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        length = sizeof *v6;
    } else {
        *error_number = DACTYL_ERROR_NOT_AN_ADDRESS;
        return -1;
    }
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) { *error_number = errno; return -1; }
    int one = 1;
    // A restarted box gets its port back at once, not after TIME_WAIT.
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&storage, length) != 0 || listen(fd, backlog) != 0) {
        *error_number = errno;
        close(fd);
        return -1;
    }
    return fd;
}

int dactyl_tcp_local_port(int fd) {
    struct sockaddr_storage storage;
    socklen_t length = sizeof storage;
    if (getsockname(fd, (struct sockaddr *)&storage, &length) != 0) return -1;
    if (storage.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&storage)->sin_port);
    if (storage.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&storage)->sin6_port);
    return -1;
}

int dactyl_tcp_accept(int fd) {
    for (;;) {
        int client = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (client >= 0) {
            int one = 1;
            // Frames and events are written whole; small writes should leave at once.
            setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            return client;
        }
        if (errno != EINTR) return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

long dactyl_socket_read(int fd, void *buffer, size_t capacity) {
    for (;;) {
        ssize_t n = recv(fd, buffer, capacity, 0);
        if (n >= 0) return (long)n;
        if (errno != EINTR) return errno == EWOULDBLOCK ? -EAGAIN : -(long)errno;
    }
}

long dactyl_socket_write(int fd, const void *bytes, size_t count) {
    for (;;) {
        ssize_t n = send(fd, bytes, count, MSG_NOSIGNAL);
        if (n >= 0) return (long)n;
        if (errno != EINTR) return errno == EWOULDBLOCK ? -EAGAIN : -(long)errno;
    }
}

int dactyl_io_poll(dactyl_io_entry *entries, int count, int timeout_ms) {
    struct pollfd fds[64];
    if (count < 0 || count > 64) return -EINVAL;
    for (int i = 0; i < count; i++) {
        fds[i].fd = entries[i].fd;
        fds[i].events = (short)(((entries[i].events & DACTYL_IO_IN) ? POLLIN : 0) |
                                ((entries[i].events & DACTYL_IO_OUT) ? POLLOUT : 0));
        fds[i].revents = 0;
    }
    int n;
    do { n = poll(fds, (nfds_t)count, timeout_ms); } while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    for (int i = 0; i < count; i++) {
        uint16_t got = 0;
        if (fds[i].revents & POLLIN) got |= DACTYL_IO_IN;
        if (fds[i].revents & POLLOUT) got |= DACTYL_IO_OUT;
        if (fds[i].revents & (POLLERR | POLLHUP | POLLNVAL)) got |= DACTYL_IO_ERROR;
        entries[i].revents = got;
    }
    return n;
}

int dactyl_wake_create(int *error_number) {
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    *error_number = fd < 0 ? errno : 0;
    return fd;
}

void dactyl_wake_signal(int fd) {
    uint64_t one = 1;
    // A full counter (never in practice) still leaves the descriptor readable: nothing to retry.
    ssize_t ignored = write(fd, &one, sizeof one);
    (void)ignored;
}

void dactyl_wake_drain(int fd) {
    uint64_t value;
    ssize_t ignored = read(fd, &value, sizeof value);
    (void)ignored;
}

typedef struct {
    void (*body)(void *);
    void *context;
} thread_start;

static void *thread_main(void *argument) {
    thread_start start = *(thread_start *)argument;
    free(argument);
    // Signals for the process (SIGTERM, SIGINT, SIGHUP) go to the frame loop's thread, whose
    // waits they must interrupt; this thread never takes them. Faults stay with the faulting thread.
    sigset_t asynchronous;
    sigfillset(&asynchronous);
    int faults[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP, SIGABRT, SIGSYS};
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) sigdelset(&asynchronous, faults[i]);
    pthread_sigmask(SIG_BLOCK, &asynchronous, NULL);
    start.body(start.context);
    return NULL;
}

int dactyl_thread_start(dactyl_thread *thread, void (*body)(void *), void *context) {
    thread_start *start = malloc(sizeof *start);
    if (!start) return ENOMEM;
    start->body = body;
    start->context = context;
    pthread_t id;
    int error = pthread_create(&id, NULL, thread_main, start);
    if (error != 0) { free(start); return error; }
    thread->id = (uint64_t)id;
    return 0;
}

void dactyl_thread_join(dactyl_thread thread) { pthread_join((pthread_t)thread.id, NULL); }

// --- the hand-off -------------------------------------------------------------------------

enum { FRAME_IDLE = 0, FRAME_WANT = 1, FRAME_FILLING = 2, FRAME_READY = 3, FRAME_BUSY = 4 };

struct dactyl_handoff {
    _Atomic int frame_state;
    _Atomic int stopping;
    _Atomic uint64_t frames_published;
    _Atomic uint64_t events_dropped;
    uint64_t frame_number;  // written by the loop while FILLING, read by the server when READY
    uint8_t *frame;
    size_t frame_bytes;
    // Event ring: head counts pops (the server's), tail counts pushes (the loop's).
    _Atomic uint64_t head;
    _Atomic uint64_t tail;
    int slots;
    size_t slot_bytes;     // bytes per slot, its length word included
    uint8_t *ring;
    int wake_fd;
};

dactyl_handoff *dactyl_handoff_create(size_t frame_bytes, int event_slots, size_t event_bytes, int wake_fd) {
    if (event_slots <= 0 || event_bytes == 0) return NULL;
    dactyl_handoff *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->frame_bytes = frame_bytes;
    h->frame = calloc(1, frame_bytes ? frame_bytes : 1);
    h->slots = event_slots;
    h->slot_bytes = sizeof(uint32_t) + event_bytes;
    h->ring = calloc((size_t)event_slots, h->slot_bytes);
    h->wake_fd = wake_fd;
    if (!h->frame || !h->ring) { dactyl_handoff_destroy(h); return NULL; }
    return h;
}

void dactyl_handoff_destroy(dactyl_handoff *h) {
    if (!h) return;
    free(h->frame);
    free(h->ring);
    free(h);
}

int dactyl_handoff_frame_wanted(const dactyl_handoff *h) {
    return atomic_load_explicit(&h->frame_state, memory_order_relaxed) == FRAME_WANT;
}

uint8_t *dactyl_handoff_frame_claim(dactyl_handoff *h) {
    int expected = FRAME_WANT;
    if (!atomic_compare_exchange_strong_explicit(&h->frame_state, &expected, FRAME_FILLING, memory_order_acquire,
                                                 memory_order_relaxed))
        return NULL;
    return h->frame;
}

void dactyl_handoff_frame_publish(dactyl_handoff *h, uint64_t frame_number) {
    h->frame_number = frame_number;
    atomic_store_explicit(&h->frame_state, FRAME_READY, memory_order_release);
    atomic_fetch_add_explicit(&h->frames_published, 1, memory_order_relaxed);
    dactyl_wake_signal(h->wake_fd);
}

int dactyl_handoff_event_push(dactyl_handoff *h, const void *bytes, size_t count) {
    uint64_t tail = atomic_load_explicit(&h->tail, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&h->head, memory_order_acquire);
    if (count > h->slot_bytes - sizeof(uint32_t) || tail - head >= (uint64_t)h->slots) {
        atomic_fetch_add_explicit(&h->events_dropped, 1, memory_order_relaxed);
        return -1;
    }
    uint8_t *slot = h->ring + (size_t)(tail % (uint64_t)h->slots) * h->slot_bytes;
    uint32_t length = (uint32_t)count;
    memcpy(slot, &length, sizeof length);
    memcpy(slot + sizeof length, bytes, count);
    atomic_store_explicit(&h->tail, tail + 1, memory_order_release);
    dactyl_wake_signal(h->wake_fd);
    return 0;
}

uint64_t dactyl_handoff_events_dropped(const dactyl_handoff *h) {
    return atomic_load_explicit(&h->events_dropped, memory_order_relaxed);
}

void dactyl_handoff_frame_request(dactyl_handoff *h) {
    // Release: the loop's claim (acquire) then sees the server done with the buffer.
    int expected = FRAME_IDLE;
    atomic_compare_exchange_strong_explicit(&h->frame_state, &expected, FRAME_WANT, memory_order_release,
                                            memory_order_relaxed);
}

void dactyl_handoff_frame_cancel(dactyl_handoff *h) {
    int expected = FRAME_WANT;
    atomic_compare_exchange_strong_explicit(&h->frame_state, &expected, FRAME_IDLE, memory_order_relaxed,
                                            memory_order_relaxed);
}

const uint8_t *dactyl_handoff_frame_take(dactyl_handoff *h, uint64_t *frame_number) {
    int expected = FRAME_READY;
    if (!atomic_compare_exchange_strong_explicit(&h->frame_state, &expected, FRAME_BUSY, memory_order_acquire,
                                                 memory_order_relaxed))
        return NULL;
    *frame_number = h->frame_number;
    return h->frame;
}

void dactyl_handoff_frame_release(dactyl_handoff *h) {
    atomic_store_explicit(&h->frame_state, FRAME_IDLE, memory_order_release);
}

long dactyl_handoff_event_pop(dactyl_handoff *h, void *buffer, size_t capacity) {
    uint64_t head = atomic_load_explicit(&h->head, memory_order_relaxed);
    uint64_t tail = atomic_load_explicit(&h->tail, memory_order_acquire);
    if (head == tail) return -1;
    const uint8_t *slot = h->ring + (size_t)(head % (uint64_t)h->slots) * h->slot_bytes;
    uint32_t length;
    memcpy(&length, slot, sizeof length);
    size_t copied = length < capacity ? length : capacity;
    memcpy(buffer, slot + sizeof length, copied);
    atomic_store_explicit(&h->head, head + 1, memory_order_release);
    return (long)copied;
}

void dactyl_handoff_stop(dactyl_handoff *h) {
    atomic_store_explicit(&h->stopping, 1, memory_order_release);
    dactyl_wake_signal(h->wake_fd);
}

int dactyl_handoff_stopping(const dactyl_handoff *h) {
    return atomic_load_explicit(&h->stopping, memory_order_acquire);
}

uint64_t dactyl_handoff_frames_published(const dactyl_handoff *h) {
    return atomic_load_explicit(&h->frames_published, memory_order_relaxed);
}
