"""Across a SIGKILL and a restart of the server: the Publisher stores every accepted event exactly once and in
order, and a subscriber reading all along resumes from its last id with no gap and no duplicate."""

import threading
import time
from typing import Optional

from support import Collector, ServerTestCase, log_event, stored, switchboard, wait_until


class AcrossAKillAndRestart(ServerTestCase):
    def test_publisher_stores_each_event_once_in_order_and_subscriber_resumes_without_gap(self) -> None:
        server = self.server()
        retries: list[int] = []
        publisher = switchboard.Publisher(
            server.url, retry_initial=0.05, retry_max=0.5, on_retry=lambda _message, attempt: retries.append(attempt)
        )
        self.addCleanup(publisher.close, 0)
        cursors: list[Optional[str]] = []
        reader = Collector(
            switchboard.subscribe(
                server.url,
                "events",
                {"topics": ["agent:py-crash"]},
                last_event_id="0",
                retry_initial=0.05,
                retry_max=0.5,
                on_reconnect=lambda _reason, _attempt, cursor: cursors.append(cursor),
            )
        )
        self.addCleanup(reader.close)

        total = 2000
        accepted: list[str] = []
        dropped: list[int] = []

        killed = threading.Event()

        def produce() -> None:
            for i in range(total):
                if i == total // 2:
                    # Half the events are written before the kill and half after, however fast the machine.
                    killed.wait(20)
                # Paced by the buffer rather than the clock: the orchestrator keeps writing through the outage.
                while publisher.stats().queued >= 500:
                    time.sleep(0.001)
                if publisher.publish(log_event("py-crash", f"m-{i}")) is not None:
                    accepted.append(f"m-{i}")
                else:
                    dropped.append(i)

        producer = threading.Thread(target=produce)
        producer.start()
        wait_until("events sent and received before the kill", lambda: len(reader.items) >= 400)
        server.kill()
        killed.set()
        wait_until("the publisher and the subscriber to notice", lambda: len(retries) > 0 and len(cursors) > 0)
        received_before_restart = len(reader.items)
        server.start()
        producer.join(30)
        self.assertFalse(producer.is_alive())
        self.assertEqual(publisher.flush(15), 0)

        events = stored(server.url)
        self.assertEqual(dropped, [])
        self.assertEqual([e.data["message"] for e in events], accepted)
        self.assertEqual(len({e.key for e in events}), total)
        stats = publisher.stats()
        self.assertEqual((stats.queued, stats.sent, stats.dropped, stats.rejected), (0, total, 0, 0))
        self.assertGreater(stats.retried, 0)

        reader.at_least(total)
        self.assertIsNone(reader.error)
        self.assertEqual([e.id for e in reader.items], [e.id for e in events])
        # It resumed from where it was, not from the start: the cursor it reconnected with is the last id it had,
        # with the log's epoch.
        self.assertEqual((cursors[0] or "").split("@")[0], reader.items[received_before_restart - 1].id)
        self.assertRegex(cursors[0] or "", r"^\d+@[0-9a-f]{12}$")
        self.assertLess(received_before_restart, total)
