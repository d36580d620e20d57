// A fixed pool of worker threads for the encoder: created once at start-up, woken per conv
// layer. Running work allocates nothing and creates no thread. Between layers a waiting thread
// spins briefly (a layer takes tens of microseconds, a futex wake-up about as long), giving its
// core away now and then, and then sleeps on a condition variable, so an idle pool costs no CPU.
//
// The threads claim a conv's tasks in contiguous chunks (two per thread) from one atomic
// cursor, rather than each taking a fixed share: on a loaded machine a worker that the
// scheduler has not run yet leaves its chunks to the threads that are running, instead of the
// whole layer waiting a time slice for it (two threads went from ~2.5 ms to ~140 ms a frame
// that way with the fixed split, next to other busy processes).
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
    _Atomic unsigned long generation;  // bumped for each job
    _Atomic int stop;
    // The job: generation << 32 | the next unclaimed task. A claim is a compare-and-swap on it,
    // so a thread holding a stale generation claims nothing. The job's fields alternate
    // between two slots: a slot is rewritten two jobs later, when no claim on it can succeed.
    _Atomic uint64_t cursor;
    _Atomic size_t done;  // tasks of the current job finished
    struct {
        const dactyl_conv2d_q8 *conv;
        size_t tasks, chunk;  // the job is tasks [the cursor's start, tasks) of conv
    } job[2];
};

typedef struct {
    dactyl_thread_pool *pool;
} worker_start;

// Iterations a thread spins before it sleeps (a pause is ~25 ns on a Zen 4: ~100 us in all);
// every 512th (~12 us) gives the core away, so that on a loaded machine the thread it waits for
// can run. Not sooner: on a loaded machine a yield can cost a whole time slice, and the next
// layer's job or the last chunk usually comes within microseconds.
#define SPIN_ITERATIONS 4096
#define YIELD_EVERY 512

static inline void cpu_relax(int spin) {
    if (spin % YIELD_EVERY == YIELD_EVERY - 1) {
        sched_yield();
        return;
    }
#if defined(__x86_64__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ volatile("yield");
#endif
}

static void run_claims(dactyl_thread_pool *pool, uint32_t generation);

// Runs tasks [begin, end) of `conv` on the pool's threads and the caller's; returns when all are done.
static void run_job(dactyl_thread_pool *pool, const dactyl_conv2d_q8 *conv, size_t begin, size_t end) {
    uint32_t generation = (uint32_t)(atomic_load(&pool->generation) + 1);
    size_t slot = generation & 1, chunks = 2 * (size_t)pool->threads;
    pool->job[slot].conv = conv;
    pool->job[slot].tasks = end;
    pool->job[slot].chunk = (end - begin + chunks - 1) / chunks;
    atomic_store(&pool->done, 0);
    atomic_store(&pool->cursor, (uint64_t)generation << 32 | (uint64_t)begin);  // publishes the job (seq_cst)
    atomic_store(&pool->generation, generation);
    // A worker about to sleep holds the mutex while it checks the generation, so this
    // broadcast cannot fall between its check and its wait.
    pthread_mutex_lock(&pool->mutex);
    pthread_cond_broadcast(&pool->start);
    pthread_mutex_unlock(&pool->mutex);
    run_claims(pool, generation);
    // Every task is claimed; wait for the chunks other threads are still running.
    for (int spin = 0; atomic_load(&pool->done) < end - begin; spin++) cpu_relax(spin);
}

// Claims and runs chunks of job `generation` until none is left (or a newer job started).
static void run_claims(dactyl_thread_pool *pool, uint32_t generation) {
    const size_t slot = generation & 1;
    uint64_t seen = atomic_load(&pool->cursor);
    for (;;) {
        if ((uint32_t)(seen >> 32) != generation) return;
        size_t tasks = pool->job[slot].tasks, chunk = pool->job[slot].chunk;
        size_t first = (size_t)(uint32_t)seen;
        if (first >= tasks) return;
        size_t end = tasks - first < chunk ? tasks : first + chunk;
        if (!atomic_compare_exchange_weak(&pool->cursor, &seen, (uint64_t)generation << 32 | (uint64_t)end)) continue;
        // The claim succeeded while the generation was current: the job's fields are its own.
        // Threads take turns: this one's next chunk is likely `threads - 1` chunks on.
        size_t then = end + (size_t)(pool->threads - 1) * chunk;
        dactyl_conv2d_q8_run_then(pool->job[slot].conv, first, end, then < tasks ? then : tasks);
        atomic_fetch_add(&pool->done, end - first);
        seen = atomic_load(&pool->cursor);
    }
}

static void *worker_main(void *argument) {
    worker_start *start = argument;
    dactyl_thread_pool *pool = start->pool;
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
        seen = atomic_load(&pool->generation);
        run_claims(pool, (uint32_t)seen);
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
    pool->workers = calloc((size_t)threads, sizeof(pthread_t));
    if (!pool->workers) { free(pool); return NULL; }
    for (int index = 1; index < threads; index++) {
        worker_start *start = malloc(sizeof *start);
        if (!start) { pool->threads = index; dactyl_thread_pool_destroy(pool); return NULL; }
        start->pool = pool;
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
    free(pool->workers);
    free(pool);
}

int dactyl_thread_pool_threads(const dactyl_thread_pool *pool) { return pool ? pool->threads : 1; }

void dactyl_thread_pool_run_conv2d_q8(dactyl_thread_pool *pool, const dactyl_conv2d_q8 *conv) {
    // The padded copy is a few kilobytes: one thread makes it before any task reads it.
    dactyl_conv2d_q8_prepare(conv);
    size_t tasks = dactyl_conv2d_q8_tasks(conv);
    if (!pool || pool->threads == 1 || tasks < 2) {
        dactyl_conv2d_q8_run(conv, 0, tasks);
        return;
    }
    // One job per phase (Winograd: input transform, then products); the wait for `done` between
    // them is the barrier.
    size_t begin = 0;
    for (size_t phase = 0, phases = dactyl_conv2d_q8_phases(conv); phase < phases; phase++) {
        size_t end = dactyl_conv2d_q8_phase_end(conv, phase);
        run_job(pool, conv, begin, end);
        begin = end;
    }
}

int dactyl_cpu_count(void) {
    long count = sysconf(_SC_NPROCESSORS_ONLN);
    return count < 1 ? 1 : (int)count;
}
