/*
 * Commit-wait with liboracle-client: a transaction takes a commit timestamp with commit-wait,
 * so the reply comes only once the timestamp is certainly in the past. Any request made after
 * that, on any connection (here a second client, as another transaction elsewhere would be),
 * gets a larger timestamp: external consistency without a leader. Exit 0 when that holds, 1
 * when not, 2 on an error.
 */
#include "common.h"

int main(int argc, char **argv)
{
    oracle_client *a = example_client(argc, argv);
    oracle_client *b = example_client(argc, argv);
    int rc = 2;
    if (a == NULL || b == NULL) {
        goto out;
    }
    struct oracle_error err;
    struct oracle_ts_request req = {.count = 1, .commit_wait = true};
    struct oracle_timestamps commit;
    if (oracle_get_timestamps(a, &req, &commit, &err) < 0) {
        rc = example_fail("commit timestamp", &err);
        goto out;
    }
    printf("commit timestamp  %" PRIu64 " (held %" PRIu64 " ns by commit-wait)\n", commit.first_ns,
           commit.waited_ns);
    printf("at the reply      earliest %" PRIu64 " > commit timestamp: it is in the past\n",
           commit.earliest_ns);
    uint64_t later;
    if (oracle_timestamp(b, &later, &err) < 0) {
        rc = example_fail("second timestamp", &err);
        goto out;
    }
    printf("next transaction  %" PRIu64 " (another connection, after the reply)\n", later);
    printf("ordered           %s (%+" PRId64 " ns)\n", later > commit.first_ns ? "yes" : "NO",
           (int64_t)(later - commit.first_ns));
    rc = later > commit.first_ns && commit.earliest_ns > commit.first_ns ? 0 : 1;
out:
    oracle_client_free(a);
    oracle_client_free(b);
    return rc;
}
