#!/usr/bin/python3
"""Seed 000's data-processing worker, knowing nothing about taskpulse.

Takes tasks from three Redis lists -- pending, retry, dead -- and processes them: a task that
fails goes to the retry list, and after --max-attempts failures to the dead list. After every
task it reads the three list lengths and PUBLISHes the full status JSON, exactly seed 000's
nine fields, to the Redis channel ``processor:status:realtime``:

    {"running": true, "workers": 2, "queue_pending": 156, "queue_retry": 2, "queue_dead": 0,
     "processed_total": 1234, "processed_today": 89, "speed": 2.5, "last_error": null}

Errors are handled as seed 000 says: a failing task is caught, recorded as ``last_error`` and
the worker goes on; a failed PUBLISH is ignored; a failed length query counts as 0 and is
logged. SIGTERM/SIGINT publishes a last status with ``running: false`` and exits.

Runs on Debian's /usr/bin/python3 with python3-redis (``apt-get install python3-redis``).

    REDIS_URL=redis://127.0.0.1:6379/0 ./worker.py --workers 2

Tasks are JSON objects (see producer.py): ``{"id": "t-1", "duration_ms": 200, "fail_times": 0}``.
``fail_times`` makes a task fail that many times before it succeeds (``-1``: always fails, so it
ends in the dead list); ``--fail-rate`` makes any task fail at random.
"""

import argparse
import datetime
import json
import logging
import os
import random
import signal
import sys
import threading
import time
from collections import deque

try:
    import redis
except ImportError:  # pragma: no cover - a clear line instead of a traceback
    sys.stderr.write("worker.py needs python3-redis: apt-get install python3-redis\n")
    sys.exit(2)

STATUS_CHANNEL = "processor:status:realtime"
log = logging.getLogger("worker")


class Interrupted(Exception):
    """The worker is stopping while a task is in progress: the task goes back to its list."""


class Processor:
    """The worker threads, the counters and the status publication."""

    def __init__(self, client, args):
        self.redis = client
        self.args = args
        self.queues = {
            "pending": args.queue_prefix + "pending",
            "retry": args.queue_prefix + "retry",
            "dead": args.queue_prefix + "dead",
        }
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.processed_total = 0
        self.processed_today = 0
        self.today = datetime.date.today()
        self.last_error = None
        self.finished = deque()  # monotonic times of recent tasks, for the speed
        self.running = True

    # -- status -------------------------------------------------------------------------------

    def queue_length(self, name):
        try:
            return int(self.redis.llen(self.queues[name]))
        except redis.RedisError as error:
            log.warning("queue length of %s failed, using 0: %s", name, error)
            return 0

    def status(self):
        with self.lock:
            now = time.monotonic()
            while self.finished and now - self.finished[0] > self.args.speed_window:
                self.finished.popleft()
            speed = round(len(self.finished) / self.args.speed_window, 2)
            counters = (self.processed_total, self.processed_today, self.last_error)
        return {
            "running": self.running,
            "workers": self.args.workers,
            "queue_pending": self.queue_length("pending"),
            "queue_retry": self.queue_length("retry"),
            "queue_dead": self.queue_length("dead"),
            "processed_total": counters[0],
            "processed_today": counters[1],
            "speed": speed,
            "last_error": counters[2],
        }

    def publish_status(self):
        status = self.status()
        text = json.dumps(status, separators=(",", ":"))
        try:
            self.redis.publish(STATUS_CHANNEL, text)
        except redis.RedisError:
            # Seed 000: a failed publish is ignored; the next task publishes the full status again.
            pass
        if self.args.echo:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()

    # -- tasks --------------------------------------------------------------------------------

    def count(self, error=None):
        with self.lock:
            today = datetime.date.today()
            if today != self.today:
                self.today = today
                self.processed_today = 0
            self.processed_total += 1
            self.processed_today += 1
            self.finished.append(time.monotonic())
            if error is not None:
                self.last_error = error

    def process(self, task):
        """Does the work of one task; raises on failure."""
        duration = task.get("duration_ms", self.args.task_ms) / 1000.0
        if self.stop.wait(max(0.0, duration)):
            raise Interrupted()
        fail_times = task.get("fail_times", 0)
        attempts = task.get("attempts", 0)
        if fail_times < 0 or attempts < fail_times:
            raise RuntimeError(task.get("error") or "simulated failure")
        if random.random() < self.args.fail_rate:
            raise RuntimeError("random failure")

    def handle(self, raw, source):
        try:
            task = json.loads(raw)
            if not isinstance(task, dict):
                raise ValueError("a task must be a JSON object")
        except ValueError as error:
            # Unreadable input goes straight to the dead list: retrying cannot fix it.
            self.redis.lpush(self.queues["dead"], raw)
            self.count("task %r is not valid: %s" % (raw[:80], error))
            return
        task_id = task.get("id", "?")
        try:
            self.process(task)
        except Interrupted:
            # Back to the end BRPOP takes from, so it is the next task of the next run.
            self.redis.rpush(source, raw)
            return
        except Exception as error:  # noqa: BLE001 - seed 000 catches every task failure
            task["attempts"] = task.get("attempts", 0) + 1
            message = "task %s failed (attempt %d): %s" % (task_id, task["attempts"], error)
            target = "dead" if task["attempts"] >= self.args.max_attempts else "retry"
            self.redis.lpush(self.queues[target], json.dumps(task))
            log.info("%s -> %s", message, target)
            self.count(message)
            return
        log.debug("task %s done (from %s)", task_id, source)
        self.count()

    def run_thread(self):
        # Pending first, then retry: BRPOP takes from the first non-empty list.
        keys = [self.queues["pending"], self.queues["retry"]]
        while not self.stop.is_set():
            try:
                item = self.redis.brpop(keys, timeout=1)
            except redis.RedisError as error:
                log.warning("redis unavailable, retrying in 1 s: %s", error)
                self.stop.wait(1.0)
                continue
            if item is None:
                continue
            key, raw = item
            try:
                self.handle(raw, key)
            except redis.RedisError as error:
                log.warning("redis failed while handling a task: %s", error)
            self.publish_status()

    def run(self):
        threads = [threading.Thread(target=self.run_thread, daemon=True) for _ in range(self.args.workers)]
        for thread in threads:
            thread.start()
        self.publish_status()
        log.info("worker started: %d thread(s) on %s", self.args.workers, ", ".join(self.queues.values()))
        # The main thread publishes a heartbeat status while idle, so a page opened later (and
        # the speed falling to 0) stays current.
        while not self.stop.wait(self.args.idle_publish):
            self.publish_status()
        for thread in threads:
            thread.join(timeout=5)
        self.running = False
        self.publish_status()
        log.info("worker stopped")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--queue-prefix", default=os.environ.get("QUEUE_PREFIX", "processor:queue:"),
                        help="lists are <prefix>pending, <prefix>retry, <prefix>dead")
    parser.add_argument("--workers", type=int, default=2, help="worker threads (the status's 'workers')")
    parser.add_argument("--task-ms", type=int, default=300, help="time one task takes, unless the task says")
    parser.add_argument("--fail-rate", type=float, default=0.0, help="probability that any task fails")
    parser.add_argument("--max-attempts", type=int, default=3, help="failures before a task is dead")
    parser.add_argument("--speed-window", type=float, default=10.0, help="seconds the speed is averaged over")
    parser.add_argument("--idle-publish", type=float, default=5.0, help="seconds between idle status publications")
    parser.add_argument("--echo", action="store_true", help="also print every published status on stdout")
    parser.add_argument("--log-level", default=os.environ.get("LOG_LEVEL", "INFO"))
    args = parser.parse_args()
    if args.workers < 1 or args.max_attempts < 1 or args.speed_window <= 0 or args.idle_publish <= 0:
        parser.error("--workers and --max-attempts must be >= 1; --speed-window and --idle-publish > 0")
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s worker %(levelname)s %(message)s")

    client = redis.Redis.from_url(args.redis_url, decode_responses=True, socket_timeout=5,
                                  socket_connect_timeout=5, health_check_interval=10)
    processor = Processor(client, args)

    def on_signal(signum, _frame):
        log.info("signal %d: stopping", signum)
        processor.stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    processor.run()


if __name__ == "__main__":
    main()
