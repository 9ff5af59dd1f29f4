"""Switchboard's Python client: standard library only, Python 3.9+.

- `Publisher`: publish events from an orchestrator over `POST /ingest`, buffered, batched, retried, never twice.
- `subscribe`: iterate a subscription over Server-Sent Events, resuming from the last id after any disconnect.
- `history`: read stored events page by page.
"""

from .events import (
    AgentEvent,
    Event,
    OtelEvent,
    StreamItem,
    StreamReset,
    SystemEvent,
    TddEvent,
    UsageEvent,
    WorkflowEvent,
    to_event,
)
from .publisher import Publisher, PublisherStats
from .subscribe import Subscription, SubscriptionError, history, subscribe

__all__ = [
    "AgentEvent",
    "Event",
    "OtelEvent",
    "Publisher",
    "PublisherStats",
    "StreamItem",
    "StreamReset",
    "Subscription",
    "SubscriptionError",
    "SystemEvent",
    "TddEvent",
    "UsageEvent",
    "WorkflowEvent",
    "history",
    "subscribe",
    "to_event",
]

__version__ = "0.1.0"
