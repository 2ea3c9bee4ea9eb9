#!/usr/bin/python3
"""Enqueues tasks for worker.py on the Redis list <prefix>pending (seed 000's task queue).

    REDIS_URL=redis://127.0.0.1:6379/0 ./producer.py --count 20 --fail-every 5
    ./producer.py --rate 2 --fail-every 7 --dead-every 25     # forever, 2 tasks per second

Each task is a JSON object: ``{"id": "t-17", "duration_ms": 300, "fail_times": 0}``. With
``--fail-every K`` every K-th task fails once (it is retried and then succeeds); with
``--dead-every K`` every K-th task always fails and ends in the dead list.

Runs on Debian's /usr/bin/python3 with python3-redis (``apt-get install python3-redis``).
"""

import argparse
import json
import os
import signal
import sys
import time

try:
    import redis
except ImportError:  # pragma: no cover
    sys.stderr.write("producer.py needs python3-redis: apt-get install python3-redis\n")
    sys.exit(2)


def task_for(n, args):
    task = {"id": "%s%d" % (args.id_prefix, n)}
    if args.duration_ms is not None:
        task["duration_ms"] = args.duration_ms
    if args.dead_every and n % args.dead_every == 0:
        task["fail_times"] = -1
        task["error"] = "task %s%d: upstream returned 500" % (args.id_prefix, n)
    elif args.fail_every and n % args.fail_every == 0:
        task["fail_times"] = 1
        task["error"] = "task %s%d: timeout after 30s" % (args.id_prefix, n)
    return task


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--queue-prefix", default=os.environ.get("QUEUE_PREFIX", "processor:queue:"))
    parser.add_argument("--count", type=int, default=None, help="tasks to enqueue, then exit (default: forever)")
    parser.add_argument("--rate", type=float, default=2.0, help="tasks per second (0: all at once)")
    parser.add_argument("--fail-every", type=int, default=0, help="every K-th task fails once")
    parser.add_argument("--dead-every", type=int, default=0, help="every K-th task always fails")
    parser.add_argument("--duration-ms", type=int, default=None, help="processing time of each task")
    parser.add_argument("--id-prefix", default="t-")
    args = parser.parse_args()
    if args.rate < 0 or (args.count is not None and args.count < 0):
        parser.error("--rate and --count must not be negative")

    client = redis.Redis.from_url(args.redis_url, decode_responses=True, socket_timeout=5)
    queue = args.queue_prefix + "pending"
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    n = 0
    while not stopping and (args.count is None or n < args.count):
        n += 1
        try:
            client.lpush(queue, json.dumps(task_for(n, args)))
        except redis.RedisError as error:
            sys.stderr.write("producer: enqueue failed, retrying in 1 s: %s\n" % error)
            n -= 1
            time.sleep(1)
            continue
        if args.rate > 0:
            time.sleep(1.0 / args.rate)
    sys.stderr.write("producer: enqueued %d task(s) on %s\n" % (n, queue))


if __name__ == "__main__":
    main()
