"""Switchboard's Python client: standard library only, Python 3.9+.

- `Publisher`: publish events from an orchestrator over `POST /ingest`, buffered, batched, retried, never twice.
- `subscribe`: iterate a subscription over Server-Sent Events, resuming from the last id after any disconnect.
- `history`: read stored events page by page.
"""

from .events import (
    AgentEvent,
    Event,
    StreamItem,
    StreamReset,
    SystemEvent,
    TddEvent,
    WorkflowEvent,
    to_event,
)
from .publisher import Publisher, PublisherStats
from .subscribe import Subscription, SubscriptionError, history, subscribe

__all__ = [
    "AgentEvent",
    "Event",
    "Publisher",
    "PublisherStats",
    "StreamItem",
    "StreamReset",
    "Subscription",
    "SubscriptionError",
    "SystemEvent",
    "TddEvent",
    "WorkflowEvent",
    "history",
    "subscribe",
    "to_event",
]

__version__ = "0.1.0"
