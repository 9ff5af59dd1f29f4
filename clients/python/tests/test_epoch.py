"""A cursor from a replaced database: the server is restarted on a new file, whose ids start from 1 again. The
cursor the subscriber saved carries the old log's epoch, so resuming with it yields a `StreamReset` and then
the new log from its start, not the new log's events as if they followed the old ones."""

import os

from support import Collector, ServerTestCase, log_event, switchboard


class AcrossAReplacedDatabase(ServerTestCase):
    def publish(self, url: str, messages: list[str]) -> None:
        publisher = switchboard.Publisher(url)
        try:
            for message in messages:
                publisher.publish(log_event("py-epoch", message))
            self.assertEqual(publisher.flush(15), 0)
        finally:
            publisher.close(0)

    def read(self, url: str, cursor: str, count: int) -> list[switchboard.Event]:
        reader = Collector(switchboard.subscribe(url, "events", last_event_id=cursor, retry_initial=0.05))
        try:
            return list(reader.at_least(count)[:count])
        finally:
            reader.close()

    def test_a_saved_cursor_gets_a_reset_from_a_replaced_database_and_a_bare_id_resumes_as_before(self) -> None:
        server = self.server()
        self.publish(server.url, [f"old {i}" for i in range(1, 4)])
        reader = Collector(switchboard.subscribe(server.url, "events", last_event_id="0"))
        reader.at_least(3)
        saved = reader.subscription.last_event_id
        reader.close()

        server.kill()
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(server.db + suffix):
                os.remove(server.db + suffix)
        server.start()
        self.publish(server.url, [f"new {i}" for i in range(1, 6)])

        assert saved is not None
        reset, *events = self.read(server.url, saved, 6)
        self.assertIsInstance(reset, switchboard.StreamReset)
        self.assertEqual((reset.data["reason"], reset.data["requestedAfter"]), ("epoch", saved))
        self.assertEqual([e.data["message"] for e in events], [f"new {i}" for i in range(1, 6)])
        # The saved cursor was the id of the last event read and the old log's epoch.
        self.assertTrue(saved.startswith("3@"), saved)

        # A bare id, as saved before cursors carried the epoch, is checked against nothing but the head.
        legacy = self.read(server.url, "3", 2)
        self.assertEqual([e.data["message"] for e in legacy], ["new 4", "new 5"])
