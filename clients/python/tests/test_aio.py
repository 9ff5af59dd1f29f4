"""`switchboard.aio` against real servers: the asyncio Publisher and subscription keep the blocking ones'
promises (order, exactly once, resume across a SIGKILL and a restart, refusals), without threads; `history`
raises the same errors either way; events of a type without a class go to `on_unknown`.
"""

import asyncio
import os
import threading
import unittest
from typing import Any, Optional

from support import (
    PUBLISHER_TOKEN,
    SLOW_RATE_ENV,
    VIEWER_TOKEN,
    ROOT,
    Server,
    ServerTestCase,
    free_port,
    log_event,
    quick_retries,
    shared_server,
    stored,
    switchboard,
)

from switchboard import aio, events

#: Bounds every coroutine of these tests: a hang fails the test instead of stalling the suite.
LIMIT = 30.0


def run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, LIMIT))


async def take(subscription: aio.Subscription, count: int) -> list[Any]:
    items: list[Any] = []
    async for item in subscription:
        items.append(item)
        if len(items) == count:
            break
    return items


class AsyncioClient(ServerTestCase):
    def test_publisher_and_subscription_in_one_loop_in_order_exactly_once_and_typed(self) -> None:
        url = shared_server().url
        total = 300

        async def scenario() -> tuple[list[Any], list[Optional[str]], Any]:
            threads = threading.active_count()
            async with aio.subscribe(
                url, "events", {"topics": ["agent:py-aio-1"]}, last_event_id="0", token=VIEWER_TOKEN
            ) as subscription:
                reading = asyncio.ensure_future(take(subscription, total))
                async with aio.Publisher(url, PUBLISHER_TOKEN, batch_size=50) as publisher:
                    keys = []
                    for i in range(total):
                        if i % 3 == 0:
                            status = "busy" if i % 2 else "idle"
                            data = {"agentId": "py-aio-1", "agentType": "script", "status": status}
                            keys.append(publisher.publish({"type": "agent.status", "data": data}))
                        else:
                            keys.append(publisher.publish(log_event("py-aio-1", f"m-{i}")))
                    # No thread does the sending: the Publisher and the subscription are tasks of this loop.
                    self.assertEqual(threading.active_count(), threads)
                    self.assertEqual(await publisher.flush(15), 0)
                    stats = publisher.stats()
                items = await reading
                return items, keys, stats

        items, keys, stats = run(scenario())
        self.assertEqual((stats.sent, stats.dropped, stats.rejected), (300, 0, 0))
        self.assertEqual([item.key for item in items], keys)
        ids = [int(item.id) for item in items]
        self.assertEqual(ids, sorted(set(ids)))
        for item in items:
            # Narrowed by `type`: each item is its type's class, with its type's data.
            if item.type == "agent.status":
                self.assertIsInstance(item, events.AgentStatusEvent)
                self.assertIn(item.data["status"], ("idle", "busy"))
            else:
                self.assertIsInstance(item, events.AgentLogEvent)
                self.assertTrue(item.data["message"].startswith("m-"))

    def test_a_subscription_resumes_across_a_kill_and_a_restart_and_the_publisher_waits_for_the_hub(self) -> None:
        server = self.server()
        reconnects: list[Optional[str]] = []

        async def scenario() -> list[Any]:
            subscription = aio.subscribe(
                server.url,
                "events",
                {"topics": ["agent:py-aio-crash"]},
                last_event_id="0",
                retry_initial=0.05,
                retry_max=0.5,
                on_reconnect=lambda _reason, _attempt, cursor: reconnects.append(cursor),
            )
            async with subscription, aio.Publisher(server.url, retry_initial=0.05, retry_max=0.5) as publisher:
                for i in range(5):
                    publisher.publish(log_event("py-aio-crash", f"before-{i}"))
                self.assertEqual(await publisher.flush(15), 0)
                first = await take(subscription, 5)
                server.kill()
                # The hub is away: the Publisher keeps what it accepted and retries.
                for i in range(5):
                    publisher.publish(log_event("py-aio-crash", f"after-{i}"))
                self.assertEqual(await publisher.flush(0.3), 5)
                self.assertGreater(publisher.stats().retried, 0)
                # Started from this thread, which the server dies with (support.py): the loop waits meanwhile.
                server.start()
                self.assertEqual(await publisher.flush(15), 0)
                rest = await take(subscription, 5)
                self.assertRegex(str(subscription.last_event_id), r"^10@")
            return first + rest

        items = run(scenario())
        messages = [f"before-{i}" for i in range(5)] + [f"after-{i}" for i in range(5)]
        self.assertEqual([item.data["message"] for item in items], messages)
        self.assertEqual([int(item.id) for item in items], list(range(1, 11)))
        self.assertGreater(len(reconnects), 0)
        self.assertTrue(all(cursor is not None and cursor.startswith("5@") for cursor in reconnects))
        self.assertEqual(len(stored(server.url, "agent:py-aio-crash")), 10)

    def test_history_pages_like_the_blocking_one_and_both_raise_the_same_errors(self) -> None:
        url = shared_server().url
        with switchboard.Publisher(url, PUBLISHER_TOKEN) as publisher:
            for i in range(7):
                publisher.publish(log_event("py-aio-history", f"h-{i}"))
            self.assertEqual(publisher.flush(15), 0)
        query = {"topics": ["agent:py-aio-history"], "limit": 3}

        async def read(input: dict[str, Any], token: Optional[str] = VIEWER_TOKEN, at: str = url) -> list[Any]:
            return [item async for item in aio.history(at, input, token=token)]

        blocking = [item.id for item in switchboard.history(url, query, token=VIEWER_TOKEN)]
        self.assertEqual(len(blocking), 7)
        self.assertEqual([item.id for item in run(read(query))], blocking)

        away = f"http://127.0.0.1:{free_port()}"
        cases: list[tuple[str, Any, Optional[str]]] = [
            ("bad input", {**query, "limit": 0}, "BAD_REQUEST"),
            ("no token", query, "UNAUTHORIZED"),
            ("unreachable", query, None),
        ]
        for what, input, code in cases:
            token = None if what == "no token" else VIEWER_TOKEN
            at = away if what == "unreachable" else url
            expected = ConnectionError if code is None else switchboard.SubscriptionError
            with self.subTest(what):
                with self.assertRaises(expected) as blocking_error:
                    list(switchboard.history(at, input, token=token, timeout=5))
                with self.assertRaises(expected) as async_error:
                    run(read(input, token, at))
                if code is not None:
                    self.assertEqual(getattr(blocking_error.exception, "code"), code)
                    self.assertEqual(getattr(async_error.exception, "code"), code)
                else:
                    self.assertIn(f"cannot reach {away}", str(blocking_error.exception))
                    self.assertIn(f"cannot reach {away}", str(async_error.exception))
        # A subscription that cannot reach the server gives up with the same ConnectionError.
        with self.assertRaises(ConnectionError):
            next(switchboard.subscribe(away, "events", max_retries=0))
        with self.assertRaises(ConnectionError):
            run(take(aio.subscribe(away, "events", max_retries=0), 1))

    def test_refusals_raise_and_aclose_ends_a_read_that_waits(self) -> None:
        url = shared_server().url

        async def refused() -> None:
            await take(aio.subscribe(url, "events", {"colour": "red"}, token=VIEWER_TOKEN, max_retries=1), 1)

        with self.assertRaises(switchboard.SubscriptionError) as error:
            run(refused())
        self.assertEqual(error.exception.code, "BAD_REQUEST")

        async def closed_while_waiting() -> list[Any]:
            subscription = aio.subscribe(url, "events", {"topics": ["agent:py-aio-quiet"]}, token=VIEWER_TOKEN)
            reading = asyncio.ensure_future(take(subscription, 1))
            await asyncio.sleep(0)
            while subscription._response is None:  # connected: the read now waits for data
                await asyncio.sleep(0.01)
            await subscription.aclose()
            return await asyncio.wait_for(reading, 5)

        self.assertEqual(run(closed_while_waiting()), [])

    def test_the_publisher_waits_a_429s_retry_after(self) -> None:
        # As the blocking Publisher does (test_publisher.py): a backoff of at most 50 ms, a server that asks for up
        # to five seconds, so the sender asks once or twice more, not twenty times a second.
        server = Server(os.path.join(self._dir.name, "rate.db"), SLOW_RATE_ENV).start()
        self.addCleanup(server.kill)
        retries: list[str] = []

        async def scenario() -> Any:
            async with aio.Publisher(server.url, PUBLISHER_TOKEN, **quick_retries(retries)) as publisher:
                for i in range(1_005):
                    publisher.publish(log_event("py-aio-rate", f"event {i}"))
                self.assertEqual(await publisher.flush(25), 0)
                return publisher.stats()

        self.assertEqual(run(scenario()).sent, 1_005)
        self.assertGreaterEqual(len(retries), 1)
        self.assertLessEqual(len(retries), 3, retries)
        self.assertRegex(retries[0], r"^publish rate limit: 1 events/s per publisher")

    def test_events_of_a_type_without_a_class_go_to_on_unknown(self) -> None:
        server = Server(
            os.path.join(self._dir.name, "custom.db"),
            {"SWITCHBOARD_EVENTS": str(ROOT / "examples" / "custom-events.ts")},
        ).start()
        self.addCleanup(server.kill)
        with switchboard.Publisher(server.url) as publisher:
            publisher.publish({"type": "pool.scaled", "data": {"poolId": "gpu", "from": 2, "to": 6}})
            publisher.publish(log_event("py-pool", "scaled"))
            self.assertEqual(publisher.flush(15), 0)

        unknown: list[switchboard.UnknownEvent] = []
        with self.assertLogs("switchboard", "WARNING") as logs:
            blocking = list(switchboard.history(server.url))
        self.assertEqual([item.type for item in blocking], ["agent.log"])
        self.assertIn("events of type pool.scaled skipped", logs.output[0])

        async def scenario() -> list[Any]:
            async with aio.subscribe(server.url, "events", last_event_id="0", on_unknown=unknown.append) as s:
                return await take(s, 1)

        items = run(scenario())
        self.assertEqual([item.type for item in items], ["agent.log"])
        self.assertEqual([(e.type, e.data["to"]) for e in unknown], [("pool.scaled", 6)])
        self.assertIsInstance(unknown[0], switchboard.Event)


if __name__ == "__main__":
    unittest.main()
