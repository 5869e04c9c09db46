# wsgate: the two commands of the README, and a few more for developers.
#   make run    install missing packages, build Release, start Redis (unless WSGATE_REDIS_URL
#               is set) and the gateway, print a demo token and URL; Ctrl-C stops everything
#   make test   the same set-up, then every unit and integration test
BUILD ?= build
JOBS  ?= $(shell nproc)

.PHONY: all deps configure build run test test-unit clean

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

clean:
	rm -rf $(BUILD)
