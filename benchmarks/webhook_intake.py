"""Webhook intake under load: at least 10,000 deliveries over loopback into a real receiver process.

The receiver (uvicorn, one worker) writes every delivery to the state store and commits before it answers;
the load comes from another process with many connections in flight. Printed: deliveries accepted per
second, p50/p99 latency, and lost events (deliveries answered 202 that are not in the inbox; must be 0).
Every tenth delivery repeats an earlier event (as Cin7 retries do), so deduplication is under load too.

    .venv/bin/python benchmarks/webhook_intake.py [--deliveries 10000] [--concurrency 32] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import sqlalchemy as sa

TOKEN = "benchmark-token-not-a-secret"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(database_url: str, port: int) -> None:
    import uvicorn

    from datev_cin7_pipeline.store import Secret, StateStore
    from datev_cin7_pipeline.store.connections import ensure_connection
    from datev_cin7_pipeline.webhooks.app import ReceiverConnection, WebhookAuth, build_webhook_app

    store = StateStore(database_url)
    with store.session() as session:
        connection_id = ensure_connection(session, "bench", actor="benchmark")
    auth = WebhookAuth(mode="bearer", secret=Secret(TOKEN))
    app = build_webhook_app(store, {"bench": ReceiverConnection("bench", connection_id, auth)})
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="error", access_log=False)


async def _load(port: int, events: list[str], concurrency: int) -> tuple[list[float], dict[int, int], set[str]]:
    """A lean keep-alive HTTP/1.1 load generator: a heavyweight client would measure itself, not the receiver."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    accepted: set[str] = set()
    queue: asyncio.Queue[str] = asyncio.Queue()
    for event in events:
        queue.put_nowait(event)

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while not queue.empty():
                sale_id = queue.get_nowait()
                body = json.dumps({"SaleTaskID": sale_id, "SaleOrderNumber": "SO-1"}).encode()
                request = (
                    "POST /webhooks/cin7/bench HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                    f"Authorization: Bearer {TOKEN}\r\nX-Cin7-Event: Sale/InvoiceAuthorised\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                ).encode() + body
                started = time.perf_counter()
                writer.write(request)
                await writer.drain()
                status_line = await reader.readline()
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode().partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - started)
                status = int(status_line.split()[1])
                statuses[status] = statuses.get(status, 0) + 1
                if status == 202:
                    accepted.add(sale_id)
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, statuses, accepted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="webhook-bench-"))
    database_url = args.database_url or f"sqlite:///{workdir / 'state.db'}"
    from datev_cin7_pipeline.store import StateStore

    StateStore(database_url).dispose()  # migrate before the clock starts
    port = _free_port()
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(database_url, port), daemon=True)
    server.start()
    for _ in range(200):
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.05)

    unique = [str(uuid.uuid4()) for _ in range(args.deliveries - args.deliveries // 10)]
    events = unique + unique[: args.deliveries // 10]  # every tenth delivery is a retry of an earlier one
    started = time.perf_counter()
    latencies, statuses, accepted = asyncio.run(_load(port, events, args.concurrency))
    elapsed = time.perf_counter() - started
    server.terminate()
    server.join(10)

    engine = sa.create_engine(database_url)
    with engine.connect() as connection:
        stored = set(connection.execute(sa.text("SELECT document_id FROM webhook_inbox")).scalars())
        deliveries = connection.execute(sa.text("SELECT coalesce(sum(delivery_count), 0) FROM webhook_inbox")).scalar()
    engine.dispose()
    lost = len(accepted - stored)
    quantiles = statistics.quantiles(latencies, n=100)
    per_second = len(events) / elapsed
    print(f"deliveries: {len(events)} ({len(unique)} distinct events), statuses: {statuses}")
    print(f"stored: {len(stored)} inbox rows, {deliveries} deliveries counted")
    print(
        f"elapsed {elapsed:.2f} s: {per_second:.0f} deliveries/s; latency p50 {quantiles[49] * 1000:.1f} ms, "
        f"p99 {quantiles[98] * 1000:.1f} ms"
    )
    print(
        f"RESULT deliveries={len(events)} per_second={per_second:.0f} p99_ms={quantiles[98] * 1000:.1f} "
        f"lost={lost} goal_per_second=500 ratio_to_goal={per_second / 500:.2f}"
    )
    return 0 if lost == 0 and deliveries == len(events) else 1


if __name__ == "__main__":
    sys.exit(main())
