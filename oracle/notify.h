/* systemd readiness notification (sd_notify), a no-op when NOTIFY_SOCKET is not set. */
#ifndef ORACLE_NOTIFY_H
#define ORACLE_NOTIFY_H

/* READY=1: the start-up wait is over and timestamps are served. */
void notify_ready(void);
/* STOPPING=1: draining has begun. */
void notify_stopping(void);

#endif
