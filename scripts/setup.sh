#!/usr/bin/env bash
# Prepares this machine for the platform: the virtualenv, RabbitMQ, Docker and busybox-static;
# with --test also PostgreSQL, the RabbitMQ management plugin and docker-compose.
# Installs with apt-get where it can (Debian, root); says exactly what is missing where not.
set -euo pipefail
cd "$(dirname "$0")/.."

FOR_TESTS=0
[ "${1:-}" = "--test" ] && FOR_TESTS=1
VENV=${UFOP_VENV:-.venv}
DATA_DIR=${UFOP_DATA_DIR:-./var}
AMQP_URI=${UFOP_AMQP_URI:-amqp://guest:guest@127.0.0.1:5672/}
mkdir -p "$DATA_DIR"

say() { echo "setup: $*"; }
die() { echo "setup: $*" >&2; exit 1; }

CAN_APT=0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then CAN_APT=1; fi
APT_UPDATED=0
apt_install() {  # apt_install PKG... (only the missing ones)
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ $CAN_APT = 0 ]; then
    die "missing Debian packages: ${missing[*]} (install them as root: apt-get install ${missing[*]})"
  fi
  if [ $APT_UPDATED = 0 ]; then apt-get update -qq; APT_UPDATED=1; fi
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# --- Python virtualenv with the project -------------------------------------------------
PY=${PYTHON:-python3}
command -v "$PY" >/dev/null || die "python3 (3.11 or newer) is missing"
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "python3 must be 3.11 or newer"
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV" 2>/dev/null || { apt_install python3-venv; "$PY" -m venv "$VENV"; }
fi
STAMP="$VENV/.ufop-installed"
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
  say "installing the project into $VENV"
  "$VENV/bin/pip" install -q --upgrade pip >/dev/null 2>&1 || true
  "$VENV/bin/pip" install -q -e '.[test]' 2>&1 | grep -v '^WARNING: Location' || true
  "$VENV/bin/python" -c 'import nameko, gateway, registry, scheduler, logs, ufop_common' \
    || die "the project did not install into $VENV"
  touch "$STAMP"
fi

# --- RabbitMQ ---------------------------------------------------------------------------
broker_answers() {
  "$VENV/bin/python" - "$AMQP_URI" <<'PY'
import socket, sys
from urllib.parse import urlparse
u = urlparse(sys.argv[1])
try:
    socket.create_connection((u.hostname or "127.0.0.1", u.port or 5672), timeout=2).close()
except OSError:
    sys.exit(1)
PY
}
if ! broker_answers; then
  command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server
  [ $CAN_APT = 1 ] || die "no broker answers at $AMQP_URI and I cannot start one (not root)"
  say "starting rabbitmq-server"
  rabbitmq-server -detached >/dev/null 2>&1 || true
  # await_startup fails at once while the node is not yet registered with epmd: retry it
  started=0
  for _ in $(seq 120); do
    if rabbitmqctl await_startup --timeout 10 >/dev/null 2>&1; then started=1; break; fi
    sleep 1
  done
  if [ $started = 0 ]; then
    tail -20 /var/log/rabbitmq/*.log 2>/dev/null >&2 || true
    die "rabbitmq-server did not start within 120 s (its log is above)"
  fi
  broker_answers || die "rabbitmq-server started but $AMQP_URI does not answer"
fi
if [ $FOR_TESTS = 1 ] && command -v rabbitmq-plugins >/dev/null; then
  # the tests make a vhost of their own through the management API
  rabbitmq-plugins enable rabbitmq_management >/dev/null 2>&1 || true
  for _ in $(seq 60); do
    curl -fsS -u guest:guest http://127.0.0.1:15672/api/overview >/dev/null 2>&1 && break
    sleep 1
  done
fi

# --- Docker engine and busybox-static -----------------------------------------------------
if ! docker info >/dev/null 2>&1; then
  command -v dockerd >/dev/null || apt_install docker.io
  [ $CAN_APT = 1 ] || die "no Docker engine answers and I cannot start one (not root)"
  say "starting dockerd"
  nohup dockerd >"$DATA_DIR/dockerd.log" 2>&1 &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || die "dockerd did not start; see $DATA_DIR/dockerd.log"
fi
apt_install busybox-static  # the example ufop and test images are FROM scratch + static busybox

# --- test-only: PostgreSQL and docker-compose -----------------------------------------------
if [ $FOR_TESTS = 1 ]; then
  apt_install postgresql docker-compose
  if ! pg_lsclusters -h 2>/dev/null | grep -q online; then
    cluster=$(pg_lsclusters -h | head -1 | awk '{print $1" "$2}')
    [ -n "$cluster" ] || die "postgresql is installed but has no cluster"
    say "starting PostgreSQL $cluster"
    pg_ctlcluster $cluster start
  fi
  port=$(pg_lsclusters -h | awk '$4=="online"{print $3; exit}')
  su postgres -c "psql -p $port -tAc \"SELECT 1 FROM pg_roles WHERE rolname='ufop'\"" | grep -q 1 \
    || su postgres -c "psql -p $port -qc \"CREATE ROLE ufop LOGIN SUPERUSER PASSWORD 'ufop'\""
  su postgres -c "psql -p $port -tAc \"SELECT 1 FROM pg_database WHERE datname='ufop_test'\"" | grep -q 1 \
    || su postgres -c "createdb -p $port -O ufop ufop_test"
  echo "postgresql://ufop:ufop@127.0.0.1:$port/ufop_test" > "$DATA_DIR/test-pg-url"
fi
say "ready"
