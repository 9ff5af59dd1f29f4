"""Switchboard's Python client: standard library only, Python 3.9+.

- `Publisher`: publish events from an orchestrator over `POST /ingest`, buffered, batched, retried, never twice.
- `subscribe`: iterate a subscription over Server-Sent Events, resuming from the last id after any disconnect.
- `history`: read stored events page by page.
- `heartbeat`: keep agents live without storing an event, while they have nothing to say.
- `switchboard.aio`: the same for asyncio, without threads (`async for`, `await publisher.flush()`).

What they yield is a `StreamItem`: one class per event type, narrowed by `type` (`switchboard.events`, generated
from the catalogue's JSON Schema).
"""

from ._stream import to_event
from .envelope import Event, StreamReset, UnknownEvent
from .events import (
    EVENT_CLASSES,
    AgentEvent,
    OtelEvent,
    StreamItem,
    SystemEvent,
    TddEvent,
    UsageEvent,
    WorkflowEvent,
)
from .presence import HeartbeatAgent, HeartbeatError, HeartbeatResult, heartbeat
from .publisher import Publisher, PublisherStats
from .subscribe import Subscription, SubscriptionError, history, subscribe

__all__ = [
    "AgentEvent",
    "EVENT_CLASSES",
    "Event",
    "HeartbeatAgent",
    "HeartbeatError",
    "HeartbeatResult",
    "OtelEvent",
    "Publisher",
    "PublisherStats",
    "StreamItem",
    "StreamReset",
    "Subscription",
    "SubscriptionError",
    "SystemEvent",
    "TddEvent",
    "UnknownEvent",
    "UsageEvent",
    "WorkflowEvent",
    "heartbeat",
    "history",
    "subscribe",
    "to_event",
]

__version__ = "0.1.0"
