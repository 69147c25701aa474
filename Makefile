# Thin wrappers over CMake. Every target first makes sure the Debian packages are installed.
BUILD ?= build
GENERATOR ?= Ninja
JOBS ?= $(shell nproc)

.PHONY: deps test test-asan test-tsan test-valgrind test-aarch64 test-armhf test-all soak soak-cluster bench bench-build demo demo-cluster fuzz fuzz-long format format-check clean

deps:
	@./scripts/install-deps.sh

test: deps
	cmake -S . -B $(BUILD)/default -G $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD)/default -j $(JOBS)
	cd $(BUILD)/default && ctest --output-on-failure -j $(JOBS)

# AddressSanitizer + UndefinedBehaviorSanitizer, built with g++ (see docs/decisions/0001).
test-asan: deps
	CC=gcc CXX=g++ cmake -S . -B $(BUILD)/asan -G $(GENERATOR) -DCMAKE_BUILD_TYPE=Debug \
	  -DWAYMARK_SANITIZE=address,undefined
	cmake --build $(BUILD)/asan -j $(JOBS)
	cd $(BUILD)/asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS)

# ThreadSanitizer (g++) over the SDK's concurrent paths: client and C ABI, faults (many threads recording
# while the client closes), outbox, consent, shared devices, sync against a loopback collector, segments,
# uploads through the fault proxy and storage faults, and the collector's group commit (on SQLite, then on
# PostgreSQL).
test-tsan: deps
	CC=gcc CXX=g++ cmake -S . -B $(BUILD)/tsan -G $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DWAYMARK_SANITIZE=thread
	cmake --build $(BUILD)/tsan -j $(JOBS) --target waymark_unit_tests waymark_sync_driver
	cd $(BUILD)/tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 ./tests/waymark_unit_tests \
	  "[capi],[faults],[outbox],[consent],[shared],[sync],[segments],[reliability],[concurrent]"
	# The same store paths on PostgreSQL (a private server for the run): group commit, and health read
	# beside a lost connection.
	./scripts/private-postgres.sh start $(BUILD)/tsan/postgres
	cd $(BUILD)/tsan && WAYMARK_TEST_POSTGRES=$(CURDIR)/$(BUILD)/tsan/postgres TSAN_OPTIONS=halt_on_error=1 \
	  ./tests/waymark_unit_tests "[concurrent],[postgres]"; rc=$$?; cd $(CURDIR) && \
	  ./scripts/private-postgres.sh stop $(BUILD)/tsan/postgres; exit $$rc

# valgrind memcheck over the C ABI tests (tests/c_api) and the C header program: no invalid access, no
# uninitialised read, no definite or indirect leak (libphonenumber's metadata singleton is "possibly lost").
VALGRIND = valgrind -q --error-exitcode=1 --leak-check=full --show-leak-kinds=definite,indirect \
  --errors-for-leak-kinds=definite,indirect
test-valgrind: deps
	cmake -S . -B $(BUILD)/default -G $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD)/default -j $(JOBS) --target waymark_unit_tests waymark_c_header_test
	$(VALGRIND) $(BUILD)/default/tests/waymark_unit_tests "[capi],[consent],[shared],[faults],[privacy]"
	rm -rf $(BUILD)/default/tests/valgrind_c_header_store
	$(VALGRIND) $(BUILD)/default/tests/waymark_c_header_test $(BUILD)/default/tests/valgrind_c_header_store

# Kiosk/POS boards: cross-build the SDK (no collector, no libphonenumber) and run its own tests under
# qemu (cmake/toolchains, tests/sdk_only). Prints the stripped size of libwaymark.so (docs/footprint.md).
# CROSS_ARGS=-DWAYMARK_WITH_BUILTIN_TRANSPORT=OFF: without the SDK's own HTTP client (host transport only).
CROSS_TRIPLET_aarch64 = aarch64-linux-gnu
CROSS_TRIPLET_armhf = arm-linux-gnueabihf
CROSS_DPKG_ARCH_aarch64 = arm64
CROSS_DPKG_ARCH_armhf = armhf
test-aarch64 test-armhf: test-%:
	@./scripts/install-cross-deps.sh $(CROSS_DPKG_ARCH_$*)
	cmake -S . -B $(BUILD)/$* -G $(GENERATOR) -DCMAKE_BUILD_TYPE=MinSizeRel -DWAYMARK_SDK_ONLY=ON \
	  -DWAYMARK_WITH_LIBPHONENUMBER=OFF $(CROSS_ARGS) -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/$(CROSS_TRIPLET_$*).cmake
	cmake --build $(BUILD)/$* -j $(JOBS)
	cd $(BUILD)/$* && ctest --output-on-failure
	$(CROSS_TRIPLET_$*)-strip -o $(BUILD)/$*/libwaymark.stripped.so $(BUILD)/$*/sdk/libwaymark.so
	@echo "BENCH libwaymark_so_stripped_$* $$(stat -c %s $(BUILD)/$*/libwaymark.stripped.so) bytes"

# Everything CI runs plus the ARM boards (too slow for every CI run: apt for two architectures and two
# cross builds).
test-all: test test-asan test-tsan test-valgrind test-aarch64 test-armhf

# The soak (tests/reliability): SOAK_KILLS kill -9's of a durable-mode device process and of the
# collector, with the fault proxy between them; prints the counts, fails on any lost or duplicated event.
SOAK_KILLS ?= 500
SOAK_ARGS ?=
soak: deps
	cmake -S . -B $(BUILD)/default -G $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD)/default -j $(JOBS) --target waymark-soak waymark-soak-device waymark-collector
	$(BUILD)/default/tests/waymark-soak --collector $(BUILD)/default/collector/waymark-collector \
	  --device $(BUILD)/default/tests/waymark-soak-device --kills $(SOAK_KILLS) $(SOAK_ARGS)

# The scale-out fault matrix, long (docs/reliability.md): the demo's brand on the cluster of
# `make demo-cluster` while, round after round, an ingest node, the active merger and a NATS node are
# killed with -9, a NATS node is partitioned and PostgreSQL restarted; then compared with the same seed
# on one SQLite process: the same stored events, profiles, attribution, segments and CLV. Prints the counts.
SOAK_CLUSTER_CUSTOMERS ?= 3000
SOAK_CLUSTER_DAYS ?= 90
SOAK_CLUSTER_GAP_MS ?= 1000
soak-cluster: deps
	cmake -S . -B $(BUILD)/default -G $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD)/default -j $(JOBS) --target waymark-demo waymark-collector
	DEMO_CUSTOMERS=$(SOAK_CLUSTER_CUSTOMERS) DEMO_DAYS=$(SOAK_CLUSTER_DAYS) FAULT_GAP_MS=$(SOAK_CLUSTER_GAP_MS) \
	  tests/sample_apps/demo_stores_test.sh $(BUILD)/default/sample-apps/waymark-demo cluster-faults

# libFuzzer targets (tests/fuzz, clang + ASan/UBSan): each runs its seed corpus plus FUZZ_SECONDS of new
# inputs; a crash stops the run and leaves crash-<hash> in $(BUILD)/fuzz/tests/fuzz.
FUZZ_SECONDS ?= 20
fuzz: deps
	CC=clang CXX=clang++ cmake -S . -B $(BUILD)/fuzz -G $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DWAYMARK_BUILD_TESTS=OFF -DWAYMARK_BUILD_FUZZ=ON -DWAYMARK_SANITIZE=address,undefined,fuzzer-no-link \
	  -DWAYMARK_FUZZ_SECONDS=$(FUZZ_SECONDS)
	cmake --build $(BUILD)/fuzz -j $(JOBS) --target fuzz-run

fuzz-long:
	$(MAKE) fuzz FUZZ_SECONDS=3600

# Release build of everything plus the benchmarks (CI builds it so -O3-only warnings are caught).
bench-build: deps
	cmake -S . -B $(BUILD)/bench -G $(GENERATOR) -DCMAKE_BUILD_TYPE=Release -DWAYMARK_BUILD_TESTS=OFF \
	  -DWAYMARK_BUILD_BENCH=ON
	cmake --build $(BUILD)/bench -j $(JOBS)

bench: bench-build
	cmake --build $(BUILD)/bench --target run-bench

# The end-to-end demo (sample-apps/demo): e.g. make demo DEMO_ARGS="--customers 5000 --seed 7".
DEMO_ARGS ?=
demo: deps
	cmake -S . -B $(BUILD)/default -G $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD)/default -j $(JOBS) --target waymark-demo
	$(BUILD)/default/sample-apps/waymark-demo $(DEMO_ARGS)

# The same simulated brand against the collector as a cluster on loopback (docs/scale-out.md): three NATS
# nodes, two ingest nodes behind haproxy, a merger and its standby, a query node, PostgreSQL.
demo-cluster: deps
	cmake -S . -B $(BUILD)/default -G $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD)/default -j $(JOBS) --target waymark-demo
	$(BUILD)/default/sample-apps/waymark-demo --cluster $(DEMO_ARGS)

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' '*.cpp' '*.hpp')

format: deps
	clang-format -i $(FORMAT_FILES)

format-check: deps
	clang-format --dry-run --Werror $(FORMAT_FILES)

clean:
	rm -rf $(BUILD)
