# Front door: `make demo` and `make test` install what is missing, build, and run.
BUILD ?= build
WASM_BUILD ?= build-wasm
JOBS ?= $(shell nproc)
DEMO_PROMPT ?= a red circle on a white background
DEMO_OUT ?= $(BUILD)/demo.png
# Line coverage of src/ that `make coverage` (and so `make test`) requires.
COVERAGE_MIN ?= 80

.PHONY: all deps build cli static-cli demo test unit test-asan coverage lint node-deps clean wasm-deps wasm test-wasm web-host-deps test-web-host

all: build

deps:
	@scripts/install_deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)
	$(MAKE) --no-print-directory $(ARTIFACTS)/tiny-shapes/model.json

# The native CLI and the page's model alone, which the web tests run: the suites' optimised build
# is `make unit`'s, left out of `make test` (see there).
cli: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS) --target websd
	$(MAKE) --no-print-directory $(ARTIFACTS)/tiny-shapes/model.json

# The optimised CLI's hardening (the checked build's is tested by its suites, without _FORTIFY_SOURCE).
.PHONY: test-hardening
test-hardening: cli
	tests/cli/hardening_test.sh $(BUILD)/websd Release

# The embedded model as web artifacts (websd convert): the page's default model.
ARTIFACTS = $(BUILD)/artifacts
$(ARTIFACTS)/tiny-shapes/model.json: $(BUILD)/websd $(shell find assets/tiny-shapes/model -type f)
	$(BUILD)/websd convert --model assets/tiny-shapes/model -o $(ARTIFACTS)/tiny-shapes

# A statically linked native CLI, for a machine that lacks this one's libraries (scripts/lent_gpu_artifacts.sh).
STATIC_BUILD ?= build-static
static-cli: deps
	cmake -S . -B $(STATIC_BUILD) -DCMAKE_BUILD_TYPE=Release -DWEBSD_STATIC=ON -DWEBSD_TESTS=OFF
	cmake --build $(STATIC_BUILD) -j $(JOBS) --target websd

demo: build
	$(BUILD)/websd generate --model assets/tiny-shapes/model --prompt "$(DEMO_PROMPT)" --seed 0 --steps 20 -o $(DEMO_OUT)

# Everything: the native suites under the sanitizers with the coverage gate, lint, the same suites
# compiled to WebAssembly and optimised, the web tests, and the JavaScript GPU host (Node + Dawn and
# headless Chromium, on SwiftShader). The native suites' optimised build (`make unit`) is not part of
# it: a third build and run of the same suites cost CI minutes it does not have, and the optimised
# native engine still runs, multi-threaded, in the web tests (the native CLI's pictures against the
# wasm build's, the soak).
test: coverage lint test-hardening test-wasm test-web-host test-web-page

unit: build
	cd $(BUILD) && ctest --output-on-failure --no-tests=error -j $(JOBS)

# The native suites under AddressSanitizer and UndefinedBehaviorSanitizer (any report fails the test,
# leaks included), their line coverage counted in the same run: one build serves `make test-asan`
# and `make coverage`. One CPU thread per test (ctest runs them side by side): threads racing on the
# counters would corrupt them; the threaded paths are tested in `unit`.
CHECK_BUILD ?= build-check
$(CHECK_BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(CHECK_BUILD) -DCMAKE_BUILD_TYPE=Debug -DWEBSD_COVERAGE=ON -DWEBSD_SANITIZE=ON

test-asan: deps $(CHECK_BUILD)/CMakeCache.txt
	cmake --build $(CHECK_BUILD) -j $(JOBS)
	find $(CHECK_BUILD) -name '*.gcda' -delete
	cd $(CHECK_BUILD) && WEBSD_THREADS=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure --no-tests=error -j $(JOBS) $(CHECK_CTEST_ARGS)

coverage: test-asan
	gcovr --root . --filter 'src/' --object-directory $(CHECK_BUILD) --exclude-throw-branches --gcov-ignore-parse-errors \
	  --print-summary --fail-under-line $(COVERAGE_MIN) --txt $(CHECK_BUILD)/coverage.txt

CPPCHECK = cppcheck -j $(JOBS) --quiet --std=c++20 --enable=warning,performance,portability --inline-suppr --error-exitcode=1 -I src

# src/wasm apart: cppcheck must be told what embind's EMSCRIPTEN_BINDINGS(name) { ... } and
# EM_ASYNC_JS (a JavaScript body) are, and a -D would restrict the rest of src to that one configuration.
# src/backend/webgpu/js_gpu_host.cpp apart too: its EM_JS bodies are JavaScript.
JS_HOST_CPP = src/backend/webgpu/js_gpu_host.cpp
# Then eslint over the JavaScript (eslint.config.js), tsc over the npm package's declarations
# (tsconfig.json: web/lib/index.d.mts against tests/web/lib/package_types.ts), and npm's advisory
# database over the runtime dependencies (none today: the npm package needs none, Dawn is an optional peer).
lint: deps node-deps
	$(CPPCHECK) -i src/wasm -i $(JS_HOST_CPP) src
	$(CPPCHECK) '-DEMSCRIPTEN_BINDINGS(name)=void websd_bindings_##name()' '-DEM_ASYNC_JS(r,n,p,...)=extern "C" r n p;' src/wasm
	$(CPPCHECK) -D__EMSCRIPTEN__ '-DEM_JS(r,n,p,...)=extern "C" r n p;' '-DEM_ASYNC_JS(r,n,p,...)=extern "C" r n p;' $(JS_HOST_CPP)
	node_modules/.bin/eslint .
	node_modules/.bin/tsc -p tsconfig.json
	npm audit --omit=dev --audit-level=low

# Node, npm and package.json's packages (eslint among them), without the browser web-host-deps adds.
node-deps:
	@scripts/install_web_deps.sh node

# The WebAssembly build (docs/build_notes.md): Debian's emscripten, whose JS optimizer needs
# Debian's node modules (acorn) on NODE_PATH under this Node.
WASM_ENV = NODE_PATH=/usr/share/nodejs

wasm-deps:
	@WASM_THIRD_PARTY=$(WASM_BUILD)/third_party scripts/install_deps.sh wasm

$(WASM_BUILD)/CMakeCache.txt: | wasm-deps
	$(WASM_ENV) emcmake cmake -S . -B $(WASM_BUILD) -DCMAKE_BUILD_TYPE=Release

wasm: wasm-deps $(WASM_BUILD)/CMakeCache.txt
	$(WASM_ENV) cmake --build $(WASM_BUILD) -j $(JOBS)

# The GoogleTest suites compiled to wasm, then the JS API and Node CLI against the golden.
# Then the WebGPU backend inside wasm against the CPU backend, on Node + Dawn (SwiftShader unless
# WEB_SWIFTSHADER=0), which needs the web host's packages.
# tests/web/artifacts.test.mjs converts models with the native CLI, hence cli. Test files run
# side by side, one per core: SwiftShader compiles each kernel on one thread, which is most of
# their time (node's default leaves a core idle).
NODE_TEST_JOBS ?= $(JOBS)
test-wasm: cli wasm web-host-deps
	cd $(WASM_BUILD) && ctest --output-on-failure --no-tests=error -j $(JOBS)
	node --test --test-concurrency=$(NODE_TEST_JOBS) tests/web/*.test.mjs tests/web/cli/*.test.mjs tests/web/lib/*.test.mjs
	WEBSD_SWIFTSHADER=$(WEB_SWIFTSHADER) node --test --test-concurrency=$(NODE_TEST_JOBS) tests/web/webgpu/*.test.mjs

# Long runs (docs/reliability.md): 200 generations on the CPU backend and on WebGPU with flat memory;
# `make test` runs the same test with 10 (tests/web/cli/soak.test.mjs).
SOAK_RUNS ?= 200
.PHONY: soak
soak: cli wasm web-host-deps
	SOAK_RUNS=$(SOAK_RUNS) WEBSD_SWIFTSHADER=$(WEB_SWIFTSHADER) node --test tests/web/cli/soak.test.mjs

clean:
	rm -rf $(BUILD) $(CHECK_BUILD) $(WASM_BUILD) $(STATIC_BUILD) $(FUZZ_BUILD)

# The JavaScript GPU host (web/host) under Node + Dawn and in headless Chromium; SwiftShader stands
# in for a GPU unless WEB_SWIFTSHADER=0.
WEB_SWIFTSHADER ?= 1
web-host-deps:
	@scripts/install_web_deps.sh

test-web-host: web-host-deps
	WEBSD_SWIFTSHADER=$(WEB_SWIFTSHADER) node --test tests/web/host/gpu_host.test.mjs tests/web/host/chromium.test.mjs

# The web page (web/page) in headless Chromium: tiny-shapes generated through its form on the CPU
# and WebGPU backends (SwiftShader without a GPU), compared with the CPU backend in Node.
.PHONY: test-web-page
test-web-page: cli wasm web-host-deps
	WEBSD_WASM_BUILD=$(WASM_BUILD) node --test tests/web/page/*.test.mjs

# libFuzzer targets (tests/fuzz; docs/reliability.md, "Fuzzing") under clang 14 with ASan and UBSan:
# `make fuzz` runs each for FUZZ_SECONDS, FUZZ_JOBS side by side (one process each), writes what it
# found to $(FUZZ_BUILD)/findings/<target>/ and a table to $(FUZZ_BUILD)/summary.txt, and fails on any
# finding. `make fuzz-smoke` is the same for FUZZ_SMOKE_SECONDS each. The build is Debug at -O1:
# assertions stay on, and the hardening's _FORTIFY_SOURCE (non-Debug only) would hide overflows in
# libc calls from ASan. The fuzz build's CLI converts a fixture for the manifests' seeds.
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 600
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_JOBS ?= $(shell nproc)
FUZZ_TARGETS = safetensors tensor_cache model_json config parameters tokenizer tokenizer_files single_file png

.PHONY: fuzz-deps fuzz-build fuzz fuzz-smoke
fuzz-deps:
	@scripts/install_deps.sh fuzz

$(FUZZ_BUILD)/CMakeCache.txt: | fuzz-deps
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=Debug '-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g' \
	  -DWEBSD_FUZZ=ON -DWEBSD_TESTS=OFF

fuzz-build: fuzz-deps $(FUZZ_BUILD)/CMakeCache.txt
	cmake --build $(FUZZ_BUILD) -j $(JOBS) --target fuzz_targets websd
	tests/fuzz/make_corpora.py $(FUZZ_BUILD)/corpus $(FUZZ_BUILD)/websd

fuzz: fuzz-build
	tests/fuzz/run_fuzzers.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_JOBS) $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	tests/fuzz/run_fuzzers.sh $(FUZZ_BUILD) $(FUZZ_SMOKE_SECONDS) $(FUZZ_JOBS) $(FUZZ_TARGETS)
