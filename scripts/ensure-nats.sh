#!/usr/bin/env bash
# Tests and the devnet embed nats-server in-process, so nothing is needed
# for them. The standalone roles (vscd coordinator|worker|quorum) connect to
# NATS_URL; this starts a JetStream server when none answers there, from
# the nats-server version pinned in go.mod (built once into bin/ from the
# module cache; older packaged servers lack features vsc uses). With
# NATS_CONFIG set (a file `vscd nats config` wrote: users, permissions,
# listener, store, TLS) the server runs with it; without, it runs with no
# authorization, for trying things on one machine only. Prints the NATS_URL
# on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
url="${NATS_URL:-nats://127.0.0.1:4222}"
hp="${url#*://}"; host="${hp%%:*}"; port="${hp##*:}"
if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then echo "$url"; exit 0; fi
bin="$PWD/bin/nats-server"
if [ ! -x "$bin" ]; then
  mkdir -p bin
  echo "nats: building the pinned nats-server into bin/" >&2
  GOTOOLCHAIN=local go build -o "$bin" github.com/nats-io/nats-server/v2 >&2
fi
mkdir -p .data/nats
if [ -n "${NATS_CONFIG:-}" ]; then
  echo "nats: starting $bin with $NATS_CONFIG (its listener must be $host:$port)" >&2
  nohup "$bin" -c "$NATS_CONFIG" >.data/nats/server.log 2>&1 &
else
  echo "nats: starting $bin on $host:$port WITHOUT authorization (set NATS_CONFIG for users: docs/NATS.md)" >&2
  nohup "$bin" -a "$host" -p "$port" -js -sd "$PWD/.data/nats" >.data/nats/server.log 2>&1 &
fi
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null && { echo "$url"; exit 0; }; sleep 0.2; done
echo "nats: did not start; see .data/nats/server.log" >&2; exit 1
