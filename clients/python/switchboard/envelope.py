"""The stored envelope as a dataclass, the reset notice, and the decoding of an envelope into its class.

The classes of the catalogue's event types (one per type, `type` a `Literal`) are generated into `events.py`
from the JSON Schema of the catalogue; this module holds what they are built on.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, Optional, TypedDict, TypeVar

from .superjson import parse_date

D = TypeVar("D")


@dataclass(frozen=True)
class Event(Generic[D]):
    """A stored event. `id` is a decimal string, strictly increasing across all events; the resume cursor is that
    id with the log's epoch (`42@3f9a1c0e5b7d`), kept by `Subscription.last_event_id`."""

    id: str
    type: str
    topic: str
    timestamp: datetime
    data: D
    key: Optional[str] = None
    source: Optional[str] = None
    correlation_id: Optional[str] = None
    #: The envelope as decoded from the wire, for fields this class does not name.
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class UnknownEvent(Event[dict[str, Any]]):
    """An event of a type this client's classes do not cover: a team's own family on the server. Subscriptions
    and `history` hand these to `on_unknown` instead of yielding them, so that what they yield is a union a type
    checker narrows by `type`."""


class StreamResetData(TypedDict):
    #: `retention`: events after the cursor were deleted; `epoch`: the cursor is from another log (a replaced
    #: database), whose ids mean nothing in this one.
    reason: Literal["retention", "epoch"]
    #: The cursor the subscriber asked to resume after, as it sent it.
    requestedAfter: str
    #: Every event up to this id that is not someone's current state has been deleted.
    retainedAfter: str


@dataclass(frozen=True)
class StreamReset(Event[StreamResetData]):
    """This log cannot continue the cursor: it was older than retention kept (the current state follows, then
    everything after `id`), or it was another log's (what a subscriber from "0" gets follows)."""

    type: Literal["stream.reset"]
    data: StreamResetData


def decode(envelope: Mapping[str, Any], classes: Mapping[str, "type[Event[Any]]"]) -> Event[Any]:
    """An envelope (already superjson-decoded) as the class `classes` has for its type; `StreamReset` for the
    reset notice, `UnknownEvent` for a type `classes` does not name."""
    kind = str(envelope.get("type", ""))
    cls: type[Event[Any]] = StreamReset if kind == "stream.reset" else classes.get(kind, UnknownEvent)
    # superjson decoding has made it a datetime already; plain JSON (history over HTTP as text) leaves a string.
    timestamp: Any = envelope.get("timestamp")
    if isinstance(timestamp, str):
        timestamp = parse_date(timestamp)
    return cls(
        id=str(envelope.get("id", "")),
        type=kind,
        topic=str(envelope.get("topic", "")),
        timestamp=timestamp,
        data=envelope.get("data"),
        key=envelope.get("key"),
        source=envelope.get("source"),
        correlation_id=envelope.get("correlationId"),
        raw=envelope,
    )
