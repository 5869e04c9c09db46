# wsgate: the two commands of the README, and a few more for developers.
#   make run    install missing packages, build Release, start Redis (unless WSGATE_REDIS_URL
#               is set) and the gateway, print a demo token and URL; Ctrl-C stops everything
#   make test   the same set-up, then every unit and integration test
#   make test-sanitize  every test under clang ASan+UBSan (build-asan), then the data-plane
#               tests under TSan (build-tsan)
#   make fuzz   the libFuzzer targets in build-fuzz, FUZZ_SECONDS (60) each on fuzz/corpus
BUILD ?= build
JOBS  ?= $(shell nproc)

.PHONY: all deps configure build run test test-unit test-sanitize fuzz clean

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

clean:
	rm -rf $(BUILD)
