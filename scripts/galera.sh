#!/usr/bin/env bash
# A three-node MariaDB Galera cluster on loopback for the MySQL store's
# tests, from Debian's packages (mariadb-server, galera-4, rsync for state
# transfers); nothing under /etc is changed, no init system is used.
#
#   scripts/galera.sh start DIR PORT   nodes 1..3 with their data in DIR/node-N,
#                                      SQL on 127.0.0.1:PORT+N, a user `rollback`;
#                                      writes DIR/env (sourceable):
#                                        ROLLBACK_TEST_GALERA=mysql://rollback@127.0.0.1:PORT+1 … +3
#                                        (space-separated) and ROLLBACK_STORE_PASSWORD
#   scripts/galera.sh kill DIR N       SIGKILL node N (as a machine loss would)
#   scripts/galera.sh stop DIR         stop every node
#
# Node 1 bootstraps the cluster; 2 and 3 join it by a state transfer (rsync).
# The servers run as the `mysql` user (Debian's package makes it): rsync's
# state-transfer daemon, started as root, would drop to `nobody`. Every start
# begins from empty data directories.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PASSWORD=rollback-db-secret
NODES=3

install() {
    bash "$HERE/apt-install.sh" --no-install-recommends mariadb-server mariadb-client galera-4 rsync
}

# The ports of node $1: SQL, group communication, incremental and full state transfer.
sql_port() { echo $((BASE + $1)); }
gcomm_port() { echo $((BASE + 100 + $1 * 10)); }
ist_port() { echo $((BASE + 101 + $1 * 10)); }
sst_port() { echo $((BASE + 102 + $1 * 10)); }

cluster_address() {
    local peers=()
    for n in $(seq 1 $NODES); do peers+=("127.0.0.1:$(gcomm_port "$n")"); done
    local IFS=,
    echo "gcomm://${peers[*]}"
}

db() { mysql --no-defaults -S "$DIR/node-$1/mysql.sock" -uroot "${@:2}"; }

launch() {
    local n=$1 extra=${2:-}
    local node=$DIR/node-$n
    # shellcheck disable=SC2086
    setsid mysqld --no-defaults --datadir="$node/data" --socket="$node/mysql.sock" \
        --port="$(sql_port "$n")" --bind-address=127.0.0.1 --user=mysql --pid-file="$node/mysqld.pid" \
        --skip-name-resolve --max-connections=500 --innodb-buffer-pool-size=64M \
        --log-error="$node/mysqld.log" --binlog-format=ROW --default-storage-engine=InnoDB \
        --innodb-autoinc-lock-mode=2 --wsrep-on=ON --wsrep-provider=/usr/lib/galera/libgalera_smm.so \
        --wsrep-cluster-name=rollback-test --wsrep-cluster-address="$(cluster_address)" \
        --wsrep-node-name="node-$n" --wsrep-node-address="127.0.0.1:$(gcomm_port "$n")" \
        --wsrep-provider-options="gmcast.listen_addr=tcp://127.0.0.1:$(gcomm_port "$n");ist.recv_addr=127.0.0.1:$(ist_port "$n");gcache.size=64M;pc.wait_prim_timeout=PT10S" \
        --wsrep-sst-method=rsync --wsrep-sst-receive-address="127.0.0.1:$(sst_port "$n")" \
        $extra >"$node/mysqld.out" 2>&1 </dev/null &
    echo $! >"$node/pid"
}

# Waits until node $1 answers and is synced with the cluster.
synced() {
    local n=$1
    for _ in $(seq 1 240); do
        if [ "$(db "$n" -N -e "SHOW STATUS LIKE 'wsrep_local_state_comment'" 2>/dev/null | cut -f2)" = Synced ]; then
            return 0
        fi
        sleep 0.5
    done
    echo "galera.sh: node $n did not join the cluster; its log:" >&2
    tail -40 "$DIR/node-$n/mysqld.log" >&2 || true
    return 1
}

start() {
    for n in $(seq 1 $NODES); do
        rm -rf "$DIR/node-$n"
        mkdir -p "$DIR/node-$n"
    done
    mysql_install_db --no-defaults --datadir="$DIR/node-1/data" --user=mysql >"$DIR/node-1/install.out" 2>&1
    mkdir -p "$DIR/node-2/data" "$DIR/node-3/data"
    chown -R mysql:mysql "$DIR"/node-*
    launch 1 --wsrep-new-cluster
    synced 1
    db 1 -e "CREATE USER IF NOT EXISTS 'rollback'@'127.0.0.1' IDENTIFIED BY '$PASSWORD';
             GRANT ALL PRIVILEGES ON *.* TO 'rollback'@'127.0.0.1';"
    # Nodes 2 and 3 join by a full state transfer (rsync) from node 1.
    for n in $(seq 2 $NODES); do
        launch "$n"
        synced "$n"
    done
    local urls=()
    for n in $(seq 1 $NODES); do urls+=("mysql://rollback@127.0.0.1:$(sql_port "$n")"); done
    cat >"$DIR/env" <<EOF
export ROLLBACK_TEST_GALERA="${urls[*]}"
export ROLLBACK_STORE_PASSWORD=$PASSWORD
EOF
    echo "galera.sh: $NODES nodes synced, SQL on 127.0.0.1:$(sql_port 1)-$(sql_port $NODES)" >&2
}

kill_node() {
    local pidfile=$DIR/node-$1/pid
    [ -f "$pidfile" ] || return 0
    kill -9 "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
}

stop_node() {
    local pidfile=$DIR/node-$1/pid
    [ -f "$pidfile" ] || return 0
    local pid
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 120); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.25
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
}

stop() {
    for n in $(seq $NODES -1 1); do stop_node "$n"; done
}

cmd=${1:-}
DIR=$(realpath -m "${2:-target/galera}")
case "$cmd" in
start)
    BASE=${3:-13410}
    install
    mkdir -p "$DIR"
    stop
    start
    ;;
kill)
    kill_node "$3"
    ;;
stop)
    stop
    ;;
*)
    echo "usage: $0 start DIR PORT | kill DIR N | stop DIR" >&2
    exit 2
    ;;
esac
