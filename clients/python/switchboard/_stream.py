"""What the blocking and the asyncio subscriptions share: the request, the meaning of each event of the stream,
the errors, and what becomes of an event of a type this client has no class for. Neither I/O nor threads here.

The stream is tRPC v11's `httpSubscriptionLink` format: `GET /trpc/<procedure>?input=<superjson>` answers with
an event stream: a `connected` event (its data may carry `reconnectAfterInactivityMs`), then one unnamed event
per item, `data` the superjson envelope and `id` the event id. `serialized-error` carries a tRPC error and ends
the stream; `return` ends it cleanly; `ping` and any event this client does not know are ignored. A reconnect
sends the last id as `Last-Event-ID`, which the server merges into the input as `lastEventId`: it replays what
was missed from the store and continues live, with no gap and no duplicate.
"""

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union, cast

from . import superjson
from ._http import endpoint, error_answer, headers
from .envelope import Event, UnknownEvent, decode
from .events import EVENT_CLASSES, StreamItem
from .sse import ServerSentEvent

log = logging.getLogger("switchboard")

#: tRPC error codes that a retry cannot fix: the stream ends with SubscriptionError instead of reconnecting.
FATAL_CODES = frozenset(
    {"BAD_REQUEST", "UNAUTHORIZED", "FORBIDDEN", "NOT_FOUND", "PARSE_ERROR", "METHOD_NOT_SUPPORTED"}
)
_FATAL_STATUS = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_SUPPORTED",
}

OnReconnect = Callable[[str, int, Optional[str]], None]
OnUnknown = Callable[[UnknownEvent], None]


class SubscriptionError(Exception):
    """The server refused the subscription or the query in a way a retry cannot fix (bad input, bad token, no
    such procedure).

    `code` is tRPC's error code (`BAD_REQUEST`, ...); `data` the error's data, e.g. `{"reason": "invalid_cursor",
    "issues": [...]}`.
    """

    def __init__(self, code: str, message: str, data: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.data = data or {}


class Retry(Exception):
    """The stream ended or failed in a way a reconnect can fix."""


@dataclass(frozen=True)
class End:
    """The server ended the stream (`return`): resume from the cursor."""


@dataclass(frozen=True)
class IdleTimeout:
    """The server's `connected` event set the inactivity timeout: reconnect after this many seconds of silence."""

    seconds: float


Step = Union[StreamItem, End, IdleTimeout, None]


def to_event(envelope: Mapping[str, Any]) -> Event[Any]:
    """An envelope (already superjson-decoded) as the class of its type: a `StreamItem`, or an `UnknownEvent`
    for a type this client has no class for."""
    return decode(envelope, EVENT_CLASSES)


def decode_item(envelope: Mapping[str, Any], unknown: "UnknownTypes") -> Optional[StreamItem]:
    """An envelope as its class; None for a type without one, which `unknown` has been given."""
    item = to_event(envelope)
    if isinstance(item, UnknownEvent):
        unknown(item)
        return None
    return cast(StreamItem, item)


class UnknownTypes:
    """Where events of a type this client has no class for go: `on_unknown(event)`, else a warning, once per type
    (a team's own families: decode them from `event.raw`, or generate classes for them with codegen.py)."""

    def __init__(self, on_unknown: Optional[OnUnknown]) -> None:
        self._on_unknown = on_unknown
        self._warned: set[str] = set()

    def __call__(self, event: UnknownEvent) -> None:
        if self._on_unknown is not None:
            self._on_unknown(event)
        elif event.type not in self._warned:
            self._warned.add(event.type)
            log.warning(
                "events of type %s skipped: this client has no class for it (pass on_unknown to receive them)",
                event.type,
            )


class Stream:
    """One subscription's request, cursor and reading of events, whatever does the I/O."""

    def __init__(
        self,
        url: str,
        procedure: str,
        input: Optional[Mapping[str, Any]],
        last_event_id: Optional[str],
        token: Optional[str],
        idle_timeout: Optional[float],
        on_unknown: Optional[OnUnknown],
    ) -> None:
        if not procedure or "/" in procedure or "?" in procedure:
            raise ValueError(f"procedure must be a name such as 'events', got {procedure!r}")
        self.url = endpoint(url, f"/trpc/{procedure}")
        self.procedure = procedure
        params: dict[str, Any] = dict(input or {})
        # One cursor: the input's lastEventId is where the first connection starts; after that the header says.
        start = params.pop("lastEventId", None)
        self.last_event_id: Optional[str] = last_event_id if last_event_id is not None else start
        self._input = params
        self._token = token
        self.idle_timeout = idle_timeout
        self._unknown = UnknownTypes(on_unknown)

    def request(self) -> tuple[str, dict[str, str]]:
        """The URL and headers of the next connection, from the cursor."""
        query = {"input": json.dumps(superjson.encode(self._input), separators=(",", ":"))}
        extra = {"accept": "text/event-stream", "cache-control": "no-cache"}
        if self.last_event_id:
            extra["last-event-id"] = self.last_event_id
        return endpoint(self.url, "", query), headers(self._token, extra)

    def refused(self, status: int, reason: str, raw: bytes) -> Exception:
        """The exception for an HTTP error answer: SubscriptionError when a retry cannot help, else Retry."""
        message, body = error_answer(status, reason, raw)
        code = error_code(body) or _FATAL_STATUS.get(status)
        if code in FATAL_CODES:
            return SubscriptionError(str(code), message, error_data(body))
        return Retry(message)

    def check_content_type(self, kind: str) -> None:
        if kind != "text/event-stream":
            # A query or mutation answers once, as JSON: reconnecting would only ask again.
            raise SubscriptionError(
                "BAD_REQUEST", f"{self.procedure} answered {kind}, not an event stream: is it a subscription?"
            )

    def step(self, sse: ServerSentEvent) -> Step:
        """What one event of the stream means; raises SubscriptionError or Retry for a `serialized-error`."""
        if sse.event == "message":
            item = decode_item(superjson.decode(json.loads(sse.data)), self._unknown)
            # The cursor moves as the item is handed over: a caller that saves it after handling the item resumes
            # after it. An event skipped for its type moves it too.
            self.last_event_id = sse.last_event_id
            return item
        if sse.event == "connected":
            return self._server_options(sse.data)
        if sse.event == "serialized-error":
            raise self._serialized_error(sse.data)
        if sse.event == "return":
            return End()
        if sse.last_event_id is not None and sse.event == "restore-id":
            self.last_event_id = sse.last_event_id
        return None

    def _server_options(self, data: str) -> Optional[IdleTimeout]:
        """tRPC's `connected` event may set the inactivity timeout after which a client reconnects."""
        if self.idle_timeout is not None:
            return None
        try:
            options = json.loads(data or "{}")
        except ValueError:
            return None
        inactivity = options.get("reconnectAfterInactivityMs") if isinstance(options, dict) else None
        if isinstance(inactivity, (int, float)) and inactivity > 0:
            return IdleTimeout(inactivity / 1000)
        return None

    @staticmethod
    def _serialized_error(data: str) -> Exception:
        try:
            error = superjson.decode(json.loads(data))
        except ValueError:
            return Retry(f"an unreadable error from the server: {data[:200]}")
        message = error.get("message", "error") if isinstance(error, dict) else "error"
        code = error_code(error)
        if code in FATAL_CODES:
            return SubscriptionError(str(code), str(message), error_data(error))
        return Retry(f"{code}: {message}")


class History:
    """The pages of a `history` read, whatever does the I/O: the next request, and the items of each answer."""

    def __init__(self, url: str, input: Optional[Mapping[str, Any]], token: Optional[str]) -> None:
        self._url = url
        self._token = token
        self._query: dict[str, Any] = {"after": "0", "limit": 1000}
        self._query.update(input or {})
        self.done = False

    def request(self) -> tuple[str, dict[str, str]]:
        params = {"input": json.dumps(superjson.encode(self._query), separators=(",", ":"))}
        return endpoint(self._url, "/trpc/history", params), headers(self._token)

    def page(self, raw: bytes, unknown: UnknownTypes) -> list[StreamItem]:
        """The items of one answer; moves to the next page, or sets `done`."""
        page = superjson.decode(json.loads(raw)["result"]["data"])
        items = [item for item in (decode_item(e, unknown) for e in page["events"]) if item is not None]
        self.done = not page["hasMore"]
        self._query["after"] = page["nextCursor"]
        return items

    def refused(self, status: int, reason: str, raw: bytes) -> Exception:
        """As for a subscription: SubscriptionError when asking again cannot help, else the ConnectionError a
        subscription gives up with (a 5xx, a 429, a proxy's 502)."""
        message, body = error_answer(status, reason, raw)
        code = error_code(body) or _FATAL_STATUS.get(status)
        if code in FATAL_CODES:
            return SubscriptionError(str(code), message, error_data(body))
        return ConnectionError(f"{self._url} answered {status}: {message}")


def unreachable(url: str, error: BaseException) -> ConnectionError:
    """What `history` raises when it cannot reach the server: the ConnectionError a subscription gives up with."""
    reason = getattr(error, "reason", None) or str(error)
    if not reason:
        # asyncio's timeout says nothing of itself (its text is empty).
        timed_out = isinstance(error, (TimeoutError, asyncio.TimeoutError))
        reason = "timed out" if timed_out else type(error).__name__
    return ConnectionError(f"cannot reach {url}: {reason}")


def _error_shape(body: Any) -> Any:
    """tRPC's error shape from an HTTP error body (`{"error": superjson}`), a decoded `serialized-error`, or the
    plain JSON a stream refused before it starts answers with (`{"error": message, "code", "reason", "issues"}`)."""
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        data = {key: body[key] for key in ("code", "reason", "issues") if body.get(key) is not None}
        return {"message": body["error"], "data": data}
    if isinstance(body, dict) and "error" in body:
        body = superjson.decode(body["error"])
    return body if isinstance(body, dict) else {}


def error_code(body: Any) -> Optional[str]:
    data = _error_shape(body).get("data")
    code = data.get("code") if isinstance(data, dict) else None
    return code if isinstance(code, str) else None


def error_data(body: Any) -> dict[str, Any]:
    shape = _error_shape(body)
    data = shape.get("data")
    if isinstance(data, dict):
        return data
    return {"issues": shape["issues"]} if isinstance(shape.get("issues"), list) else {}
