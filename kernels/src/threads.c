/* The worker pool behind every threaded kernel.
 *
 * One process-wide pool of (threads - 1) workers; the calling thread is the last participant.
 * A parallel_for publishes a job by bumping `generation`; workers spin briefly (decode steps call
 * in thousands of times per second) and then sleep on a condition variable. Chunks are taken
 * from an atomic counter, so a participant slowed by another process does not stall the rest.
 * Every worker checks in once per job (`checked_in`), and the caller waits for all of them
 * before the job's fields may be rewritten. Calls from several threads at once are serialised;
 * a nested call runs inline. */
#define _GNU_SOURCE   /* sched_getaffinity, CPU_COUNT */
#include "internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <unistd.h>

#if LMK_X86
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif LMK_ARM
#define cpu_relax() __asm__ volatile("yield")
#else
#define cpu_relax() ((void)0)
#endif

#define SPIN_ROUNDS 20000

typedef struct {
    pthread_mutex_t mu;          /* guards sleeping workers, start/stop */
    pthread_cond_t wake;
    pthread_mutex_t call_mu;     /* one parallel_for at a time */
    pthread_t *workers;          /* (n_threads - 1) */
    int n_threads;               /* participants, the caller included */
    int started;
    int stop;
    uint64_t generation;         /* bumped once per job (atomic) */
    /* the current job */
    lmk_task_fn fn;
    void *ctx;
    int64_t n, chunk, n_chunks;
    int64_t next_chunk;          /* atomic */
    int64_t pending;             /* chunks not yet finished (atomic) */
    int checked_in;              /* workers done with the current job (atomic) */
} pool_t;

static pool_t pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
                      NULL, 0, 0, 0, 0, NULL, NULL, 0, 0, 0, 0, 0, 0};
static __thread int in_task;

int lmk_cpu_count(void) {
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void run_chunks(void) {
    for (;;) {
        int64_t i = __atomic_fetch_add(&pool.next_chunk, 1, __ATOMIC_ACQ_REL);
        if (i >= pool.n_chunks) return;
        int64_t begin = i * pool.chunk, end = LMK_MIN(pool.n, begin + pool.chunk);
        in_task = 1;
        pool.fn(pool.ctx, begin, end);
        in_task = 0;
        __atomic_fetch_sub(&pool.pending, 1, __ATOMIC_ACQ_REL);
    }
}

static void *worker_main(void *arg) {
    /* The generation at pool start, read before any job could be published: a worker that read
     * it itself could miss a job posted before it first ran. */
    uint64_t seen = (uint64_t)(uintptr_t)arg;
    for (;;) {
        uint64_t gen;
        int spins = 0;
        while ((gen = __atomic_load_n(&pool.generation, __ATOMIC_ACQUIRE)) == seen &&
               spins++ < SPIN_ROUNDS)
            cpu_relax();
        if (gen == seen) {
            pthread_mutex_lock(&pool.mu);
            while ((gen = __atomic_load_n(&pool.generation, __ATOMIC_ACQUIRE)) == seen && !pool.stop)
                pthread_cond_wait(&pool.wake, &pool.mu);
            pthread_mutex_unlock(&pool.mu);
        }
        if (pool.stop) return NULL;
        seen = gen;
        run_chunks();
        __atomic_fetch_add(&pool.checked_in, 1, __ATOMIC_ACQ_REL);
    }
}

static void pool_stop(void) {
    if (!pool.started) return;
    pthread_mutex_lock(&pool.mu);
    pool.stop = 1;
    __atomic_fetch_add(&pool.generation, 1, __ATOMIC_ACQ_REL);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);
    for (int i = 0; i < pool.n_threads - 1; i++) pthread_join(pool.workers[i], NULL);
    free(pool.workers);
    pool.workers = NULL;
    pool.started = 0;
    pool.stop = 0;
}

/* Called with call_mu held. */
static lmk_status pool_start(int n) {
    pool.n_threads = n;
    if (n <= 1) return LMK_OK;
    pool.workers = calloc((size_t)(n - 1), sizeof *pool.workers);
    if (!pool.workers) {
        pool.n_threads = 1;
        return LMK_ERR_NOMEM;
    }
    void *start_gen = (void *)(uintptr_t)__atomic_load_n(&pool.generation, __ATOMIC_ACQUIRE);
    for (int i = 0; i < n - 1; i++) {
        if (pthread_create(&pool.workers[i], NULL, worker_main, start_gen) != 0) {
            pool.n_threads = i + 1;   /* keep the workers that did start */
            break;
        }
    }
    pool.started = 1;
    return pool.n_threads == n ? LMK_OK : LMK_ERR_NOMEM;
}

static int default_threads(void) {
    const char *env = getenv("LMK_THREADS");
    int n = env ? atoi(env) : 0;
    return n > 0 ? n : lmk_cpu_count();
}

lmk_status lmk_threads_set(int n) {
    if (n <= 0) n = default_threads();
    if (n > 1024) return LMK_ERR_ARG;
    pthread_mutex_lock(&pool.call_mu);
    pool_stop();
    lmk_status s = pool_start(n);
    pthread_mutex_unlock(&pool.call_mu);
    return s;
}

int lmk_threads_get(void) {
    if (pool.n_threads == 0) lmk_threads_set(0);
    return pool.n_threads;
}

void lmk_parallel_for(int64_t n, int64_t grain, lmk_task_fn fn, void *ctx) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    if (lmk_threads_get() <= 1 || n <= grain || in_task || pthread_mutex_trylock(&pool.call_mu) != 0) {
        fn(ctx, 0, n);
        return;
    }
    const int threads = pool.n_threads;   /* stable while call_mu is held */
    const int64_t n_chunks = LMK_MIN((n + grain - 1) / grain, (int64_t)threads);
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n = n;
    pool.chunk = (n + n_chunks - 1) / n_chunks;
    pool.n_chunks = (n + pool.chunk - 1) / pool.chunk;
    __atomic_store_n(&pool.next_chunk, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&pool.pending, pool.n_chunks, __ATOMIC_RELAXED);
    __atomic_store_n(&pool.checked_in, 0, __ATOMIC_RELAXED);
    pthread_mutex_lock(&pool.mu);
    __atomic_fetch_add(&pool.generation, 1, __ATOMIC_ACQ_REL);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);
    run_chunks();
    while (__atomic_load_n(&pool.pending, __ATOMIC_ACQUIRE) > 0 ||
           __atomic_load_n(&pool.checked_in, __ATOMIC_ACQUIRE) < threads - 1)
        cpu_relax();
    pthread_mutex_unlock(&pool.call_mu);
}
