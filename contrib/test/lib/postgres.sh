# Shell helpers: a PRIVATE PostgreSQL cluster in a temporary directory on a
# loopback port, owned by the postgres user (never the system cluster).
#
#   pg_private_start DIR     # init + start; sets PG_PORT, PG_DIR, PG_URL_BASE
#   pg_private_createdb NAME # prints postgres://postgres@127.0.0.1:PORT/NAME
#   pg_private_restart       # stop and start again (same data and port)
#   pg_private_stop          # stop
#
# Needs the Debian postgresql package (15): /usr/lib/postgresql/15/bin.

PG_BIN=${PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}

pg_free_port() {
    local port
    for _ in $(seq 1 50); do
        port=$(shuf -i 20000-60000 -n 1)
        ss -ltnH "sport = :$port" 2>/dev/null | grep >/dev/null . || { echo "$port"; return 0; }
    done
    return 1
}

pg_free_port_unused() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

pg_as_postgres() {
    if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi
}

pg_private_start() {
    PG_DIR=$1
    [ -x "$PG_BIN/initdb" ] || { echo "postgres.sh: no initdb under $PG_BIN (install postgresql)" >&2; return 1; }
    mkdir -p "$PG_DIR"
    chown postgres: "$PG_DIR" 2>/dev/null || true
    chmod 700 "$PG_DIR"
    PG_PORT=$(pg_free_port)
    pg_as_postgres "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 --no-sync >"$PG_DIR/initdb.log" 2>&1 \
        || { cat "$PG_DIR/initdb.log" >&2; return 1; }
    pg_private_server_start || return 1
    PG_URL_BASE="postgres://postgres@127.0.0.1:$PG_PORT"
    export PG_DIR PG_PORT PG_URL_BASE
}

# pg_private_server_start: start the (initialized, stopped) cluster of $PG_DIR on $PG_PORT.
pg_private_server_start() {
    pg_as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -c port=$PG_PORT -c unix_socket_directories=$PG_DIR -c fsync=off -c max_connections=200" start >/dev/null \
        || { cat "$PG_DIR/server.log" >&2; return 1; }
}

# pg_private_restart: stop the cluster (fast: open connections are cut) and start it again, same data and port.
pg_private_restart() {
    pg_as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    pg_private_server_start
}

pg_private_createdb() {
    pg_as_postgres "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres "$1" >/dev/null || return 1
    echo "$PG_URL_BASE/$1"
}

pg_private_psql() {
    local db=$1; shift
    pg_as_postgres "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$db" -X -q -A -t "$@"
}

pg_private_stop() {
    [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR/data" ] || return 0
    pg_as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
}
