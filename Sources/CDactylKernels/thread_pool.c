// A fixed pool of worker threads for the encoder: created once at start-up, woken per conv
// layer. Running work allocates nothing and creates no thread. Between layers a waiting thread
// spins briefly (a layer takes tens of microseconds, a futex wake-up about as long), giving its
// core away now and then, and then sleeps on a condition variable, so an idle pool costs no CPU.
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#include "dactyl_kernels.h"

struct dactyl_thread_pool {
    int threads;
    pthread_t *workers;
    pthread_mutex_t mutex;
    pthread_cond_t start;
    pthread_cond_t done;
    _Atomic unsigned long generation;  // bumped for each job
    _Atomic int pending;               // workers still running the current job
    _Atomic int stop;
    const dactyl_conv2d_q8 *conv;
};

typedef struct {
    dactyl_thread_pool *pool;
    int index;
} worker_start;

// Iterations a thread spins before it sleeps (some tens of microseconds); every 64th gives the
// core away, so that on a loaded machine the thread it waits for can run.
#define SPIN_ITERATIONS 2048

static inline void cpu_relax(int spin) {
    if (spin % 64 == 63) {
        sched_yield();
        return;
    }
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

static void run_share(const dactyl_conv2d_q8 *conv, int index, int threads) {
    size_t tasks = dactyl_conv2d_q8_tasks(conv);
    size_t first = tasks * (size_t)index / (size_t)threads, end = tasks * (size_t)(index + 1) / (size_t)threads;
    if (first < end) dactyl_conv2d_q8_run(conv, first, end);
}

static void *worker_main(void *argument) {
    worker_start *start = argument;
    dactyl_thread_pool *pool = start->pool;
    int index = start->index;
    free(start);
    unsigned long seen = 0;
    for (;;) {
        for (int spin = 0; spin < SPIN_ITERATIONS && atomic_load(&pool->generation) == seen && !atomic_load(&pool->stop); spin++)
            cpu_relax(spin);
        if (atomic_load(&pool->generation) == seen && !atomic_load(&pool->stop)) {
            pthread_mutex_lock(&pool->mutex);
            while (atomic_load(&pool->generation) == seen && !atomic_load(&pool->stop))
                pthread_cond_wait(&pool->start, &pool->mutex);
            pthread_mutex_unlock(&pool->mutex);
        }
        if (atomic_load(&pool->stop)) break;
        seen = atomic_load(&pool->generation);  // conv was written before the generation moved
        run_share(pool->conv, index, pool->threads);
        if (atomic_fetch_sub(&pool->pending, 1) == 1) {
            pthread_mutex_lock(&pool->mutex);
            pthread_cond_signal(&pool->done);
            pthread_mutex_unlock(&pool->mutex);
        }
    }
    return NULL;
}

dactyl_thread_pool *dactyl_thread_pool_create(int threads) {
    if (threads < 1) threads = 1;
    dactyl_thread_pool *pool = calloc(1, sizeof *pool);
    if (!pool) return NULL;
    pool->threads = threads;
    pthread_mutex_init(&pool->mutex, NULL);
    pthread_cond_init(&pool->start, NULL);
    pthread_cond_init(&pool->done, NULL);
    pool->workers = calloc((size_t)threads, sizeof(pthread_t));
    if (!pool->workers) { free(pool); return NULL; }
    for (int index = 1; index < threads; index++) {
        worker_start *start = malloc(sizeof *start);
        if (!start) { pool->threads = index; dactyl_thread_pool_destroy(pool); return NULL; }
        start->pool = pool;
        start->index = index;
        if (pthread_create(&pool->workers[index], NULL, worker_main, start) != 0) {
            free(start);
            pool->threads = index;
            dactyl_thread_pool_destroy(pool);
            return NULL;
        }
    }
    return pool;
}

void dactyl_thread_pool_destroy(dactyl_thread_pool *pool) {
    if (!pool) return;
    pthread_mutex_lock(&pool->mutex);
    atomic_store(&pool->stop, 1);
    pthread_cond_broadcast(&pool->start);
    pthread_mutex_unlock(&pool->mutex);
    for (int index = 1; index < pool->threads; index++) pthread_join(pool->workers[index], NULL);
    pthread_mutex_destroy(&pool->mutex);
    pthread_cond_destroy(&pool->start);
    pthread_cond_destroy(&pool->done);
    free(pool->workers);
    free(pool);
}

int dactyl_thread_pool_threads(const dactyl_thread_pool *pool) { return pool ? pool->threads : 1; }

void dactyl_thread_pool_run_conv2d_q8(dactyl_thread_pool *pool, const dactyl_conv2d_q8 *conv) {
    // The padded copy is a few kilobytes: one thread makes it before any task reads it.
    dactyl_conv2d_q8_prepare(conv);
    if (!pool || pool->threads == 1) {
        dactyl_conv2d_q8_run(conv, 0, dactyl_conv2d_q8_tasks(conv));
        return;
    }
    pool->conv = conv;
    atomic_store(&pool->pending, pool->threads - 1);
    atomic_fetch_add(&pool->generation, 1);  // publishes conv and pending to the workers
    // A worker about to sleep holds the mutex while it checks the generation, so this
    // broadcast cannot fall between its check and its wait.
    pthread_mutex_lock(&pool->mutex);
    pthread_cond_broadcast(&pool->start);
    pthread_mutex_unlock(&pool->mutex);
    run_share(conv, 0, pool->threads);
    for (int spin = 0; spin < SPIN_ITERATIONS && atomic_load(&pool->pending) > 0; spin++) cpu_relax(spin);
    if (atomic_load(&pool->pending) > 0) {
        pthread_mutex_lock(&pool->mutex);
        while (atomic_load(&pool->pending) > 0) pthread_cond_wait(&pool->done, &pool->mutex);
        pthread_mutex_unlock(&pool->mutex);
    }
}

int dactyl_cpu_count(void) {
    long count = sysconf(_SC_NPROCESSORS_ONLN);
    return count < 1 ? 1 : (int)count;
}
