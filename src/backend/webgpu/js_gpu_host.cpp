// GpuHost over the JS host (web/host/gpu_host.mjs). Each JS call catches what the host throws,
// keeps its message in Module.websdGpuHostError and returns a failure value; C++ then throws that
// message as websd::Error, so JS exceptions never cross C++ frames (which would skip destructors).
#ifdef __EMSCRIPTEN__
#include "backend/webgpu/js_gpu_host.h"

#include <emscripten/emscripten.h>

#include <string>

#include "core/error.h"

// clang-format off
EM_JS(int, websd_js_host_ready, (), {
  const h = Module['websdGpuHost'];
  return h && typeof h.createBuffer === 'function' && h.gpuDevice() ? 1 : 0;
});

EM_JS(double, websd_js_create_buffer, (double bytes), {
  try { return Module['websdGpuHost'].createBuffer(bytes); }
  catch (e) { Module['websdGpuHostError'] = String(e && e.message || e); return 0; }
});

// The host throws an error recorded by earlier work before destroying anything; once it has been
// thrown (validation errors are thrown once) a second try frees the buffer.
EM_JS(int, websd_js_destroy_buffer, (double id), {
  try { Module['websdGpuHost'].destroyBuffer(id); return 1; }
  catch (e) {
    Module['websdGpuHostError'] = String(e && e.message || e);
    try { Module['websdGpuHost'].destroyBuffer(id); } catch (again) {}
    return 0;
  }
});

EM_JS(int, websd_js_write_buffer, (double id, double offset, const uint8_t* data, double bytes), {
  try { Module['websdGpuHost'].writeBuffer(id, offset, HEAPU8.subarray(data, data + bytes)); return 1; }
  catch (e) { Module['websdGpuHostError'] = String(e && e.message || e); return 0; }
});

EM_JS(int, websd_js_write_buffer_staged, (double id, double offset, double staged, double staged_offset, double bytes), {
  try { Module['websdGpuHost'].writeBufferStaged(id, offset, staged, staged_offset, bytes); return 1; }
  catch (e) { Module['websdGpuHostError'] = String(e && e.message || e); return 0; }
});

EM_JS(double, websd_js_create_pipeline, (const char* wgsl, const char* entry, const char* name), {
  try { return Module['websdGpuHost'].createPipeline(UTF8ToString(wgsl), UTF8ToString(entry), UTF8ToString(name)); }
  catch (e) { Module['websdGpuHostError'] = String(e && e.message || e); return 0; }
});

// bindings: n triples of u32 (buffer, offset, size; size 0 = rest of the buffer).
EM_JS(int, websd_js_dispatch, (double pipeline, const uint32_t* bindings, int n, const uint8_t* uniforms,
                               double uniform_bytes, double x, double y, double z), {
  try {
    const list = [];
    for (let i = 0; i < n; i++) {
      const at = (bindings >> 2) + 3 * i;
      const b = { buffer: HEAPU32[at], offset: HEAPU32[at + 1] };
      if (HEAPU32[at + 2] !== 0) b.size = HEAPU32[at + 2];
      list.push(b);
    }
    const u = uniform_bytes > 0 ? HEAPU8.subarray(uniforms, uniforms + uniform_bytes) : null;
    Module['websdGpuHost'].dispatch(pipeline, list, u, x, y, z);
    return 1;
  } catch (e) { Module['websdGpuHostError'] = String(e && e.message || e); return 0; }
});

EM_JS(int, websd_js_flush, (), {
  try { Module['websdGpuHost'].flush(); return 1; }
  catch (e) { Module['websdGpuHostError'] = String(e && e.message || e); return 0; }
});

EM_ASYNC_JS(int, websd_js_read_buffer, (double id, double offset, double bytes, uint8_t* out), {
  try {
    const data = await Module['websdGpuHost'].readBuffer(id, offset, bytes);
    HEAPU8.set(data, out);
    return 1;
  } catch (e) { Module['websdGpuHostError'] = String(e && e.message || e); return 0; }
});

EM_JS(double, websd_js_limit, (const char* name), {
  const v = Module['websdGpuHost'].gpuDevice().limits[UTF8ToString(name)];
  return typeof v === 'number' ? v : 0;
});

EM_JS(int, websd_js_tensor_cores, (), {
  return Module['websdGpuHost'].tensorCores() ? 1 : 0;
});

EM_JS(int, websd_js_subgroup_size, (), {
  return Module['websdGpuHost'].subgroupSize();
});

EM_JS(int, websd_js_error_length, (), {
  return lengthBytesUTF8(String(Module['websdGpuHostError'] || 'gpu host: unknown error')) + 1;
});

EM_JS(void, websd_js_take_error, (char* out, int capacity), {
  stringToUTF8(String(Module['websdGpuHostError'] || 'gpu host: unknown error'), out, capacity);
  Module['websdGpuHostError'] = undefined;
});
// clang-format on

namespace websd {
namespace {

std::string take_js_error() {
  std::string message(static_cast<size_t>(websd_js_error_length()), '\0');
  websd_js_take_error(message.data(), static_cast<int>(message.size()));
  message.resize(message.find('\0'));
  return message;
}

class JsGpuHost : public GpuHost {
 public:
  JsGpuHost() {
    if (!websd_js_host_ready())
      throw Error("webgpu backend: no initialised GPU host at Module.websdGpuHost (await host.init() before loading)");
    limits_.max_workgroups_per_dimension = static_cast<uint32_t>(websd_js_limit("maxComputeWorkgroupsPerDimension"));
    limits_.max_storage_buffer_binding_size = static_cast<uint64_t>(websd_js_limit("maxStorageBufferBindingSize"));
    limits_.max_buffer_size = static_cast<uint64_t>(websd_js_limit("maxBufferSize"));
    limits_.max_storage_buffers_per_shader_stage =
        static_cast<uint32_t>(websd_js_limit("maxStorageBuffersPerShaderStage"));
    limits_.max_workgroup_storage = static_cast<uint32_t>(websd_js_limit("maxComputeWorkgroupStorageSize"));
    limits_.tensor_cores = websd_js_tensor_cores() != 0;
    limits_.subgroup_size = static_cast<uint32_t>(websd_js_subgroup_size());
  }

  uint32_t create_buffer(uint64_t bytes) override {
    rethrow_deferred();
    const double id = websd_js_create_buffer(static_cast<double>(bytes));
    if (id == 0) throw Error(take_js_error());
    return static_cast<uint32_t>(id);
  }

  void destroy_buffer(uint32_t id) noexcept override {
    // The host throws here an error recorded by earlier work; keep it for the next call rather
    // than lose it in a destructor.
    if (!websd_js_destroy_buffer(id) && deferred_.empty()) deferred_ = take_js_error();
  }

  void write_buffer(uint32_t id, uint64_t offset, std::span<const uint8_t> bytes) override {
    rethrow_deferred();
    if (!websd_js_write_buffer(id, static_cast<double>(offset), bytes.data(), static_cast<double>(bytes.size())))
      throw Error(take_js_error());
  }

  void write_buffer_staged(uint32_t id, uint64_t offset, uint32_t staged, uint64_t staged_offset,
                           uint64_t bytes) override {
    rethrow_deferred();
    if (!websd_js_write_buffer_staged(id, static_cast<double>(offset), staged, static_cast<double>(staged_offset),
                                      static_cast<double>(bytes)))
      throw Error(take_js_error());
  }

  uint32_t create_pipeline(const std::string& wgsl, const std::string& entry_point, const std::string& name) override {
    rethrow_deferred();
    const double id = websd_js_create_pipeline(wgsl.c_str(), entry_point.c_str(), name.c_str());
    if (id == 0) throw Error(take_js_error());
    return static_cast<uint32_t>(id);
  }

  void dispatch(uint32_t pipeline, std::span<const GpuBinding> bindings, std::span<const uint8_t> uniforms, uint32_t x,
                uint32_t y, uint32_t z) override {
    rethrow_deferred();
    std::vector<uint32_t> packed;
    packed.reserve(bindings.size() * 3);
    for (const GpuBinding& b : bindings) {
      if (b.offset > UINT32_MAX || b.size > UINT32_MAX) throw Error("webgpu backend: binding range above 4 GiB");
      packed.insert(packed.end(), {b.buffer, static_cast<uint32_t>(b.offset), static_cast<uint32_t>(b.size)});
    }
    if (!websd_js_dispatch(pipeline, packed.data(), static_cast<int>(bindings.size()), uniforms.data(),
                           static_cast<double>(uniforms.size()), x, y, z))
      throw Error(take_js_error());
  }

  void flush() override {
    rethrow_deferred();
    if (!websd_js_flush()) throw Error(take_js_error());
  }

  std::vector<uint8_t> read_buffer(uint32_t id, uint64_t offset, uint64_t bytes) override {
    rethrow_deferred();
    std::vector<uint8_t> out(static_cast<size_t>(bytes));
    if (!websd_js_read_buffer(id, static_cast<double>(offset), static_cast<double>(bytes), out.data()))
      throw Error(take_js_error());
    return out;
  }

  GpuLimits limits() const override { return limits_; }

 private:
  void rethrow_deferred() {
    if (deferred_.empty()) return;
    std::string message;
    message.swap(deferred_);
    throw Error(message);
  }

  GpuLimits limits_;
  std::string deferred_;
};

}  // namespace

std::unique_ptr<GpuHost> make_js_gpu_host() { return std::make_unique<JsGpuHost>(); }

}  // namespace websd
#endif  // __EMSCRIPTEN__
