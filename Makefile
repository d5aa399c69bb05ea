# SPDX-License-Identifier: MIT
# Makefile - the two commands: `make run` and `make test` (meson + ninja do the real work).

BUILD ?= build
NINJAFLAGS ?=

.PHONY: all deps build run test clean

all: build

deps:
	scripts/install-deps.sh

# After the first setup ninja re-runs meson by itself whenever a meson.build changes. A folder
# left half-configured by an interrupted setup is configured again.
build: deps
	@if [ ! -f $(BUILD)/build.ninja ]; then \
		if [ -f $(BUILD)/meson-private/coredata.dat ]; then \
			meson setup --reconfigure $(BUILD); \
		else \
			meson setup $(BUILD); \
		fi; \
	fi
	ninja -C $(BUILD) $(NINJAFLAGS)

run: build
	./$(BUILD)/server/convertd serve --listen 127.0.0.1:8080 --data-dir ./var

test: build
	BUILD=$(BUILD) NINJAFLAGS="$(NINJAFLAGS)" scripts/run-tests.sh

clean:
	rm -rf $(BUILD) build-asan
