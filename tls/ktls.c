/* Whether the kernel offers kernel TLS (see ktls.h). */
#include "ktls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef TCP_ULP
#define TCP_ULP 31
#endif

bool ktls_probe(char *why, size_t cap)
{
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int afd = -1;
    bool ok = false;
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (lfd < 0 || cfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        listen(lfd, 1) < 0 || getsockname(lfd, (struct sockaddr *)&a, &alen) < 0 ||
        connect(cfd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        (afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
        snprintf(why, cap, "cannot tell: no loopback TCP connection to ask on (%s)",
                 strerror(errno));
    } else if (setsockopt(cfd, IPPROTO_TCP, TCP_ULP, "tls", sizeof("tls")) < 0) {
        snprintf(why, cap, "%s",
                 errno == ENOENT ? "the kernel has no tls module (TCP_ULP \"tls\": ENOENT)"
                                 : strerror(errno));
    } else {
        ok = true;
        snprintf(why, cap, "the kernel offers the tls module");
    }
    int fds[] = {afd, cfd, lfd};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        if (fds[i] >= 0) {
            close(fds[i]);
        }
    }
    return ok;
}
