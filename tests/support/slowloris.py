#!/usr/bin/env python3
"""Slow HTTP peers for the health-check test: PEERS connections to HOST:PORT, each sending half
a request head ("GET /healthz HTTP/1.1\\r\\n") and then nothing, reopened as soon as the server
closes one, for SECONDS. Prints one line at the end: "connects N closed_by_server M".

Usage: slowloris.py HOST PORT PEERS SECONDS
"""
import errno
import resource
import selectors
import socket
import sys
import time

HALF_HEAD = b"GET /healthz HTTP/1.1\r\n"


def main():
    host, port, peers, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, peers + 64) if hard != resource.RLIM_INFINITY else peers + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    sel = selectors.DefaultSelector()
    stats = {"connects": 0, "closed": 0}

    def open_one():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        rc = s.connect_ex((host, port))
        if rc not in (0, errno.EINPROGRESS):
            s.close()
            return
        stats["connects"] += 1
        sel.register(s, selectors.EVENT_WRITE, "connecting")

    for _ in range(peers):
        open_one()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for key, events in sel.select(timeout=0.05):
            s = key.fileobj
            if key.data == "connecting":
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                    sel.unregister(s)
                    s.close()
                    open_one()
                    continue
                try:
                    s.send(HALF_HEAD)
                except OSError:
                    sel.unregister(s)
                    s.close()
                    open_one()
                    continue
                sel.modify(s, selectors.EVENT_READ, "holding")
            else:
                # The server answered (408) or closed: drop it and come back at once.
                try:
                    s.recv(4096)
                except OSError:
                    pass
                stats["closed"] += 1
                sel.unregister(s)
                s.close()
                open_one()
    print("connects %d closed_by_server %d" % (stats["connects"], stats["closed"]))


if __name__ == "__main__":
    main()
