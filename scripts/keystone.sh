#!/usr/bin/env bash
# A real Keystone (Debian's package, Zed 22.x) on SQLite for the auth tests.
#
#   scripts/keystone.sh install        apt-get the packages (skipped when present)
#   scripts/keystone.sh start DIR PORT set up DIR (db, keys, bootstrap) once, run
#                                      Keystone on 127.0.0.1:PORT under uwsgi, create
#                                      the test users, write DIR/env (sourceable)
#   scripts/keystone.sh stop DIR       stop the Keystone started in DIR
#
# DIR/env defines KEYSTONE_URL, the service user's credentials, and one user
# per role (rb-reader, rb-member, rb-admin) plus rb-observer, whose only role
# no rule names. Tokens live KEYSTONE_TOKEN_LIFETIME seconds (default 45).
# Debian's interpreter (/usr/bin/python3) runs everything: a python3 found
# earlier on PATH (pyenv) does not see Debian's keystone modules.
set -euo pipefail
PY=/usr/bin/python3
PASSWORD=rollback-test-secret

# Whether something answers GET $1 (Debian's Python; no curl needed).
up() {
    $PY -c "import sys,urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" "$1" 2>/dev/null
}

install() {
    if [ -x /usr/bin/keystone-manage ] && [ -x /usr/bin/uwsgi ] \
        && [ -e /usr/lib/uwsgi/plugins/python3_plugin.so ]; then
        return 0
    fi
    bash "$(dirname "$0")/apt-install.sh" keystone uwsgi uwsgi-plugin-python3
}

start() {
    local dir=$1 port=$2
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    local url="http://127.0.0.1:$port"
    if [ -f "$dir/uwsgi.pid" ] && kill -0 "$(cat "$dir/uwsgi.pid")" 2>/dev/null; then
        stop "$dir"
    fi
    cat >"$dir/keystone.conf" <<EOF
[DEFAULT]
log_file = $dir/keystone.log
[database]
connection = sqlite:///$dir/keystone.db
[token]
provider = fernet
# Short, so the tests can watch a token expire.
expiration = ${KEYSTONE_TOKEN_LIFETIME:-45}
[fernet_tokens]
key_repository = $dir/fernet-keys
[fernet_receipts]
key_repository = $dir/fernet-keys
[credential]
key_repository = $dir/credential-keys
[oslo_policy]
enforce_scope = false
enforce_new_defaults = false
EOF
    local manage=(/usr/bin/keystone-manage --config-file "$dir/keystone.conf")
    if [ ! -f "$dir/bootstrapped" ]; then
        rm -rf "$dir/keystone.db" "$dir/fernet-keys" "$dir/credential-keys"
        mkdir -p "$dir/fernet-keys" "$dir/credential-keys"
        "${manage[@]}" db_sync
        "${manage[@]}" fernet_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)"
        "${manage[@]}" credential_setup --keystone-user "$(id -un)" --keystone-group "$(id -gn)"
        "${manage[@]}" bootstrap --bootstrap-password "$PASSWORD" \
            --bootstrap-admin-url "$url/v3/" --bootstrap-public-url "$url/v3/" \
            --bootstrap-internal-url "$url/v3/" --bootstrap-region-id RegionOne
        # WAL: Keystone's reader and writer connections would otherwise lock
        # each other out of SQLite ("database is locked" on every API write).
        $PY -c "import sqlite3,sys; sqlite3.connect(sys.argv[1]).execute('pragma journal_mode=wal')" \
            "$dir/keystone.db"
        touch "$dir/bootstrapped"
    fi
    if up "$url/v3"; then
        echo "keystone.sh: something already answers on $url; stop it or choose another port" >&2
        exit 1
    fi
    OS_KEYSTONE_CONFIG_FILES="$dir/keystone.conf" /usr/bin/uwsgi \
        --plugins python3 --http11-socket "127.0.0.1:$port" --add-header "Connection: close" \
        --wsgi-file /usr/bin/keystone-wsgi-public --master --processes 1 --threads 1 \
        --lazy-apps --die-on-term --buffer-size 65535 \
        --env "OS_KEYSTONE_CONFIG_FILES=$dir/keystone.conf" \
        --pidfile "$dir/uwsgi.pid" --daemonize "$dir/uwsgi.log"
    for _ in $(seq 1 150); do
        if up "$url/v3"; then break; fi
        sleep 0.2
    done
    up "$url/v3" || { tail -30 "$dir/uwsgi.log" >&2; exit 1; }
    KEYSTONE_URL=$url PASSWORD=$PASSWORD ENV_FILE="$dir/env" $PY - <<'EOF'
import json, os, urllib.request, urllib.error
url = os.environ["KEYSTONE_URL"]; pw = os.environ["PASSWORD"]

def call(method, path, body=None, token=None):
    req = urllib.request.Request(url + path, method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json", **({"X-Auth-Token": token} if token else {})})
    with urllib.request.urlopen(req) as r:
        data = r.read()
        return r.headers, (json.loads(data) if data else None)

def token(user, project="admin"):
    h, _ = call("POST", "/v3/auth/tokens", {"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"id": "default"}, "password": pw}}},
        "scope": {"project": {"name": project, "domain": {"id": "default"}}}}})
    return h["X-Subject-Token"]

admin = token("admin")
def find(kind, name):
    _, body = call("GET", f"/v3/{kind}?name={name}", token=admin)
    return body[kind][0]["id"] if body[kind] else None
def ensure(kind, name, body):
    return find(kind, name) or call("POST", f"/v3/{kind}", {kind[:-1]: body}, admin)[1][kind[:-1]]["id"]

roles = {r: ensure("roles", r, {"name": r}) for r in ("reader", "member", "admin", "service", "observer")}
project = find("projects", "admin")
service_project = ensure("projects", "service", {"name": "service", "domain_id": "default"})
users = {}
# rb-observer holds a role no rule names: a valid token that may do nothing.
for user, role, proj in [("rb-reader", "reader", project), ("rb-member", "member", project),
                         ("rb-admin", "admin", project), ("rb-observer", "observer", project),
                         ("rollback", "service", service_project)]:
    uid = ensure("users", user, {"name": user, "password": pw, "domain_id": "default"})
    call("PUT", f"/v3/projects/{proj}/users/{uid}/roles/{roles[role]}", token=admin)
    if user == "rollback":
        call("PUT", f"/v3/projects/{service_project}/users/{uid}/roles/{roles['admin']}", token=admin)
    users[user] = uid
# The catalog entry the watcher CLI looks up (the URL is rewritten by the test).
svc = find("services", "watcher") or call("POST", "/v3/services", {"service": {
    "name": "watcher", "type": "infra-optim"}}, admin)[1]["service"]["id"]
# The services the OpenStack driver looks up; each test adds endpoints to
# them in a region of its own, pointing at its test double.
cloud = {}
for name, kind in [("nova", "compute"), ("cinderv3", "volumev3"), ("ironic", "baremetal")]:
    cloud[kind] = find("services", name) or call("POST", "/v3/services", {"service": {
        "name": name, "type": kind}}, admin)[1]["service"]["id"]
with open(os.environ["ENV_FILE"], "w") as f:
    f.write(f"KEYSTONE_URL={url}\nKEYSTONE_PASSWORD={pw}\nKEYSTONE_PROJECT_ID={project}\n"
            f"KEYSTONE_WATCHER_SERVICE_ID={svc}\n"
            f"KEYSTONE_COMPUTE_SERVICE_ID={cloud['compute']}\n"
            f"KEYSTONE_VOLUMEV3_SERVICE_ID={cloud['volumev3']}\n"
            f"KEYSTONE_BAREMETAL_SERVICE_ID={cloud['baremetal']}\n"
            f"KEYSTONE_SERVICE_PROJECT_ID={service_project}\n")
EOF
    echo "keystone.sh: Keystone on $url (env in $dir/env)" >&2
}

stop() {
    local dir=$1
    if [ -f "$dir/uwsgi.pid" ]; then
        local pid
        pid=$(cat "$dir/uwsgi.pid")
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        rm -f "$dir/uwsgi.pid"
    fi
}

case "${1:-}" in
install) install ;;
start) install; start "${2:?DIR}" "${3:?PORT}" ;;
stop) stop "${2:?DIR}" ;;
*) echo "usage: $0 install | start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
