# Thin wrapper over the CMake presets: the README's commands.
#   make          build the release preset into build/release and link bin/ to it
#   make check    every test: unit + end-to-end (release), unit + e2e (asan), fuzz smoke runs
#   make run      install dependencies, build, start server + agent in the foreground (Ctrl-C stops)
#   make up       the same in the background, returning once the agent is online; make down stops
#                 (STORE=postgres uses a local PostgreSQL under var/pg)
PRESET ?= release
STORE ?= sqlite
JOBS ?= $(shell nproc)
DEPS_STAMP := build/.deps-ok

.PHONY: all build deps check test test-asan fuzz fuzz-smoke run up down format tidy bench clean

all: build

$(DEPS_STAMP): scripts/deps.sh
	bash scripts/deps.sh
	@mkdir -p build && touch $@

deps: $(DEPS_STAMP)

build: $(DEPS_STAMP)
	cmake --preset $(PRESET) >/dev/null
	cmake --build --preset $(PRESET) -j $(JOBS)
	ln -sfn build/$(PRESET)/bin bin

test: build
	bash scripts/with-pg.sh ctest --preset $(PRESET) -j 2

test-asan: $(DEPS_STAMP)
	cmake --preset asan >/dev/null
	cmake --build --preset asan -j $(JOBS)
	bash scripts/with-pg.sh ctest --preset asan -j 2

fuzz: $(DEPS_STAMP)
	cmake --preset fuzz >/dev/null
	cmake --build --preset fuzz -j $(JOBS)

fuzz-smoke: fuzz
	bash fuzz/smoke.sh build/fuzz

check: test test-asan fuzz-smoke

run: build
	bash scripts/stack.sh run

up: build
	STORE=$(STORE) bash scripts/stack.sh up

down:
	bash scripts/stack.sh down

bench: build
	bash bench/run-all.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

tidy: build
	clang-tidy -p build/$(PRESET) $$(git ls-files 'src/*.c')

clean:
	rm -rf build bin
