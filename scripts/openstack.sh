#!/usr/bin/env bash
# A real OpenStack on loopback for the tests, from Debian 12's packages (Zed):
# MariaDB, RabbitMQ, Keystone, Glance, Placement, Neutron, Nova (api,
# conductor, scheduler, three nova-compute on the fake live-migrate driver),
# Ironic (fake-hardware) and Watcher 9 (api, decision engine, applier).
#
#   scripts/openstack.sh install      apt-get the packages (skipped when present)
#   scripts/openstack.sh start DIR    set up DIR, start every service, seed the
#                                     cloud (scripts/openstack/seed.py), write
#                                     DIR/env (sourceable)
#   scripts/openstack.sh stop DIR     stop everything started in DIR
#
# Every service runs from Debian's Python modules with configuration written
# here into DIR (nothing under /etc is changed; no init system is used), on
# 127.0.0.1 ports 13306 (MariaDB), 15673 (AMQP), 15000 (Keystone), 19292
# (Glance), 18778 (Placement), 19696 (Neutron), 18774 (Nova), 16385
# (Ironic), 19322 (Watcher). Logs: DIR/log/*.log.
#
# Known traps of these packages, handled below: Neutron's port list answers
# 500 (port_forwardings) unless the router and port_forwarding service
# plugins are enabled; nova-compute must not be given the database settings;
# a nova-compute holding servers must not be restarted (the fake driver
# forgets them); Cinder's LVM backend cannot run here (no device-mapper), so
# there is no Cinder and volume_migrate is tested on the project's double.
set -euo pipefail
PY=/usr/bin/python3
PASSWORD=rollback-os-secret
HERE=$(cd "$(dirname "$0")" && pwd)

PACKAGES=(mariadb-server rabbitmq-server keystone uwsgi uwsgi-plugin-python3
    python3-nova nova-common python3-glance glance-common python3-glance-store
    python3-placement python3-neutron neutron-common python3-ironic python3-watcher
    python3-pymysql python3-openstackclient python3-watcherclient python3-ironicclient)

install() {
    bash "$HERE/apt-install.sh" --no-install-recommends "${PACKAGES[@]}"
}

# Runs "$2..." in the background as service $1 (pid in DIR/pids, output in
# DIR/log/$1.out).
launch() {
    local name=$1
    shift
    setsid "$@" >"$DIR/log/$name.out" 2>&1 </dev/null &
    echo $! >"$DIR/pids/$name"
}

# The program text that runs the main() of one of Debian's OpenStack
# modules: pymain MODULE ARGS... runs it in the foreground; for launch, use
# $PY -c "$(entry MODULE)" ARGS...
entry() { echo "import sys; from $1 import main; sys.argv[0] = '$1'; sys.exit(main())"; }
pymain() {
    local module=$1
    shift
    $PY -c "$(entry "$module")" "$@"
}

# Whether anything answers HTTP at $1 (any status: Glance's root is a 300).
up() {
    $PY -c "
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=2)
except urllib.error.HTTPError:
    pass" "$1" 2>/dev/null
}

wait_for() {
    local what=$1 url=$2 tries=${3:-300}
    for _ in $(seq 1 "$tries"); do
        if up "$url"; then return 0; fi
        sleep 0.5
    done
    echo "openstack.sh: $what did not come up at $url; its log:" >&2
    tail -40 "$DIR/log/$what.out" "$DIR/log/$what.log" 2>/dev/null >&2 || true
    return 1
}

db() { mysql --no-defaults -S "$DIR/mysql.sock" -uroot "$@"; }
dburl() { echo "mysql+pymysql://os:$PASSWORD@127.0.0.1:13306/$1?charset=utf8"; }

mariadb() {
    if [ ! -d "$DIR/mysql/mysql" ]; then
        mysql_install_db --no-defaults --datadir="$DIR/mysql" --user=root >"$DIR/log/mysql-install.out" 2>&1
    fi
    launch mysql mysqld --no-defaults --datadir="$DIR/mysql" --socket="$DIR/mysql.sock" --port=13306 \
        --bind-address=127.0.0.1 --user=root --pid-file="$DIR/mysql.pid" --skip-name-resolve \
        --max-connections=1000 --innodb-buffer-pool-size=128M --innodb-flush-log-at-trx-commit=2 \
        --log-error="$DIR/log/mysql.log"
    for _ in $(seq 1 120); do
        db -e 'select 1' >/dev/null 2>&1 && break
        sleep 0.5
    done
    db -e "CREATE USER IF NOT EXISTS 'os'@'127.0.0.1' IDENTIFIED BY '$PASSWORD';
           GRANT ALL PRIVILEGES ON *.* TO 'os'@'127.0.0.1';"
    for d in keystone glance placement neutron nova_api nova nova_cell0 ironic watcher; do
        db -e "CREATE DATABASE IF NOT EXISTS $d CHARACTER SET utf8"
    done
}

rabbit_env() {
    export HOME=$DIR/rabbit RABBITMQ_BASE=$DIR/rabbit RABBITMQ_MNESIA_BASE=$DIR/rabbit/mnesia \
        RABBITMQ_LOG_BASE=$DIR/log RABBITMQ_NODENAME=rbhost@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
        RABBITMQ_NODE_PORT=15673 RABBITMQ_DIST_PORT=25673 ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT=14369 \
        RABBITMQ_PID_FILE=$DIR/rabbit/pid RABBITMQ_ENABLED_PLUGINS_FILE=$DIR/rabbit/enabled_plugins \
        RABBITMQ_CONFIG_FILE=$DIR/rabbit/rabbitmq RABBITMQ_ADVANCED_CONFIG_FILE=$DIR/rabbit/advanced.config \
        ERL_CRASH_DUMP=$DIR/log/erl_crash.dump
}

rabbitmq() {
    mkdir -p "$DIR/rabbit/mnesia"
    echo '[].' >"$DIR/rabbit/enabled_plugins"
    printf 'loopback_users = none\n' >"$DIR/rabbit/rabbitmq.conf"
    (rabbit_env && launch rabbitmq /usr/lib/rabbitmq/bin/rabbitmq-server)
    (rabbit_env && /usr/lib/rabbitmq/bin/rabbitmqctl wait --timeout 120 "$DIR/rabbit/pid" >/dev/null)
}

TRANSPORT=rabbit://guest:guest@127.0.0.1:15673/

# A section [$1] of the service user's credentials, for calling other
# services; `authtoken` is the one every API service validates tokens with.
service_auth() {
    cat <<EOF
[$1]
auth_url = http://127.0.0.1:15000/v3
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = os-service
password = $PASSWORD
region_name = RegionOne
EOF
}
authtoken() {
    service_auth keystone_authtoken
    echo "www_authenticate_uri = http://127.0.0.1:15000/v3"
}
policy_old_defaults() {
    printf '[oslo_policy]\nenforce_scope = false\nenforce_new_defaults = false\n'
}

keystone() {
    mkdir -p "$DIR/keystone/fernet" "$DIR/keystone/credential"
    cat >"$DIR/keystone/keystone.conf" <<EOF
[DEFAULT]
log_file = $DIR/log/keystone.log
[database]
connection = $(dburl keystone)
[fernet_tokens]
key_repository = $DIR/keystone/fernet
[fernet_receipts]
key_repository = $DIR/keystone/fernet
[credential]
key_repository = $DIR/keystone/credential
$(policy_old_defaults)
EOF
    local manage=(keystone-manage --config-file "$DIR/keystone/keystone.conf")
    {
        "${manage[@]}" db_sync
        "${manage[@]}" fernet_setup --keystone-user root --keystone-group root
        "${manage[@]}" credential_setup --keystone-user root --keystone-group root
        "${manage[@]}" bootstrap --bootstrap-password "$PASSWORD" \
            --bootstrap-admin-url http://127.0.0.1:15000/v3/ --bootstrap-public-url http://127.0.0.1:15000/v3/ \
            --bootstrap-internal-url http://127.0.0.1:15000/v3/ --bootstrap-region-id RegionOne
    } >"$DIR/log/keystone-manage.out" 2>&1
    launch keystone uwsgi --plugins python3 --http11-socket 127.0.0.1:15000 --add-header "Connection: close" \
        --wsgi-file /usr/bin/keystone-wsgi-public --master --processes 2 --threads 2 --lazy-apps \
        --die-on-term --buffer-size 65535 --env "OS_KEYSTONE_CONFIG_FILES=$DIR/keystone/keystone.conf"
    wait_for keystone http://127.0.0.1:15000/v3
}

glance() {
    mkdir -p "$DIR/glance/images" "$DIR/glance/staging"
    cat >"$DIR/glance/glance-api.conf" <<EOF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = 19292
workers = 1
log_file = $DIR/log/glance.log
node_staging_uri = file://$DIR/glance/staging
[database]
connection = $(dburl glance)
[glance_store]
stores = file
default_store = file
filesystem_store_datadir = $DIR/glance/images
[paste_deploy]
flavor = keystone
config_file = /etc/glance/glance-api-paste.ini
$(authtoken)
$(policy_old_defaults)
EOF
    pymain glance.cmd.manage --config-file "$DIR/glance/glance-api.conf" db_sync >"$DIR/log/glance-manage.out" 2>&1
    launch glance $PY -c "$(entry glance.cmd.api)" --config-file "$DIR/glance/glance-api.conf"
}

placement() {
    mkdir -p "$DIR/placement"
    cat >"$DIR/placement/placement.conf" <<EOF
[DEFAULT]
log_file = $DIR/log/placement.log
[api]
auth_strategy = keystone
[placement_database]
connection = $(dburl placement)
$(authtoken)
$(policy_old_defaults)
EOF
    placement-manage --config-file "$DIR/placement/placement.conf" db sync >"$DIR/log/placement-manage.out" 2>&1
    launch placement uwsgi --plugins python3 --http11-socket 127.0.0.1:18778 --add-header "Connection: close" \
        --wsgi-file /usr/bin/placement-api --master --processes 1 --threads 4 --lazy-apps --die-on-term \
        --buffer-size 65535 --env "OS_PLACEMENT_CONFIG_DIR=$DIR/placement"
}

neutron() {
    mkdir -p "$DIR/neutron"
    cat >"$DIR/neutron/neutron.conf" <<EOF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = 19696
core_plugin = ml2
# Without these two, listing ports answers 500 (port_forwardings); even with
# them, until the process has run one query (seed.py lists networks first).
# One process (no workers), so that one query is enough.
service_plugins = router,port_forwarding
auth_strategy = keystone
transport_url = $TRANSPORT
api_workers = 0
rpc_workers = 0
rpc_state_report_workers = 0
notify_nova_on_port_status_changes = false
notify_nova_on_port_data_changes = false
api_paste_config = /etc/neutron/api-paste.ini
log_file = $DIR/log/neutron.log
state_path = $DIR/neutron
[database]
connection = $(dburl neutron)
[ml2]
type_drivers = flat
tenant_network_types =
mechanism_drivers =
extension_drivers = port_security
[oslo_concurrency]
lock_path = $DIR/neutron/lock
$(authtoken)
$(service_auth nova)
$(policy_old_defaults)
EOF
    pymain neutron.db.migration.cli --config-file "$DIR/neutron/neutron.conf" upgrade heads \
        >"$DIR/log/neutron-manage.out" 2>&1
    launch neutron $PY -c "$(entry neutron.cmd.eventlet.server)" --config-file "$DIR/neutron/neutron.conf"
}

nova() {
    mkdir -p "$DIR/nova/state" "$DIR/nova/lock"
    # Shared by every nova process; the database settings are apart, for
    # the processes that may have them (not nova-compute).
    cat >"$DIR/nova/nova.conf" <<EOF
[DEFAULT]
transport_url = $TRANSPORT
compute_driver = fake.FakeLiveMigrateDriver
my_ip = 127.0.0.1
state_path = $DIR/nova/state
enabled_apis = osapi_compute
osapi_compute_listen = 127.0.0.1
osapi_compute_listen_port = 18774
osapi_compute_workers = 1
[api]
auth_strategy = keystone
[wsgi]
api_paste_config = /etc/nova/api-paste.ini
[scheduler]
discover_hosts_in_cells_interval = 2
workers = 1
[conductor]
workers = 1
[oslo_concurrency]
lock_path = $DIR/nova/lock
[glance]
region_name = RegionOne
[cinder]
os_region_name = RegionOne
[notifications]
notification_format = unversioned
[oslo_messaging_notifications]
driver = noop
$(authtoken)
$(service_auth placement)
$(service_auth neutron)
$(policy_old_defaults)
EOF
    cat >"$DIR/nova/nova-db.conf" <<EOF
[api_database]
connection = $(dburl nova_api)
[database]
connection = $(dburl nova)
EOF
    local conf=(--config-file "$DIR/nova/nova.conf" --config-file "$DIR/nova/nova-db.conf")
    if [ ! -f "$DIR/nova/synced" ]; then
        {
            pymain nova.cmd.manage "${conf[@]}" api_db sync
            pymain nova.cmd.manage "${conf[@]}" cell_v2 map_cell0 --database_connection "$(dburl nova_cell0)"
            pymain nova.cmd.manage "${conf[@]}" cell_v2 create_cell --name cell1 \
                --transport-url "$TRANSPORT" --database_connection "$(dburl nova)" || true
            pymain nova.cmd.manage "${conf[@]}" db sync
        } >"$DIR/log/nova-manage.out" 2>&1
        touch "$DIR/nova/synced"
    fi
    launch nova-api $PY -c "$(entry nova.cmd.api)" "${conf[@]}" --log-file "$DIR/log/nova-api.log"
    launch nova-conductor $PY -c "$(entry nova.cmd.conductor)" "${conf[@]}" --log-file "$DIR/log/nova-conductor.log"
    launch nova-scheduler $PY -c "$(entry nova.cmd.scheduler)" "${conf[@]}" --log-file "$DIR/log/nova-scheduler.log"
    for n in 1 2 3; do
        printf '[DEFAULT]\nhost = compute-%s\n' "$n" >"$DIR/nova/compute-$n.conf"
        launch "nova-compute-$n" $PY -c "$(entry nova.cmd.compute)" --config-file "$DIR/nova/nova.conf" \
            --config-file "$DIR/nova/compute-$n.conf" --log-file "$DIR/log/nova-compute-$n.log"
    done
}

ironic() {
    mkdir -p "$DIR/ironic"
    cat >"$DIR/ironic/ironic.conf" <<EOF
[DEFAULT]
auth_strategy = keystone
transport_url = $TRANSPORT
enabled_hardware_types = fake-hardware
enabled_boot_interfaces = fake
enabled_deploy_interfaces = fake
enabled_management_interfaces = fake
enabled_power_interfaces = fake
enabled_inspect_interfaces = fake
enabled_console_interfaces = fake
enabled_raid_interfaces = fake
enabled_vendor_interfaces = fake
enabled_bios_interfaces = fake
enabled_rescue_interfaces = fake
enabled_network_interfaces = noop
enabled_storage_interfaces = noop
default_network_interface = noop
log_file = $DIR/log/ironic.log
host = ironic-1
[api]
host_ip = 127.0.0.1
port = 16385
api_workers = 0
[conductor]
automated_clean = false
[dhcp]
dhcp_provider = none
[database]
connection = $(dburl ironic)
$(authtoken)
$(policy_old_defaults)
EOF
    pymain ironic.cmd.dbsync --config-file "$DIR/ironic/ironic.conf" upgrade >"$DIR/log/ironic-manage.out" 2>&1
    launch ironic-api $PY -c "$(entry ironic.cmd.api)" --config-file "$DIR/ironic/ironic.conf"
    launch ironic-conductor $PY -c "$(entry ironic.cmd.conductor)" --config-file "$DIR/ironic/ironic.conf" \
        --log-file "$DIR/log/ironic-conductor.log"
}

watcher() {
    mkdir -p "$DIR/watcher"
    cat >"$DIR/watcher/watcher.conf" <<EOF
[DEFAULT]
transport_url = $TRANSPORT
log_file = $DIR/log/watcher.log
[api]
host = 127.0.0.1
port = 19322
workers = 1
[database]
connection = $(dburl watcher)
[oslo_messaging_notifications]
driver = noop
# Nova sends no notifications here: the decision engine's model of the
# cloud is refreshed by polling, often, so that an audit sees what the tests
# just did.
[watcher_cluster_data_model_collectors.compute]
period = 5
[watcher_cluster_data_model_collectors.baremetal]
period = 5
[watcher_cluster_data_model_collectors.storage]
period = 3600
$(authtoken)
$(service_auth watcher_clients_auth)
[nova_client]
region_name = RegionOne
[ironic_client]
region_name = RegionOne
[placement_client]
region_name = RegionOne
[glance_client]
region_name = RegionOne
[neutron_client]
region_name = RegionOne
$(policy_old_defaults)
EOF
    pymain watcher.cmd.dbmanage --config-file "$DIR/watcher/watcher.conf" upgrade >"$DIR/log/watcher-manage.out" 2>&1
    launch watcher-api $PY -c "$(entry watcher.cmd.api)" --config-file "$DIR/watcher/watcher.conf"
    launch watcher-decision-engine $PY -c "$(entry watcher.cmd.decisionengine)" --config-file "$DIR/watcher/watcher.conf" \
        --log-file "$DIR/log/watcher-decision-engine.log"
    launch watcher-applier $PY -c "$(entry watcher.cmd.applier)" --config-file "$DIR/watcher/watcher.conf" \
        --log-file "$DIR/log/watcher-applier.log"
}

start() {
    DIR=$1
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd)
    if [ -d "$DIR/pids" ] && [ -n "$(ls "$DIR/pids" 2>/dev/null)" ]; then
        stop "$DIR"
    fi
    # Always a new cloud: the fake driver forgets its servers when a
    # nova-compute restarts, so yesterday's databases would lie.
    rm -rf "${DIR:?}"/*
    mkdir -p "$DIR/log" "$DIR/pids"
    # A set-up that fails leaves nothing running.
    trap 'echo "openstack.sh: set-up failed; stopping what started (logs in $DIR/log)" >&2; stop "$DIR"' ERR
    local t0=$SECONDS
    mariadb
    rabbitmq
    keystone
    $PY "$HERE/openstack/seed.py" catalog "$DIR" "$PASSWORD"
    glance
    placement
    neutron
    ironic
    watcher
    wait_for placement http://127.0.0.1:18778/
    nova
    wait_for glance http://127.0.0.1:19292/
    wait_for neutron http://127.0.0.1:19696/
    wait_for nova-api http://127.0.0.1:18774/
    wait_for ironic-api http://127.0.0.1:16385/
    wait_for watcher-api http://127.0.0.1:19322/
    $PY "$HERE/openstack/seed.py" cloud "$DIR" "$PASSWORD"
    echo "openstack.sh: the cloud is up in $((SECONDS - t0)) s (env in $DIR/env)" >&2
}

stop() {
    DIR=$1
    [ -d "$DIR/pids" ] || return 0
    local pids=()
    for f in "$DIR"/pids/*; do
        [ -f "$f" ] || continue
        pids+=("$(cat "$f")")
    done
    # Each service was started in a session of its own: end its group.
    for p in "${pids[@]}"; do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null || true; done
    for _ in $(seq 1 50); do
        local alive=0
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break
        sleep 0.2
    done
    for p in "${pids[@]}"; do kill -KILL -- "-$p" 2>/dev/null || kill -KILL "$p" 2>/dev/null || true; done
    (rabbit_env && pkill -f "epmd.*14369" 2>/dev/null) || true
    rm -f "$DIR"/pids/*
}

case "${1:-}" in
install) install ;;
start) install; start "${2:?DIR}" ;;
stop) stop "${2:?DIR}" ;;
*) echo "usage: $0 install | start DIR | stop DIR" >&2; exit 2 ;;
esac
