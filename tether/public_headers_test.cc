// What each public header owes its reader, checked on the headers
// themselves: it opens with its path and purpose, states its thread-safety
// contract, shows an example (compiled into this test by the
// header_examples rule), and includes nothing of the project but other
// public headers and generated messages.

#include <dirent.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"

namespace tether {
namespace {

std::vector<std::string> PublicHeaders() {
  std::vector<std::string> headers;
  DIR* dir = opendir("tether");
  if (dir == nullptr) return headers;
  while (dirent* entry = readdir(dir)) {
    const std::string name = entry->d_name;
    if (absl::EndsWith(name, ".h")) headers.push_back(name);
  }
  closedir(dir);
  return headers;
}

std::string Read(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

TEST(PublicHeadersTest, AboutADozenAreFound) {
  const std::vector<std::string> headers = PublicHeaders();
  EXPECT_GE(headers.size(), 10u);
  EXPECT_LE(headers.size(), 16u);
}

TEST(PublicHeadersTest, EachOpensWithItsPathAPurposeAContractAndAnExample) {
  for (const std::string& name : PublicHeaders()) {
    SCOPED_TRACE(name);
    const std::string text = Read("tether/" + name);
    EXPECT_TRUE(absl::StartsWith(text, "// File: tether/" + name + "\n//\n// "))
        << "the first lines name the file, then say what it is for";
    const std::string preamble = text.substr(0, text.find("#ifndef"));
    EXPECT_TRUE(absl::StrContains(preamble, "// Thread-safety:"))
        << "the opening comment states the thread-safety contract";
    EXPECT_TRUE(
        absl::StrContains(preamble, "// clang-format off\n// Example:\n"))
        << "the opening comment shows an example, kept from reformatting";
  }
}

TEST(PublicHeadersTest, EachIncludesOnlyPublicHeadersOfTheProject) {
  const std::regex allowed(
      R"(tether/[a-z_]+\.h|tether/v1/[a-z_]+\.pb\.h|absl/.*|google/protobuf/.*)");
  for (const std::string& name : PublicHeaders()) {
    SCOPED_TRACE(name);
    for (absl::string_view line :
         absl::StrSplit(Read("tether/" + name), '\n')) {
      if (!absl::ConsumePrefix(&line, "#include \"")) continue;
      const std::string header(line.substr(0, line.find('"')));
      EXPECT_TRUE(std::regex_match(header, allowed)) << header;
    }
  }
}

}  // namespace
}  // namespace tether
