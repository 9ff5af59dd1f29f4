"""`heartbeat`: agents marked as heard of without an event, their status and liveness answered, the ids the hub
has no status for named; refusals and an absent server raise, blocking and asyncio alike."""

import asyncio
import socket

from support import PUBLISHER_TOKEN, VIEWER_TOKEN, ServerTestCase, free_port, shared_server, stored, switchboard
from switchboard import aio


def status(agent: str, value: str) -> dict[str, object]:
    return {"type": "agent.status", "data": {"agentId": agent, "agentType": "coder", "status": value}}


class Heartbeat(ServerTestCase):
    def test_marks_agents_without_an_event_and_says_which_are_live(self) -> None:
        url = shared_server().url
        publisher = switchboard.Publisher(url, token=PUBLISHER_TOKEN)
        try:
            publisher.publish(status("py-hb-busy", "busy"))
            publisher.publish(status("py-hb-gone", "offline"))
            self.assertEqual(publisher.flush(15), 0)
        finally:
            publisher.close(0)
        before = stored(url, token=VIEWER_TOKEN)

        result = switchboard.heartbeat(url, ["py-hb-busy", "py-hb-gone", "py-hb-never"], token=PUBLISHER_TOKEN)
        self.assertEqual(
            result,
            switchboard.HeartbeatResult(
                seen=[
                    switchboard.HeartbeatAgent("py-hb-busy", "busy", True),
                    switchboard.HeartbeatAgent("py-hb-gone", "offline", False),
                ],
                unknown=["py-hb-never"],
            ),
        )
        # The same over asyncio.
        self.assertEqual(asyncio.run(aio.heartbeat(url, ["py-hb-busy", "py-hb-never"], token=PUBLISHER_TOKEN)).unknown, ["py-hb-never"])
        # Nothing was stored.
        self.assertEqual([e.id for e in stored(url, token=VIEWER_TOKEN)], [e.id for e in before])

    def test_refusals_and_an_absent_server_raise(self) -> None:
        url = shared_server().url
        for call in (
            lambda: switchboard.heartbeat(url, ["py-hb-busy"], token=VIEWER_TOKEN),
            lambda: asyncio.run(aio.heartbeat(url, ["py-hb-busy"], token=VIEWER_TOKEN)),
        ):
            with self.assertRaises(switchboard.HeartbeatError) as refused:
                call()
            self.assertEqual((refused.exception.status, refused.exception.code), (403, "FORBIDDEN"))
        with self.assertRaises(switchboard.HeartbeatError) as anonymous:
            switchboard.heartbeat(url, ["py-hb-busy"])
        self.assertEqual((anonymous.exception.status, anonymous.exception.code), (401, "UNAUTHORIZED"))
        bad_id = "x" * 200
        with self.assertRaises(switchboard.HeartbeatError) as invalid:
            switchboard.heartbeat(url, [bad_id], token=PUBLISHER_TOKEN)
        self.assertEqual((invalid.exception.status, invalid.exception.code), (400, "BAD_REQUEST"))

        # The server's limits, said by the server.
        for ids, said in (([], "agentIds: Too small"), ([f"a{i}" for i in range(101)], "agentIds: Too big")):
            with self.assertRaises(switchboard.HeartbeatError) as count:
                switchboard.heartbeat(url, ids, token=PUBLISHER_TOKEN)
            self.assertEqual((count.exception.status, count.exception.code), (400, "BAD_REQUEST"))
            self.assertIn(said, count.exception.message)
        with self.assertRaisesRegex(ValueError, "not one string"):
            switchboard.heartbeat(url, "py-hb-busy", token=PUBLISHER_TOKEN)

        # A server that takes the connection and never answers: a timeout, said as one.
        silent = socket.socket()
        self.addCleanup(silent.close)
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        quiet = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with self.assertRaisesRegex(ConnectionError, f"cannot reach {quiet}: timed out"):
            switchboard.heartbeat(quiet, ["a"], timeout=0.3)
        with self.assertRaisesRegex(ConnectionError, f"cannot reach {quiet}: timed out"):
            asyncio.run(aio.heartbeat(quiet, ["a"], timeout=0.3))

        away = f"http://127.0.0.1:{free_port()}"
        with self.assertRaisesRegex(ConnectionError, f"cannot reach {away}"):
            switchboard.heartbeat(away, ["a"], timeout=5)
        with self.assertRaisesRegex(ConnectionError, f"cannot reach {away}"):
            asyncio.run(aio.heartbeat(away, ["a"], timeout=5))
