#!/usr/bin/env python3
"""Peers that hold connections open without using them, for the flood tests: PEERS connections
to HOST:PORT, each reopened as soon as the server closes it, for SECONDS.

  slow     sends half an HTTP request head ("GET /healthz HTTP/1.1\\r\\n"), then nothing
  idle     sends nothing at all (an idle pool, or an idle flood)
  partial  sends the first byte of an oracle frame's length prefix, then nothing (half a frame)
  waiting  keeps a WaitUntil pending on the oracle port: one for 1.5 s ahead, and as soon as
           it is answered the next (oracled needs --max-wait 2s): never idle to the server

Whatever the server sends before closing is kept: a close whose bytes contain TEXT (with
--expect TEXT) counts as "framed", any other as "unframed". With --from ADDR the connections
come from that local address. Prints one line at the end:
"connects N closed_by_server M framed F unframed U".

Usage: holders.py HOST PORT PEERS SECONDS slow|idle|partial|waiting [--expect TEXT]
                  [--from ADDR]
"""
import argparse
import errno
import resource
import selectors
import socket
import struct
import time

HALF_HEAD = b"GET /healthz HTTP/1.1\r\n"


def varint(n):
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


def wait_until_frame():
    """oracle.v1.Request { id: 1, wait_until { ts_ns: now + 1.5 s, max_wait_ns: 2 s } },
    length-prefixed (proto/oracle.proto: Request.wait_until = 6, WaitUntil.ts_ns = 1 fixed64,
    WaitUntil.max_wait_ns = 2)."""
    inner = b"\x09" + struct.pack("<Q", time.time_ns() + 1500000000) + b"\x10" + varint(2000000000)
    req = b"\x08\x01" + b"\x32" + varint(len(inner)) + inner
    return varint(len(req)) + req


def main():
    ap = argparse.ArgumentParser(usage=__doc__)
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("peers", type=int)
    ap.add_argument("seconds", type=float)
    ap.add_argument("mode", choices=("slow", "idle", "partial", "waiting"))
    ap.add_argument("--expect")
    ap.add_argument("--from", dest="source")
    a = ap.parse_args()
    host, port, peers, seconds = a.host, a.port, a.peers, a.seconds
    expect = a.expect.encode() if a.expect is not None else None
    payload = {"slow": HALF_HEAD, "idle": b"", "partial": b"\x85", "waiting": b""}[a.mode]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, peers + 64) if hard != resource.RLIM_INFINITY else peers + 64
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    sel = selectors.DefaultSelector()
    stats = {"connects": 0, "closed": 0, "framed": 0, "unframed": 0}
    received = {}

    def open_one():
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        if a.source is not None:
            s.bind((a.source, 0))
        rc = s.connect_ex((host, port))
        if rc not in (0, errno.EINPROGRESS):
            s.close()
            return
        stats["connects"] += 1
        received[s] = b""
        sel.register(s, selectors.EVENT_WRITE, "connecting")

    def drop(s, closed_by_server):
        data = received.pop(s, b"")
        if closed_by_server:
            stats["closed"] += 1
            stats["framed" if expect is not None and expect in data else "unframed"] += 1
        sel.unregister(s)
        s.close()
        open_one()

    for _ in range(peers):
        open_one()
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=0.05):
            s = key.fileobj
            if key.data == "connecting":
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                    drop(s, False)
                    continue
                try:
                    if payload:
                        s.send(payload)
                    elif a.mode == "waiting":
                        s.send(wait_until_frame())
                except OSError:
                    drop(s, False)
                    continue
                sel.modify(s, selectors.EVENT_READ, "holding")
                continue
            # The server wrote (an error frame, a 408) or closed: keep reading until it closes.
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if data:
                received[s] = (received[s] + data)[-4096:]
                if a.mode == "waiting":
                    try:
                        s.send(wait_until_frame())
                    except OSError:
                        pass
                continue
            drop(s, True)
    print("connects %d closed_by_server %d framed %d unframed %d" %
          (stats["connects"], stats["closed"], stats["framed"], stats["unframed"]))


if __name__ == "__main__":
    main()
