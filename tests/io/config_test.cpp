#include "io/config.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

namespace websd {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(ConfigReader, ReadsValuesAndDefaults) {
  ConfigReader c(nlohmann::json::parse(R"({"a": 3, "b": 2.5, "c": true, "d": "x", "e": [1, 2], "f": 4.0,
                                           "g": null, "h": ["p", "q"], "i": [0.5, 1], "_class_name": "Z"})"),
                 "cfg.json");
  EXPECT_EQ(c.get_int("a", 0), 3);
  EXPECT_EQ(c.get_double("b", 0), 2.5);
  EXPECT_TRUE(c.get_bool("c", false));
  EXPECT_EQ(c.get_string("d", ""), "x");
  EXPECT_EQ(c.get_int_list("e", {}), (std::vector<int>{1, 2}));
  EXPECT_EQ(c.get_int("f", 0), 4);
  EXPECT_EQ(c.get_int("g", 7), 7);
  EXPECT_EQ(c.get_int("absent", 9), 9);
  EXPECT_EQ(c.get_string_list("h", {}), (std::vector<std::string>{"p", "q"}));
  EXPECT_EQ(c.get_double_list("i"), (std::vector<double>{0.5, 1}));
  EXPECT_NO_THROW(c.finish());
}

TEST(ConfigReader, IntOrListExpandsPerBlock) {
  ConfigReader c(nlohmann::json::parse(R"({"x": 8, "y": [1, 2, 3], "z": [5]})"), "cfg.json");
  EXPECT_EQ(c.get_int_list("x", {}, 3), (std::vector<int>{8, 8, 8}));
  EXPECT_EQ(c.get_int_list("z", {}, 2), (std::vector<int>{5, 5}));
  EXPECT_NE(error_of([&] { c.get_int_list("y", {}, 4); }).find("expected 4 entries"), std::string::npos);
}

TEST(ConfigReader, ErrorsNameFileAndField) {
  ConfigReader c(nlohmann::json::parse(R"({"n": "text", "big": 1e30, "huge": 99999999999, "mode": "fancy",
                                           "unknown": 1, "flag": 1, "list": [1, "a"]})"),
                 "model/config.json");
  const std::string e1 = error_of([&] { c.get_int("n", 0); });
  EXPECT_NE(e1.find("model/config.json"), std::string::npos);
  EXPECT_NE(e1.find("'n'"), std::string::npos);
  EXPECT_NE(error_of([&] { c.get_int("big", 0); }), "");
  EXPECT_NE(error_of([&] { c.get_int("huge", 0); }).find("out of range"), std::string::npos);
  EXPECT_NE(error_of([&] { c.get_bool("flag", false); }), "");
  EXPECT_NE(error_of([&] { c.get_int_list("list", {}); }), "");
  EXPECT_NE(error_of([&] { c.expect("mode", {"plain", "simple"}); }).find("\"plain\", \"simple\""), std::string::npos);
  c.ignore({"n", "big", "huge", "flag", "list"});
  const std::string e2 = error_of([&] { c.finish(); });
  EXPECT_NE(e2.find("'unknown'"), std::string::npos) << e2;
}

TEST(ConfigReader, ExpectAcceptsAbsentNullAndSupportedValues) {
  ConfigReader c(nlohmann::json::parse(R"({"a": null, "b": "ok"})"), "cfg.json");
  EXPECT_NO_THROW(c.expect("a", {"x"}));
  EXPECT_NO_THROW(c.expect("b", {"ok"}));
  EXPECT_NO_THROW(c.expect("c", {"x"}));
  EXPECT_NO_THROW(c.finish());
}

TEST(ReadJsonFile, AcceptsPythonNonFiniteNumbers) {
  const std::string path = (std::filesystem::temp_directory_path() / "websd_cfg_inf.json").string();
  std::ofstream(path) << R"({"lo": -Infinity, "hi": Infinity, "nan": NaN, "s": "Infinity \"NaN\""})";
  ConfigReader c = ConfigReader::load(path);
  EXPECT_EQ(c.get_double("lo", 0), -INFINITY);
  EXPECT_EQ(c.get_double("hi", 0), INFINITY);
  EXPECT_TRUE(std::isnan(c.get_double("nan", 0)));
  EXPECT_EQ(c.get_string("s", ""), "Infinity \"NaN\"");
  std::filesystem::remove(path);
}

TEST(ReadJsonFile, ReportsMissingAndInvalidFiles) {
  EXPECT_NE(error_of([] { read_json_file("/nonexistent/x.json"); }).find("/nonexistent/x.json"), std::string::npos);
  const std::string path = (std::filesystem::temp_directory_path() / "websd_cfg_bad.json").string();
  std::ofstream(path) << "{oops";
  EXPECT_NE(error_of([&] { read_json_file(path); }).find("not valid JSON"), std::string::npos);
  std::ofstream(path) << "[1, 2]";
  EXPECT_NE(error_of([&] { ConfigReader::load(path); }).find("JSON object"), std::string::npos);
  std::filesystem::remove(path);
}

TEST(ReadTextFile, RefusesAFileLargerThanAnyConfigBeforeReadingIt) {
  const std::string path = (std::filesystem::temp_directory_path() / "websd_cfg_huge.json").string();
  std::ofstream(path) << "{}";
  std::filesystem::resize_file(path, kMaxTextFileBytes + 1);  // sparse: nothing is written
  EXPECT_EQ(error_of([&] { read_json_file(path); }),
            path + ": 67108865 bytes is too large for a config, tokenizer or manifest file (at most 64 MiB)");
  std::filesystem::resize_file(path, kMaxTextFileBytes);
  EXPECT_EQ(read_text_file(path).size(), kMaxTextFileBytes);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace websd
