// The public AWS SigV4 test suite (../shared/testdata/sigv4), run through the
// signer (header and query signing) and through `sluice aws sign`.
#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "sluice/aws/raw_request.h"
#include "sluice/aws/sigv4.h"
#include "support/test_util.h"

namespace sluice::aws {
namespace {

namespace fs = std::filesystem;

// ctest sets SLUICE_SOURCE_DIR; test discovery (which runs without it) and
// manual runs fall back to the source tree this binary was built from.
fs::path source_dir() {
  if (const char* d = std::getenv("SLUICE_SOURCE_DIR"); d != nullptr && *d != '\0') return d;
  return SLUICE_DEFAULT_SOURCE_DIR;
}

fs::path suite_dir() {
  return source_dir() / ".." / "shared" / "testdata" / "sigv4";
}

fs::path binary_dir() {
  if (const char* d = std::getenv("SLUICE_BINARY_DIR"); d != nullptr && *d != '\0') return d;
  return SLUICE_DEFAULT_BINARY_DIR;
}

std::vector<std::string> case_names() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(suite_dir(), ec)) {
    if (e.is_directory() && fs::exists(e.path() / "request.txt")) {
      names.push_back(e.path().filename().string());
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

struct Case {
  std::string name;
  std::string request;
  Credentials credentials;
  SigV4Options options;
  bool sign_body = false;
  bool omit_session_token = false;
  std::string timestamp;
  std::string file(const std::string& f) const {
    return testing::read_file(suite_dir() / name / f);
  }
};

Case load(const std::string& name) {
  Case c;
  c.name = name;
  c.request = testing::read_file(suite_dir() / name / "request.txt");
  simdjson::dom::parser parser;
  const std::string json = testing::read_file(suite_dir() / name / "context.json");
  simdjson::dom::element ctx = parser.parse(json);
  c.credentials.access_key_id =
      std::string(ctx["credentials"]["access_key_id"].get_string().value());
  c.credentials.secret_access_key =
      std::string(ctx["credentials"]["secret_access_key"].get_string().value());
  std::string_view token;
  if (ctx["credentials"]["token"].get(token) == simdjson::SUCCESS) {
    c.credentials.session_token = std::string(token);
  }
  c.options.region = std::string(ctx["region"].get_string().value());
  c.options.service = std::string(ctx["service"].get_string().value());
  c.timestamp = std::string(ctx["timestamp"].get_string().value());
  auto t = parse_iso8601_time(c.timestamp);
  EXPECT_TRUE(t.ok()) << t.status();
  c.options.time = t.value_or(std::chrono::system_clock::time_point{});
  c.options.normalize_path = ctx["normalize"].get_bool().value();
  c.sign_body = ctx["sign_body"].get_bool().value();
  c.options.add_content_sha256_header = c.sign_body;
  bool omit = false;
  if (ctx["omit_session_token"].get(omit) == simdjson::SUCCESS) c.omit_session_token = omit;
  c.options.session_token_after_signing = c.omit_session_token;
  int64_t expires = 0;
  if (ctx["expiration_in_seconds"].get(expires) == simdjson::SUCCESS) {
    c.options.expires = std::chrono::seconds(expires);
  }
  return c;
}

std::string param_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string n = info.param;
  std::replace_if(
      n.begin(), n.end(), [](char ch) { return !std::isalnum(static_cast<unsigned char>(ch)); },
      '_');
  return n;
}

TEST(SigV4Suite, IsPresentAndComplete) {
  ASSERT_TRUE(fs::is_directory(suite_dir()))
      << "the SigV4 test suite is missing: expected it at " << suite_dir()
      << " (SLUICE_SOURCE_DIR/../shared/testdata/sigv4)";
  const auto names = case_names();
  ASSERT_GE(names.size(), 30u) << "too few cases in " << suite_dir();
  for (const auto& n : names) {
    for (const char* f :
         {"context.json", "header-canonical-request.txt", "header-string-to-sign.txt",
          "header-signature.txt", "header-signed-request.txt", "query-canonical-request.txt",
          "query-string-to-sign.txt", "query-signature.txt", "query-signed-request.txt"}) {
      EXPECT_TRUE(fs::exists(suite_dir() / n / f)) << n << "/" << f;
    }
  }
}

class HeaderSigning : public ::testing::TestWithParam<std::string> {};

TEST_P(HeaderSigning, MatchesTheSuite) {
  const Case c = load(GetParam());
  auto raw = parse_raw_request(c.request);
  ASSERT_TRUE(raw.ok()) << raw.status();
  auto r = sign_request(raw->request, c.credentials, c.options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->canonical_request, c.file("header-canonical-request.txt"));
  EXPECT_EQ(r->string_to_sign, c.file("header-string-to-sign.txt"));
  EXPECT_EQ(r->signature, c.file("header-signature.txt"));
  EXPECT_EQ(format_raw_request(raw->request, raw->http_version),
            c.file("header-signed-request.txt"));
}

class QuerySigning : public ::testing::TestWithParam<std::string> {};

TEST_P(QuerySigning, MatchesTheSuite) {
  const Case c = load(GetParam());
  auto raw = parse_raw_request(c.request);
  ASSERT_TRUE(raw.ok()) << raw.status();
  auto r = presign_request(raw->request, c.credentials, c.options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->canonical_request, c.file("query-canonical-request.txt"));
  EXPECT_EQ(r->string_to_sign, c.file("query-string-to-sign.txt"));
  EXPECT_EQ(r->signature, c.file("query-signature.txt"));
  EXPECT_EQ(format_raw_request(raw->request, raw->http_version),
            c.file("query-signed-request.txt"));
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char ch : s) {
    if (ch == '\'') {
      out += "'\\''";
    } else {
      out.push_back(ch);
    }
  }
  return out + "'";
}

std::string sign_command(const Case& c, const std::string& extra) {
  const fs::path sluice = binary_dir() / "tools" / "sluice" / "sluice";
  std::string cmd = shell_quote(sluice.string()) + " aws sign --region " + c.options.region +
                    " --service " + c.options.service + " --time " + c.timestamp +
                    " --access-key " + shell_quote(c.credentials.access_key_id) + " --secret-key " +
                    shell_quote(c.credentials.secret_access_key);
  if (!c.credentials.session_token.empty()) {
    cmd += " --session-token " + shell_quote(c.credentials.session_token);
  }
  if (!c.options.normalize_path) cmd += " --no-normalize-path";
  if (c.sign_body) cmd += " --sign-body";
  if (c.omit_session_token) cmd += " --unsigned-session-token";
  cmd += extra;
  cmd += " < " + shell_quote((suite_dir() / c.name / "request.txt").string());
  return cmd;
}

void expect_binary() {
  const fs::path sluice = binary_dir() / "tools" / "sluice" / "sluice";
  ASSERT_TRUE(fs::exists(sluice)) << sluice << " is missing: build the `sluice` target first";
}

class SignCommand : public ::testing::TestWithParam<std::string> {};

TEST_P(SignCommand, ReproducesTheHeaderSignedRequest) {
  expect_binary();
  const Case c = load(GetParam());
  auto out = testing::run_command(sign_command(c, ""));
  EXPECT_EQ(out.exit_code, 0) << out.output;
  EXPECT_EQ(out.output, c.file("header-signed-request.txt"));

  out = testing::run_command(sign_command(c, " --print canonical-request"));
  EXPECT_EQ(out.exit_code, 0) << out.output;
  EXPECT_EQ(out.output, c.file("header-canonical-request.txt") + "\n");
  out = testing::run_command(sign_command(c, " --print string-to-sign"));
  EXPECT_EQ(out.output, c.file("header-string-to-sign.txt") + "\n");
  out = testing::run_command(sign_command(c, " --print signature"));
  EXPECT_EQ(out.output, c.file("header-signature.txt") + "\n");
}

TEST_P(SignCommand, ReproducesTheQuerySignedRequest) {
  expect_binary();
  const Case c = load(GetParam());
  auto out = testing::run_command(
      sign_command(c, " --query --expires " + std::to_string(c.options.expires.count())));
  EXPECT_EQ(out.exit_code, 0) << out.output;
  EXPECT_EQ(out.output, c.file("query-signed-request.txt"));
}

INSTANTIATE_TEST_SUITE_P(Suite, HeaderSigning, ::testing::ValuesIn(case_names()), param_name);
INSTANTIATE_TEST_SUITE_P(Suite, QuerySigning, ::testing::ValuesIn(case_names()), param_name);
INSTANTIATE_TEST_SUITE_P(Suite, SignCommand, ::testing::ValuesIn(case_names()), param_name);

}  // namespace
}  // namespace sluice::aws
