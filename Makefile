# The two commands of README.md:
#   make run    install what is missing, build Release, run the main job
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

ifeq ($(strip $(MODEL)),)
MODEL_ARGS := --demo_model
else
MODEL_ARGS := --model "$(MODEL)"
endif

run: build
	$(BUILD_DIR)/engine/cli/deltaserve-generate $(MODEL_ARGS) --prompt "$(PROMPT)" --max-tokens 32 --temperature 0 --json

test: build
	cd $(BUILD_DIR) && ctest -j $(JOBS) --output-on-failure --timeout 900

clean:
	rm -rf $(BUILD_DIR)
