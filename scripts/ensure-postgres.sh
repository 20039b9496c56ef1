#!/usr/bin/env bash
# Makes sure a PostgreSQL server answers at DATABASE_URL (default
# postgres://postgres@127.0.0.1:5432/postgres). If none does, it starts a
# private cluster under .data/pg with the installed server binaries,
# installing Debian's postgresql package first when missing (as root).
# Prints the DATABASE_URL to use on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."

url="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}"
hostport="${url#*@}"; hostport="${hostport%%/*}"
host="${hostport%%:*}"; port="${hostport##*:}"; [ "$port" = "$host" ] && port=5432

ready() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0 || return 1; }

if ready "$host" "$port"; then
  echo "postgres: answering at $host:$port" >&2
  echo "$url"; exit 0
fi

# 1. the machine's own cluster, if Debian's tooling has one configured
if command -v pg_ctlcluster >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && [ -d /etc/postgresql ] && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
  ver="$(ls /etc/postgresql | sort -V | tail -1)"
  echo "postgres: starting the system cluster $ver/main" >&2
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start >&2 || true
  for _ in $(seq 1 50); do ready "$host" "$port" && { echo "$url"; exit 0; }; sleep 0.2; done
fi

# 2. a private cluster under .data/pg
bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)"
if [ -z "$bindir" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "postgres: not installed; installing Debian's postgresql package" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 && apt-get install -y -qq postgresql >&2
    bindir="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"
  else
    echo "postgres: no server answers at $host:$port and none is installed." >&2
    echo "  install it (Debian/Ubuntu: sudo apt-get install postgresql) or set DATABASE_URL" >&2
    exit 1
  fi
fi
data="$PWD/.data/pg"
mkdir -p "$data"
run_as=()
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home "$data" postgres
  chown -R postgres "$data"
  run_as=(runuser -u postgres --)
fi
if [ ! -f "$data/PG_VERSION" ]; then
  echo "postgres: initdb in $data" >&2
  "${run_as[@]}" "$bindir/initdb" -D "$data" -U postgres -A trust >/dev/null
fi
echo "postgres: starting a private cluster on $host:$port ($data)" >&2
"${run_as[@]}" "$bindir/pg_ctl" -D "$data" -l "$data/server.log" -w \
  -o "-h $host -p $port -k $data" start >&2
for _ in $(seq 1 50); do ready "$host" "$port" && { echo "$url"; exit 0; }; sleep 0.2; done
echo "postgres: started but not answering on $host:$port; see $data/server.log" >&2
exit 1
