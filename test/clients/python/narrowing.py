"""Reading events as a type checker sees them: `mypy --strict` passes on this file
(test/clients/python-package.test.ts). Each comparison of `type` narrows the item to its class and its `data` to
that type's TypedDict; `blockType` narrows a `workflow.block`'s data in turn. `describe` also runs on real items
in the test."""

from switchboard import StreamItem, aio, subscribe


def describe(item: StreamItem) -> str:
    if item.type == "agent.status":
        task = item.data.get("currentTask")
        return f"{item.data['agentId']} {item.data['status']}" + (f" on {task['taskId']}" if task else "")
    if item.type == "workflow.block":
        block = item.data
        if block["blockType"] == "tool_use":
            return f"{block['stepId']} ran {block['payload']['toolName']}"
        return f"{block['stepId']} said {block['payload']['text']}"
    if item.type == "tdd.phase_changed":
        coverage = item.data.get("coverage")
        return f"{item.data['currentPhase']}" + (f" at {coverage['lines']}% lines" if coverage else "")
    if item.type == "stream.reset":
        return f"reset ({item.data['reason']}) after {item.data['requestedAfter']}"
    return f"{item.type} #{item.id}"


def tail(url: str) -> None:
    for item in subscribe(url, "events", last_event_id="0"):
        print(describe(item))


async def tail_async(url: str) -> list[str]:
    async with aio.subscribe(url, "events", last_event_id="0") as subscription:
        return [describe(item) async for item in subscription]
