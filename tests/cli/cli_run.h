#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace websd::test {

struct CliRun {
  int status;
  std::string output;  // stdout and stderr together
};

// Runs the built websd binary. env: shell assignments put before the command, e.g. "WEBSD_NODE_CLI=/x".
inline CliRun websd_cli(const std::string& args, const std::string& env = "") {
  const std::string cmd = env + " " + std::string(WEBSD_CLI_PATH) + " " + args + " 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  CliRun r{-1, ""};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) r.output.append(buf, n);
  const int status = pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

inline std::string quoted(const std::string& s) { return "'" + s + "'"; }

inline std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("websd_cli_" + std::to_string(getpid()) + "_" + name)).string();
}

}  // namespace websd::test
