/* The worker pool behind every threaded kernel.
 *
 * One process-wide pool of (threads - 1) workers; the calling thread is the last participant.
 * A job is published in one of two descriptor slots (by the parity of its generation) and
 * announced through `claim`, a 64-bit word holding (generation << 32 | next chunk). Participants
 * take chunks by compare-and-swap on that word, so a chunk can only be claimed while its job is
 * current: a worker that wakes late finds a newer generation and goes back to waiting, and the
 * caller never waits for idle or descheduled workers — only for chunks actually taken (`pending`).
 * A slot is rewritten two jobs later, after its job has finished, so a worker that read it and
 * then won the swap read it whole. Workers spin briefly (decode steps publish thousands of jobs
 * a second) and then sleep on a condition variable. Calls from several threads at once are
 * serialised (a caller that finds the pool busy runs its job inline); a nested call runs inline. */
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
    lmk_task_fn fn;
    void *ctx;
    int64_t n, chunk, n_chunks;
} job_t;

typedef struct {
    pthread_mutex_t mu;          /* guards sleeping workers, start/stop */
    pthread_cond_t wake;
    pthread_mutex_t call_mu;     /* one parallel_for at a time */
    pthread_t *workers;          /* (n_threads - 1) */
    int n_threads;               /* participants, the caller included */
    int started;
    int stop;
    job_t jobs[2];               /* by generation parity; fields accessed atomically */
    uint64_t claim;              /* generation << 32 | next chunk (atomic) */
    int64_t pending;             /* chunks of the current job not yet finished (atomic) */
} pool_t;

static pool_t pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER,
                      .call_mu = PTHREAD_MUTEX_INITIALIZER};
static __thread int in_task;
static __thread int local_cap;   /* lmk_threads_cap_local: 0 = none */

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

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

static uint32_t current_generation(void) {
    return (uint32_t)(__atomic_load_n(&pool.claim, __ATOMIC_ACQUIRE) >> 32);
}

/* Takes and runs chunks of job `gen` until it has none left or a newer job replaced it. */
static void run_chunks(uint32_t gen) {
    const job_t *job = &pool.jobs[gen & 1];
    for (;;) {
        uint64_t word = __atomic_load_n(&pool.claim, __ATOMIC_ACQUIRE);
        if ((uint32_t)(word >> 32) != gen) return;
        const int64_t i = (uint32_t)word;
        lmk_task_fn fn = LOAD(job->fn);
        void *ctx = LOAD(job->ctx);
        const int64_t n = LOAD(job->n), chunk = LOAD(job->chunk), n_chunks = LOAD(job->n_chunks);
        if (i >= n_chunks) return;
        if (!__atomic_compare_exchange_n(&pool.claim, &word, word + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            continue;
        in_task = 1;
        fn(ctx, i * chunk, LMK_MIN(n, (i + 1) * chunk));
        in_task = 0;
        __atomic_fetch_sub(&pool.pending, 1, __ATOMIC_ACQ_REL);
    }
}

static void *worker_main(void *arg) {
    /* The generation at pool start, read before any job could be published: a worker that read
     * it itself could miss a job posted before it first ran. */
    uint32_t seen = (uint32_t)(uintptr_t)arg;
    for (;;) {
        uint32_t gen;
        int spins = 0;
        while ((gen = current_generation()) == seen && spins++ < SPIN_ROUNDS) cpu_relax();
        if (gen == seen) {
            pthread_mutex_lock(&pool.mu);
            while ((gen = current_generation()) == seen && !pool.stop) pthread_cond_wait(&pool.wake, &pool.mu);
            pthread_mutex_unlock(&pool.mu);
        }
        if (LOAD(pool.stop)) return NULL;
        seen = gen;
        run_chunks(gen);
    }
}

/* Publishes a job under a new generation and wakes the sleepers. Called with call_mu held,
 * after the previous job finished. */
static uint32_t publish(lmk_task_fn fn, void *ctx, int64_t n, int64_t chunk, int64_t n_chunks) {
    const uint32_t gen = current_generation() + 1;
    job_t *job = &pool.jobs[gen & 1];
    STORE(job->fn, fn);
    STORE(job->ctx, ctx);
    STORE(job->n, n);
    STORE(job->chunk, chunk);
    STORE(job->n_chunks, n_chunks);
    STORE(pool.pending, n_chunks);
    pthread_mutex_lock(&pool.mu);
    __atomic_store_n(&pool.claim, (uint64_t)gen << 32, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);
    return gen;
}

static void pool_stop(void) {
    if (!pool.started) return;
    STORE(pool.stop, 1);
    publish(NULL, NULL, 0, 1, 0);   /* an empty job wakes every worker to see `stop` */
    for (int i = 0; i < pool.n_threads - 1; i++) pthread_join(pool.workers[i], NULL);
    free(pool.workers);
    pool.workers = NULL;
    pool.started = 0;
    STORE(pool.stop, 0);
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
    void *start_gen = (void *)(uintptr_t)current_generation();
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

int lmk_threads_cap_local(int n) {
    const int previous = local_cap;
    local_cap = n > 0 ? n : 0;
    return previous;
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
    if (LOAD(pool.n_threads) == 0) lmk_threads_set(0);
    return LOAD(pool.n_threads);
}

void lmk_parallel_for(int64_t n, int64_t grain, lmk_task_fn fn, void *ctx) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    if (lmk_threads_get() <= 1 || n <= grain || in_task || local_cap == 1 ||
        pthread_mutex_trylock(&pool.call_mu) != 0) {
        fn(ctx, 0, n);
        return;
    }
    const int64_t threads = local_cap > 1 ? LMK_MIN(local_cap, pool.n_threads) : pool.n_threads;
    int64_t n_chunks = LMK_MIN((n + grain - 1) / grain, threads);
    const int64_t chunk = (n + n_chunks - 1) / n_chunks;
    n_chunks = (n + chunk - 1) / chunk;
    const uint32_t gen = publish(fn, ctx, n, chunk, n_chunks);
    run_chunks(gen);
    while (__atomic_load_n(&pool.pending, __ATOMIC_ACQUIRE) > 0) cpu_relax();
    pthread_mutex_unlock(&pool.call_mu);
}
