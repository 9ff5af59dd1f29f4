"""What the narrowing refuses: `mypy --strict` reports each marked line (test/clients/python-package.test.ts)."""

from switchboard import StreamItem


def wrong(item: StreamItem) -> str:
    if item.type == "tdd.test_result":
        return str(item.data["coverage"])  # error: a test result has no coverage (tdd.phase_changed has)
    if item.type == "agent.status":
        return item.data["message"]  # error: agent.status has no message (agent.log has)
    if item.type == "agent.log":
        status: int = item.data["level"]  # error: the level is one of four strings
        return str(status)
    return item.data["agentId"]  # error: not every type's data has an agentId
