# The WebAssembly build (emcmake cmake -S . -B build-wasm): the same subsystem libraries as the
# native build, with the third-party targets the native build finds on the system made here
# instead, since Emscripten's sysroot has none of them. See docs/build_notes.md.

enable_language(C)  # utf8proc is C

# Tests run under Node. emcmake names it with --experimental-wasm-threads, a flag Node 20 refuses.
find_program(NODE_EXECUTABLE node REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR ${NODE_EXECUTABLE} CACHE FILEPATH "Runs the wasm tests" FORCE)
# The test programs are CommonJS .js files; the repository's package.json declares ES modules.
file(WRITE ${CMAKE_BINARY_DIR}/package.json "{\"type\": \"commonjs\"}\n")

# Exceptions are how every websd::Error reaches the front end; Emscripten turns them off by
# default (a throw would abort). 3.1.6 has only the JS-based implementation prebuilt.
add_compile_options(-fexceptions)
add_link_options(-fexceptions)
# Fixed-width SIMD (Node ≥ 16, every current browser): the CPU kernels are written for the compiler
# to vectorise, and this lets it.
add_compile_options(-msimd128)

# Header-only libraries from Debian's packages. /usr/include itself must not be on the path (its
# glibc headers would shadow Emscripten's libc), so nlohmann/ is reached through a link.
set(websd_host_include ${CMAKE_BINARY_DIR}/host_include)
file(MAKE_DIRECTORY ${websd_host_include})
file(CREATE_LINK /usr/include/nlohmann ${websd_host_include}/nlohmann SYMBOLIC)
add_library(nlohmann_json::nlohmann_json INTERFACE IMPORTED)
target_include_directories(nlohmann_json::nlohmann_json SYSTEM INTERFACE ${websd_host_include})
set(STB_INCLUDE_DIR /usr/include/stb)

# The thread pool runs inline without pthreads (backend/cpu/thread_pool.cpp): nothing to link.
add_library(Threads::Threads INTERFACE IMPORTED)

# utf8proc from Debian's source package, fetched by `scripts/install_deps.sh wasm`.
file(GLOB utf8proc_dirs ${CMAKE_BINARY_DIR}/third_party/utf8proc-*)
find_path(UTF8PROC_SOURCE_DIR utf8proc.c PATHS ${utf8proc_dirs} NO_DEFAULT_PATH NO_CMAKE_FIND_ROOT_PATH REQUIRED)
add_library(utf8proc STATIC ${UTF8PROC_SOURCE_DIR}/utf8proc.c)
target_compile_definitions(utf8proc PUBLIC UTF8PROC_STATIC)
target_include_directories(utf8proc SYSTEM PUBLIC ${UTF8PROC_SOURCE_DIR})
target_compile_options(utf8proc PRIVATE -w)
set(UTF8PROC_INCLUDE_DIR ${UTF8PROC_SOURCE_DIR})
set(UTF8PROC_LIBRARY utf8proc)

# GoogleTest from the sources Debian's googletest package ships.
if(WEBSD_TESTS)
  set(gtest_root /usr/src/googletest/googletest)
  add_library(gtest STATIC ${gtest_root}/src/gtest-all.cc)
  target_include_directories(gtest SYSTEM PUBLIC ${gtest_root}/include PRIVATE ${gtest_root})
  add_library(gtest_main STATIC ${gtest_root}/src/gtest_main.cc)
  target_link_libraries(gtest_main PUBLIC gtest)
  add_library(GTest::gtest ALIAS gtest)
  add_library(GTest::gtest_main ALIAS gtest_main)
endif()

# Growth up to wasm32's 4 GiB: the weights are read into linear memory. NODERAWFS maps the
# module's file system onto Node's, so paths behave as in the native build.
set(websd_wasm_memory -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=4GB)
set(websd_wasm_node_link ${websd_wasm_memory} -sENVIRONMENT=node -sNODERAWFS=1)
# The test programs skip Binaryen's whole-module optimisation at link time (-O1 after CMake's -O3;
# the code was optimised when compiled): linking test_models took 37.6 s at -O3 and 3.6 s at -O1.
# The suites run slower (test_pipeline 175 s rather than 117 s), but `make test`, which links 13 of
# them, took 3 minutes less (the wasm build 9.2 min rather than 13.5).
set(websd_wasm_test_link ${websd_wasm_node_link} -O1)
