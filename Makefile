# The two commands of README.md:
#   make run    install what is missing, build Release, serve and answer a sample request
#   make test   install what is missing, build, run every test through ctest
BUILD_DIR ?= build
MODEL ?=
PROMPT ?= Once upon a time
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=
ifeq ($(CI),true)
CMAKE_FLAGS += -DDELTASERVE_WERROR=ON
endif

.PHONY: deps configure build run test bench clean

deps:
	./scripts/install-deps.sh

configure: deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Starts deltaserve (the demo model, or MODEL=DIR), answers one request with
# deltaserve-cli over gRPC, and stops the server with SIGTERM.
run: build
	./scripts/run-demo.sh $(BUILD_DIR) "$(MODEL)" "$(PROMPT)"

test: build
	cd $(BUILD_DIR) && ctest -j $(JOBS) --output-on-failure --timeout 900

clean:
	rm -rf $(BUILD_DIR)
