#!/usr/bin/env bash
# A MariaDB server on loopback for the MySQL store's tests, from Debian's
# packages (nothing under /etc is changed; no init system is used).
#
#   scripts/mariadb.sh install         apt-get mariadb-server (skipped when present)
#   scripts/mariadb.sh start DIR PORT  a server with its data in DIR on 127.0.0.1:PORT,
#                                      a user `rollback` allowed to create databases;
#                                      writes DIR/env (sourceable):
#                                        ROLLBACK_TEST_MYSQL=mysql://rollback@127.0.0.1:PORT
#                                        ROLLBACK_STORE_PASSWORD=…
#   scripts/mariadb.sh createdb DIR NAME  (re)create an empty database NAME
#   scripts/mariadb.sh stop DIR        stop it
#
# Every start begins from an empty data directory (the tests' databases do
# not pile up).
# The server keeps MariaDB's durable defaults (innodb_flush_log_at_trx_commit
# = 1): the store acknowledges a write once the server has committed it.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PASSWORD=rollback-db-secret

install() {
    bash "$HERE/apt-install.sh" --no-install-recommends mariadb-server mariadb-client
}

db() { mysql --no-defaults -S "$DIR/mysql.sock" -uroot "$@"; }

start() {
    local port=$1
    mkdir -p "$DIR/log"
    rm -rf "$DIR/data"
    mysql_install_db --no-defaults --datadir="$DIR/data" --user=root >"$DIR/log/install.out" 2>&1
    setsid mysqld --no-defaults --datadir="$DIR/data" --socket="$DIR/mysql.sock" --port="$port" \
        --bind-address=127.0.0.1 --user=root --pid-file="$DIR/mysqld.pid" --skip-name-resolve \
        --max-connections=1000 --innodb-buffer-pool-size=128M --log-error="$DIR/log/mysqld.log" \
        >"$DIR/log/mysqld.out" 2>&1 </dev/null &
    echo $! >"$DIR/pid"
    for _ in $(seq 1 120); do
        db -e 'select 1' >/dev/null 2>&1 && break
        sleep 0.5
    done
    db -e "CREATE USER IF NOT EXISTS 'rollback'@'127.0.0.1' IDENTIFIED BY '$PASSWORD';
           GRANT ALL PRIVILEGES ON *.* TO 'rollback'@'127.0.0.1';" || {
        echo "mariadb.sh: the server did not come up; its log:" >&2
        tail -30 "$DIR/log/mysqld.log" >&2 || true
        return 1
    }
    cat >"$DIR/env" <<EOF
export ROLLBACK_TEST_MYSQL=mysql://rollback@127.0.0.1:$port
export ROLLBACK_STORE_PASSWORD=$PASSWORD
EOF
    echo "mariadb.sh: MariaDB on 127.0.0.1:$port (data in $DIR/data)" >&2
}

stop() {
    [ -f "$DIR/pid" ] || return 0
    local pid
    pid=$(cat "$DIR/pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 60); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.5
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$DIR/pid"
}

case "${1:-}" in
install) install ;;
start)
    DIR=$(realpath -m "$2")
    install
    stop
    start "${3:-13406}"
    ;;
stop)
    DIR=$(realpath -m "$2")
    stop
    ;;
createdb)
    DIR=$(realpath -m "$2")
    db -e "DROP DATABASE IF EXISTS \`$3\`; CREATE DATABASE \`$3\`"
    ;;
*)
    echo "usage: $0 install | start DIR PORT | createdb DIR NAME | stop DIR" >&2
    exit 2
    ;;
esac
