"""Sends tasks for the example's "start a task" buttons: one JSON command per stdin line
({"task": "demo_tasks.download", "args": ["SSIS-950"], "countdown": null}), one JSON reply per
stdout line ({"id": "…"} or {"error": "…"}). A long-lived process, so a click costs no
interpreter start-up.
"""
import json
import sys

from demo_tasks import app

for line in sys.stdin:
    if not line.strip():
        continue
    try:
        cmd = json.loads(line)
        options = {"countdown": cmd["countdown"]} if cmd.get("countdown") else {}
        result = app.send_task(cmd["task"], args=cmd.get("args", []), kwargs=cmd.get("kwargs", {}), **options)
        reply = {"id": result.id}
    except Exception as error:  # reported to the HTTP caller
        reply = {"error": repr(error)}
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()
