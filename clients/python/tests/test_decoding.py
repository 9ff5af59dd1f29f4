"""The wire formats without a server: the SSE parser, superjson decoding, envelopes as dataclasses."""

import io
import unittest
from datetime import datetime, timezone

from support import switchboard

from switchboard import events, superjson
from switchboard.sse import parse


def events_of(text: str):
    return list(parse(io.BytesIO(text.encode()).readline))


class ServerSentEvents(unittest.TestCase):
    def test_named_events_comments_and_ids_as_trpc_writes_them(self) -> None:
        stream = (
            "event: connected\ndata: {}\n\n\n"
            ": a comment\n\n"
            'data: {"json":1}\nid: 7\n\n\n'
            "event: ping\ndata: \n\n\n"
            "event: something-new\ndata: x\n\n"
            "data: first\r\ndata: second\r\n\r\n"
            "event: restore-id\ndata: \nid: 9\n\n"
            "data: cut off by a disconnect\nid: 10\n"
        )
        seen = [(e.event, e.data, e.last_event_id) for e in events_of(stream)]
        self.assertEqual(
            seen,
            [
                ("connected", "{}", None),
                ("message", '{"json":1}', "7"),
                ("ping", "", "7"),
                ("something-new", "x", "7"),
                ("message", "first\nsecond", "7"),
                ("restore-id", "", "9"),
            ],
        )


class Superjson(unittest.TestCase):
    def test_dates_at_escaped_paths_undefined_and_the_root(self) -> None:
        payload = {
            "json": {"a.b": {"when": "2026-01-02T03:04:05.678Z"}, "list": ["2026-01-02T00:00:00.000Z"], "gone": None},
            "meta": {"values": {"a\\.b.when": ["Date"], "list.0": ["Date"], "gone": ["undefined"]}, "v": 1},
        }
        value = superjson.decode(payload)
        self.assertEqual(value["a.b"]["when"], datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc))
        self.assertEqual(value["list"][0], datetime(2026, 1, 2, tzinfo=timezone.utc))
        self.assertNotIn("gone", value)
        root = superjson.decode({"json": "2026-01-02T00:00:00.000Z", "meta": {"values": ["Date"]}})
        self.assertEqual(root, datetime(2026, 1, 2, tzinfo=timezone.utc))
        self.assertEqual(superjson.decode({"json": {"n": "12"}, "meta": {"values": {"n": ["bigint"]}}}), {"n": 12})


class Envelopes(unittest.TestCase):
    def test_built_in_families_unknown_types_and_reset_notices(self) -> None:
        base = {"id": "5", "topic": "t", "timestamp": "2026-01-02T00:00:00.000Z", "data": {"x": 1}}
        kinds = {
            "agent.log": (events.AgentLogEvent, switchboard.AgentEvent),
            "workflow.block": (events.WorkflowBlockEvent, switchboard.WorkflowEvent),
            "tdd.test_result": (events.TddTestResultEvent, switchboard.TddEvent),
            "system.alert": (events.SystemAlertEvent, switchboard.SystemEvent),
            "usage.recorded": (events.UsageRecordedEvent, switchboard.UsageEvent),
            "otel.record": (events.OtelRecordEvent, switchboard.OtelEvent),
            "stream.reset": (switchboard.StreamReset, switchboard.Event),
            "team.deploy_started": (switchboard.UnknownEvent, switchboard.Event),
        }
        for kind, (cls, family) in kinds.items():
            item = switchboard.to_event({**base, "type": kind, "correlationId": "c-1"})
            self.assertIs(type(item), cls)
            self.assertIsInstance(item, family)
            self.assertEqual((item.id, item.type, item.data, item.correlation_id), ("5", kind, {"x": 1}, "c-1"))
            self.assertEqual(item.timestamp, datetime(2026, 1, 2, tzinfo=timezone.utc))
