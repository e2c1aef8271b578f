#pragma once
#include <vector>

// The numpy routines diffusers builds its timestep and sigma schedules with, reproduced to the
// last bit: timesteps must come out exactly as diffusers' do, rounding ties and all.
namespace websd::sched::np {

// np.linspace(start, stop, num) (endpoint included): i * step + start, the last value set to stop.
std::vector<double> linspace(double start, double stop, int num);
// np.linspace(start, stop, num, endpoint=False).
std::vector<double> linspace_open(double start, double stop, int num);
// np.arange(start, stop, step) for floats: ceil((stop - start) / step) values start + i * delta,
// where delta is re-derived from the first two values, as numpy's fill does.
std::vector<double> arange(double start, double stop, double step);
// np.round: halves go to the even neighbour.
double round(double x);
// np.interp(x, [0, 1, ..., fp.size() - 1], fp).
double interp(double x, const std::vector<float>& fp);
// np.log of a float32 value as numpy's AVX2/AVX-512F kernel computes it on x86: a rational
// approximation accurate to a few ulp, not libm's logf. Defined for x >= 0.
float log_f32(float x);

}  // namespace websd::sched::np
