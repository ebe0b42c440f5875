#!/usr/bin/env bash
# The production stack without systemd: nginx (deploy/nginx.conf) in front of gunicorn
# (deploy/gunicorn.conf.py) on a unix socket. Runs as any user; everything it writes (the rendered
# nginx.conf, pid files, logs, nginx's temp files, the socket) goes under MAJLIS_STACK_DIR.
#
#   deploy/stack.sh start [app|proxy]    start both (gunicorn first), or one; waits until it answers
#   deploy/stack.sh stop [app|proxy]     stop both (nginx first), or one, by their pid files:
#                                        gracefully, then at once after 10 s
#   deploy/stack.sh status               what runs
#
# Environment (besides the app's own: MAJLIS_ENV, SECRET_KEY, DATABASE_URL, ...):
#   MAJLIS_STACK_DIR        instance/stack     where the stack keeps its files
#   MAJLIS_LISTEN           127.0.0.1:8080     nginx's listen address
#   MAJLIS_MAX_BODY_BYTES   65536              the app's body limit, also nginx's client_max_body_size
#   MAJLIS_TRUSTED_PROXIES  1                  set for gunicorn: nginx is one hop
#   WEB_CONCURRENCY         2                  gunicorn workers
#   MAJLIS_GUNICORN         .venv/bin/gunicorn
#   MAJLIS_NGINX            nginx on PATH, else /usr/sbin/nginx
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DIR="${MAJLIS_STACK_DIR:-$ROOT/instance/stack}"
LISTEN="${MAJLIS_LISTEN:-127.0.0.1:8080}"
export MAJLIS_MAX_BODY_BYTES="${MAJLIS_MAX_BODY_BYTES:-65536}"
export MAJLIS_TRUSTED_PROXIES="${MAJLIS_TRUSTED_PROXIES:-1}"
GUNICORN="${MAJLIS_GUNICORN:-$ROOT/.venv/bin/gunicorn}"
PYTHON="$(dirname "$GUNICORN")/python"
[ -x "$PYTHON" ] || PYTHON=python3
NGINX="${MAJLIS_NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}"
SOCK="$DIR/gunicorn.sock"

say() { echo "stack: $*" >&2; }

running() {  # running PIDFILE: the pid in the file is alive
  [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

answers() {  # answers unix:PATH | HOST:PORT -- GET /healthz answers 200 within a second
  "$PYTHON" - "$1" <<'EOF'
import socket, sys
target = sys.argv[1]
if target.startswith("unix:"):
    s = socket.socket(socket.AF_UNIX)
    addr = target[5:]
else:
    host, _, port = target.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    addr = (host, int(port))
s.settimeout(1)
try:
    s.connect(addr)
    s.sendall(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")
    sys.exit(0 if s.recv(64).split(b" ")[1:2] == [b"200"] else 1)
except OSError:
    sys.exit(1)
EOF
}

wait_for() {  # wait_for NAME TARGET PID -- until TARGET answers, for 30 s at most, while PID lives
  for _ in $(seq 1 150); do
    if answers "$2"; then return 0; fi
    kill -0 "$3" 2>/dev/null || break
    sleep 0.2
  done
  say "$1 does not answer on $2; see $DIR/logs/"
  return 1
}

stop_pid() {  # stop_pid NAME PIDFILE SIGNAL FORCE -- SIGNAL the pid in the file; FORCE after 10 s; wait 40 s
  local pid
  running "$2" || { say "$1 is not running"; return 0; }
  pid="$(cat "$2")"
  kill "-$3" "$pid"
  for i in $(seq 1 200); do
    kill -0 "$pid" 2>/dev/null || { say "$1 stopped"; return 0; }
    [ "$i" -eq 50 ] && kill "-$4" "$pid" 2>/dev/null
    sleep 0.2
  done
  say "$1 (pid $pid) did not stop"
  return 1
}

start_app() {
  if running "$DIR/gunicorn.pid"; then say "gunicorn already runs"; return 0; fi
  mkdir -p "$DIR/logs"
  rm -f "$SOCK"
  (cd "$ROOT" && exec "$GUNICORN" --config deploy/gunicorn.conf.py --bind "unix:$SOCK" \
      --pid "$DIR/gunicorn.pid" >>"$DIR/logs/gunicorn.log" 2>&1 </dev/null) &
  wait_for gunicorn "unix:$SOCK" "$!"
  say "gunicorn on unix:$SOCK (pid $(cat "$DIR/gunicorn.pid"))"
}

start_proxy() {
  if running "$DIR/nginx.pid"; then say "nginx already runs"; return 0; fi
  mkdir -p "$DIR/logs" "$DIR/temp"
  sed -e "s|\${MAJLIS_LISTEN}|$LISTEN|g" -e "s|\${MAJLIS_UPSTREAM}|unix:$SOCK|g" \
      -e "s|\${MAJLIS_MAX_BODY_BYTES}|$MAJLIS_MAX_BODY_BYTES|g" "$ROOT/deploy/nginx.conf" >"$DIR/nginx.conf"
  "$NGINX" -q -t -p "$DIR/" -c "$DIR/nginx.conf"
  "$NGINX" -p "$DIR/" -c "$DIR/nginx.conf"
  # Started as root, nginx's workers run as nobody: they must be able to reach the socket.
  wait_for nginx "$LISTEN" "$(cat "$DIR/nginx.pid")" || { say "(its workers must reach $SOCK)"; return 1; }
  say "nginx on http://$LISTEN (pid $(cat "$DIR/nginx.pid"))"
}

mkdir -p "$DIR"
chmod 755 "$DIR"
case "${1:-}:${2:-all}" in
  start:all) start_app; start_proxy ;;
  start:app) start_app ;;
  start:proxy) start_proxy ;;
  stop:all) stop_pid nginx "$DIR/nginx.pid" QUIT TERM; stop_pid gunicorn "$DIR/gunicorn.pid" TERM INT ;;
  stop:proxy) stop_pid nginx "$DIR/nginx.pid" QUIT TERM ;;
  stop:app) stop_pid gunicorn "$DIR/gunicorn.pid" TERM INT ;;
  status:*)
    for name in gunicorn nginx; do
      if running "$DIR/$name.pid"; then echo "$name: running (pid $(cat "$DIR/$name.pid"))"; else echo "$name: stopped"; fi
    done ;;
  *) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
