"""Running an app's background jobs inside a test: the real huey tasks from the app's real queue
(memory:// in tests), executed in the test's thread until none is left, instead of a worker."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask

from comment_service.jobs import jobs


def run_jobs(app: Flask, *, scheduled: bool = True, limit: int = 200) -> list[str]:
    """Execute what is queued (and, with `scheduled`, what is scheduled until now plus a second: a
    retry after a zero wait) until nothing is; the names of the tasks run, in order."""
    huey = jobs(app).huey
    ran: list[str] = []
    for _ in range(limit):
        task = huey.dequeue()
        if task is None and scheduled:
            due = huey.read_schedule(datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=1))
            for item in due:
                huey.enqueue(item)
            task = huey.dequeue()
        if task is None:
            return ran
        ran.append(task.name)
        huey.execute(task, timestamp=datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=1))
    raise AssertionError(f"jobs still queued after {limit}: {ran[-10:]}")


def queued(app: Flask) -> int:
    """How many jobs wait in the app's queue now."""
    return len(jobs(app).huey)


def run_next(app: Flask) -> str | None:
    """Execute the next queued job only; its name (None: nothing was queued)."""
    huey = jobs(app).huey
    task = huey.dequeue()
    if task is None:
        return None
    huey.execute(task)
    return task.name
