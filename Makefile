# wsgate: the two commands of the README, and a few more for developers.
#   make run    install missing packages, build Release, start Redis (unless WSGATE_REDIS_URL
#               is set) and the gateway, print the demo page URL with its key, a demo
#               token and a URL; Ctrl-C stops everything
#   make test   the same set-up, then every unit and integration test
#   make test-sanitize  every test under clang ASan+UBSan (build-asan), then the data-plane
#               tests under TSan (build-tsan)
#   make fuzz   the libFuzzer targets in build-fuzz, FUZZ_SECONDS (60) each on fuzz/corpus
#   make install        build, then install the binaries, systemd unit, /etc/default/wsgate,
#               man page and docs under PREFIX (/usr/local); DESTDIR is honoured
#   make package        a Release build of the three binaries in build-package, then the
#               Debian package build-package/wsgate_VERSION_ARCH.deb (CPack)
#   make test-package   make package, then install the .deb, run the installed gateway
#               against a private redis-server, deliver a message, remove the package
#   make bench  a Release build in build-bench, the peers (bench/peers/install.sh), then the
#               benchmark matrix (wsgate, Node ws, Python FastAPI; c100k) into
#               bench/results/DATE.md; ≤ 15 minutes; sizes by environment (bench/bench.sh)
#   make bench-cluster  the same build, then wsgate on a 3-master Redis Cluster against one
#               Redis into bench/results/DATE-cluster.md; ≤ 5 minutes (bench/cluster.sh)
BUILD ?= build
JOBS  ?= $(shell nproc)
PREFIX ?= /usr/local
PACKAGE_BUILD ?= build-package
BENCH_BUILD ?= build-bench

.PHONY: all deps configure build run test test-unit test-sanitize fuzz install package \
	test-package bench clean

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	@scripts/run.sh

test: build
	@cd $(BUILD) && ctest --output-on-failure --timeout 600 -j $(JOBS)

test-unit: build
	@cd $(BUILD) && ctest --output-on-failure -L unit -j $(JOBS)

test-sanitize: deps
	@JOBS=$(JOBS) scripts/test-sanitize.sh

fuzz: deps
	@JOBS=$(JOBS) scripts/fuzz.sh

# The prefix is fixed at configure time: the unit file names $(PREFIX)/bin/wsgate.
install: deps
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@DESTDIR="$(DESTDIR)" cmake --install $(BUILD)

package: deps
	@cmake -S . -B $(PACKAGE_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
	  -DWSGATE_BUILD_TESTS=OFF -DWSGATE_BUILD_BENCH=OFF >/dev/null
	@cmake --build $(PACKAGE_BUILD) -j $(JOBS)
	@cd $(PACKAGE_BUILD) && rm -f wsgate_*.deb && cpack -G DEB
	@ls -l $(PACKAGE_BUILD)/wsgate_*.deb

test-package: package
	@PACKAGE_BUILD=$(PACKAGE_BUILD) scripts/test-package.sh

# Meaningful on a quiet machine only: other load skews every figure (the results file
# records the load average).
bench: deps
	@BUILD=$(BENCH_BUILD) bench/bench.sh

# wsgate on a 3-master Redis Cluster against one Redis, side by side, into
# bench/results/DATE-cluster.md; ≤ 5 minutes; sizes by environment (bench/cluster.sh).
.PHONY: bench-cluster
bench-cluster: deps
	@BUILD=$(BENCH_BUILD) bench/cluster.sh

# Every build folder the targets above make (build, build-asan, build-tsan, build-fuzz,
# build-package, build-bench, build-soak, and any BUILD=... of the same pattern), and make
# run's state.
clean:
	rm -rf $(BUILD) build build-* .run
