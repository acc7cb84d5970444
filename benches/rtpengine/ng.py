#!/usr/bin/env python3
"""Sets up and tears down G.711 calls on rtpengine over its ng control protocol.

The ng protocol is bencode over UDP: each request is "<cookie> <bencoded dict>" and the
reply is "<cookie> <bencoded dict>". For every call we send `offer` (leg A's SDP) and
`answer` (leg B's SDP); rtpengine rewrites each SDP with the port it allocated:

  - the SDP returned by `offer` goes to B: B sends its RTP there;
  - the SDP returned by `answer` goes to A: A sends its RTP there.

Usage:
  ng.py setup  --ng 127.0.0.1:22222 --calls N --a 127.0.0.1:PORT --b 127.0.0.1:PORT --tag T
      prints one line per call: "<where A sends> <where B sends>"
  ng.py delete --ng 127.0.0.1:22222 --calls N --tag T
  ng.py ping   --ng 127.0.0.1:22222

Only loopback addresses are used; every request times out after 2 s.
"""

import argparse
import os
import re
import socket
import sys
import time


def bencode(v):
    if isinstance(v, int):
        return b"i%de" % v
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, bytes):
        return b"%d:%s" % (len(v), v)
    if isinstance(v, list):
        return b"l" + b"".join(bencode(x) for x in v) + b"e"
    if isinstance(v, dict):
        out = b"d"
        for k in sorted(v):
            out += bencode(k) + bencode(v[k])
        return out + b"e"
    raise TypeError(type(v))


def bdecode(b, i=0):
    c = b[i:i + 1]
    if c == b"i":
        j = b.index(b"e", i)
        return int(b[i + 1:j]), j + 1
    if c == b"l":
        i += 1
        out = []
        while b[i:i + 1] != b"e":
            v, i = bdecode(b, i)
            out.append(v)
        return out, i + 1
    if c == b"d":
        i += 1
        out = {}
        while b[i:i + 1] != b"e":
            k, i = bdecode(b, i)
            v, i = bdecode(b, i)
            out[k.decode()] = v
        return out, i + 1
    j = b.index(b":", i)
    n = int(b[i:j])
    return b[j + 1:j + 1 + n], j + 1 + n


class Ng:
    def __init__(self, addr):
        host, port = addr.rsplit(":", 1)
        self.addr = (host, int(port))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.settimeout(2.0)
        # rtpengine caches replies by cookie, so cookies must not repeat across runs.
        self.prefix = b"%d-%d-" % (os.getpid(), int(time.time() * 1000))
        self.n = 0

    def request(self, d):
        self.n += 1
        cookie = self.prefix + b"%d" % self.n
        self.sock.sendto(cookie + b" " + bencode(d), self.addr)
        while True:
            data, _ = self.sock.recvfrom(65535)
            got_cookie, _, body = data.partition(b" ")
            if got_cookie == cookie:
                reply, _ = bdecode(body)
                if reply.get("result") not in (b"ok", b"pong"):
                    raise RuntimeError("rtpengine: %r for %r" % (reply, d.get("command")))
                return reply


def sdp(ip, port, session):
    return (
        "v=0\r\n"
        "o=- %d 1 IN IP4 %s\r\n"
        "s=-\r\n"
        "c=IN IP4 %s\r\n"
        "t=0 0\r\n"
        "m=audio %d RTP/AVP 0\r\n"
        "a=rtpmap:0 PCMU/8000\r\n"
        "a=sendrecv\r\n" % (session, ip, ip, port)
    )


def media_addr(sdp_bytes):
    text = sdp_bytes.decode()
    ip = re.search(r"^c=IN IP[46] (\S+)", text, re.M).group(1)
    port = int(re.search(r"^m=audio (\d+)", text, re.M).group(1))
    return "%s:%d" % (ip, port)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["setup", "delete", "ping"])
    p.add_argument("--ng", default="127.0.0.1:22222")
    p.add_argument("--calls", type=int, default=1)
    p.add_argument("--a")
    p.add_argument("--b")
    # Call-IDs must differ between runs: rtpengine keeps deleted calls for --delete-delay.
    p.add_argument("--tag", default="0")
    args = p.parse_args()
    ng = Ng(args.ng)
    if args.command == "ping":
        print(ng.request({"command": "ping"}).get("result").decode())
        return
    if args.command == "delete":
        for i in range(args.calls):
            try:
                ng.request({"command": "delete", "call-id": "sentral-bench-%s-%d" % (args.tag, i)})
            except RuntimeError as e:
                print(e, file=sys.stderr)
        return
    a_ip, a_port = args.a.rsplit(":", 1)
    b_ip, b_port = args.b.rsplit(":", 1)
    for i in range(args.calls):
        call = "sentral-bench-%s-%d" % (args.tag, i)
        offer = ng.request({
            "command": "offer", "call-id": call, "from-tag": "a%d" % i,
            "sdp": sdp(a_ip, int(a_port), 2 * i), "ICE": "remove",
        })
        answer = ng.request({
            "command": "answer", "call-id": call, "from-tag": "a%d" % i,
            "to-tag": "b%d" % i, "sdp": sdp(b_ip, int(b_port), 2 * i + 1), "ICE": "remove",
        })
        print(media_addr(answer["sdp"]), media_addr(offer["sdp"]))


if __name__ == "__main__":
    main()
