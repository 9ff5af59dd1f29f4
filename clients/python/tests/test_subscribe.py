"""`subscribe` over SSE against a real server: filters, typed items, snapshots, resume, refusals, close().

Resuming across a server kill and restart is in test_restart.py.
"""

import unittest
from datetime import datetime, timezone
from typing import Any

from support import (
    PUBLISHER_TOKEN,
    VIEWER_TOKEN,
    Collector,
    log_event,
    shared_server,
    stored,
    switchboard,
    wait_until,
)


def publish_all(events: list[dict[str, Any]]) -> None:
    with switchboard.Publisher(shared_server().url, PUBLISHER_TOKEN) as publisher:
        for event in events:
            publisher.publish(event)
        if publisher.flush(15) != 0:
            raise AssertionError("events were not stored")


def collect(procedure: str, input: dict[str, Any], count: int, **options: Any) -> list[switchboard.Event]:
    """The first `count` items of a subscription, then it is closed."""
    reader = Collector(switchboard.subscribe(shared_server().url, procedure, input, token=VIEWER_TOKEN, **options))
    try:
        return list(reader.at_least(count))
    finally:
        reader.close()


class SubscribeOverSSE(unittest.TestCase):
    def test_filters_apply_and_items_are_typed_with_dates(self) -> None:
        publish_all(
            [
                {"type": "workflow.started", "data": {"workflowId": "wf-py-a", "workflowType": "build"}},
                {"type": "workflow.started", "data": {"workflowId": "wf-py-b", "workflowType": "build"}},
                {
                    "type": "workflow.step_started",
                    "data": {"workflowId": "wf-py-a", "stepId": "s1", "stepType": "plan"},
                },
                {
                    "type": "workflow.block",
                    "data": {
                        "workflowId": "wf-py-a",
                        "stepId": "s1",
                        "blockType": "tool_use",
                        "summary": "ran the tests",
                        "payload": {"toolName": "bash", "inputPreview": "npm test"},
                    },
                },
                {"type": "tdd.phase_changed", "data": {"agentId": "py-tdd", "taskId": "t-py", "currentPhase": "red"}},
                {"type": "system.notification", "data": {"level": "info", "title": "py", "message": "hello"}},
            ]
        )
        items = collect("workflowEvents", {"workflowId": "wf-py-a"}, 3, last_event_id="0")
        self.assertEqual([i.type for i in items], ["workflow.started", "workflow.step_started", "workflow.block"])
        self.assertTrue(all(isinstance(i, switchboard.WorkflowEvent) for i in items))
        self.assertEqual({i.topic for i in items}, {"workflow:wf-py-a"})
        self.assertEqual(items[2].data["payload"], {"toolName": "bash", "inputPreview": "npm test"})
        stamp = items[0].timestamp
        self.assertIsInstance(stamp, datetime)
        self.assertEqual(stamp.utcoffset(), timezone.utc.utcoffset(None))

        mixed = collect(
            "events", {"topics": ["tdd:t-py", "system"], "types": ["tdd.phase_changed"]}, 1, last_event_id="0"
        )
        self.assertIsInstance(mixed[0], switchboard.TddEvent)
        self.assertEqual(mixed[0].data["currentPhase"], "red")

    def test_a_subscription_without_a_cursor_starts_with_the_current_state(self) -> None:
        publish_all(
            [
                {"type": "agent.status", "data": {"agentId": "py-snap", "agentType": "coder", "status": "busy"}},
                {"type": "agent.status", "data": {"agentId": "py-snap", "agentType": "coder", "status": "idle"}},
            ]
        )
        [snapshot] = collect("agentStatus", {"agentIds": ["py-snap"]}, 1)
        self.assertIsInstance(snapshot, switchboard.AgentEvent)
        self.assertEqual(snapshot.data["status"], "idle")

    def test_resumes_after_a_given_id_from_the_argument_or_the_input(self) -> None:
        publish_all([log_event("py-resume", f"m-{i}") for i in range(5)])
        ids = [e.id for e in stored(shared_server().url, "agent:py-resume", VIEWER_TOKEN)]
        after_two = collect("events", {"topics": ["agent:py-resume"]}, 3, last_event_id=ids[1])
        self.assertEqual([e.id for e in after_two], ids[2:])
        from_input = collect("events", {"topics": ["agent:py-resume"], "lastEventId": ids[3]}, 1)
        self.assertEqual([e.id for e in from_input], ids[4:])
        self.assertEqual(from_input[0].data["message"], "m-4")

    def test_an_idle_stream_past_its_timeout_reconnects_and_resumes_without_a_duplicate(self) -> None:
        publish_all([log_event("py-quiet", "before")])
        reasons: list[str] = []
        reader = Collector(
            switchboard.subscribe(
                shared_server().url,
                "events",
                {"topics": ["agent:py-quiet"]},
                last_event_id="0",
                token=VIEWER_TOKEN,
                idle_timeout=0.2,
                retry_initial=0.02,
                on_reconnect=lambda reason, _attempt, _cursor: reasons.append(reason),
            )
        )
        self.addCleanup(reader.close)
        reader.at_least(1)
        wait_until("a reconnect after the inactivity timeout", lambda: len(reasons) > 0)
        publish_all([log_event("py-quiet", "after")])
        reader.at_least(2)
        self.assertIn("inactivity", reasons[0])
        self.assertEqual([e.data["message"] for e in reader.items], ["before", "after"])

    def test_refusals_that_a_retry_cannot_fix_raise(self) -> None:
        url = shared_server().url
        cases = [
            ("events", {"lastEventId": "drop table"}, VIEWER_TOKEN, "BAD_REQUEST"),
            ("events", {"colour": "red"}, VIEWER_TOKEN, "BAD_REQUEST"),
            ("events", {}, None, "UNAUTHORIZED"),
            ("events", {}, PUBLISHER_TOKEN, "FORBIDDEN"),
            ("noSuchProcedure", {}, VIEWER_TOKEN, "NOT_FOUND"),
            ("history", {}, VIEWER_TOKEN, "BAD_REQUEST"),
        ]
        for procedure, input, token, code in cases:
            with self.subTest(procedure=procedure, input=input, code=code):
                # max_retries: a client that retried these would fail here instead of hanging.
                subscription = switchboard.subscribe(url, procedure, input, token=token, max_retries=1)
                with self.assertRaises(switchboard.SubscriptionError) as raised:
                    next(subscription)
                self.assertEqual(raised.exception.code, code)
        with self.assertRaises(switchboard.SubscriptionError) as raised:
            next(switchboard.subscribe(url, "events", {"lastEventId": "x"}, token=VIEWER_TOKEN, max_retries=1))
        self.assertEqual(raised.exception.data.get("reason"), "invalid_cursor")

    def test_close_from_another_thread_ends_a_read_that_waits_for_data(self) -> None:
        publish_all([log_event("py-idle", "only one")])
        subscription = switchboard.subscribe(
            shared_server().url, "events", {"topics": ["agent:py-idle"]}, last_event_id="0", token=VIEWER_TOKEN
        )
        reader = Collector(subscription)
        reader.at_least(1)
        # The reader now waits in a blocking read for an event that never comes; close() must end it.
        reader.close()
        self.assertIsNone(reader.error)
        self.assertEqual([e.data["message"] for e in reader.items], ["only one"])
        # The cursor is the last item's id with the log's epoch.
        self.assertEqual((subscription.last_event_id or "").split("@")[0], reader.items[0].id)
