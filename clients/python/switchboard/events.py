"""What a subscription yields: the stored envelope as a dataclass, one class per built-in family.

The contract is shared/events.ts; these classes mirror it for Python's type checkers. `data` stays the dict the
server sent (typed below as TypedDicts for the built-in types), so a field the server adds later still comes
through, and an event type this client does not know (a team's own catalogue) arrives as a plain `Event`.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, Optional, TypedDict, TypeVar, Union

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


# ── Agent events ──────────────────────────────────────────────────────────────────────────────────────────


class _CurrentTaskRequired(TypedDict):
    taskId: str
    progress: float


class CurrentTask(_CurrentTaskRequired, total=False):
    description: str


class AgentMetrics(TypedDict, total=False):
    cpu: float
    memory: float
    tasksCompleted: int
    uptime: float


class _AgentStatusRequired(TypedDict):
    agentId: str
    agentType: str
    status: Literal["idle", "busy", "blocked", "error", "offline"]


class AgentStatusData(_AgentStatusRequired, total=False):
    currentTask: Optional[CurrentTask]
    metrics: AgentMetrics
    reason: str


class _AgentTaskUpdateRequired(TypedDict):
    agentId: str
    taskId: str
    status: Literal["queued", "started", "progress", "completed", "failed", "cancelled"]


class AgentTaskUpdateData(_AgentTaskUpdateRequired, total=False):
    progress: float
    message: str


class _AgentLogRequired(TypedDict):
    agentId: str
    level: Literal["debug", "info", "warn", "error"]
    message: str


class AgentLogData(_AgentLogRequired, total=False):
    context: dict[str, Any]


class _AgentMetricRequired(TypedDict):
    agentId: str
    name: str
    value: float


class AgentMetricData(_AgentMetricRequired, total=False):
    unit: str


class _AgentErrorRequired(TypedDict):
    agentId: str
    message: str


class AgentErrorData(_AgentErrorRequired, total=False):
    code: str
    stack: str
    recoverable: bool


AgentData = Union[AgentStatusData, AgentTaskUpdateData, AgentLogData, AgentMetricData, AgentErrorData]


@dataclass(frozen=True)
class AgentEvent(Event[AgentData]):
    """`agent.status`, `agent.task_update`, `agent.log`, `agent.metric`, `agent.error`; topic `agent:{agentId}`."""


# ── Workflow events ───────────────────────────────────────────────────────────────────────────────────────


class _StepRequired(TypedDict):
    stepId: str


class WorkflowStep(_StepRequired, total=False):
    stepType: str
    name: str


class _WorkflowStartedRequired(TypedDict):
    workflowId: str
    workflowType: str


class WorkflowStartedData(_WorkflowStartedRequired, total=False):
    initiator: str
    parameters: dict[str, Any]
    steps: list[WorkflowStep]
    estimatedDuration: float


class _WorkflowStepStartedRequired(TypedDict):
    workflowId: str
    stepId: str
    stepType: str


class WorkflowStepStartedData(_WorkflowStepStartedRequired, total=False):
    agentId: str
    input: Any


class _WorkflowStepCompletedRequired(TypedDict):
    workflowId: str
    stepId: str
    stepType: str
    duration: float


class WorkflowStepCompletedData(_WorkflowStepCompletedRequired, total=False):
    result: Any
    nextStep: Optional[str]


class _WorkflowCompletedRequired(TypedDict):
    workflowId: str


class WorkflowCompletedData(_WorkflowCompletedRequired, total=False):
    result: Any
    duration: float


class _WorkflowErrorRequired(TypedDict):
    message: str


class WorkflowError(_WorkflowErrorRequired, total=False):
    code: str


class _WorkflowFailedRequired(TypedDict):
    workflowId: str
    error: WorkflowError


class WorkflowFailedData(_WorkflowFailedRequired, total=False):
    stepId: str
    duration: float


class _WorkflowBlockRequired(TypedDict):
    workflowId: str
    stepId: str
    summary: str
    blockType: Literal["text", "tool_use", "thinking"]
    #: `{"text": ...}` for text and thinking; `{"toolName", "inputPreview"?, "output"?, "isError"?}` for tool_use.
    payload: dict[str, Any]


class WorkflowBlockData(_WorkflowBlockRequired, total=False):
    agentId: str


WorkflowData = Union[
    WorkflowStartedData,
    WorkflowStepStartedData,
    WorkflowStepCompletedData,
    WorkflowCompletedData,
    WorkflowFailedData,
    WorkflowBlockData,
]


@dataclass(frozen=True)
class WorkflowEvent(Event[WorkflowData]):
    """`workflow.started`, `.step_started`, `.step_completed`, `.completed`, `.failed`, `.block`."""


# ── TDD events ────────────────────────────────────────────────────────────────────────────────────────────

TddPhase = Literal["red", "green", "refactor"]


class TestCounts(TypedDict):
    total: int
    passing: int
    failing: int
    skipped: int


class Coverage(TypedDict):
    lines: float
    branches: float
    functions: float
    statements: float


class _TddPhaseChangedRequired(TypedDict):
    agentId: str
    taskId: str
    currentPhase: TddPhase


class TddPhaseChangedData(_TddPhaseChangedRequired, total=False):
    previousPhase: Optional[TddPhase]
    testResults: TestCounts
    coverage: Coverage
    duration: float


class _TddTestResultRequired(TypedDict):
    agentId: str
    taskId: str
    testName: str
    status: Literal["passed", "failed", "skipped"]


class TddTestResultData(_TddTestResultRequired, total=False):
    duration: float
    message: str


class TddCoverageUpdateData(TypedDict):
    agentId: str
    taskId: str
    coverage: Coverage


TddData = Union[TddPhaseChangedData, TddTestResultData, TddCoverageUpdateData]


@dataclass(frozen=True)
class TddEvent(Event[TddData]):
    """`tdd.phase_changed`, `tdd.test_result`, `tdd.coverage_update`; topic `tdd:{taskId}`."""


# ── System events ─────────────────────────────────────────────────────────────────────────────────────────


class SystemNotificationData(TypedDict):
    level: Literal["info", "warning", "error"]
    title: str
    message: str


class SystemAlertData(TypedDict):
    severity: Literal["low", "medium", "high", "critical"]
    title: str
    message: str
    affectedComponents: list[str]


SystemData = Union[SystemNotificationData, SystemAlertData]


@dataclass(frozen=True)
class SystemEvent(Event[SystemData]):
    """`system.notification`, `system.alert`; topic `system`."""


# ── Usage and OpenTelemetry records ─────────────────────────────────────────────────────────────────────────


class _UsageRecordedRequired(TypedDict):
    agentId: str


class UsageRecordedData(_UsageRecordedRequired, total=False):
    #: What one model request used; an absent count is 0. `inputTokens` excludes tokens read from a cache.
    workflowId: str
    model: str
    inputTokens: int
    outputTokens: int
    cacheReadTokens: int
    cacheCreationTokens: int
    costUsd: float
    durationMs: float
    operation: str
    traceId: str
    spanId: str


@dataclass(frozen=True)
class UsageEvent(Event[UsageRecordedData]):
    """`usage.recorded`; topic `agent:{agentId}`."""


class _OtelRecordRequired(TypedDict):
    signal: Literal["log", "span", "metric"]
    name: str
    service: str


class OtelRecordData(_OtelRecordRequired, total=False):
    agentId: str
    workflowId: str
    traceId: str
    spanId: str
    body: str
    attributes: dict[str, Any]
    truncated: bool


@dataclass(frozen=True)
class OtelEvent(Event[OtelRecordData]):
    """`otel.record`: an OpenTelemetry record no mapping claims; topic `otel:{service}`."""


# ── The reset notice ──────────────────────────────────────────────────────────────────────────────────────


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


_FAMILIES = {
    "agent": AgentEvent,
    "workflow": WorkflowEvent,
    "tdd": TddEvent,
    "system": SystemEvent,
    "usage": UsageEvent,
    "otel": OtelEvent,
}

StreamItem = Union[AgentEvent, WorkflowEvent, TddEvent, SystemEvent, UsageEvent, OtelEvent, StreamReset, Event[Any]]


def to_event(envelope: Mapping[str, Any]) -> StreamItem:
    """An envelope (already superjson-decoded) as the dataclass of its family; `Event` for unknown types."""
    kind = str(envelope.get("type", ""))
    cls: Any = StreamReset if kind == "stream.reset" else _FAMILIES.get(kind.split(".", 1)[0], Event)
    timestamp = envelope.get("timestamp")
    if isinstance(timestamp, str):
        timestamp = parse_date(timestamp)
    item: StreamItem = cls(
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
    return item
