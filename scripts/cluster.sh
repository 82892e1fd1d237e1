#!/usr/bin/env bash
# A local PromptActors cluster: one PostgreSQL and N host processes on 127.0.0.1, state under ./.cluster (git-ignored).
#
#   scripts/cluster.sh up [N]      build the host, start PostgreSQL and N nodes (default 3), wait until every node routes
#   scripts/cluster.sh status      processes, each node's view of the cluster (GET /clusterz)
#   scripts/cluster.sh kill I      kill -9 node I (a crash);  scripts/cluster.sh start I  starts it again
#   scripts/cluster.sh stop I      SIGTERM node I (a graceful leave: its shards are handed off first)
#   scripts/cluster.sh down [--purge]   stop every node (SIGTERM, then -9 after 60 s) and PostgreSQL; --purge deletes ./.cluster
#
# Ports (environment): PA_HTTP_BASE (5081: node I serves http://127.0.0.1:$((PA_HTTP_BASE+I-1))), PA_AKKA_BASE (4053),
# PA_PG_PORT (55432). PA_NO_BUILD=1 skips the build. Extra host settings for every node: PA_NODE_ARGS, e.g.
# PA_NODE_ARGS="--PromptActors:Models:local:WordDelay=00:00:00.2" to watch replies stream. The failure-detection and
# split-brain settings are the defaults (a killed node's instances answer again within ~5 s); only node 1 loads the
# example prompts.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DIR=$ROOT/.cluster
HTTP_BASE=${PA_HTTP_BASE:-5081}
AKKA_BASE=${PA_AKKA_BASE:-4053}
PG_PORT=${PA_PG_PORT:-55432}
DLL=$ROOT/src/PromptActors.Host/bin/Release/net10.0/PromptActors.Host.dll
SYSTEM=prompt-actors

say() { echo "cluster: $*"; }
die() { echo "cluster: $*" >&2; exit 1; }

pg_bin() {
  local b=${PG_BIN:-/usr/lib/postgresql/15/bin}
  [ -x "$b/initdb" ] || b=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$b" ] && [ -x "$b/initdb" ] || die "PostgreSQL server binaries not found: apt-get install postgresql (or set PG_BIN)"
  echo "$b"
}

# PostgreSQL refuses to run as root: as root, run it as the unprivileged system user pgtest (as the tests do).
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u pgtest -- "$@"; else "$@"; fi
}

pg_up() {
  local bin; bin=$(pg_bin)
  mkdir -p "$DIR/pg/sock"
  if [ "$(id -u)" = 0 ]; then
    id -u pgtest >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin pgtest
    chown -R pgtest "$DIR/pg"
  fi
  if [ ! -f "$DIR/pg/data/PG_VERSION" ]; then
    as_pg "$bin/initdb" -D "$DIR/pg/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if ! as_pg "$bin/pg_ctl" -D "$DIR/pg/data" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$DIR/pg/data" -l "$DIR/pg/server.log" -w -t 30 \
      -o "-p $PG_PORT -k $DIR/pg/sock -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null
  fi
  "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='prompt_actors'" | grep -q 1 \
    || "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres prompt_actors
  say "PostgreSQL on 127.0.0.1:$PG_PORT (database prompt_actors, data in $DIR/pg)"
}

pg_down() {
  [ -f "$DIR/pg/data/PG_VERSION" ] || return 0
  local bin; bin=$(pg_bin)
  as_pg "$bin/pg_ctl" -D "$DIR/pg/data" -m fast -w stop >/dev/null 2>&1 && say "PostgreSQL stopped" || true
}

count() { cat "$DIR/nodes" 2>/dev/null || echo 0; }
http_port() { echo $((HTTP_BASE + $1 - 1)); }
akka_port() { echo $((AKKA_BASE + $1 - 1)); }
pid_of() { cat "$DIR/node$1/pid" 2>/dev/null || true; }
alive() { local p; p=$(pid_of "$1"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

start_node() {
  local i=$1 n; n=$(count)
  alive "$i" && { say "node $i already runs (pid $(pid_of "$i"))"; return 0; }
  [ -f "$DLL" ] || die "$DLL is missing: run without PA_NO_BUILD"
  mkdir -p "$DIR/node$i"
  local seeds=() s
  for s in 1 2 3; do [ "$s" -le "$n" ] && seeds+=("--PromptActors:Cluster:SeedNodes:$((s - 1))=akka.tcp://$SYSTEM@127.0.0.1:$(akka_port "$s")"); done
  [ -f "$DIR/stream-secret" ] || head -c 32 /dev/urandom | base64 | tr -d '/+=' >"$DIR/stream-secret"
  # shellcheck disable=SC2086
  (cd "$DIR/node$i" && PA_STREAM_TOKEN_SECRET="$(cat "$DIR/stream-secret")" exec setsid dotnet "$DLL" serve --urls "http://127.0.0.1:$(http_port "$i")" \
      --PromptActors:Auth:StreamTokenSecretEnv=PA_STREAM_TOKEN_SECRET \
      --PromptActors:Cluster:Enabled=true --PromptActors:Cluster:Hostname=127.0.0.1 \
      --PromptActors:Cluster:Port="$(akka_port "$i")" "${seeds[@]}" \
      --PromptActors:Examples:Load="$([ "$i" = 1 ] && echo true || echo false)" \
      --PromptActors:Storage:Provider=postgres \
      --PromptActors:Storage:ConnectionString="Host=127.0.0.1;Port=$PG_PORT;Database=prompt_actors;Username=postgres" \
      --PromptActors:Auth:ApiKeys:0:KeyHash="$(cat "$DIR/api-key.hash")" --PromptActors:Auth:ApiKeys:0:UserId=local \
      --PromptActors:Auth:ApiKeys:0:OrgId=local --PromptActors:Auth:ApiKeys:0:ProjectId=local --PromptActors:Auth:ApiKeys:0:Role=admin \
      ${PA_NODE_ARGS:-} >"$DIR/node$i/node.log" 2>&1 </dev/null) &
  echo $! >"$DIR/node$i/pid"
  say "node $i: pid $(pid_of "$i"), http://127.0.0.1:$(http_port "$i"), akka.tcp://$SYSTEM@127.0.0.1:$(akka_port "$i"), log $DIR/node$i/node.log"
}

# Ready = /clusterz on every running node says ready (all members Up and reachable, every Up member's shard region
# registered with the coordinator) and sees every running node as a member.
wait_ready() {
  local n; n=$(count)
  local deadline=$((SECONDS + ${PA_WAIT:-120})) i ok want
  while :; do
    ok=1; want=0
    for i in $(seq 1 "$n"); do alive "$i" && want=$((want + 1)); done
    for i in $(seq 1 "$n"); do
      alive "$i" || continue
      local view; view=$(curl -fsS -m 5 -H "Authorization: Bearer $(cat "$DIR/api-key")" "http://127.0.0.1:$(http_port "$i")/clusterz" 2>/dev/null) || { ok=0; break; }
      echo "$view" | grep -q '"ready":true' || { ok=0; break; }
      [ "$(echo "$view" | grep -o '"status":"Up"' | wc -l)" -eq "$want" ] || { ok=0; break; }
    done
    [ "$ok" = 1 ] && return 0
    [ $SECONDS -ge $deadline ] && die "the cluster is not ready after ${PA_WAIT:-120} s; see $DIR/node*/node.log"
    sleep 1
  done
}

stop_node() { # $1 node, $2 signal
  local p; p=$(pid_of "$1")
  [ -n "$p" ] && kill -"$2" "$p" 2>/dev/null || true
}

wait_gone() { # $1 node, $2 seconds
  local deadline=$((SECONDS + $2))
  while alive "$1" && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
  ! alive "$1"
}

cmd=${1:-status}
case "$cmd" in
  up)
    n=${2:-3}
    [ "$n" -ge 1 ] 2>/dev/null || die "usage: $0 up [N]"
    mkdir -p "$DIR"
    if [ -z "${PA_NO_BUILD:-}" ]; then
      say "building the host (Release)…"
      dotnet build "$ROOT/src/PromptActors.Host" -c Release --nologo -v q >"$DIR/build.log" 2>&1 || { cat "$DIR/build.log"; die "build failed"; }
    fi
    echo "$n" >"$DIR/nodes"
    if [ ! -f "$DIR/api-key" ]; then
      head -c 24 /dev/urandom | base64 | tr -d '/+=' >"$DIR/api-key"
      dotnet "$DLL" hash-key "$(cat "$DIR/api-key")" >"$DIR/api-key.hash"
    fi
    pg_up
    for i in $(seq 1 "$n"); do start_node "$i"; done
    say "waiting until every node routes to every shard region…"
    wait_ready
    echo
    for i in $(seq 1 "$n"); do echo "  node $i  http://127.0.0.1:$(http_port "$i")"; done
    echo
    echo "  API key:  $(cat "$DIR/api-key")      (curl -H \"Authorization: Bearer \$(cat .cluster/api-key)\" ...)"
    echo "  psql:     psql -h 127.0.0.1 -p $PG_PORT -U postgres prompt_actors"
    ;;
  status)
    n=$(count)
    [ "$n" -gt 0 ] || { say "no cluster here (scripts/cluster.sh up)"; exit 0; }
    for i in $(seq 1 "$n"); do
      if alive "$i"; then
        view=$(curl -fsS -m 5 -H "Authorization: Bearer $(cat "$DIR/api-key")" "http://127.0.0.1:$(http_port "$i")/clusterz" 2>/dev/null || echo '{"error":"no answer"}')
        echo "node $i  pid $(pid_of "$i")  http://127.0.0.1:$(http_port "$i")  $view"
      else
        echo "node $i  not running"
      fi
    done
    ;;
  kill)
    [ -n "${2:-}" ] || die "usage: $0 kill I"
    stop_node "$2" 9; wait_gone "$2" 10 && say "node $2 killed (-9)"
    ;;
  stop)
    [ -n "${2:-}" ] || die "usage: $0 stop I"
    stop_node "$2" TERM; wait_gone "$2" 90 && say "node $2 left and stopped" || die "node $2 did not stop within 90 s"
    ;;
  start)
    [ -n "${2:-}" ] || die "usage: $0 start I"
    start_node "$2"; wait_ready; say "node $2 is up and routing"
    ;;
  down)
    n=$(count)
    for i in $(seq "$n" -1 1); do stop_node "$i" TERM; done
    for i in $(seq 1 "$n"); do
      wait_gone "$i" 60 || { say "node $i did not stop within 60 s: kill -9"; stop_node "$i" 9; }
      rm -f "$DIR/node$i/pid"
    done
    [ "$n" -gt 0 ] && say "nodes stopped"
    pg_down
    if [ "${2:-}" = "--purge" ]; then rm -rf "$DIR"; say "removed $DIR"; fi
    ;;
  *)
    die "usage: $0 up [N] | status | kill I | stop I | start I | down [--purge]"
    ;;
esac
