/* The asynchronous face (see include/oracle/async.h): the engine on the caller's loop. */
#include "oracle/async.h"

#include <stdlib.h>

#include "config.h"
#include "ctls.h"
#include "engine.h"

#define API __attribute__((visibility("default")))

/* An oracle_async is an engine, and an oracle_async_cb an engine_done_fn. */
API oracle_async *oracle_async_new(uv_loop_t *loop, const struct oracle_client_options *o,
                                   struct oracle_error *err)
{
    client_error_clear(err);
    struct client_config cfg;
    if (client_config_from(o, &cfg, err) < 0) {
        return NULL;
    }
    SSL_CTX *tls = NULL;
    if (ctls_context(&cfg, &tls, err) < 0) {
        return NULL;
    }
    struct engine *e = engine_new(loop, &cfg, tls);
    SSL_CTX_free(tls); /* the engine holds its own reference */
    if (e == NULL) {
        client_error(err, ORACLE_E_NOMEM, false, "out of memory");
    }
    return (oracle_async *)e;
}

API int oracle_async_submit(oracle_async *a, const struct oracle_request *req, oracle_async_cb cb,
                            void *arg, struct oracle_error *err)
{
    return engine_submit((struct engine *)a, req, cb, arg, err);
}

API void oracle_async_close(oracle_async *a, void (*closed)(void *arg), void *arg)
{
    if (a != NULL) {
        engine_close((struct engine *)a, closed, arg);
    }
}

API uint64_t oracle_async_max_seen(oracle_async *a)
{
    return engine_max_seen((struct engine *)a);
}

API void oracle_async_observe(oracle_async *a, uint64_t ts_ns)
{
    engine_observe((struct engine *)a, ts_ns);
}

API void oracle_async_counts(oracle_async *a, struct oracle_client_counts *out)
{
    engine_counts((struct engine *)a, out);
}
