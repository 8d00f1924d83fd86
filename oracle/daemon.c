/* oracled's life on a given clock (see daemon.h). */
#include "daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <uv.h>

#include "config.h"
#include "hostcheck.h"
#include "log.h"
#include "server.h"

/* Many client connections: take every file descriptor the hard limit allows. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        log_warn_errno(errno, "getrlimit(RLIMIT_NOFILE)");
        return;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        rlim_t was = rl.rlim_cur;
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
            log_warn_errno(errno, "setrlimit(RLIMIT_NOFILE)");
            return;
        }
        log_debug("file descriptor limit raised from %llu to %llu", (unsigned long long)was,
                  (unsigned long long)rl.rlim_cur);
    }
}

int oracled_main(int argc, char **argv, struct cb_clock *clock)
{
    struct config cfg;
    int rc = config_parse(argc, argv, &cfg);
    if (rc != 0) {
        config_free(&cfg);
        return rc > 0 ? 0 : 2;
    }
    log_threshold = cfg.log_level;
    signal(SIGPIPE, SIG_IGN);
    raise_nofile();
    hostcheck_run(cfg.server.max_connections, cfg.server.http_max_connections,
                  cfg.server.clockbound_shm);

    uv_loop_t loop;
    if (uv_loop_init(&loop) < 0) {
        log_err("cannot create the event loop");
        return 1;
    }
    struct server *s = server_new();
    if (s == NULL) {
        log_err("out of memory");
        return 1;
    }
    int status = 0;
    rc = server_init(s, &loop, &cfg.server, clock);
    if (rc == 0) {
        rc = server_start(s);
        if (rc < 0) {
            server_stop(s);
        }
    }
    if (rc < 0) {
        status = 1;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    server_free(s);
    rc = uv_loop_close(&loop);
    if (rc < 0) {
        log_err_errno(rc, "event loop closed with handles still open");
        status = 1;
    }
    config_free(&cfg);
    return status;
}
