"""A Server-Sent Events parser, as the HTML standard defines the event stream format.

https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Callable, Optional


@dataclass(frozen=True)
class ServerSentEvent:
    #: `message` unless the stream named it (tRPC names its control events: connected, ping, return, ...).
    event: str
    data: str
    #: The stream's last event id after this event: what a reconnect sends as `Last-Event-ID`.
    last_event_id: Optional[str]


def parse(readline: Callable[[], bytes], last_event_id: Optional[str] = None) -> Iterator[ServerSentEvent]:
    """The events of a stream read line by line; ends when `readline` returns b"" (the connection closed).

    An event is dispatched only at the blank line that ends it, so one cut off by a disconnect is never seen,
    and the id it carried is not taken as read.
    """
    event = ""
    data: list[str] = []
    pending_id = last_event_id
    while True:
        raw = readline()
        if not raw:
            return
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if line == "":
            last_event_id = pending_id
            if data:
                yield ServerSentEvent(event or "message", "\n".join(data), last_event_id)
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id" and "\0" not in value:
            pending_id = value
