// A fixed pool of worker threads for the encoder: created once at start-up, woken per conv
// layer with a condition variable. Running work allocates nothing and creates no thread.
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include "dactyl_kernels.h"

struct dactyl_thread_pool {
    int threads;
    pthread_t *workers;
    pthread_mutex_t mutex;
    pthread_cond_t start;
    pthread_cond_t done;
    unsigned long generation;  // bumped for each job
    int pending;               // workers still running the current job
    int stop;
    const dactyl_conv2d_q8 *conv;
};

typedef struct {
    dactyl_thread_pool *pool;
    int index;
} worker_start;

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
    pthread_mutex_lock(&pool->mutex);
    for (;;) {
        while (pool->generation == seen && !pool->stop) pthread_cond_wait(&pool->start, &pool->mutex);
        if (pool->stop) break;
        seen = pool->generation;
        const dactyl_conv2d_q8 *conv = pool->conv;
        pthread_mutex_unlock(&pool->mutex);
        run_share(conv, index, pool->threads);
        pthread_mutex_lock(&pool->mutex);
        if (--pool->pending == 0) pthread_cond_signal(&pool->done);
    }
    pthread_mutex_unlock(&pool->mutex);
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
    pool->stop = 1;
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
    if (!pool || pool->threads == 1) {
        dactyl_conv2d_q8_run(conv, 0, dactyl_conv2d_q8_tasks(conv));
        return;
    }
    pthread_mutex_lock(&pool->mutex);
    pool->conv = conv;
    pool->pending = pool->threads - 1;
    pool->generation++;
    pthread_cond_broadcast(&pool->start);
    pthread_mutex_unlock(&pool->mutex);
    run_share(conv, 0, pool->threads);
    pthread_mutex_lock(&pool->mutex);
    while (pool->pending > 0) pthread_cond_wait(&pool->done, &pool->mutex);
    pthread_mutex_unlock(&pool->mutex);
}

int dactyl_cpu_count(void) {
    long count = sysconf(_SC_NPROCESSORS_ONLN);
    return count < 1 ? 1 : (int)count;
}
