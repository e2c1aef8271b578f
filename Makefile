# Front door: `make demo` and `make test` install what is missing, build, and run.
BUILD ?= build
COVERAGE_BUILD ?= build-coverage
JOBS ?= $(shell nproc)
DEMO_PROMPT ?= a red circle on a white background
DEMO_OUT ?= $(BUILD)/demo.png
# Line coverage of src/ that `make coverage` (and so `make test`) requires.
COVERAGE_MIN ?= 80

.PHONY: all deps build demo test unit coverage lint clean

all: build

deps:
	@scripts/install_deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	$(BUILD)/websd generate --model assets/tiny-shapes/model --prompt "$(DEMO_PROMPT)" --seed 0 --steps 20 -o $(DEMO_OUT)

# Everything: the optimised suites, then the coverage gate, then lint.
test: unit coverage lint

unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

$(COVERAGE_BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(COVERAGE_BUILD) -DCMAKE_BUILD_TYPE=Debug -DWEBSD_COVERAGE=ON

coverage: deps $(COVERAGE_BUILD)/CMakeCache.txt
	cmake --build $(COVERAGE_BUILD) -j $(JOBS)
	find $(COVERAGE_BUILD) -name '*.gcda' -delete
	cd $(COVERAGE_BUILD) && ctest --output-on-failure -j $(JOBS) $(COVERAGE_CTEST_ARGS)
	gcovr --root . --filter 'src/' --object-directory $(COVERAGE_BUILD) --exclude-throw-branches --gcov-ignore-parse-errors \
	  --print-summary --fail-under-line $(COVERAGE_MIN) --txt $(COVERAGE_BUILD)/coverage.txt

lint: deps
	cppcheck --quiet --std=c++20 --enable=warning,performance,portability --inline-suppr \
	  --error-exitcode=1 -I src src

clean:
	rm -rf $(BUILD) $(COVERAGE_BUILD)
