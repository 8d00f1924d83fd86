/*
 * The operations of the wire protocol: what each request gets (DESIGN.md sections 2 and 3).
 * Immediate answers go out at once; commit-waits become struct pending and are answered by
 * ops_release() (or failed by ops_expire() / ops_fail_clock()).
 */
#ifndef ORACLE_OPS_H
#define ORACLE_OPS_H

#include "clockbound.h"
#include "server.h"
#include "wire.h"

/* Answers or queues one request. */
void ops_handle(struct server *s, struct conn *c, const struct request *req);

/* Answers a commit-wait whose timestamp earliest has passed, at now. */
void ops_release(struct server *s, struct pending *p, const struct cb_now *now);

/* Answers a commit-wait still waiting at its deadline: WAIT_TOO_LONG. */
void ops_expire(struct server *s, struct pending *p);

/* Fails a commit-wait because the clock is not trusted (now says why); its connection closes. */
void ops_fail_clock(struct server *s, struct pending *p, const struct cb_now *now);

#endif
