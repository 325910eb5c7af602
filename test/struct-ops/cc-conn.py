# One TCP connection on loopback whose sender uses the congestion control named on the command line
# (setsockopt TCP_CONGESTION), moving BYTES bytes; prints JSON: the congestion control the socket reports
# and the bytes the receiver got. Run inside a fresh network namespace by test/struct-ops/kernel.test.ts.
import json
import socket
import sys
import threading

cc, total = sys.argv[1].encode(), int(sys.argv[2])
TCP_CONGESTION = getattr(socket, "TCP_CONGESTION", 13)

srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.bind(("127.0.0.1", 0))
srv.listen(1)
got = [0]


def receive():
    conn, _ = srv.accept()
    with conn:
        while True:
            chunk = conn.recv(1 << 16)
            if not chunk:
                break
            got[0] += len(chunk)


t = threading.Thread(target=receive)
t.start()
cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
cli.setsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, cc)
cli.connect(srv.getsockname())
used = cli.getsockopt(socket.IPPROTO_TCP, TCP_CONGESTION, 16).rstrip(b"\0").decode()
block = b"x" * (1 << 16)
sent = 0
while sent < total:
    sent += cli.send(block[: min(len(block), total - sent)])
cli.close()
t.join(timeout=30)
srv.close()
print(json.dumps({"cc": used, "received": got[0]}))
