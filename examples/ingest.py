import json
import os
import urllib.request

url = os.environ.get("SWITCHBOARD_URL", "http://127.0.0.1:8765") + "/ingest"
events = [
    {"type": "agent.status", "data": {"agentId": "py-agent", "agentType": "script", "status": "busy"}},
    {"type": "agent.log", "key": "py-agent:log:1", "data": {"agentId": "py-agent", "level": "info", "message": "hello from Python"}},
]
request = urllib.request.Request(
    url,
    data="\n".join(json.dumps(e) for e in events).encode(),
    headers={"content-type": "application/x-ndjson"},
)
with urllib.request.urlopen(request) as response:
    print(json.load(response))  # {'ids': ['1', '2']}
