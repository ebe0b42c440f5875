#!/usr/bin/env bash
# `make run`: gunicorn and the job worker (`flask worker`) side by side in the foreground.
# Ctrl-C (SIGINT) or SIGTERM stops both; if either one ends, the other is stopped too, so a
# crashed worker never leaves a server that silently sends no webhooks.
#
#   MAJLIS_BIN   where gunicorn and flask are (default .venv/bin)
#   everything else as for the app and gunicorn (config/settings.py), e.g. MAJLIS_BIND
set -u
cd "$(dirname "$0")/.."
BIN=${MAJLIS_BIN:-.venv/bin}
export FLASK_APP=${FLASK_APP:-wsgi}

# The worker runs in a process group of its own, so a terminal's Ctrl-C reaches it once, from
# stop(): huey takes a second SIGINT as "stop now, abandon the running jobs".
setsid "$BIN/flask" worker &
worker=$!
"$BIN/gunicorn" --config deploy/gunicorn.conf.py &
web=$!

stopping=
stop() {
    [ -n "$stopping" ] && return
    stopping=1
    kill -INT "$worker" 2>/dev/null   # huey: finish the jobs running, then exit
    kill -TERM "$web" 2>/dev/null     # gunicorn: finish the requests being served, then exit
}
trap stop INT TERM

wait -n "$worker" "$web"
status=$?
stop
wait "$worker" "$web" 2>/dev/null
exit "$status"
