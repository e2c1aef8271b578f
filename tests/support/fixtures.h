#pragma once
#include <string>

#include "core/tensor.h"
#include "support/tolerances.h"

namespace websd::test {

// Paths into tests/fixtures (a copy of diffusers' reference outputs) and assets/.
std::string fixture(const std::string& relative);
std::string asset(const std::string& relative);

// |got - want| with a NaN anywhere (a NaN on either side, or inf - inf) as an infinite error:
// std::max(err, NaN) keeps err, so a NaN that reached a running maximum would pass unnoticed.
double abs_error(double got, double want);

struct Diff {
  double max_abs = 0;
  double mean_abs = 0;
};
// Max and mean of abs_error over two equally long vectors (a length mismatch is a failure).
Diff compare(const std::vector<float>& got, const std::vector<float>& want);

// max |v|: the scale of a relative limit.
double max_magnitude(const std::vector<float>& values);

}  // namespace websd::test

// Asserts shape equality and max-abs error ≤ tol, reporting both errors on failure.
#define EXPECT_TENSOR_NEAR(got, want, tol)                                                           \
  do {                                                                                               \
    ASSERT_EQ((got).shape, (want).shape);                                                            \
    auto d_ = ::websd::test::compare((got).data, (want).data);                                       \
    EXPECT_LE(d_.max_abs, (tol)) << "mean abs error " << d_.mean_abs;                                \
  } while (0)

// A comparison with diffusers' reference under both limits of support/tolerances.h: max abs error
// within the fixtures README's `readme_max_abs` and within the regression limit.
#define EXPECT_DIFF_MATCHES_DIFFUSERS(diff, readme_max_abs)                                          \
  do {                                                                                               \
    const ::websd::test::Diff dd_ = (diff);                                                          \
    EXPECT_LE(dd_.max_abs, (readme_max_abs)) << "fixtures README limit; mean abs error " << dd_.mean_abs; \
    EXPECT_LE(dd_.max_abs, ::websd::test::kRegressionMaxAbs)                                         \
        << "regression limit; mean abs error " << dd_.mean_abs;                                      \
  } while (0)

#define EXPECT_TENSOR_MATCHES_DIFFUSERS(got, want, readme_max_abs)                                   \
  do {                                                                                               \
    const ::websd::HostTensor &gt_ = (got), &wt_ = (want);                                           \
    ASSERT_EQ(gt_.shape, wt_.shape);                                                                 \
    EXPECT_DIFF_MATCHES_DIFFUSERS(::websd::test::compare(gt_.data, wt_.data), readme_max_abs);       \
  } while (0)

// Latents: the README's absolute limit, and the regression limit relative to the reference's scale.
#define EXPECT_LATENTS_MATCH_DIFFUSERS(got, want)                                                    \
  do {                                                                                               \
    const ::websd::HostTensor &gl_ = (got), &wl_ = (want);                                           \
    ASSERT_EQ(gl_.shape, wl_.shape);                                                                 \
    const ::websd::test::Diff dl_ = ::websd::test::compare(gl_.data, wl_.data);                      \
    const double scale_ = ::websd::test::max_magnitude(wl_.data);                                    \
    EXPECT_LE(dl_.max_abs, ::websd::test::kReadmeLatentsMaxAbs) << "fixtures README limit";          \
    EXPECT_LE(dl_.max_abs, ::websd::test::kRegressionLatentsRelative * scale_)                       \
        << "regression limit, relative to the reference's max magnitude " << scale_;                 \
  } while (0)

// A whole pipeline's image: the README's max and mean limits, and the regression limit.
#define EXPECT_IMAGE_DIFF_MATCHES_DIFFUSERS(diff)                                                    \
  do {                                                                                               \
    const ::websd::test::Diff di_ = (diff);                                                          \
    EXPECT_LE(di_.mean_abs, ::websd::test::kReadmeImageMeanAbs) << "fixtures README limit";          \
    EXPECT_DIFF_MATCHES_DIFFUSERS(di_, ::websd::test::kReadmeImageMaxAbs);                           \
  } while (0)
