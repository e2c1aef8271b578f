# Front door: `make demo` and `make test` install what is missing, build, and run.
BUILD ?= build
JOBS ?= $(shell nproc)
DEMO_PROMPT ?= a red circle on a white background
DEMO_OUT ?= $(BUILD)/demo.png

.PHONY: all deps build demo test coverage lint clean

all: build

deps:
	@scripts/install_deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	$(BUILD)/websd generate --model assets/tiny-shapes/model --prompt "$(DEMO_PROMPT)" --seed 0 -o $(DEMO_OUT)

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

clean:
	rm -rf $(BUILD) build-coverage
