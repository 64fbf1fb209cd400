# rollback-host: the commands in README.md. Everything a build needs is set up
# here (scripts/guest-toolchain.sh installs the wasm guest toolchain once).
SHELL := /bin/bash
CARGO ?= cargo
LISTEN ?= 127.0.0.1:9322

.DEFAULT_GOAL := build
.PHONY: toolchain plugins plugin build run test test-plugins test-host test-api test-keystone test-openstack test-mysql test-foreign-plugins test-ui test-durability test-crash client-venv bench bench-load clean

## toolchain: make sure the wasm32-unknown-unknown guest toolchain exists
toolchain:
	bash scripts/guest-toolchain.sh target/guest-toolchain.env

## plugins: build every guest under plugins/ into target/plugins (built-ins)
##          and target/test-plugins (hostile guests used by the tests)
plugins:
	bash scripts/build-plugins.sh

## plugin: create plugins/$(NAME) from the template (if new) and build it
plugin:
	bash scripts/new-plugin.sh $(NAME)

## build: the plugins and the host binary
build: plugins
	$(CARGO) build -p rollback-host

## run: start the service with the built-in plugins on $(LISTEN)
run: build
	$(CARGO) run -p rollback-host -- serve --listen $(LISTEN) --plugins-dir target/plugins --data-dir target/rollback-data

## test: the plugins' native unit tests, the host's and black-box tests (they
##       drive the real python-watcherclient, installed by client-venv),
##       schemathesis against the OpenAPI document, and the Keystone tests
test: build client-venv test-plugins test-host test-api test-keystone test-openstack test-mysql test-galera test-foreign-plugins test-ui test-durability test-crash

## client-venv: python-watcherclient and openstackclient in target/venv
client-venv:
	bash scripts/client-venv.sh

test-plugins:
	$(CARGO) test --manifest-path plugins/Cargo.toml --workspace

test-host:
	python3 scripts/import-graph.py host/src --check
	$(CARGO) build -p rollback-host --features failpoints --bin rollback-host-failpoints
	$(CARGO) test --workspace

## test-api: schemathesis (PyPI) fuzzes a live server against /openapi.json
test-api: build
	bash scripts/schemathesis.sh

## test-durability: the server under strace; every 2xx write answer comes after
##                  the fsyncs of what it wrote (tests/system/strace-durability.py)
test-durability: build
	python3 tests/system/strace-durability.py target/debug/rollback-host

## test-crash: 20 kill -9s at random moments under concurrent writes; after each
##             restart nothing acknowledged is lost or changed (tests/system/crash-loop.py)
test-crash: build
	python3 tests/system/crash-loop.py target/debug/rollback-host --kills 20

## test-mysql: MariaDB (Debian's package) on 127.0.0.1:$(MARIADB_PORT), started and stopped by
##             scripts/mariadb.sh; the MySQL store's own tests, the black-box suite with every
##             server on MySQL (less the tests of sled's own locking and fsync failures), several
##             instances on one database (tests/tests/blackbox/instances.rs), and the kill -9 loop
##             with three instances sharing one database
MARIADB_PORT ?= 13406
MYSQL_SLED_ONLY = --skip fail_stop:: --skip serve::a_second_server_on_the_same_data_dir_is_refused_clearly
test-mysql: build client-venv
	bash scripts/mariadb.sh start target/mariadb $(MARIADB_PORT)
	source target/mariadb/env && export ROLLBACK_TEST_STORE_MYSQL=$$ROLLBACK_TEST_MYSQL && \
	  $(CARGO) test -p rollback-store --test mysql -- --ignored && \
	  $(CARGO) test -p rollback-tests --test blackbox -- $(MYSQL_SLED_ONLY) && \
	  $(CARGO) test -p rollback-tests --test blackbox -- --ignored instances:: --nocapture && \
	  bash scripts/mariadb.sh createdb target/mariadb crashloop && \
	  python3 tests/system/crash-loop.py target/debug/rollback-host --kills 12 \
	    --store $$ROLLBACK_TEST_MYSQL/crashloop --instances 3; \
	  status=$$?; bash scripts/mariadb.sh stop target/mariadb; exit $$status

## test-galera: a three-node MariaDB Galera cluster on loopback (scripts/galera.sh, Debian's
##              mariadb-server and galera-4), an instance on each node, one node killed under
##              load (tests/system/galera.py); the cluster is stopped after
GALERA_PORT ?= 13410
test-galera: build
	bash scripts/galera.sh start target/galera $(GALERA_PORT)
	python3 tests/system/galera.py target/debug/rollback-host target/galera; \
	  status=$$?; bash scripts/galera.sh stop target/galera; exit $$status

## test-keystone: a real Keystone (Debian's package, SQLite) on 127.0.0.1:$(KEYSTONE_PORT),
##                then the ignored Keystone tests against it, and the OpenStack driver's
##                against Keystone and the Nova/Cinder/Ironic double; Keystone is stopped after
KEYSTONE_PORT ?= 35357
test-keystone: build client-venv
	bash scripts/keystone.sh start target/keystone $(KEYSTONE_PORT)
	ROLLBACK_KEYSTONE_ENV=$(CURDIR)/target/keystone/env $(CARGO) test -p rollback-tests --test blackbox --test inprocess -- keystone:: openstack:: --ignored --nocapture --test-threads 3; \
	  status=$$?; bash scripts/keystone.sh stop target/keystone; exit $$status

## test-foreign-plugins: inverters in Python, JavaScript and Rust written outside the
##                       repository with `plugin new`, built with componentize-py /
##                       componentize-js (scripts/plugin-toolchains.sh installs them in
##                       target/plugin-venv, target/plugin-node) or cargo, uploaded, a plan
##                       rolled back with each; hostile Python and JavaScript plugins
##                       contained (tests/system/foreign-plugins.py)
test-foreign-plugins: build toolchain
	bash scripts/plugin-toolchains.sh
	python3 tests/system/foreign-plugins.py target/debug/rollback-host

## test-openstack: a real OpenStack from Debian 12's packages on loopback (scripts/openstack.sh:
##                 MariaDB, RabbitMQ, Keystone, Glance, Placement, Neutron, Nova with three
##                 fake computes, Ironic fake-hardware, Watcher 9), then the seed's story and
##                 what real Nova and Ironic say (tests/system/openstack-story.py); the cloud
##                 is stopped after. A set-up failure fails the target.
test-openstack: build
	bash scripts/openstack.sh start target/openstack
	/usr/bin/python3 tests/system/openstack-story.py target/debug/rollback-host target/openstack; \
	  status=$$?; bash scripts/openstack.sh stop target/openstack; exit $$status

## test-ui: headless Chromium (Debian's package, installed by scripts/browser.sh)
##          loads GET /ui against a server with a rolled-back plan; the
##          screenshot is kept in target/test-output/ui.png
test-ui: build
	bash scripts/browser.sh install
	ROLLBACK_CHROMIUM=$$(bash scripts/browser.sh path) $(CARGO) test -p rollback-tests --test blackbox browser:: -- --ignored --nocapture

## bench: the criterion benchmarks (store writes, one invert and 100 batched, wasm beside native,
##        a rollback planned for 10 to 10,000 actions, drawing a plan) and the
##        black-box ones on the release binary (start-up cold and warm, executing and
##        rolling back a 4,000-action plan); figures and how to read them in BENCHMARKS.md
bench: plugins
	$(CARGO) bench -p rollback-store --bench commit
	$(CARGO) bench -p rollback-host --bench invert
	$(CARGO) bench -p rollback-host --bench planner
	$(CARGO) bench -p rollback-host --bench graph
	$(CARGO) build --release -p rollback-host
	python3 scripts/bench-languages.py --bin target/release/rollback-host
	python3 scripts/bench-startup.py --bin target/release/rollback-host --plugins target/plugins --runs 7
	python3 scripts/bench-execute.py --bin target/release/rollback-host --actions 4000 --kind migrate --rollback
	$(MAKE) bench-load

## bench-load: wrk at /healthz and at the rollback endpoint in the same run (release
##             server, 8,000 executed plans of 10 migrations), then the store's own
##             group commit for the same records; the rates and both ratios
bench-load: plugins
	$(CARGO) build --release -p rollback-host
	$(CARGO) build --release -p rollback-store --example group_commit
	bash scripts/wrk.sh install
	python3 scripts/bench-load.py --bin target/release/rollback-host --plugins target/plugins --plans 8000 --seconds 4

clean:
	$(CARGO) clean
	$(CARGO) clean --manifest-path plugins/Cargo.toml
