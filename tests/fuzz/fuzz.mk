# Incremental clang build of the libFuzzer targets (docs/fuzzing.md).
# Every src/ module the targets need is compiled once with
# -fsanitize=fuzzer-no-link,address,undefined into one static library;
# each tests/fuzz/fuzz_<name>.c links against it (so a target pulls in only
# the objects it uses). Dependencies come from -MMD, so a rerun compiles
# only what changed. Use: make -f tests/fuzz/fuzz.mk -j2 [OUT=build/fuzz]
OUT ?= build/fuzz
OPT ?= -O1 -g
CC := clang
CXX := clang++
SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
CFLAGS := -std=c11 $(OPT) -Wall -Wextra -Werror -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
          -Isrc $(SAN) -fsanitize=fuzzer-no-link
CXXFLAGS := -std=c++17 $(OPT) -Wall -Wextra -Werror -Isrc $(SAN) -fsanitize=fuzzer-no-link
PKGS := libzstd zlib libdeflate openssl sqlite3 libmicrohttpd libcurl yaml-0.1 libpcre2-8 libcjson
# expat: the S3 listing parser (when built with it); optional so either version links
EXPAT := $(shell pkg-config --exists expat && echo expat)
LIBS := $(shell pkg-config --libs $(PKGS) $(EXPAT)) -lsimdjson -lroaring -lxxhash -lpthread -lm

MODULES := base event store query meta trail http alert insight
SRC_C := $(foreach m,$(MODULES),$(wildcard src/$(m)/*.c))
SRC_CXX := $(foreach m,$(MODULES),$(wildcard src/$(m)/*.cpp))
OBJ := $(patsubst src/%.c,$(OUT)/obj/%.o,$(SRC_C)) $(patsubst src/%.cpp,$(OUT)/obj/%.o,$(SRC_CXX))
TARGETS := $(filter-out common,$(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c)))
BINS := $(addprefix $(OUT)/fuzz_,$(TARGETS))
TOOLS := $(OUT)/seed_store

all: $(BINS) $(TOOLS)

$(OUT)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	@$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(OUT)/obj/%.o: src/%.cpp
	@mkdir -p $(@D)
	@$(CXX) $(CXXFLAGS) -MMD -MP -c $< -o $@

$(OUT)/libtkfuzz.a: $(OBJ)
	@rm -f $@ && ar rcs $@ $(OBJ)

$(OUT)/t/%.o: tests/fuzz/%.c
	@mkdir -p $(@D)
	@$(CC) $(CFLAGS) -Itests/fuzz -MMD -MP -c $< -o $@

$(OUT)/fuzz_%: $(OUT)/t/fuzz_%.o $(OUT)/t/fuzz_common.o $(OUT)/libtkfuzz.a
	@$(CXX) -fsanitize=fuzzer $(SAN) $^ -o $@ $(LIBS)

# Seed generator for the store target (real WAL and segment files): a plain
# program, no libFuzzer main.
$(OUT)/seed_store: $(OUT)/t/seed_store.o $(OUT)/t/fuzz_common.o $(OUT)/libtkfuzz.a
	@$(CXX) $(SAN) -fsanitize=fuzzer-no-link $^ -o $@ $(LIBS)

.PHONY: all
.SECONDARY:
-include $(OBJ:.o=.d) $(wildcard $(OUT)/t/*.d)
