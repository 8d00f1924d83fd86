#!/usr/bin/env python3
"""A TLS client that never finishes its handshake: it sends a real ClientHello one byte a second.

Usage: tls_dribble.py HOST PORT MAX_SECONDS [AT_ONCE]

The ClientHello is made by Python's ssl module over memory BIOs (no network). Its first AT_ONCE
bytes (default 64: the record header and the start of the handshake message, so the server is
inside the record, waiting for its body) go at once; the rest is dribbled over a plain TCP
socket, one byte per second, until the server closes the connection or MAX_SECONDS have passed. Prints "port N" (its local port, as the server's log names the peer) once connected,
then one line at the end:
  closed after S s, N of M bytes sent   (exit 0: the server hung up first)
  still open after S s, N of M bytes sent   (exit 1)
Python's standard library only.
"""

import select
import socket
import ssl
import sys
import time


def client_hello(server_name):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    sess = ctx.wrap_bio(incoming, outgoing, server_hostname=server_name)
    try:
        sess.do_handshake()
    except ssl.SSLWantReadError:
        pass
    hello = outgoing.read()
    if len(hello) < 6 or hello[0] != 0x16 or hello[5] != 0x01:
        raise SystemExit("not a ClientHello: %r" % hello[:8])
    return hello


def main():
    host, port, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    at_once = int(sys.argv[4]) if len(sys.argv) > 4 else 64
    hello = client_hello("localhost")
    if at_once >= len(hello):
        raise SystemExit("AT_ONCE must be below the ClientHello's %d bytes" % len(hello))
    sock = socket.create_connection((host, port), timeout=5)
    start = time.monotonic()
    print("port %d" % sock.getsockname()[1], flush=True)
    sock.sendall(hello[:at_once])
    sent = at_once
    closed = False
    while time.monotonic() - start < limit:
        if sent < len(hello):
            try:
                sock.send(hello[sent:sent + 1])
                sent += 1
            except OSError:
                closed = True
                break
        # Wait a second for the server to say something (it should not) or hang up.
        readable, _, _ = select.select([sock], [], [], 1.0)
        if readable:
            try:
                data = sock.recv(4096)
            except OSError:
                data = b""
            if not data:
                closed = True
                break
            raise SystemExit("the server answered a partial ClientHello: %r" % data[:32])
    took = time.monotonic() - start
    state = "closed" if closed else "still open"
    print("%s after %.2f s, %d of %d bytes sent" % (state, took, sent, len(hello)), flush=True)
    return 0 if closed else 1


if __name__ == "__main__":
    sys.exit(main())
