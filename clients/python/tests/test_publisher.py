"""The Publisher against a real server: a hub away, a full buffer, invalid events, a lost answer, asyncio.

Its behaviour across a server kill and restart is in test_restart.py, with a subscriber reading along.
"""

import asyncio
import json
import os
import socket
import tempfile
import threading
import unittest
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Optional

from support import (
    PUBLISHER_TOKEN,
    SLOW_RATE_ENV,
    Server,
    VIEWER_TOKEN,
    free_port,
    log_event,
    quick_retries,
    shared_server,
    stored,
    switchboard,
    wait_until,
)


class PublisherWhileTheHubIsAway(unittest.TestCase):
    def test_buffers_while_the_hub_is_away_and_drops_the_newest_when_full(self) -> None:
        # Away: nothing listens on the port. Back: a proxy to the shared server opens on it.
        port = free_port()
        drops: list[tuple[str, str, str]] = []
        publisher = switchboard.Publisher(
            f"http://127.0.0.1:{port}",
            PUBLISHER_TOKEN,
            buffer_size=100,
            retry_initial=0.05,
            retry_max=0.2,
            on_drop=lambda event, reason, message: drops.append((event["data"]["message"], reason, message)),
        )
        self.addCleanup(publisher.close, 0)
        keys = [publisher.publish(log_event("py-away", f"m-{i}")) for i in range(150)]

        self.assertTrue(all(k is not None for k in keys[:100]))
        self.assertEqual(keys[100:], [None] * 50)
        self.assertEqual([d[0] for d in drops], [f"m-{i}" for i in range(100, 150)])
        self.assertEqual({d[1] for d in drops}, {"buffer_full"})
        self.assertIn("buffer_size", drops[0][2])
        self.assertEqual(publisher.stats().dropped, 50)
        self.assertEqual(publisher.flush(0.2), 100)
        wait_until("a failed send while the hub is away", lambda: publisher.stats().retried > 0)

        server = shared_server()
        proxy = _AnswerDroppingProxy(server.port, drop_first=0, port=port)
        self.addCleanup(proxy.close)
        self.assertEqual(publisher.flush(15), 0)
        messages = [e.data["message"] for e in stored(server.url, "agent:py-away", VIEWER_TOKEN)]
        self.assertEqual(messages, [f"m-{i}" for i in range(100)])

    def test_close_says_how_many_were_left_and_refuses_more(self) -> None:
        drops: list[str] = []
        publisher = switchboard.Publisher(
            f"http://127.0.0.1:{free_port()}", retry_initial=0.05, on_drop=lambda e, r, m: drops.append(r)
        )
        for i in range(10):
            publisher.publish(log_event("py-close", f"m-{i}"))
        self.assertEqual(publisher.close(0.3), 10)
        self.assertIsNone(publisher.publish(log_event("py-close", "late")))
        self.assertEqual(drops, ["closed"])
        self.assertEqual(publisher.stats().dropped, 1)


class PublisherAgainstALiveHub(unittest.TestCase):
    def test_a_lost_answer_is_retried_under_the_same_key_and_stored_once(self) -> None:
        server = shared_server()
        proxy = _AnswerDroppingProxy(server.port, drop_first=1)
        self.addCleanup(proxy.close)
        publisher = switchboard.Publisher(proxy.url, PUBLISHER_TOKEN, retry_initial=0.05, retry_max=0.2)
        self.addCleanup(publisher.close, 0)
        keys = [publisher.publish(log_event("py-lost", f"m-{i}")) for i in range(20)]

        self.assertEqual(publisher.flush(15), 0)
        self.assertGreaterEqual(proxy.requests, 2)
        events = stored(server.url, "agent:py-lost", VIEWER_TOKEN)
        self.assertEqual([e.data["message"] for e in events], [f"m-{i}" for i in range(20)])
        self.assertEqual([e.key for e in events], keys)
        self.assertGreater(publisher.stats().retried, 0)

    def test_sends_in_order_in_batches_bounded_by_count_and_bytes(self) -> None:
        server = shared_server()
        for agent, options, fewest, most in [
            ("py-batch", {}, 1, 10),
            ("py-batch-small", {"max_batch_bytes": 2000, "batch_size": 100}, 500 * 130 // 2000, 500),
        ]:
            with self.subTest(options=options):
                proxy = _AnswerDroppingProxy(server.port, drop_first=0)
                self.addCleanup(proxy.close)
                publisher = switchboard.Publisher(proxy.url, PUBLISHER_TOKEN, **options)
                self.addCleanup(publisher.close, 0)
                for i in range(500):
                    publisher.publish(log_event(agent, f"m-{i:03}"))
                self.assertEqual(publisher.flush(15), 0)
                self.assertTrue(fewest <= proxy.requests <= most, f"{proxy.requests} requests")
                self.assertLessEqual(max(proxy.sizes), options.get("max_batch_bytes", 512 * 1024))
                messages = [e.data["message"] for e in stored(server.url, f"agent:{agent}", VIEWER_TOKEN)]
                self.assertEqual(messages, [f"m-{i:03}" for i in range(500)])

    def test_invalid_events_are_dropped_counted_and_reported_not_retried(self) -> None:
        server = shared_server()
        drops: list[tuple[Mapping[str, Any], str, str]] = []
        publisher = switchboard.Publisher(server.url, PUBLISHER_TOKEN, on_drop=lambda e, r, m: drops.append((e, r, m)))
        self.addCleanup(publisher.close, 0)
        with self.assertLogs("switchboard", "WARNING") as logged:
            publisher.publish(log_event("py-valid", "first"))
            publisher.publish({"type": "agent.status", "data": {"agentId": "py-valid"}})
            publisher.publish({"type": "agent.log", "data": {"agentId": "py-valid", "level": "loud", "message": "x"}})
            publisher.publish(log_event("py-valid", "second"))
            self.assertIsNone(publisher.publish({"type": "agent.log", "data": {"agentId": "py-valid", "x": object()}}))
            self.assertIsNone(publisher.publish({"no": "type"}))
            self.assertEqual(publisher.flush(15), 0)
        self.assertEqual(len(logged.records), 4)
        self.assertEqual(
            [e.data["message"] for e in stored(server.url, "agent:py-valid", VIEWER_TOKEN)], ["first", "second"]
        )
        self.assertEqual([r for _, r, _ in drops], ["invalid", "invalid", "rejected_by_server", "rejected_by_server"])
        self.assertIn("data.agentType", drops[2][2])
        self.assertIn("data.level", drops[3][2])
        stats = publisher.stats()
        self.assertEqual((stats.sent, stats.rejected, stats.dropped, stats.retried), (2, 4, 0, 0))

    def test_events_outside_the_tokens_publish_scopes_are_dropped_not_retried(self) -> None:
        # A 403 for a batch is sorted out one event at a time: only the events outside the scopes are dropped.
        folder = tempfile.TemporaryDirectory(prefix="switchboard-py-scoped-")
        self.addCleanup(folder.cleanup)
        scoped = "py-scoped-publisher-0001"
        tokens = os.path.join(folder.name, "tokens.json")
        with open(tokens, "w", encoding="utf-8") as file:
            entries = [
                {"role": "publisher", "token": scoped, "scopes": {"publish": ["agent:py-in-*"]}},
                {"role": "viewer", "token": VIEWER_TOKEN},
            ]
            json.dump(entries, file)
        server = Server(os.path.join(folder.name, "scoped.db"), {"SWITCHBOARD_TOKENS_FILE": tokens}).start()
        self.addCleanup(server.kill)
        drops: list[tuple[Mapping[str, Any], str, str]] = []
        publisher = switchboard.Publisher(server.url, scoped, on_drop=lambda e, r, m: drops.append((e, r, m)))
        self.addCleanup(publisher.close, 0)
        with self.assertLogs("switchboard", "WARNING"):
            for agent, message in [("py-in-1", "first"), ("py-out-1", "outside"), ("py-in-1", "second")]:
                publisher.publish(log_event(agent, message))
            self.assertEqual(publisher.flush(15), 0)
        self.assertEqual([e.data["message"] for e in stored(server.url, None, VIEWER_TOKEN)], ["first", "second"])
        self.assertEqual([(e["data"]["message"], r) for e, r, _ in drops], [("outside", "rejected_by_server")])
        self.assertIn("agent:py-out-1", drops[0][2])
        stats = publisher.stats()
        self.assertEqual((stats.sent, stats.rejected, stats.dropped, stats.retried), (2, 1, 0, 0))

    def test_a_429_is_retried_no_sooner_than_its_retry_after(self) -> None:
        # One event a second with a burst of a thousand: the thousand go at once, the five after them are refused
        # 429 with Retry-After (up to five seconds) unless five seconds pass first. A backoff of at most 50 ms would
        # ask again twenty times a second; waiting what the server asked, the sender asks once or twice more.
        folder = tempfile.TemporaryDirectory(prefix="switchboard-py-rate-")
        self.addCleanup(folder.cleanup)
        server = Server(os.path.join(folder.name, "rate.db"), SLOW_RATE_ENV).start()
        self.addCleanup(server.kill)
        retries: list[str] = []
        publisher = switchboard.Publisher(server.url, PUBLISHER_TOKEN, **quick_retries(retries))
        self.addCleanup(publisher.close, 0)
        for i in range(1_005):
            publisher.publish(log_event("py-rate", f"event {i}"))
        self.assertEqual(publisher.flush(30), 0)
        self.assertEqual(publisher.stats().sent, 1_005)
        self.assertGreaterEqual(len(retries), 1)
        self.assertLessEqual(len(retries), 3, retries)
        self.assertRegex(retries[0], r"^publish rate limit: 1 events/s per publisher")

    def test_datetimes_and_explicit_keys_go_through(self) -> None:
        server = shared_server()
        with switchboard.Publisher(server.url, PUBLISHER_TOKEN) as publisher:
            when = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
            key = f"py-time-{free_port()}"
            self.assertEqual(publisher.publish({**log_event("py-time", "at"), "timestamp": when, "key": key}), key)
            publisher.publish({**log_event("py-time", "again"), "key": key})
            self.assertEqual(publisher.flush(15), 0)
        [event] = [e for e in stored(server.url, "agent:py-time", VIEWER_TOKEN) if e.key == key]
        self.assertEqual((event.timestamp, event.data["message"]), (when, "at"))

    def test_a_wrong_token_is_retried_not_dropped(self) -> None:
        server = shared_server()
        failures: list[str] = []
        publisher = switchboard.Publisher(
            server.url, "not-a-token-of-this-hub", retry_initial=0.05, on_retry=lambda m, a: failures.append(m)
        )
        publisher.publish(log_event("py-token", "refused"))
        wait_until("a refused send", lambda: len(failures) > 0)
        self.assertEqual(publisher.close(0.3), 1)
        self.assertIn("missing or unknown token", failures[0])
        self.assertEqual(publisher.stats().rejected, 0)


class PublisherFromAsyncio(unittest.TestCase):
    def test_publish_never_blocks_the_loop_and_flush_is_awaitable(self) -> None:
        server = shared_server()
        away = f"http://127.0.0.1:{free_port()}"

        async def main() -> tuple[int, int, int]:
            ticks = 0
            stop = asyncio.Event()

            async def ticker() -> None:
                nonlocal ticks
                while not stop.is_set():
                    ticks += 1
                    await asyncio.sleep(0.005)

            task = asyncio.ensure_future(ticker())
            publisher = switchboard.Publisher(away, retry_initial=0.05, retry_max=0.2)
            for i in range(50):
                publisher.publish(log_event("py-async", f"m-{i}"))
            left_while_down = await publisher.flush_async(0.3)
            stop.set()
            await task
            self.assertEqual(await publisher.aclose(0), 50)
            async with switchboard.Publisher(server.url, PUBLISHER_TOKEN) as publisher:
                for i in range(50):
                    publisher.publish(log_event("py-async", f"m-{i}"))
                left = await publisher.flush_async(15)
            return left_while_down, ticks, left

        left_while_down, ticks, left = asyncio.run(main())
        self.assertEqual(left_while_down, 50)
        # The loop ran its other task all the while flush waited.
        self.assertGreater(ticks, 10)
        self.assertEqual(left, 0)
        self.assertEqual(len(stored(server.url, "agent:py-async", VIEWER_TOKEN)), 50)


class _AnswerDroppingProxy:
    """A fault on purpose: forwards requests to the server, but for the first `drop_first` ones closes the
    client's connection instead of relaying the answer, so the server stores a batch whose answer is lost."""

    def __init__(self, target: int, drop_first: int, port: int = 0) -> None:
        self._target = target
        self._drop = drop_first
        self.requests = 0
        #: Body bytes of each request.
        self.sizes: list[int] = []
        self._listener = socket.create_server(("127.0.0.1", port))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._closed = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client, socket.create_connection(("127.0.0.1", self._target)) as upstream:
            request = _read_request(client)
            if request is None:
                return
            self.requests += 1
            self.sizes.append(len(request.partition(b"\r\n\r\n")[2]))
            drop = self.requests <= self._drop
            # urllib sends `Connection: close`, so the server ends the answer by closing: read to the end.
            upstream.sendall(request)
            answer = b""
            while True:
                chunk = upstream.recv(65536)
                if not chunk:
                    break
                answer += chunk
            if not drop:
                client.sendall(answer)


def _read_request(sock: socket.socket) -> Optional[bytes]:
    """One HTTP request with a content-length body, as urllib sends it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            return None
        body += chunk
    return head + b"\r\n\r\n" + body
