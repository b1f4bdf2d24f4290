"""Load on `memo serve`: 200 concurrent requests to the memory model, dynamic batching on and off, side by side.

    flock /tmp/memo-bench.lock timeout 1800 .venv/bin/python bench/serve_load.py

Trains an embedded-model memory on the sample corpus's facts (memo.demo.SAMPLE_PAIRS) unless --memory is given,
then, for each arm (batching on: --max-batch questions per generation within a --window-ms collection window;
off: one request at a time), starts the real server (FastAPI + uvicorn) on 127.0.0.1, fires --requests
concurrent chat requests at the memory model and waits for every one. Each request ends answered (200) or
refused (429); anything else (an error, a timeout, no reply) counts as lost; --timeout bounds every request and
the whole arm, so the run stops by itself. Also the latency of one memory query alone (--single sequential
requests). Loopback only. Results are appended to docs/BENCHMARKS.md under `## Serving` (--no-write: print only).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from memo.demo import SAMPLE_PAIRS  # noqa: E402
from memo.paths import atomic_write_jsonl  # noqa: E402
from memo.serve import MemoryService, ServeSettings, create_app  # noqa: E402

from _record import append_to_section  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--memory", help="a trained memory (default: train one on the sample facts)")
    parser.add_argument("--requests", type=int, default=200, help="concurrent requests per arm")
    parser.add_argument("--max-batch", type=int, default=16, help="batching-on arm: questions per generation")
    parser.add_argument("--window-ms", type=float, default=10.0, help="batching-on arm: collection window")
    parser.add_argument("--max-queue", type=int, default=256, help="waiting requests before 429 (both arms)")
    parser.add_argument("--max-tokens", type=int, default=48, help="answer budget of each request")
    parser.add_argument("--single", type=int, default=30, help="sequential requests for the one-query latency")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds for any request and for each arm")
    parser.add_argument("--no-write", action="store_true", help="print, do not append to docs/BENCHMARKS.md")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="memo-serve-bench-") as tmp:
        memory, train_seconds = args.memory, None
        if memory is None:
            from memo.memory import train

            atomic_write_jsonl(Path(tmp) / "pairs.jsonl", SAMPLE_PAIRS)
            t0 = time.perf_counter()
            train(Path(tmp) / "pairs.jsonl", Path(tmp) / "memory")
            train_seconds = time.perf_counter() - t0
            memory = str(Path(tmp) / "memory")
        arms = {
            f"on (max batch {args.max_batch}, window {args.window_ms:g} ms)":
                ServeSettings(max_batch=args.max_batch, batch_window=args.window_ms / 1000, max_queue=args.max_queue),
            "off (one request at a time)": ServeSettings(max_batch=1, batch_window=0, max_queue=args.max_queue),
        }
        rows = {}
        for label, settings in arms.items():
            service = MemoryService(memory, settings, executive="embedded")
            args.model = service.name
            with serve(create_app(service)) as url:
                single = asyncio.run(sequential(url, args)) if label.startswith("on") else None
                rows[label] = asyncio.run(burst(url, args)) | {"single": single, "batches": service.batcher.batches}
            print(label, {k: v for k, v in rows[label].items() if k != "latencies"}, flush=True)

    section = render(rows, args, train_seconds)
    print(section)
    if not args.no_write:
        append_to_section("## Serving", section)


@contextmanager
def serve(app):
    """uvicorn on a free 127.0.0.1 port in a thread; yields the /v1 base URL."""
    import socket

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(30)


def _body(i: int, args) -> dict:
    return {"model": args.model, "max_tokens": args.max_tokens,
            "messages": [{"role": "user", "content": SAMPLE_PAIRS[i % len(SAMPLE_PAIRS)]["question"]}]}


async def burst(url: str, args) -> dict:
    """`args.requests` requests at once; every one ends answered, refused or lost (bounded by args.timeout)."""
    limits = httpx.Limits(max_connections=args.requests + 10, max_keepalive_connections=args.requests + 10)
    async with httpx.AsyncClient(base_url=url, timeout=args.timeout, limits=limits) as client:

        async def one(i: int):
            t0 = time.perf_counter()
            try:
                r = await client.post("/chat/completions", json=_body(i, args))
                return r.status_code, time.perf_counter() - t0, r.headers.get("retry-after")
            except httpx.HTTPError as exc:
                return type(exc).__name__, time.perf_counter() - t0, None

        t0 = time.perf_counter()
        tasks = [asyncio.create_task(one(i)) for i in range(args.requests)]
        done, pending = await asyncio.wait(tasks, timeout=args.timeout)
        wall = time.perf_counter() - t0
        for t in pending:
            t.cancel()
    results = [t.result() for t in done]
    answered = [s for code, s, _ in results if code == 200]
    refused = [r for r in results if r[0] == 429]
    return {
        "sent": args.requests, "answered": len(answered), "refused": len(refused),
        "refused_without_retry_after": sum(1 for r in refused if not r[2]),
        "lost": args.requests - len(answered) - len(refused), "wall": wall,
        "p50": _pct(answered, 50), "p95": _pct(answered, 95), "throughput": len(answered) / wall if wall else 0.0,
    }


async def sequential(url: str, args) -> dict:
    """One request at a time: the latency of a single memory query (after one warm-up request)."""
    async with httpx.AsyncClient(base_url=url, timeout=args.timeout) as client:
        await client.post("/chat/completions", json=_body(0, args))
        times = []
        for i in range(args.single):
            t0 = time.perf_counter()
            r = await client.post("/chat/completions", json=_body(i, args))
            r.raise_for_status()
            times.append(time.perf_counter() - t0)
    return {"p50": _pct(times, 50), "p95": _pct(times, 95), "n": len(times)}


def _pct(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _date() -> str:
    return subprocess.run(["date", "-u", "+%F"], capture_output=True, text=True).stdout.strip()


def render(rows: dict, args, train_seconds: float | None) -> str:
    on, off = rows.values()
    command = " ".join(["bench/serve_load.py", *(a for a in sys.argv[1:] if a != "--no-write")])
    memory = f"`{args.memory}`" if args.memory else \
        f"embedded full fine-tune on the {len(SAMPLE_PAIRS)} sample facts (trained in {train_seconds:.0f} s)"
    lines = [
        "",
        f"### {args.requests} concurrent requests to the memory model ({_date()}, 2-core CPU, no GPU; "
        "other work may have shared the CPU)",
        "",
        f"Command: `flock /tmp/memo-bench.lock timeout 1800 .venv/bin/python {command}`. Memory: "
        f"{memory}; `memo serve` (FastAPI + uvicorn) on 127.0.0.1, the client (httpx, asyncio) in the same "
        f"process; each request one of the sample questions, max_tokens {args.max_tokens}, queue limit "
        f"{args.max_queue}.",
        "",
        "| dynamic batching | answered | refused 429 | lost or hung | generations | p50 s | p95 s | answers/s | wall s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, r in rows.items():
        lines.append(f"| {label} | {r['answered']} | {r['refused']} | {r['lost']} | {r['batches']} | {r['p50']:.2f} | "
                     f"{r['p95']:.2f} | {r['throughput']:.2f} | {r['wall']:.1f} |")
    if on["throughput"] and off["throughput"]:
        lines += ["", f"Batching on vs off: {on['throughput'] / off['throughput']:.1f}x the throughput, p50 "
                      f"{on['p50'] / off['p50']:.2f}x and p95 {on['p95'] / off['p95']:.2f}x the latency."]
    s = on["single"]
    lines += ["", f"One memory query alone ({s['n']} sequential requests, batching on): p50 {s['p50'] * 1000:.0f} ms, "
                  f"p95 {s['p95'] * 1000:.0f} ms (HTTP round trip, generation and citations included)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
