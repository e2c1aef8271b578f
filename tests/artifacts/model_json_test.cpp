// model.json: a good one round-trips, and a broken or hostile one is refused with an error that
// names the field or file at fault.
#include "artifacts/model_json.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "core/error.h"
#include "support/expect_error.h"

namespace websd {
namespace {

using nlohmann::json;

const std::string kWhere = "dist/m/model.json";
const std::string kIntegrity = "sha256-ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=";

ModelJson good_model() {
  ModelJson m;
  m.pipeline_class = "StableDiffusionXLPipeline";
  m.family = "sdxl";
  m.dtype = "float16";
  m.converter = "websd convert 1";
  m.default_width = 1024;
  m.default_height = 768;
  m.default_steps = 30;
  m.default_guidance_scale = 5.5;
  m.default_scheduler = "EulerDiscreteScheduler";
  m.weight_bytes = 6938040000ull;  // more than 32 bits
  m.total_bytes = 6938050000ull;
  m.files = {{"model_index.json", 543, kIntegrity},
             {"unet/config.json", 1800, kIntegrity},
             {"tokenizer_2/vocab.json", 1059962, kIntegrity},
             {"ndarray-cache.json", 250000, kIntegrity}};
  return m;
}

ModelJson parse(const json& j) { return ModelJson::parse(j.dump(), kWhere); }

TEST(ModelJson, RoundTrips) {
  const ModelJson want = good_model();
  const json written = want.to_json();
  EXPECT_EQ(written["format"], "websd-artifacts");
  EXPECT_EQ(written["formatVersion"], 1);
  EXPECT_EQ(written["tensorCache"], "ndarray-cache.json");
  EXPECT_EQ(written["defaults"]["guidanceScale"], 5.5);
  const ModelJson got = ModelJson::parse(written.dump(2), kWhere);
  EXPECT_EQ(got.pipeline_class, want.pipeline_class);
  EXPECT_EQ(got.family, want.family);
  EXPECT_EQ(got.dtype, want.dtype);
  EXPECT_EQ(got.converter, want.converter);
  EXPECT_EQ(got.default_width, 1024);
  EXPECT_EQ(got.default_height, 768);
  EXPECT_EQ(got.default_steps, 30);
  EXPECT_EQ(got.default_guidance_scale, 5.5);
  EXPECT_EQ(got.default_scheduler, "EulerDiscreteScheduler");
  EXPECT_EQ(got.weight_bytes, want.weight_bytes);
  EXPECT_EQ(got.total_bytes, want.total_bytes);
  EXPECT_EQ(got.tensor_cache, "ndarray-cache.json");
  ASSERT_EQ(got.files.size(), want.files.size());
  for (size_t i = 0; i < want.files.size(); ++i) {
    EXPECT_EQ(got.files[i].path, want.files[i].path);
    EXPECT_EQ(got.files[i].nbytes, want.files[i].nbytes);
    EXPECT_EQ(got.files[i].integrity, want.files[i].integrity);
  }
  EXPECT_EQ(got.to_json(), written);
  ASSERT_NE(got.file("unet/config.json"), nullptr);
  EXPECT_EQ(got.file("unet/config.json")->nbytes, 1800u);
  EXPECT_EQ(got.file("vae/config.json"), nullptr);
}

struct BadCase {
  std::string what;
  std::function<void(json&)> edit;
  std::vector<std::string> parts;
};
void PrintTo(const BadCase& c, std::ostream* os) { *os << c.what; }

class BadModelJson : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadModelJson, NamesWhatIsWrong) {
  json j = good_model().to_json();
  GetParam().edit(j);
  try {
    parse(j);
    ADD_FAILURE() << GetParam().what << ": no error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind(kWhere, 0), 0u) << message;
    for (const std::string& p : GetParam().parts) EXPECT_NE(message.find(p), std::string::npos) << "'" << p << "' not in: " << message;
  }
}

BadCase unsafe_file(const std::string& path) {
  return {"file " + path, [path](json& j) { j["files"][1]["path"] = path; },
          {"file '" + path + "'", "relative path inside the model's folder"}};
}

const std::vector<BadCase> kBadCases = {
    {"other format", [](json& j) { j["format"] = "mlc-chat"; }, {"'format' must be \"websd-artifacts\""}},
    {"no format", [](json& j) { j.erase("format"); }, {"'format' must be a string"}},
    {"newer version", [](json& j) { j["formatVersion"] = 2; }, {"format version 2 is newer", "update websd"}},
    {"version zero", [](json& j) { j["formatVersion"] = 0; }, {"format version 0"}},
    {"version as text", [](json& j) { j["formatVersion"] = "1"; }, {"'formatVersion' must be an integer"}},
    {"unknown family", [](json& j) { j["family"] = "sd3"; }, {"'family' must be \"sd\" or \"sdxl\""}},
    {"unknown dtype", [](json& j) { j["dtype"] = "bfloat16"; }, {"'dtype' must be \"float16\" or \"float32\""}},
    {"no defaults", [](json& j) { j.erase("defaults"); }, {"'defaults' must be an object"}},
    {"negative width", [](json& j) { j["defaults"]["width"] = -512; }, {"defaults", "'width' must be a positive integer"}},
    // Found by tests/fuzz/model_json_fuzzer.cpp: numbers past an int wrapped (3000000000 became a negative
    // width that model.json's own writer then wrote and parse refused; 2^32 + 1 read as version 1).
    {"width past an int", [](json& j) { j["defaults"]["width"] = 3000000000u; },
     {"defaults", "'width' must be a positive integer below 2^31"}},
    {"zero steps", [](json& j) { j["defaults"]["steps"] = 0; }, {"defaults", "'steps' must be a positive integer"}},
    {"version past an int", [](json& j) { j["formatVersion"] = 4294967297u; }, {"format version 4294967297 is newer"}},
    {"negative weight bytes", [](json& j) { j["weightBytes"] = -1; }, {"'weightBytes' must be a non-negative integer"}},
    {"files not an array", [](json& j) { j["files"] = json::object(); }, {"'files' must be an array"}},
    {"file not an object", [](json& j) { j["files"][0] = "model_index.json"; }, {"each file must be an object"}},
    unsafe_file("../unet/config.json"),
    unsafe_file("/etc/passwd"),
    unsafe_file("https://evil.example/config.json"),
    unsafe_file("//evil.example/config.json"),
    unsafe_file("unet/../../config.json"),
    unsafe_file("unet\\config.json"),
    {"file listed twice", [](json& j) { j["files"][1]["path"] = "model_index.json"; },
     {"file 'model_index.json' is listed twice"}},
    {"missing manifest in files", [](json& j) { j["files"].erase(3); },
     {"the weights manifest 'ndarray-cache.json' is not among its files"}},
    {"manifest renamed", [](json& j) { j["tensorCache"] = "weights.json"; },
     {"the weights manifest 'weights.json' is not among its files"}},
    {"absurd file nbytes", [](json& j) { j["files"][1]["nbytes"] = 1000000000000000ull; },
     {"file 'unet/config.json'", "nbytes 1000000000000000 is absurd"}},
    {"file nbytes as a float", [](json& j) { j["files"][1]["nbytes"] = 1e15; },
     {"file 'unet/config.json'", "'nbytes' must be a non-negative integer"}},
    {"bad integrity", [](json& j) { j["files"][2]["integrity"] = "sha256-deadbeef"; },
     {"file 'tokenizer_2/vocab.json'", "integrity 'sha256-deadbeef'"}},
    {"no integrity", [](json& j) { j["files"][2].erase("integrity"); },
     {"file 'tokenizer_2/vocab.json'", "'integrity' must be a string"}},
};

INSTANTIATE_TEST_SUITE_P(Cases, BadModelJson, ::testing::ValuesIn(kBadCases),
                         [](const ::testing::TestParamInfo<BadCase>& info) {
                           std::string name;
                           for (char c : info.param.what) name += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return name;
                         });

TEST(ModelJson, RefusesWhatIsNotJson) {
  test::expect_error_naming([] { ModelJson::parse("<html>404</html>", kWhere); }, {kWhere, "not valid JSON", "websd convert"});
  test::expect_error_naming([] { ModelJson::parse("\"model\"", kWhere); }, {kWhere, "JSON object"});
}

}  // namespace
}  // namespace websd
