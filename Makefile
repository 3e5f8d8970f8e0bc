# trailkeep: the two commands a new machine needs are `make run` and `make test`.
# Both call scripts/setup first (installs missing Debian/npm packages, quiet
# when everything is there).
JOBS ?= $(shell nproc)
REL := build/release
ASAN := build/asan
DATA ?= ./data
LISTEN ?= 127.0.0.1:8460

.PHONY: all setup build build-asan test run bench fuzz clean format

all: build

setup:
	@./scripts/setup

$(REL)/Makefile: CMakeLists.txt
	@cmake -S . -B $(REL) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

$(ASAN)/Makefile: CMakeLists.txt
	@cmake -S . -B $(ASAN) -DCMAKE_BUILD_TYPE=Debug -DTK_SANITIZE=ON >/dev/null

build: setup $(REL)/Makefile
	@cmake --build $(REL) -j $(JOBS) -- --no-print-directory

build-asan: setup $(ASAN)/Makefile
	@cmake --build $(ASAN) -j $(JOBS) -- --no-print-directory

# Unit tests (cmocka) and end-to-end tests, built with ASan+UBSan; the
# release build is used where a test needs full speed.
test: build build-asan
	@./tests/run.sh

run: build
	@./scripts/run-demo "$(DATA)" "$(LISTEN)"

# libFuzzer targets (tests/fuzz, docs/fuzzing.md), each for FUZZ_SECONDS
# (default 300) after replaying its corpus; make test runs them 4 s each.
FUZZ_SECONDS ?= 300
fuzz: setup
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_SEED=$${FUZZ_SEED:-random} TK_ROOT=$(CURDIR) bash tests/fuzz/run.sh

bench: build
	@./bench/run.sh

clean:
	rm -rf build
