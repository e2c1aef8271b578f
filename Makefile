# Front door: `make demo` and `make test` install what is missing, build, and run.
BUILD ?= build
COVERAGE_BUILD ?= build-coverage
WASM_BUILD ?= build-wasm
JOBS ?= $(shell nproc)
DEMO_PROMPT ?= a red circle on a white background
DEMO_OUT ?= $(BUILD)/demo.png
# Line coverage of src/ that `make coverage` (and so `make test`) requires.
COVERAGE_MIN ?= 80

.PHONY: all deps build static-cli demo test unit coverage lint node-deps clean wasm-deps wasm test-wasm web-host-deps test-web-host

all: build

deps:
	@scripts/install_deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)
	$(MAKE) --no-print-directory $(ARTIFACTS)/tiny-shapes/model.json

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

# Everything: the native suites, the coverage gate, lint, the WebAssembly build's suites and the
# JavaScript GPU host (Node + Dawn and headless Chromium, on SwiftShader).
test: unit coverage lint test-wasm test-web-host test-web-page

unit: build
	cd $(BUILD) && ctest --output-on-failure --no-tests=error -j $(JOBS)

$(COVERAGE_BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(COVERAGE_BUILD) -DCMAKE_BUILD_TYPE=Debug -DWEBSD_COVERAGE=ON

# One CPU thread per test (ctest runs them side by side): threads racing on the optimised build's
# counters would corrupt them; the threaded paths are tested in `unit`.
coverage: deps $(COVERAGE_BUILD)/CMakeCache.txt
	cmake --build $(COVERAGE_BUILD) -j $(JOBS)
	find $(COVERAGE_BUILD) -name '*.gcda' -delete
	cd $(COVERAGE_BUILD) && WEBSD_THREADS=1 ctest --output-on-failure --no-tests=error -j $(JOBS) $(COVERAGE_CTEST_ARGS)
	gcovr --root . --filter 'src/' --object-directory $(COVERAGE_BUILD) --exclude-throw-branches --gcov-ignore-parse-errors \
	  --print-summary --fail-under-line $(COVERAGE_MIN) --txt $(COVERAGE_BUILD)/coverage.txt

CPPCHECK = cppcheck --quiet --std=c++20 --enable=warning,performance,portability --inline-suppr --error-exitcode=1 -I src

# src/wasm apart: cppcheck must be told what embind's EMSCRIPTEN_BINDINGS(name) { ... } and
# EM_ASYNC_JS (a JavaScript body) are, and a -D would restrict the rest of src to that one configuration.
# src/backend/webgpu/js_gpu_host.cpp apart too: its EM_JS bodies are JavaScript.
JS_HOST_CPP = src/backend/webgpu/js_gpu_host.cpp
# Then eslint over the JavaScript (eslint.config.js), and tsc over the npm package's declarations
# (tsconfig.json: web/lib/index.d.mts against tests/web/lib/package_types.ts).
lint: deps node-deps
	$(CPPCHECK) -i src/wasm -i $(JS_HOST_CPP) src
	$(CPPCHECK) '-DEMSCRIPTEN_BINDINGS(name)=void websd_bindings_##name()' '-DEM_ASYNC_JS(r,n,p,...)=extern "C" r n p;' src/wasm
	$(CPPCHECK) -D__EMSCRIPTEN__ '-DEM_JS(r,n,p,...)=extern "C" r n p;' '-DEM_ASYNC_JS(r,n,p,...)=extern "C" r n p;' $(JS_HOST_CPP)
	node_modules/.bin/eslint .
	node_modules/.bin/tsc -p tsconfig.json

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
# tests/web/artifacts.test.mjs converts models with the native CLI, hence build.
test-wasm: build wasm web-host-deps
	cd $(WASM_BUILD) && ctest --output-on-failure --no-tests=error -j $(JOBS)
	node --test tests/web/*.test.mjs tests/web/cli/*.test.mjs tests/web/lib/*.test.mjs
	WEBSD_SWIFTSHADER=$(WEB_SWIFTSHADER) node --test tests/web/webgpu/*.test.mjs

clean:
	rm -rf $(BUILD) $(COVERAGE_BUILD) $(WASM_BUILD) $(STATIC_BUILD)

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
test-web-page: build wasm web-host-deps
	WEBSD_WASM_BUILD=$(WASM_BUILD) node --test tests/web/page/*.test.mjs
