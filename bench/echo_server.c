/*
 * echo-server: the floor a TCP round trip on this machine cannot beat, for oracle-bench. One
 * libuv loop; every byte read is written back at once (uv_try_write, uv_write for the rest).
 * Prints "listening on HOST:PORT" once it listens; stops on SIGINT or SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "netaddr.h"

struct echo_conn {
    uv_tcp_t tcp;
    char buf[65536];
};

struct echo_write {
    uv_write_t req;
    char data[];
};

static void on_close(uv_handle_t *h)
{
    free(h->data);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    struct echo_conn *c = h->data;
    *buf = uv_buf_init(c->buf, sizeof(c->buf));
}

static void on_written(uv_write_t *req, int status)
{
    (void)status;
    free(req);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    if (n < 0) {
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    uv_buf_t out = uv_buf_init(buf->base, (unsigned)n);
    int w = uv_try_write(s, &out, 1);
    size_t done = w > 0 ? (size_t)w : 0;
    if (w < 0 && w != UV_EAGAIN) {
        uv_close((uv_handle_t *)s, on_close);
        return;
    }
    if (done < (size_t)n) {
        struct echo_write *ew = malloc(sizeof(*ew) + (size_t)n - done);
        if (ew == NULL) {
            uv_close((uv_handle_t *)s, on_close);
            return;
        }
        memcpy(ew->data, buf->base + done, (size_t)n - done);
        out = uv_buf_init(ew->data, (unsigned)((size_t)n - done));
        if (uv_write(&ew->req, s, &out, 1, on_written) < 0) {
            free(ew);
            uv_close((uv_handle_t *)s, on_close);
        }
    }
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0) {
        return;
    }
    struct echo_conn *c = malloc(sizeof(*c));
    if (c == NULL) {
        return;
    }
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) < 0) {
        uv_close((uv_handle_t *)&c->tcp, on_close);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_signal(uv_signal_t *s, int sig)
{
    (void)sig;
    uv_stop(s->loop);
}

int main(int argc, char **argv)
{
    const char *addr = argc > 1 ? argv[1] : "127.0.0.1:0";
    if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
        fprintf(stderr, "usage: echo-server [HOST:PORT]   (default 127.0.0.1:0, any port)\n");
        return 2;
    }
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t server;
    if (netaddr_listen(loop, &server, addr, 1024, on_connection, "echo") < 0) {
        return 1;
    }
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    uv_tcp_getsockname(&server, (struct sockaddr *)&ss, &len);
    char text[80];
    netaddr_format(&ss, text, sizeof(text));
    printf("listening on %s\n", text);
    fflush(stdout);
    uv_signal_t sigint;
    uv_signal_t sigterm;
    uv_signal_init(loop, &sigint);
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}
