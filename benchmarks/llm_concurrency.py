"""Throughput of the LLM client against a stub server with a fixed response delay.

A stub `/v1/chat/completions` server (its own process, on 127.0.0.1) answers every request after
`--delay` seconds. The same number of distinct requests goes through `LLMClient` (the openai
backend, retries and the SQLite cache included) at each concurrency level; throughput and the
ratio to sequential are printed. Exits 1 when a ratio is below `--target * c`.

    python benchmarks/llm_concurrency.py [--delay 0.2] [--requests 64] [--levels 1 2 4 8 16]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from raft_dataset.llm import LLMConfig, make_llm_client  # noqa: E402


def serve_stub(delay: float) -> None:
    """Answer chat completions after `delay` seconds; print the port, serve until stdin closes."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out as separate writes

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            time.sleep(delay)
            reply = json.dumps({
                "id": "stub", "object": "chat.completion", "created": 0, "model": body["model"],
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": "1. What does the stub say?"}}],
                "usage": {"prompt_tokens": 20, "completion_tokens": 8, "total_tokens": 28},
            }).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 128  # the listen backlog: 16 clients connect at once

    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    import threading

    threading.Thread(target=server.serve_forever, daemon=True).start()
    sys.stdin.read()  # the parent closes our stdin (or dies) to stop us
    server.shutdown()


def measure(port: int, concurrency: int, n_requests: int, cache_dir: Path) -> float:
    """Requests per second through the client at one concurrency level."""
    cfg = LLMConfig.from_dict({"model": "stub", "base_url": f"http://127.0.0.1:{port}/v1",
                               "max_concurrency": concurrency, "cache_path": str(cache_dir / f"c{concurrency}.sqlite"),
                               "progress": False, "timeout": 30})
    requests = [[{"role": "user", "content": f"level {concurrency}, request {i}"}] for i in range(n_requests)]
    with make_llm_client(cfg) as client:
        client.complete([[{"role": "user", "content": "warm-up"}]], stage="warmup")  # connect, start the loop
        start = time.perf_counter()
        results = client.complete(requests, stage="bench")
        elapsed = time.perf_counter() - start
        stats = client.stats()["stages"]["bench"]
    assert stats["cache_hits"] == 0 and not stats["failures"], stats
    assert all(r.text for r in results)
    return n_requests / elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, default=0.2, help="stub response delay in seconds")
    parser.add_argument("--requests", type=int, default=64, help="requests per concurrency level")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 2, 4, 8, 16])
    parser.add_argument("--target", type=float, default=0.8, help="required ratio / concurrency")
    parser.add_argument("--stub", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stub:
        serve_stub(args.delay)
        return 0
    stub = subprocess.Popen([sys.executable, __file__, "--stub", "--delay", str(args.delay)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        port = int(stub.stdout.readline())
        with tempfile.TemporaryDirectory() as tmp:
            rates = {c: measure(port, c, args.requests, Path(tmp)) for c in args.levels}
    finally:
        stub.stdin.close()
        stub.wait(timeout=10)
    base = rates[args.levels[0]] / args.levels[0]  # sequential throughput (levels start at 1)
    failed = False
    print(f"stub delay {args.delay:.3f}s, {args.requests} requests per level (ideal: {1 / args.delay:.1f} req/s * c)")
    print(f"{'c':>3} {'req/s':>8} {'ratio':>6} {'target':>7}")
    for c, rate in rates.items():
        ratio = rate / base
        ok = ratio >= args.target * c
        failed |= not ok
        print(f"{c:>3} {rate:>8.2f} {ratio:>6.2f} {args.target * c:>7.2f} {'ok' if ok else 'MISSED'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
