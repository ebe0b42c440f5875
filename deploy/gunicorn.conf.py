"""gunicorn settings of Majlis: the same file for `make run` and for production behind nginx.

    gunicorn --config deploy/gunicorn.conf.py            # serves wsgi:app on MAJLIS_BIND
    deploy/stack.sh start                                # nginx in front of it (README, "Production")

Sync workers: one request at a time per process, and nginx in front buffers every request and
every response, so a worker only ever talks to nginx over a unix socket and is busy for exactly
the app's own time. A slow client waits in nginx's event loop, never in a worker (README has the
figures). Served bare (`make run`), sync workers are held by slow clients: that is for a laptop.

Metrics: every worker keeps its numbers in PROMETHEUS_MULTIPROC_DIR (one directory per gunicorn,
emptied when it starts) so a scrape of /metrics, answered by any worker, sums them all. Logs: with
JSON logging (production) gunicorn's own lines are JSON too and its access log is off, because the
app writes one JSON access line per request.

Memory: the app is loaded once, in the master, before the workers are forked (`preload_app`;
MAJLIS_PRELOAD=0 loads it in each worker instead). The objects made while loading are then frozen
out of the garbage collector (`gc.freeze()`), whose passes would otherwise write to every one of
them and copy the page it lives on into the worker. So the workers share the master's pages:
each worker's own memory (USS) falls from ~64 MB to ~26 MB (README, "Production"). Nothing opens
a database connection while loading, and each worker drops whatever its engines' pools might hold
from the master (`post_fork`), so no connection is ever shared across a fork. A code change then
needs a restart of gunicorn (SIGHUP re-forks workers from the already-loaded app).

The variables read here are listed with the app's in config/settings.py.
"""
import gc
import os
import re
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:  # gunicorn reads this file before it puts the app's directory on the path
    sys.path.insert(0, str(_ROOT))

wsgi_app = "wsgi:app"
# 127.0.0.1:8000 by default; deploy/stack.sh binds a unix socket only nginx can reach.
bind = [os.environ.get("MAJLIS_BIND", "127.0.0.1:8000")]
worker_class = "sync"

# Before anything imports prometheus_client: it reads the variable at import. One directory per
# address served, so two gunicorns on one machine (make run and a test) never empty each other's.
_metrics_home = Path(os.environ.get("MAJLIS_STACK_DIR") or _ROOT / "instance") / "metrics"
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(_metrics_home / re.sub(r"[^A-Za-z0-9.]+", "_", bind[0])))

from comment_service import logs, metrics  # noqa: E402  (after the variable above)
from config.settings import log_format, parse_bool  # noqa: E402

on_starting = metrics.on_starting  # empty the metrics directory: a restart counts from zero
child_exit = metrics.child_exit  # a dead worker's in-progress gauge goes; its counters stay summed
preload_app = parse_bool("MAJLIS_PRELOAD", os.environ.get("MAJLIS_PRELOAD"), True)


def pre_fork(server, worker):
    """In the master, before each fork: leave the loaded app's objects out of every later collection,
    so the worker's collector never writes to (and so copies) the pages it shares with the master."""
    if preload_app:
        gc.collect()
        gc.freeze()


def post_fork(server, worker):
    """In the new worker: forget any database connection inherited from the master (there should be
    none: nothing connects while loading), without closing it under the master's feet."""
    if preload_app:
        from comment_service.prefork import forget_inherited_connections

        forget_inherited_connections(server.app.wsgi())


_json_logs = log_format() == "json"
# WEB_CONCURRENCY is gunicorn's own variable; with sync workers behind nginx, 2 x cores + 1.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# A worker silent this long is killed and replaced; nginx answers its client 502 in JSON.
timeout = int(os.environ.get("MAJLIS_WORKER_TIMEOUT", "30"))
graceful_timeout = 30

# What nginx lets through, gunicorn must accept, or a client gets gunicorn's HTML page instead of
# an answer in the JSON shape. The request line: 8190 bytes is gunicorn's maximum (count.js asks for
# counts in URLs up to ~7,500 bytes); nginx refuses longer lines itself (414, JSON). Header fields:
# nginx takes lines up to one 16k buffer (large_client_header_buffers 4 16k), and any number that
# fits in four of them, so gunicorn takes as much.
limit_request_line = 8190
limit_request_field_size = 16384
limit_request_fields = 32768

# No client address in the access log (nginx is the peer in production anyway): method, path
# without the query, status, bytes, milliseconds, request id.
# With JSON logs the app writes the access line itself (with the endpoint and the duration).
accesslog = os.environ.get("MAJLIS_ACCESS_LOG", "" if _json_logs else "-") or None
if _json_logs:
    logconfig_dict = logs.gunicorn_logconfig(access=accesslog is not None)
access_log_format = '%(m)s %(U)s %(s)s %(B)s %(M)sms rid=%({x-request-id}i)s'
errorlog = "-"
# gunicorn 25+ opens a control socket in $HOME by default, one path for every gunicorn of the
# user: two instances would fight over it, and nothing here uses gunicornc.
control_socket_disable = True
