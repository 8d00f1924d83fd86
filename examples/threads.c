/*
 * One client shared by many threads (oracle_shared_new()), as a database's transaction layer
 * would use it: 8 threads each commit 200 transactions with a commit-waited timestamp. Before
 * committing, a transaction notes the largest commit timestamp that has already been returned
 * to any thread; its own commit timestamp must be larger (external consistency: a transaction
 * that starts after another committed is ordered after it). The threads' concurrent calls are
 * merged into far fewer requests. Exit 0 when the order holds, 1 when not, 2 on an error.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "common.h"

#define THREADS 8
#define COMMITS 200

static oracle_client *client;
static _Atomic uint64_t last_committed; /* the largest commit timestamp returned so far */
static atomic_int errors, disorders;

static void *transactions(void *arg)
{
    (void)arg;
    for (int i = 0; i < COMMITS; i++) {
        uint64_t before = atomic_load(&last_committed);
        uint64_t commit;
        struct oracle_error err;
        if (oracle_commit_timestamp(client, &commit, &err) < 0) {
            if (atomic_fetch_add(&errors, 1) == 0) {
                example_fail("commit timestamp", &err);
            }
            return NULL;
        }
        if (commit <= before) {
            atomic_fetch_add(&disorders, 1);
        }
        uint64_t seen = atomic_load(&last_committed);
        while (commit > seen && !atomic_compare_exchange_weak(&last_committed, &seen, commit)) {
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    client = example_client_of(argc, argv, true);
    if (client == NULL) {
        return 2;
    }
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        if (pthread_create(&t[i], NULL, transactions, NULL) != 0) {
            fprintf(stderr, "cannot start a thread\n");
            return 2;
        }
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
    }
    struct oracle_client_counts n;
    oracle_client_counts(client, &n);
    oracle_client_free(client);
    if (atomic_load(&errors) > 0) {
        return 2;
    }
    printf("commits           %d threads x %d, commit-waited, on one shared client\n", THREADS,
           COMMITS);
    printf("requests          %" PRIu64 " for %" PRIu64 " calls (%.1f calls merged into each)\n",
           n.requests, n.calls, n.requests > 0 ? (double)n.calls / (double)n.requests : 0.0);
    printf("ordered           %s (%d commits not above one returned before they began)\n",
           atomic_load(&disorders) == 0 ? "yes" : "NO", atomic_load(&disorders));
    return atomic_load(&disorders) == 0 ? 0 : 1;
}
