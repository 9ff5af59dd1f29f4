"""`heartbeat`: tell the hub that agents are alive without storing an event (its `heartbeat` mutation).

The hub turns an agent offline when it has heard nothing of it for its presence TTL (60 s by default): an agent
with nothing to say for that long keeps itself live with a heartbeat, which costs one row update, no event in
the log and nothing sent to any subscriber. An agent the hub already turned offline stays offline until it
publishes a status; the answer says so (`live` false).

    result = heartbeat("http://127.0.0.1:8765", ["coder-001"])
    for agent in result.seen:
        if not agent.live:
            ...  # publish an agent.status to come back
"""

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

from . import superjson
from ._http import endpoint, error_answer, headers, open_url
from ._stream import error_code, error_data, unreachable

@dataclass(frozen=True)
class HeartbeatAgent:
    """An agent the heartbeat marked: its current status, and whether that leaves it live (not `offline`)."""

    agent_id: str
    status: str
    live: bool


@dataclass(frozen=True)
class HeartbeatResult:
    """The agents marked, and the ids the hub has no status for (nothing to be live or offline from)."""

    seen: list[HeartbeatAgent]
    unknown: list[str]


class HeartbeatError(Exception):
    """The server refused the heartbeat: `status` is the HTTP status, `code` tRPC's (`BAD_REQUEST`,
    `UNAUTHORIZED`, `FORBIDDEN` outside the token's publish scopes, `TOO_MANY_REQUESTS` past the publish rate),
    `data` the error's data (`{"reason": ..., "issues": [...]}`)."""

    def __init__(self, status: int, code: str, message: str, data: dict[str, Any]) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.data = data


def heartbeat(
    url: str, agent_ids: Sequence[str], token: Optional[str] = None, timeout: float = 10.0
) -> HeartbeatResult:
    """Marks `agent_ids` (1 to 100: the server's limit, which it says when refusing) as heard of now, without
    storing an event.

    Raises HeartbeatError when the server refuses it (an id or a count it does not take, a token or scope that may
    not publish for the agent, the publish rate), ConnectionError when it cannot be reached within `timeout`
    seconds, ValueError for a `url` that is not http(s) or one string given for the list.
    """
    address, body, head = request_of(url, agent_ids, token)
    request = urllib.request.Request(address, data=body, headers=head, method="POST")
    try:
        with open_url(request, timeout) as response:
            return result_of(response.read())
    except urllib.error.HTTPError as error:
        raise refused(error.code, str(error.reason), _read(error)) from None
    except (OSError, http.client.HTTPException) as error:
        raise unreachable(url, error) from None


def request_of(url: str, agent_ids: Sequence[str], token: Optional[str]) -> tuple[str, bytes, dict[str, str]]:
    """The heartbeat's address, body and headers, whatever does the I/O (`switchboard.aio.heartbeat` too)."""
    if isinstance(agent_ids, str):
        raise ValueError("agent_ids is a list of agent ids, not one string")
    body = json.dumps(superjson.encode({"agentIds": list(agent_ids)}), separators=(",", ":")).encode("utf-8")
    return endpoint(url, "/trpc/heartbeat"), body, headers(token, {"content-type": "application/json"})


def result_of(raw: bytes) -> HeartbeatResult:
    """The answer of a heartbeat the server took; ConnectionError when it is not one (a proxy's page, say)."""
    try:
        data = superjson.decode(json.loads(raw)["result"]["data"])
        seen = [HeartbeatAgent(a["agentId"], a["status"], bool(a["live"])) for a in data["seen"]]
        return HeartbeatResult(seen, [str(agent_id) for agent_id in data["unknown"]])
    except (ValueError, KeyError, TypeError) as error:
        raise ConnectionError(f"the answer is not a heartbeat's: {raw[:100]!r} ({error!r})") from None


def refused(status: int, reason: str, raw: bytes) -> HeartbeatError:
    """The error for an answer with this HTTP status and body."""
    message, body = error_answer(status, reason, raw)
    return HeartbeatError(status, error_code(body) or f"HTTP_{status}", message, error_data(body))


def _read(error: urllib.error.HTTPError) -> bytes:
    try:
        return error.read()
    except OSError:
        return b""
