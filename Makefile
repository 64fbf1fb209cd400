# rollback-host: the commands in README.md. Everything a build needs is set up
# here (scripts/guest-toolchain.sh installs the wasm guest toolchain once).
SHELL := /bin/bash
CARGO ?= cargo
LISTEN ?= 127.0.0.1:9322

.DEFAULT_GOAL := build
.PHONY: toolchain plugins plugin build run test test-plugins test-host client-venv bench clean

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

## test: the plugins' native unit tests, then the host's and black-box tests
##       (the latter drive the real python-watcherclient, installed by client-venv)
test: build client-venv test-plugins test-host

## client-venv: python-watcherclient and openstackclient in target/venv
client-venv:
	bash scripts/client-venv.sh

test-plugins:
	$(CARGO) test --manifest-path plugins/Cargo.toml --workspace

test-host:
	$(CARGO) test --workspace

## bench: criterion benchmarks (release build); figures go in BENCHMARKS.md
bench:
	$(CARGO) bench -p rollback-store --bench commit

clean:
	$(CARGO) clean
	$(CARGO) clean --manifest-path plugins/Cargo.toml
