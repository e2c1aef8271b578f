#pragma once
#include <memory>

#include "backend/webgpu/gpu_host.h"

namespace websd {

// The GpuHost over the JS host object the loader puts at Module.websdGpuHost (an initialised
// createGpuHost() from web/host/gpu_host.mjs). WebAssembly builds only, linked with -sASYNCIFY
// (read_buffer suspends the module while the GPU works).
std::unique_ptr<GpuHost> make_js_gpu_host();

}  // namespace websd
