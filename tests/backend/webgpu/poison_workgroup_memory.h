#pragma once
#include <string>

namespace websd::device_test {

// The compute shader `wgsl` with every workgroup array filled with NaN (integers: 0x7fc00000) at the
// start of its entry point, then a barrier. WebGPU zeroes workgroup memory unless told not to, and
// web/host/node_gpu.mjs tells Dawn not to: a kernel that reads a workgroup value it did not write
// would then read garbage on a GPU (zeros on SwiftShader). Run through this, such a kernel reads NaN
// on any device, so the op cases against the CPU backend catch it.
// A workgroup variable that is not an array of scalars, or a shader without exactly one
// one-dimensional @compute entry point, is an error (websd::Error): the rewrite would not cover it.
std::string poison_workgroup_memory(const std::string& wgsl);

}  // namespace websd::device_test
