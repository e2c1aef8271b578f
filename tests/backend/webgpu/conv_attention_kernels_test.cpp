// The conv2d and attention generators' WGSL: what it binds, that it fits WebGPU's default limits
// (16 KiB of workgroup memory, 256 invocations), that attention never holds a full score matrix,
// that cache keys tell specs apart, and the errors for specs no kernel serves. The arithmetic is
// checked against the CPU backend on a device (wasm_selftest.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <regex>
#include <set>

#include "backend/webgpu/kernels/attention.h"
#include "backend/webgpu/kernels/conv2d.h"
#include "core/error.h"

namespace websd::wgsl {
namespace {

uint64_t constant(const std::string& src, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(src, m, std::regex("const " + name + ": u32 = (\\d+)u;"))) {
    ADD_FAILURE() << "no constant " << name;
    return 0;
  }
  return std::stoull(m[1]);
}

size_t count(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t at = s.find(needle); at != std::string::npos; at = s.find(needle, at + 1)) ++n;
  return n;
}

TensorView split(uint32_t chunks, uint32_t elems) { return {Storage::F32, chunks, elems}; }

// 2 images of 13x17x23 through 29 3x3 filters, padding 1.
Conv2dSpec conv() {
  Conv2dSpec s;
  s.batch = 2;
  s.in_channels = 13;
  s.in_h = 17;
  s.in_w = 23;
  s.out_channels = 29;
  s.kernel_h = s.kernel_w = 3;
  s.out_h = 17;
  s.out_w = 23;
  s.pad_top = s.pad_left = 1;
  s.out.bias = true;
  return s;
}

AttentionSpec attn(uint32_t lq, uint32_t lk, uint32_t head_dim, uint32_t heads = 1) {
  AttentionSpec s;
  s.batch = 1;
  s.heads = heads;
  s.lq = lq;
  s.lk = lk;
  s.head_dim = s.value_dim = head_dim;
  return s;
}

// Specs that differ in what their source bakes in have keys of their own.
template <class Spec, class Key>
void expect_distinct_keys(const std::vector<Spec>& specs, Key key) {
  std::set<std::string> keys;
  for (const Spec& s : specs) keys.insert(key(s));
  EXPECT_EQ(keys.size(), specs.size());
}

// Each change of sizes only (the uniform's, dims.h) keeps the base spec's key and source.
template <class Spec, class Key, class Source>
void expect_one_pipeline(const Spec& base, std::initializer_list<void (*)(Spec&)> changes, Key key, Source source) {
  for (auto change : changes) {
    Spec s = base;
    change(s);
    EXPECT_EQ(key(s), key(base));
    EXPECT_EQ(source(s), source(base));
  }
}

TEST(Conv2dKernel, ReachesTensorsOnlyThroughTensorIo) {
  const std::string src = conv2d_source(conv());
  EXPECT_NE(src.find("@binding(0) var<storage, read> x_0"), std::string::npos);
  EXPECT_NE(src.find("@binding(2) var<storage, read> b_0"), std::string::npos);
  EXPECT_NE(src.find("@binding(3) var<storage, read_write> y_0"), std::string::npos);
  EXPECT_EQ(count(src, "x_0["), 1u);  // inside load_x only
  EXPECT_EQ(count(src, "y_0["), 1u);

  Conv2dSpec s = conv();
  s.out.bias = false;
  s.w.storage = Storage::F16;
  s.x = split(3, 4096);
  const std::string f16 = conv2d_source(s);
  EXPECT_EQ(f16.find("load_b"), std::string::npos);
  EXPECT_NE(f16.find("@binding(2) var<storage, read> x_2"), std::string::npos);
  EXPECT_NE(f16.find("@binding(3) var<storage, read> w_0: array<u32>"), std::string::npos);
  EXPECT_NE(f16.find("unpack2x16float(w_0["), std::string::npos);
  EXPECT_NE(f16.find("@binding(4) var<storage, read_write> y_0"), std::string::npos);
}

TEST(Conv2dKernel, TilesFitWebGpuDefaultLimits) {
  for (uint32_t cout : {1u, 3u, 16u, 17u, 29u, 32u, 64u, 320u, 1280u}) {
    Conv2dSpec s = conv();
    s.out_channels = cout;
    const std::string src = conv2d_source(s);
    const uint64_t tm = constant(src, "TM"), tn = constant(src, "TN"), tk = constant(src, "TK");
    EXPECT_EQ(tm, conv2d_tile_channels(s));
    EXPECT_EQ(tm * tn, 4096u) << cout;  // 256 invocations × 4x4 outputs
    EXPECT_LE(tk * (tm + tn) * 4, 16384u) << cout;
    EXPECT_EQ(constant(src, "WG"), 256u);
    EXPECT_EQ(256 % tn, 0u);  // each invocation gathers one fixed pixel column
    EXPECT_EQ(256 % tk, 0u);
  }
}

TEST(Conv2dKernel, CountsTilesOverChannelsAndPixelsOfTheBatch) {
  Conv2dSpec s = conv();
  EXPECT_EQ(conv2d_tile_channels(s), 32u);
  EXPECT_EQ(conv2d_tiles(s), 7u);  // 782 pixels / 128 per tile
  s.out_channels = 320;
  s.out_h = s.out_w = 64;
  EXPECT_EQ(conv2d_tiles(s), 5u * 128u);  // 64-channel tiles × 8192 pixels / 64
  s.out_channels = 3;
  EXPECT_EQ(conv2d_tiles(s), 32u);  // one 16-channel tile × 8192 / 256
}

// What the source bakes in tells keys apart; the sizes, in the uniform (dims.h), share one pipeline.
TEST(Conv2dKernel, KeysTellSpecsApart) {
  std::vector<Conv2dSpec> specs(11, conv());
  specs[1].out.bias = false;
  specs[2].w.storage = Storage::F16;
  specs[3].x = split(2, 8192);
  specs[4].out.y = split(2, 16384);
  specs[5].kernel_h = specs[5].kernel_w = 1;
  specs[6].out.b.storage = Storage::F16;
  specs[7].out.residual = specs[8].out.residual = true;
  specs[8].out.r = split(2, 16384);
  specs[9].out.channel_add = true;
  specs[10].out_channels = 3;  // tiles of 16 channels
  expect_distinct_keys(specs, conv2d_key);
  expect_one_pipeline<Conv2dSpec>(conv(),
                                  {[](Conv2dSpec& s) { s.stride = 2; }, [](Conv2dSpec& s) { s.pad_top = s.pad_left = 0; },
                                   [](Conv2dSpec& s) { s.out_h = 16; }, [](Conv2dSpec& s) { s.groups_x = 3; }},
                                  conv2d_key, conv2d_source);
  Conv2dSpec no_bias = conv();
  no_bias.out.bias = false;
  Conv2dSpec ignored = no_bias;
  ignored.out.b.storage = Storage::F16;  // no bias: its view does not matter
  EXPECT_EQ(conv2d_key(no_bias), conv2d_key(ignored));
}

TEST(Conv2dKernel, RejectsEmptyAndOversizedSpecs) {
  for (int which = 0; which < 4; ++which) {
    Conv2dSpec s = conv();
    if (which == 0) s.stride = 0;
    if (which == 1) s.in_channels = 0;
    if (which == 2) s.groups_x = 0;
    if (which == 3) s.batch = 1000000;  // x has 10^6·13·17·23 > 2^32 values
    try {
      conv2d_source(s);
      ADD_FAILURE() << which;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("webgpu backend: conv2d: no kernel for"), std::string::npos) << e.what();
    }
    EXPECT_THROW(conv2d_tiles(s), Error);
  }
}

TEST(AttentionKernel, HoldsOneBlockOfScoresNeverTheMatrix) {
  // Head sizes of SD/SDXL (40, 64, 80, 160), CLIP (64, 80), the VAE (512) and tiny models.
  for (uint32_t d : {1u, 8u, 32u, 40u, 64u, 80u, 160u, 512u, 1000u, 1024u}) {
    const std::string src = attention_source(attn(4096, 4096, d));
    const uint64_t bq = constant(src, "BQ"), shared = constant(src, "SHARED");
    EXPECT_LE((shared + bq) * 4, 16384u) << d;  // the only workgroup arrays: sh and row_max
    EXPECT_EQ(count(src, "var<workgroup>"), 2u);
    EXPECT_EQ(src.find("16777216"), std::string::npos);  // 4096 × 4096
    EXPECT_EQ(src.find("array<f32, 4096"), std::string::npos);
    EXPECT_EQ(constant(src, "WG"), 256u);
    // Output values held per invocation, as unrolled scalars.
    EXPECT_LE(count(src, "  var acc"), 32u) << d;
    EXPECT_EQ(count(src, "  var acc") * constant(src, "ROW_THREADS"), constant(src, "DVP"));
    EXPECT_GE(constant(src, "DVP"), d);
    EXPECT_EQ(bq * constant(src, "ROW_THREADS"), 256u);
  }
}

TEST(AttentionKernel, BlockOfQueriesShrinksForWideHeads) {
  EXPECT_EQ(attention_block_queries(attn(77, 77, 40)), 64u);
  EXPECT_EQ(attention_block_queries(attn(77, 77, 80)), 64u);
  EXPECT_EQ(attention_block_queries(attn(77, 77, 160)), 32u);
  EXPECT_EQ(attention_block_queries(attn(77, 77, 512)), 16u);
  EXPECT_EQ(attention_block_queries(attn(77, 77, 1024)), 8u);
  AttentionSpec s = attn(4096, 77, 40, 8);
  s.batch = 2;
  EXPECT_EQ(attention_workgroups(s), 64u * 16u);  // 4096 / 64 query blocks × 2 batches × 8 heads
  EXPECT_EQ(attention_workgroups(attn(1, 1, 512)), 1u);
}

TEST(AttentionKernel, ScalesByTheCpuBackendsFloat) {
  const float scale = 1.0f / std::sqrt(80.0f);
  uint32_t bits;
  std::memcpy(&bits, &scale, sizeof bits);
  EXPECT_EQ(constant(attention_source(attn(5, 7, 80)), "SCALE_BITS"), bits);
}

TEST(AttentionKernel, ReachesTensorsOnlyThroughTensorIo) {
  AttentionSpec s = attn(37, 77, 40, 2);
  s.q = split(2, 2048);
  const std::string src = attention_source(s);
  EXPECT_NE(src.find("@binding(1) var<storage, read> q_1"), std::string::npos);
  EXPECT_NE(src.find("@binding(2) var<storage, read> k_0"), std::string::npos);
  EXPECT_NE(src.find("@binding(3) var<storage, read> v_0"), std::string::npos);
  EXPECT_NE(src.find("@binding(4) var<storage, read_write> y_0"), std::string::npos);
  EXPECT_EQ(count(src, "k_0["), 1u);
  EXPECT_EQ(count(src, "y_0["), 1u);
  EXPECT_NE(src.find("const CAUSAL: bool = false;"), std::string::npos);
}

TEST(AttentionKernel, KeysTellSpecsApart) {
  std::vector<AttentionSpec> specs(6, attn(37, 77, 40, 2));
  specs[1].causal = true;
  specs[2].head_dim = 41;
  specs[3].value_dim = 41;
  specs[4].v = split(2, 4096);
  specs[5].y = split(2, 4096);
  expect_distinct_keys(specs, attention_key);
  expect_one_pipeline<AttentionSpec>(
      attn(37, 77, 40, 2),
      {[](AttentionSpec& s) { s.lq = 38; }, [](AttentionSpec& s) { s.lk = 78; }, [](AttentionSpec& s) { s.heads = 1; },
       [](AttentionSpec& s) { s.batch = 2; }, [](AttentionSpec& s) { s.groups_x = 2; }},
      attention_key, attention_source);
}

TEST(AttentionKernel, RejectsEmptyAndTooWideHeads) {
  try {
    attention_source(attn(77, 77, kAttentionMaxValueDim + 1));
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("use more heads"), std::string::npos) << e.what();
  }
  EXPECT_THROW(attention_workgroups(attn(77, 77, kAttentionMaxValueDim + 1)), Error);
  EXPECT_THROW(attention_source(attn(77, 0, 40)), Error);
  EXPECT_THROW(attention_source(attn(0, 77, 40)), Error);
  AttentionSpec huge = attn(1 << 20, 77, 64, 64);  // q has 2^32 values
  EXPECT_THROW(attention_source(huge), Error);
}

}  // namespace
}  // namespace websd::wgsl
