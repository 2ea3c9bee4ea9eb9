"""The example's Celery app: an unchanged-looking Celery project (nothing taskpulse-specific).

Broker and result backend come from CELERY_BROKER_URL (the example sets it from REDIS_URL).
Task events are on (worker -E); the bridge reads them from Redis.
"""
import os
import random
import time

from celery import Celery

BROKER = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
app = Celery("demo_tasks", broker=BROKER, backend=BROKER)
app.conf.update(
    worker_send_task_events=True,
    task_send_sent_event=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    timezone="UTC",
    enable_utc=True,
    broker_connection_retry_on_startup=True,
)
STEP_SECONDS = float(os.environ.get("DEMO_STEP_SECONDS", "0.6"))


@app.task(bind=True)
def download(self, avid, steps=5):
    """A download that reports its progress (update_state + a custom task-progress event)."""
    for i in range(steps):
        meta = {"current": i + 1, "total": steps}
        self.update_state(state="PROGRESS", meta=meta)
        self.send_event("task-progress", **meta)
        time.sleep(STEP_SECONDS)
    return "下载完成"


@app.task
def broken_download(avid):
    """A download that fails: the page shows the exception text."""
    time.sleep(STEP_SECONDS)
    raise ConnectionError(f"{avid}: source unreachable")


@app.task(bind=True, max_retries=2)
def flaky_download(self, avid):
    """Fails once, is retried after 1 s, then succeeds (a retry is not a failure)."""
    if self.request.retries == 0:
        raise self.retry(exc=TimeoutError("slow mirror"), countdown=1)
    time.sleep(STEP_SECONDS * random.random())
    return "下载完成 (retried)"
