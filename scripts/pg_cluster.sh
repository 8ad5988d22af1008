#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests (docs/operations.md, Test cluster).
#   scripts/pg_cluster.sh start DIR   initdb into DIR/data, start it, print its connection URL
#   scripts/pg_cluster.sh stop DIR    stop it and remove DIR
#   scripts/pg_cluster.sh url DIR     print the URL of a running cluster
#   scripts/pg_cluster.sh standby DIR  a streaming standby of the running cluster in DIR/standby
#                                     (pg_basebackup; socket DIR/standby-socket), made synchronous so
#                                     that no acknowledged commit is lost at a failover; prints the
#                                     multi-host URL that finds whichever of the two takes writes
#   scripts/pg_cluster.sh promote DIR  promote the standby to primary
#   scripts/pg_cluster.sh halt DIR primary|standby    stop that server at once (as a crash would)
#   scripts/pg_cluster.sh resume DIR primary|standby  start that server again
# The server listens on no TCP port, only on a Unix socket in DIR/socket (mode 0700): nothing
# outside this machine's owner of DIR (and root) can reach it. Local connections are trusted
# (no password) for that reason. fsync and synchronous_commit stay on, as in production, so
# timings measured on it mean something. PostgreSQL refuses to run as root: as root, the
# cluster belongs to the `postgres` system user of Debian's package (or `onevisit-pg`, made
# here without a password or a home, when there is none).
set -euo pipefail

usage() { echo "usage: $0 start|stop|url|standby|promote DIR, or halt|resume DIR primary|standby" >&2; exit 2; }
[ $# -eq 2 ] || [ $# -eq 3 ] || usage
action=$1
dir=$2
which=${3:-}

bin=""
for candidate in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
  if [ -x "$candidate/pg_ctl" ]; then bin=$candidate; break; fi
done
if [ -z "$bin" ]; then
  echo "pg_cluster: PostgreSQL is not installed (no pg_ctl under /usr/lib/postgresql; run scripts/setup.sh)" >&2
  exit 1
fi

# Who runs the server, and how to run a command as them.
as_owner=()
owner=$(id -un)
if [ "$(id -u)" = 0 ]; then
  owner=postgres
  if ! id -u "$owner" >/dev/null 2>&1; then
    owner=onevisit-pg
    id -u "$owner" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$owner"
  fi
  as_owner=(runuser -u "$owner" --)
fi

url_of() {
  echo "postgresql://onevisit@/postgres?host=$1/socket"
}

# The data folder of `primary` or `standby` in DIR.
data_of() {
  case "$2" in
    primary) echo "$1/data" ;;
    standby) echo "$1/standby/data" ;;
    *) usage ;;
  esac
}

case "$action" in
  start)
    dir=$(realpath -m "$dir")
    if [ -f "$dir/data/postmaster.pid" ] && "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      echo "pg_cluster: stopping the cluster left running in $dir" >&2
      "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null || true
    fi
    rm -rf "$dir"
    mkdir -p "$dir/socket"
    chmod 0700 "$dir" "$dir/socket"
    if [ -n "${as_owner[*]}" ]; then
      chown -R "$owner" "$dir"
      # The owner must be able to reach DIR through its parents (a build folder under /root
      # is not reachable by another user).
      if ! "${as_owner[@]}" test -w "$dir"; then
        echo "pg_cluster: $owner cannot write $dir (a parent folder is closed to it); use a folder it can reach" >&2
        exit 1
      fi
    fi
    "${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U onevisit --auth=trust --encoding=UTF8 --locale=C.UTF-8 \
      >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; echo "pg_cluster: initdb failed" >&2; exit 1; }
    cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = ''
unix_socket_directories = '$dir/socket'
unix_socket_permissions = 0700
fsync = on
synchronous_commit = on
max_connections = 200
shared_buffers = 128MB
logging_collector = off
CONF
    if ! "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null; then
      cat "$dir/server.log" >&2 || true
      echo "pg_cluster: the server did not start (log above, $dir/server.log)" >&2
      exit 1
    fi
    url_of "$dir" >"$dir/url"
    cat "$dir/url"
    ;;
  stop)
    dir=$(realpath -m "$dir")
    for data in "$dir/standby/data" "$dir/data"; do
      if [ -d "$data" ]; then
        "${as_owner[@]}" "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
      fi
    done
    rm -rf "$dir"
    ;;
  url)
    dir=$(realpath -m "$dir")
    [ -f "$dir/url" ] || { echo "pg_cluster: no cluster in $dir" >&2; exit 1; }
    cat "$dir/url"
    ;;
  standby)
    dir=$(realpath -m "$dir")
    [ -f "$dir/url" ] || { echo "pg_cluster: no cluster in $dir" >&2; exit 1; }
    rm -rf "$dir/standby" "$dir/standby-socket"
    mkdir -p "$dir/standby" "$dir/standby-socket"
    chmod 0700 "$dir/standby" "$dir/standby-socket"
    [ -z "${as_owner[*]}" ] || chown -R "$owner" "$dir/standby" "$dir/standby-socket"
    "${as_owner[@]}" "$bin/pg_basebackup" -h "$dir/socket" -U onevisit -D "$dir/standby/data" -X stream -R \
      >"$dir/standby/basebackup.log" 2>&1 || { cat "$dir/standby/basebackup.log" >&2; echo "pg_cluster: pg_basebackup failed" >&2; exit 1; }
    cat >>"$dir/standby/data/postgresql.conf" <<CONF
unix_socket_directories = '$dir/standby-socket'
CONF
    if ! "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/standby/data" -l "$dir/standby/server.log" -w -t 60 start >/dev/null; then
      cat "$dir/standby/server.log" >&2 || true
      echo "pg_cluster: the standby did not start" >&2
      exit 1
    fi
    # Commits wait until the standby has the WAL: a promotion loses no acknowledged command.
    "${as_owner[@]}" "$bin/psql" -h "$dir/socket" -U onevisit -d postgres -qAt \
      -c "ALTER SYSTEM SET synchronous_standby_names = '*'" -c "SELECT pg_reload_conf()" >/dev/null
    for _ in $(seq 1 100); do
      state=$("${as_owner[@]}" "$bin/psql" -h "$dir/socket" -U onevisit -d postgres -qAt \
        -c "SELECT sync_state FROM pg_stat_replication WHERE state = 'streaming'" 2>/dev/null || true)
      [ "$state" = sync ] && break
      sleep 0.1
    done
    [ "$state" = sync ] || { echo "pg_cluster: the standby does not stream synchronously" >&2; exit 1; }
    echo "postgresql://onevisit@/postgres?host=$dir/socket,$dir/standby-socket&target_session_attrs=read-write&connect_timeout=2"
    ;;
  promote)
    dir=$(realpath -m "$dir")
    "${as_owner[@]}" "$bin/pg_ctl" -D "$dir/standby/data" -w -t 60 promote >/dev/null
    ;;
  halt)
    dir=$(realpath -m "$dir")
    "${as_owner[@]}" "$bin/pg_ctl" -D "$(data_of "$dir" "$which")" -m immediate -w stop >/dev/null
    ;;
  resume)
    dir=$(realpath -m "$dir")
    data=$(data_of "$dir" "$which")
    "${as_owner[@]}" "$bin/pg_ctl" -D "$data" -l "$data/../${which}-restart.log" -w -t 60 start >/dev/null
    ;;
  *) usage ;;
esac
