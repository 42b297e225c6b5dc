#!/usr/bin/env python3
"""Time to the first streamed event, seen from a raw socket: no HTTP client library in between.

Sends N streaming requests one after another on one kept-alive connection (as `quire bench serve
--tokenizer` does) and prints, per request, when the response headers and the first event with text
arrived after the request was sent, and the server's own mean TTFT over the same requests
(vllm:time_to_first_token_seconds from /metrics). A first event that waits for the client's delayed
ACK of the headers (Nagle's algorithm on the server) shows as a headers -> event gap of ~40 ms.

  tools/bench/first-event.py --model quire-demo --api triton -n 10
"""
import argparse
import json
import random
import socket
import statistics
import time
import urllib.request

WORDS = ("the of and to in that is was he for it with as his on be at by had not are but from or have "
         "they which one you were her all she there would their we him been has when who will more no if "
         "out so said what up its about into than them can only other new some could time these two may").split()


def server_ttft(metrics_url):
    """(sum, count) of vllm:time_to_first_token_seconds over all models."""
    s = c = 0.0
    for line in urllib.request.urlopen(metrics_url, timeout=10).read().decode().splitlines():
        if line.startswith("vllm:time_to_first_token_seconds_sum"):
            s += float(line.split()[-1])
        elif line.startswith("vllm:time_to_first_token_seconds_count"):
            c += float(line.split()[-1])
    return s, c


def request_bytes(args, prompt):
    if args.api == "openai":
        path = "/v1/completions"
        body = {"model": args.model, "prompt": prompt, "max_tokens": args.max_tokens, "temperature": 0,
                "ignore_eos": True, "stream": True}
    else:
        path = f"/v2/models/{args.model}/generate_stream"
        body = {"text_input": prompt, "stream": True, "exclude_input_in_output": True,
                "sampling_parameters": json.dumps({"max_tokens": args.max_tokens, "temperature": 0, "ignore_eos": True})}
    b = json.dumps(body).encode()
    head = f"POST {path} HTTP/1.1\r\nHost: {args.host}\r\nContent-Type: application/json\r\nContent-Length: {len(b)}\r\n\r\n"
    return head.encode() + b


class Reader:
    """Reads a chunked SSE response, noting when the last bytes arrived."""

    def __init__(self, sock):
        self.sock, self.buf, self.at = sock, b"", 0.0

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("connection closed")
        self.at = time.perf_counter()
        self.buf += data

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exactly(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def chunks(self):
        """The body's chunks, up to the terminating one."""
        while True:
            size = int(self.line().split(b";")[0], 16)
            if size == 0:
                self.line()
                return
            data = self.exactly(size)
            self.line()
            yield data


def has_text(api, event):
    if api == "openai":
        choices = event.get("choices") or []
        return bool(choices) and bool(choices[0].get("text"))
    return bool(event.get("text_output"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--metrics-port", type=int, default=8002)
    ap.add_argument("--model", required=True)
    ap.add_argument("--api", choices=("triton", "openai"), default="triton")
    ap.add_argument("-n", type=int, default=10, help="requests after one unmeasured warm-up")
    ap.add_argument("--words", type=int, default=100, help="random words per prompt")
    ap.add_argument("--max-tokens", type=int, default=16)
    args = ap.parse_args()
    rng = random.Random(time.time_ns())
    sock = socket.create_connection((args.host, args.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    rows = []
    s0 = c0 = None
    for i in range(args.n + 1):
        if i == 1:
            s0, c0 = server_ttft(f"http://{args.host}:{args.metrics_port}/metrics")
        prompt = " ".join(rng.choice(WORDS) for _ in range(args.words))
        t0 = time.perf_counter()
        sock.sendall(request_bytes(args, prompt))
        r = Reader(sock)
        status = r.line().decode()
        if " 200 " not in status + " ":
            raise SystemExit(f"request {i}: {status}")
        while r.line():
            pass
        headers_at, first_at, pending = r.at, None, b""
        for chunk in r.chunks():
            pending += chunk
            while first_at is None and b"\n\n" in pending:
                event, pending = pending.split(b"\n\n", 1)
                if event.startswith(b"data: ") and event[6:] != b"[DONE]" and has_text(args.api, json.loads(event[6:])):
                    first_at = r.at
        if i > 0:
            rows.append(((headers_at - t0) * 1e3, (first_at - t0) * 1e3))
    s1, c1 = server_ttft(f"http://{args.host}:{args.metrics_port}/metrics")
    for k, (h, f) in enumerate(rows):
        print(f"request {k + 1:3d}: headers {h:8.2f} ms  first event with text {f:8.2f} ms  (headers -> event {f - h:6.2f} ms)")
    gaps = [f - h for h, f in rows]
    print(f"client TTFT (send -> first event with text): mean {statistics.mean(f for _, f in rows):.2f} ms, "
          f"median {statistics.median(f for _, f in rows):.2f} ms")
    print(f"headers -> first event: mean {statistics.mean(gaps):.2f} ms, median {statistics.median(gaps):.2f} ms, "
          f"max {max(gaps):.2f} ms")
    if c1 > c0:
        print(f"server TTFT (vllm:time_to_first_token_seconds) over the same {int(c1 - c0)} requests: "
              f"mean {(s1 - s0) / (c1 - c0) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
