#pragma once

namespace websd::cephes {

// Single-precision log and sin/cos evaluated with the Cephes range reductions and polynomials,
// one rounded float operation at a time. torch.randn's AVX2 kernel turns uniforms into normals
// with these approximations rather than libm, so matching its output bit for bit needs them.
float log(float x);
void sincos(float x, float* sin_out, float* cos_out);

}  // namespace websd::cephes
