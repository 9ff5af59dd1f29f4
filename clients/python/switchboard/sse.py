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


class Parser:
    """The event stream format, one line at a time: `feed` returns an event at the blank line that ends it.

    An event is dispatched only at that blank line, so one cut off by a disconnect is never seen, and the id it
    carried is not taken as read.
    """

    def __init__(self, last_event_id: Optional[str] = None) -> None:
        self.last_event_id = last_event_id
        self._pending_id = last_event_id
        self._event = ""
        self._data: list[str] = []

    def feed(self, raw: bytes) -> Optional[ServerSentEvent]:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if line == "":
            self.last_event_id = self._pending_id
            event, data = self._event, self._data
            self._event, self._data = "", []
            return ServerSentEvent(event or "message", "\n".join(data), self.last_event_id) if data else None
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._pending_id = value
        return None


def parse(readline: Callable[[], bytes], last_event_id: Optional[str] = None) -> Iterator[ServerSentEvent]:
    """The events of a stream read line by line; ends when `readline` returns b"" (the connection closed)."""
    parser = Parser(last_event_id)
    while True:
        raw = readline()
        if not raw:
            return
        event = parser.feed(raw)
        if event is not None:
            yield event
