// Credential providers: environment, shared files, credential_process, STS
// (assume role, web identity), container, instance metadata, caching and
// refresh, the default chain. Network providers talk to LocalHttpServer.
#include "sluice/aws/credentials.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "sluice/aws/http_client.h"
#include "sluice/aws/sigv4.h"
#include "sluice/core/clock.h"
#include "support/local_http_server.h"
#include "support/test_util.h"
#include "unit/aws/credentials_test_util.h"

namespace sluice::aws {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::LocalHttpResponse;
using testing::LocalHttpServer;
using testing::RecordedRequest;
using testing_support::CleanAwsEnvironment;
using testing_support::credentials_json;
using testing_support::sts_error;
using testing_support::sts_reply;

bool contains(std::string_view hay, std::string_view needle) {
  return hay.find(needle) != std::string_view::npos;
}

// --- environment ----------------------------------------------------------------

TEST(EnvironmentCredentials, ReadsTheVariables) {
  CleanAwsEnvironment env;
  auto p = make_environment_credentials();
  auto r = p->credentials();
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);

  env.set("AWS_ACCESS_KEY_ID", "AKIDENV");
  r = p->credentials();
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(r.status().message(), "AWS_SECRET_ACCESS_KEY")) << r.status();

  env.set("AWS_SECRET_ACCESS_KEY", "env-secret");
  r = p->credentials();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->access_key_id, "AKIDENV");
  EXPECT_EQ(r->secret_access_key, "env-secret");
  EXPECT_EQ(r->session_token, "");
  EXPECT_FALSE(r->expiration.has_value());
  EXPECT_EQ(r->source, "environment");

  env.set("AWS_SESSION_TOKEN", "env-token");
  r = p->credentials();  // read at each call
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->session_token, "env-token");
}

TEST(StaticCredentials, ReturnsTheKeys) {
  auto r = make_static_credentials("AKID", "secret", "tok")->credentials();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->access_key_id, "AKID");
  EXPECT_EQ(r->session_token, "tok");
  EXPECT_EQ(r->source, "static");
  EXPECT_EQ(make_static_credentials("", "x")->credentials().status().code(),
            StatusCode::kInvalidArgument);
}

// --- shared files ---------------------------------------------------------------

TEST(ProfileCredentials, StaticKeysFromTheCredentialsFileWinOverConfig) {
  CleanAwsEnvironment env;
  env.write_config(
      "[default]\naws_access_key_id = FROMCONFIG\naws_secret_access_key = config-secret\n"
      "[profile dev]\nregion = eu-west-1\n");
  env.write_credentials(
      "# comment\n[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = "
      "default-secret\n\n[dev]\naws_access_key_id=AKIDDEV\naws_secret_access_key=dev-secret\n"
      "aws_session_token = dev-token\n");
  auto r = make_profile_credentials()->credentials();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->access_key_id, "AKIDDEFAULT");
  EXPECT_EQ(r->secret_access_key, "default-secret");
  EXPECT_EQ(r->source, "profile \"default\"");

  env.set("AWS_PROFILE", "dev");
  r = make_profile_credentials()->credentials();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->access_key_id, "AKIDDEV");
  EXPECT_EQ(r->session_token, "dev-token");

  r = make_profile_credentials({.profile = "default"})->credentials();  // the option wins
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->access_key_id, "AKIDDEFAULT");
}

TEST(ProfileCredentials, ExplainsMissingAndUnsupportedProfiles) {
  CleanAwsEnvironment env;
  auto r = make_profile_credentials({.profile = "nope"})->credentials();
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(contains(r.status().message(), "no profile \"nope\"")) << r.status();
  EXPECT_TRUE(contains(r.status().message(), env.config_path())) << r.status();

  env.write_config(
      "[profile sso]\nsso_session = corp\nsso_account_id = 1\n"
      "[profile mfa]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = base\nmfa_serial = x\n"
      "[profile half]\naws_access_key_id = AKIDHALF\n"
      "[profile loop-a]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = loop-b\n"
      "[profile loop-b]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = loop-a\n"
      "[profile empty]\nregion = us-east-1\n"
      "[profile badsource]\nrole_arn = arn:aws:iam::1:role/r\ncredential_source = Moon\n");
  auto msg = [](const char* profile) {
    return std::string(
        make_profile_credentials({.profile = profile})->credentials().status().message());
  };
  EXPECT_TRUE(contains(msg("sso"), "SSO")) << msg("sso");
  EXPECT_TRUE(contains(msg("mfa"), "mfa_serial")) << msg("mfa");
  EXPECT_TRUE(contains(msg("half"), "no aws_secret_access_key")) << msg("half");
  EXPECT_TRUE(contains(msg("loop-a"), "leads back")) << msg("loop-a");
  EXPECT_TRUE(contains(msg("empty"), "has no credentials")) << msg("empty");
  EXPECT_TRUE(contains(msg("badsource"), "credential_source")) << msg("badsource");
}

TEST(ProfileCredentials, RunsCredentialProcess) {
  CleanAwsEnvironment env;
  const auto script = env.dir() / "creds.sh";
  testing::write_file(script,
                      "#!/bin/sh\n"
                      "echo '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", \"SecretAccessKey\": "
                      "\"proc-secret\", \"SessionToken\": \"proc-token\", \"Expiration\": "
                      "\"2099-01-01T00:00:00Z\"}'\n");
  const auto failing = env.dir() / "fail.sh";
  testing::write_file(failing, "#!/bin/sh\necho 'proc-secret-in-output' \nexit 3\n");
  env.write_config("[profile proc]\ncredential_process = /bin/sh " + script.string() +
                   "\n[profile bad]\ncredential_process = /bin/sh " + failing.string() + "\n");
  auto r = make_profile_credentials({.profile = "proc"})->credentials();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->access_key_id, "AKIDPROC");
  EXPECT_EQ(r->session_token, "proc-token");
  ASSERT_TRUE(r->expiration.has_value());
  EXPECT_EQ(*r->expiration, parse_iso8601_time("2099-01-01T00:00:00Z").value());

  auto bad = make_profile_credentials({.profile = "bad"})->credentials();
  EXPECT_FALSE(bad.ok());
  EXPECT_TRUE(contains(bad.status().message(), "exited with status 3")) << bad.status();
  EXPECT_FALSE(contains(bad.status().message(), "proc-secret")) << bad.status();

  auto disabled = make_profile_credentials({.profile = "proc", .allow_credential_process = false})
                      ->credentials();
  EXPECT_FALSE(disabled.ok());
}

// --- STS: assume role and web identity ----------------------------------------------

class StsTest : public ::testing::Test {
 protected:
  StsTest() : sts_([this](const RecordedRequest& r) { return handle(r); }) {
    env_.set("AWS_ENDPOINT_URL_STS", sts_.url());
  }

  virtual LocalHttpResponse handle(const RecordedRequest& r) {
    if (contains(r.body, "Action=AssumeRoleWithWebIdentity")) {
      if (contains(r.body, "WebIdentityToken=bad-jwt")) {
        return {.status = 400, .body = sts_error("InvalidIdentityToken", "The token is expired")};
      }
      return {.status = 200,
              .headers = {{"Content-Type", "text/xml"}},
              .body = sts_reply("AssumeRoleWithWebIdentity", "ASIAWEB", "web-secret", "web-token",
                                clock_.wall_now() + hours(1))};
    }
    if (contains(r.body, "Action=AssumeRole&")) {
      if (!contains(r.header("Authorization"), "Credential=AKIDSOURCE/")) {
        return {.status = 403, .body = sts_error("AccessDenied", "not authorized")};
      }
      return {.status = 200,
              .body = sts_reply("AssumeRole", "ASIAROLE", "role-secret", "role-token",
                                clock_.wall_now() + hours(1))};
    }
    return {.status = 400, .body = sts_error("InvalidAction", "unknown")};
  }

  CleanAwsEnvironment env_;
  ManualClock clock_;
  LocalHttpServer sts_;
};

TEST_F(StsTest, WebIdentityFromTheEnvironment) {
  auto p = make_web_identity_credentials({.clock = &clock_});
  auto r = p->credentials();
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status();

  const auto token_file = env_.dir() / "token";
  testing::write_file(token_file, "eyJ.header.sig\n");
  env_.set("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.string());
  r = make_web_identity_credentials({.clock = &clock_})->credentials();
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(r.status().message(), "AWS_ROLE_ARN")) << r.status();

  env_.set("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/web");
  env_.set("AWS_ROLE_SESSION_NAME", "my session");
  r = make_web_identity_credentials({.clock = &clock_})->credentials();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->access_key_id, "ASIAWEB");
  EXPECT_EQ(r->secret_access_key, "web-secret");
  EXPECT_EQ(r->session_token, "web-token");
  EXPECT_EQ(r->source, "web-identity");
  ASSERT_TRUE(r->expiration.has_value());
  EXPECT_EQ(*r->expiration, clock_.wall_now() + hours(1));

  ASSERT_EQ(sts_.request_count(), 1u);
  const RecordedRequest req = sts_.requests()[0];
  EXPECT_EQ(req.method, "POST");
  EXPECT_EQ(req.path(), "/");
  EXPECT_EQ(req.header("Content-Type"), "application/x-www-form-urlencoded; charset=utf-8");
  EXPECT_EQ(req.header("Authorization"), "");  // unsigned
  EXPECT_EQ(
      req.body,
      "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A"
      "123456789012%3Arole%2Fweb&RoleSessionName=my%20session&WebIdentityToken=eyJ.header.sig");
}

TEST_F(StsTest, WebIdentityErrorsCarrySTSCodeButNotTheToken) {
  const auto token_file = env_.dir() / "token";
  testing::write_file(token_file, "bad-jwt");
  env_.set("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.string());
  env_.set("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/web");
  auto r = make_web_identity_credentials({.clock = &clock_})->credentials();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE(contains(r.status().message(), "InvalidIdentityToken")) << r.status();
  EXPECT_TRUE(contains(r.status().message(), "The token is expired")) << r.status();
  EXPECT_FALSE(contains(r.status().message(), "bad-jwt")) << r.status();

  env_.set("AWS_WEB_IDENTITY_TOKEN_FILE", (env_.dir() / "missing").string());
  r = make_web_identity_credentials({.clock = &clock_})->credentials();
  EXPECT_EQ(r.status().code(), StatusCode::kIOError) << r.status();
}

TEST_F(StsTest, WebIdentityFromAProfile) {
  const auto token_file = env_.dir() / "token";
  testing::write_file(token_file, "jwt-from-profile");
  env_.write_config("[profile web]\nrole_arn = arn:aws:iam::1:role/p\nweb_identity_token_file = " +
                    token_file.string() + "\nrole_session_name = prof\n");
  auto r = make_profile_credentials({.profile = "web", .clock = &clock_})->credentials();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->access_key_id, "ASIAWEB");
  EXPECT_TRUE(contains(sts_.requests().at(0).body,
                       "RoleSessionName=prof&WebIdentityToken=jwt-from-profile"));
}

TEST_F(StsTest, AssumeRoleWithASourceProfileIsSignedWithTheSourceKeys) {
  env_.set("AWS_REGION", "eu-west-1");
  env_.write_config(
      "[profile base]\nregion = eu-west-1\n"
      "[profile ops]\nrole_arn = arn:aws:iam::123456789012:role/ops\nsource_profile = base\n"
      "external_id = ext-1\nduration_seconds = 900\nrole_session_name = ops-session\n");
  env_.write_credentials(
      "[base]\naws_access_key_id = AKIDSOURCE\naws_secret_access_key = src-secret\n");
  auto p = make_profile_credentials({.profile = "ops", .clock = &clock_});
  auto r = p->credentials();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->access_key_id, "ASIAROLE");
  EXPECT_EQ(r->session_token, "role-token");
  EXPECT_EQ(r->source, "assume-role arn:aws:iam::123456789012:role/ops");
  ASSERT_EQ(sts_.request_count(), 1u);
  const RecordedRequest req = sts_.requests()[0];
  EXPECT_EQ(
      req.body,
      "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fops"
      "&RoleSessionName=ops-session&ExternalId=ext-1&DurationSeconds=900");
  EXPECT_TRUE(contains(req.header("Authorization"),
                       "Credential=AKIDSOURCE/20260101/eu-west-1/sts/aws4_request"))
      << req.header("Authorization");
  EXPECT_EQ(req.header("X-Amz-Date"), "20260101T000000Z");

  // Cached until close to expiry.
  EXPECT_TRUE(p->credentials().ok());
  EXPECT_EQ(sts_.request_count(), 1u);
  clock_.advance(minutes(56));
  EXPECT_TRUE(p->credentials().ok());
  EXPECT_EQ(sts_.request_count(), 2u);
}

TEST_F(StsTest, AssumeRoleFromAnEnvironmentCredentialSource) {
  env_.write_config(
      "[profile envrole]\nrole_arn = arn:aws:iam::1:role/e\ncredential_source = Environment\n");
  auto r = make_profile_credentials({.profile = "envrole", .clock = &clock_})->credentials();
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.status().message(), "source credentials")) << r.status();
  env_.set("AWS_ACCESS_KEY_ID", "AKIDSOURCE");
  env_.set("AWS_SECRET_ACCESS_KEY", "env-src-secret");
  r = make_profile_credentials({.profile = "envrole", .clock = &clock_})->credentials();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->access_key_id, "ASIAROLE");
  // No region anywhere: the global endpoint's signing region.
  EXPECT_TRUE(
      contains(sts_.requests().back().header("Authorization"), "/us-east-1/sts/aws4_request"));
}

// --- container credentials ------------------------------------------------------

class ContainerTest : public ::testing::Test {
 protected:
  ContainerTest()
      : server_([this](const RecordedRequest& r) {
          ++calls_;
          if (fail_.load()) return LocalHttpResponse{.status = 500, .body = "agent down"};
          if (r.header("Authorization") != expected_auth()) {
            return LocalHttpResponse{.status = 401, .body = "bad token"};
          }
          return LocalHttpResponse{
              .status = 200,
              .body = credentials_json("ASIACONT", "container-secret", "container-token",
                                       clock_.wall_now() + hours(1))};
        }) {
    env_.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", server_.url() + "/v2/credentials/abc");
  }

  void set_expected_auth(std::string v) {
    std::lock_guard lock(mu_);
    expected_auth_ = std::move(v);
  }
  std::string expected_auth() {
    std::lock_guard lock(mu_);
    return expected_auth_;
  }

  CleanAwsEnvironment env_;
  ManualClock clock_;
  std::atomic<int> calls_{0};
  std::atomic<bool> fail_{false};
  std::mutex mu_;
  std::string expected_auth_;
  LocalHttpServer server_;
};

TEST_F(ContainerTest, FullUriWithTokenFromTheEnvironment) {
  set_expected_auth("Bearer container-auth");
  env_.set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer container-auth");
  auto r = make_container_credentials({.clock = &clock_})->credentials();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->access_key_id, "ASIACONT");
  EXPECT_EQ(r->secret_access_key, "container-secret");
  EXPECT_EQ(r->session_token, "container-token");
  EXPECT_EQ(r->source, "container");
  EXPECT_EQ(server_.requests().at(0).target, "/v2/credentials/abc");
  EXPECT_EQ(server_.requests().at(0).method, "GET");
}

TEST_F(ContainerTest, TokenFileWinsAndIsReadAtEachRefresh) {
  const auto file = env_.dir() / "eks-token";
  testing::write_file(file, "file-token-1\n");
  set_expected_auth("file-token-1");
  env_.set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "ignored");
  env_.set("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", file.string());
  auto p = make_container_credentials({.clock = &clock_});
  ASSERT_TRUE(p->credentials().ok());
  testing::write_file(file, "file-token-2");
  set_expected_auth("file-token-2");
  clock_.advance(minutes(56));
  auto r = p->credentials();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(calls_.load(), 2);
}

TEST_F(ContainerTest, RejectsPlainHttpToOtherHosts) {
  env_.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://example.com/creds");
  auto r = make_container_credentials({.clock = &clock_})->credentials();
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(contains(r.status().message(), "https://")) << r.status();
  env_.unset("AWS_CONTAINER_CREDENTIALS_FULL_URI");
  r = make_container_credentials({.clock = &clock_})->credentials();
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
}

TEST_F(ContainerTest, ServerErrorsAreRetriedThenReported) {
  fail_ = true;
  auto r = make_container_credentials({.metadata_attempts = 3, .clock = &clock_})->credentials();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(calls_.load(), 3);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(contains(r.status().message(), "HTTP 500")) << r.status();
}

// The refresh logic, with a manual clock: 5 minutes early, and a failed
// refresh keeps serving credentials that are still valid.
TEST_F(ContainerTest, RefreshesBeforeExpiryAndSurvivesAFailedRefresh) {
  auto log = std::make_shared<testing::RecordingLogger>();
  auto p = make_container_credentials({.clock = &clock_, .logger = log});
  auto first = p->credentials();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(calls_.load(), 1);

  clock_.advance(minutes(54));  // 6 minutes left: still fresh
  ASSERT_TRUE(p->credentials().ok());
  EXPECT_EQ(calls_.load(), 1);

  clock_.advance(minutes(2));  // 4 minutes left: refresh
  fail_ = true;
  auto during = p->credentials();
  ASSERT_TRUE(during.ok()) << during.status();
  EXPECT_EQ(*during->expiration, *first->expiration);  // the old ones
  const int after_failure = calls_.load();
  EXPECT_GT(after_failure, 1);
  EXPECT_TRUE(log->contains("refresh failed")) << log->joined();

  // No new attempt before refresh_retry_interval (10 s) has passed.
  ASSERT_TRUE(p->credentials().ok());
  EXPECT_EQ(calls_.load(), after_failure);
  clock_.advance(seconds(11));
  ASSERT_TRUE(p->credentials().ok());
  EXPECT_GT(calls_.load(), after_failure);

  // Past the expiry the failure shows.
  clock_.advance(minutes(5));
  auto expired = p->credentials();
  EXPECT_FALSE(expired.ok());
  EXPECT_EQ(expired.status().code(), StatusCode::kUnavailable);

  // Back again: new credentials.
  fail_ = false;
  auto back = p->credentials();
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back->expiration, clock_.wall_now() + hours(1));
}

// --- instance metadata ----------------------------------------------------------

class ImdsTest : public ::testing::Test {
 protected:
  ImdsTest() : server_([this](const RecordedRequest& r) { return handle(r); }) {
    env_.set("AWS_EC2_METADATA_SERVICE_ENDPOINT", server_.url() + "/");
  }

  LocalHttpResponse handle(const RecordedRequest& r) {
    if (r.path() == "/latest/api/token") {
      if (r.method != "PUT") return {.status = 405};
      if (token_status_ != 200) return {.status = token_status_};
      EXPECT_EQ(r.header("X-aws-ec2-metadata-token-ttl-seconds"), "21600");
      ++tokens_issued_;
      return {.status = 200, .body = "imds-session-" + std::to_string(tokens_issued_)};
    }
    const std::string token = r.header("X-aws-ec2-metadata-token");
    if (token_status_ == 200 && token != "imds-session-" + std::to_string(tokens_issued_)) {
      return {.status = 401};
    }
    if (r.path() == "/latest/meta-data/iam/security-credentials/") {
      if (no_role_) return {.status = 404};
      return {.status = 200, .body = "my-role\n"};
    }
    if (r.path() == "/latest/meta-data/iam/security-credentials/my-role") {
      return {.status = 200,
              .body = credentials_json("ASIAIMDS", "imds-secret", "imds-token",
                                       clock_.wall_now() + hours(6))};
    }
    return {.status = 404};
  }

  CleanAwsEnvironment env_;
  ManualClock clock_;
  std::atomic<int> token_status_{200};
  std::atomic<int> tokens_issued_{0};
  std::atomic<bool> no_role_{false};
  LocalHttpServer server_;
};

TEST_F(ImdsTest, UsesIMDSv2Tokens) {
  auto p = make_instance_metadata_credentials({.clock = &clock_});
  auto r = p->credentials();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->access_key_id, "ASIAIMDS");
  EXPECT_EQ(r->secret_access_key, "imds-secret");
  EXPECT_EQ(r->session_token, "imds-token");
  EXPECT_EQ(r->source, "imds");
  const auto reqs = server_.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].method, "PUT");
  EXPECT_EQ(reqs[1].target, "/latest/meta-data/iam/security-credentials/");
  EXPECT_EQ(reqs[1].header("X-aws-ec2-metadata-token"), "imds-session-1");
  EXPECT_EQ(reqs[2].target, "/latest/meta-data/iam/security-credentials/my-role");

  // The next refresh reuses the session token.
  clock_.advance(hours(6) - minutes(4));
  ASSERT_TRUE(p->credentials().ok());
  EXPECT_EQ(tokens_issued_, 1);
  EXPECT_EQ(server_.request_count(), 5u);
}

TEST_F(ImdsTest, GetsANewTokenWhenTheOldOneIsRejected) {
  auto p = make_instance_metadata_credentials({.clock = &clock_});
  ASSERT_TRUE(p->credentials().ok());
  ++tokens_issued_;  // the service forgets the token it gave
  clock_.advance(hours(6) - minutes(4));
  auto r = p->credentials();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(tokens_issued_, 3);
}

TEST_F(ImdsTest, FallsBackToIMDSv1WhenTokensAreRefused) {
  token_status_ = 403;
  auto r = make_instance_metadata_credentials({.clock = &clock_})->credentials();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(server_.requests().at(1).header("X-aws-ec2-metadata-token"), "");

  env_.set("AWS_EC2_METADATA_V1_DISABLED", "true");
  r = make_instance_metadata_credentials({.clock = &clock_})->credentials();
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied) << r.status();
}

TEST_F(ImdsTest, ExplainsMissingRolesAndDisabling) {
  no_role_ = true;
  auto r = make_instance_metadata_credentials({.clock = &clock_})->credentials();
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status();

  env_.set("AWS_EC2_METADATA_DISABLED", "TRUE");
  const auto before = server_.request_count();
  r = make_instance_metadata_credentials({.clock = &clock_})->credentials();
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(contains(r.status().message(), "AWS_EC2_METADATA_DISABLED"));
  EXPECT_EQ(server_.request_count(), before);
}

TEST(Imds, UnreachableServiceFailsWithinTheTimeout) {
  CleanAwsEnvironment env;
  // A port nobody listens on: connection refused at once.
  std::uint16_t port = 0;
  {
    LocalHttpServer s([](const RecordedRequest&) { return LocalHttpResponse{}; });
    port = s.port();
  }
  env.set("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:" + std::to_string(port));
  auto r = make_instance_metadata_credentials({.metadata_timeout = std::chrono::milliseconds(500)})
               ->credentials();
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.status().message(), "instance metadata at http://127.0.0.1:"))
      << r.status();
}

// The default hosts (169.254.170.2, 169.254.169.254, fd00:ec2::254) are
// reached here through a local server acting as the HTTP proxy (libcurl
// honours http_proxy), which sees the absolute URLs.
TEST(MetadataDefaults, ContainerRelativeUriAndImdsDefaultEndpoints) {
  CleanAwsEnvironment env;
  ManualClock clock;
  LocalHttpServer proxy([&](const RecordedRequest& r) -> LocalHttpResponse {
    if (r.target == "http://169.254.170.2/v2/credentials/rel") {
      return {.status = 200,
              .body = credentials_json("ASIAREL", "s", "t", clock.wall_now() + hours(1))};
    }
    if (r.target.ends_with("/latest/api/token")) return {.status = 200, .body = "tok"};
    if (r.target.ends_with("/latest/meta-data/iam/security-credentials/")) {
      return {.status = 200, .body = "r"};
    }
    if (r.target.ends_with("/latest/meta-data/iam/security-credentials/r")) {
      return {.status = 200,
              .body = credentials_json("ASIADEF", "s", "t", clock.wall_now() + hours(1))};
    }
    return {.status = 404};
  });
  env.set("http_proxy", proxy.url());
  env.unset("no_proxy");
  env.unset("NO_PROXY");
  env.set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/rel");
  auto r = make_container_credentials({.clock = &clock})->credentials();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->access_key_id, "ASIAREL");

  r = make_instance_metadata_credentials({.clock = &clock})->credentials();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->access_key_id, "ASIADEF");
  EXPECT_EQ(proxy.requests().at(1).target, "http://169.254.169.254/latest/api/token");

  env.set("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv6");
  r = make_instance_metadata_credentials({.clock = &clock})->credentials();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(proxy.requests().at(4).target, "http://[fd00:ec2::254]/latest/api/token");
}

TEST(RefreshingCredentials, ConcurrentCallersShareOneFetch) {
  std::atomic<int> fetches{0};
  auto p = make_refreshing_credentials("slow", [&]() -> Result<Credentials> {
    ++fetches;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a slow service
    Credentials c;
    c.access_key_id = "AKID";
    c.secret_access_key = "s";
    return c;
  });
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] { ok += p->credentials().ok() ? 1 : 0; });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(fetches.load(), 1);
}

// --- refreshing wrapper and chain -------------------------------------------------

TEST(RefreshingCredentials, FetchesOncePerLifetimeAndServesLongTermKeysForever) {
  ManualClock clock;
  int fetches = 0;
  auto p = make_refreshing_credentials("test",
                                       [&]() -> Result<Credentials> {
                                         ++fetches;
                                         Credentials c;
                                         c.access_key_id = "AKID" + std::to_string(fetches);
                                         c.secret_access_key = "s";
                                         c.expiration = clock.wall_now() + minutes(15);
                                         return c;
                                       },
                                       {.clock = &clock});
  EXPECT_EQ(p->credentials()->access_key_id, "AKID1");
  EXPECT_EQ(p->credentials()->access_key_id, "AKID1");
  clock.advance(minutes(9));
  EXPECT_EQ(p->credentials()->access_key_id, "AKID1");
  clock.advance(minutes(1) + seconds(1));  // inside the 5 minute window
  EXPECT_EQ(p->credentials()->access_key_id, "AKID2");
  EXPECT_EQ(p->credentials()->source, "test");

  // Credentials that already sit inside the window are not fetched at each call.
  int short_fetches = 0;
  auto short_lived = make_refreshing_credentials("short",
                                                 [&]() -> Result<Credentials> {
                                                   ++short_fetches;
                                                   Credentials c;
                                                   c.access_key_id = "AKID";
                                                   c.secret_access_key = "s";
                                                   c.expiration = clock.wall_now() + minutes(2);
                                                   return c;
                                                 },
                                                 {.clock = &clock});
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(short_lived->credentials().ok());
  EXPECT_EQ(short_fetches, 1);
  clock.advance(seconds(11));
  ASSERT_TRUE(short_lived->credentials().ok());
  EXPECT_EQ(short_fetches, 2);
}

TEST(CredentialsChain, TakesTheFirstThatAnswersAndSticksToIt) {
  CleanAwsEnvironment env;
  int second_calls = 0;
  auto failing = make_refreshing_credentials(
      "never", [] { return Result<Credentials>(Status::not_found("nothing here")); }, {});
  auto counting = make_refreshing_credentials("counting",
                                              [&]() -> Result<Credentials> {
                                                ++second_calls;
                                                Credentials c;
                                                c.access_key_id = "AKIDCHAIN";
                                                c.secret_access_key = "chain-secret";
                                                return c;
                                              },
                                              {});
  auto chain = make_credentials_chain({{"first", failing}, {"second", counting}});
  auto r = chain->credentials();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->access_key_id, "AKIDCHAIN");
  ASSERT_TRUE(chain->credentials().ok());
  EXPECT_EQ(second_calls, 1);  // cached by the provider
}

TEST(CredentialsChain, DefaultChainOrderAndTheErrorWhenNothingWorks) {
  CleanAwsEnvironment env;
  env.set("AWS_EC2_METADATA_DISABLED", "true");
  auto log = std::make_shared<testing::RecordingLogger>();
  auto r = make_default_credentials_chain({.logger = log})->credentials();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
  const std::string msg(r.status().message());
  std::size_t pos = 0;
  for (const char* step : {"environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set",
                           "web identity: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are not set",
                           "profile \"default\": no profile \"default\"",
                           "container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                           "instance metadata: disabled by AWS_EC2_METADATA_DISABLED"}) {
    const auto at = msg.find(step, pos);
    EXPECT_NE(at, std::string::npos) << "missing or out of order: " << step << "\nin: " << msg;
    if (at != std::string::npos) pos = at;
  }

  // The shared file answers before the container; the environment before both.
  env.write_credentials(
      "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = file-secret\n");
  env.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/never-asked");
  auto chain = make_default_credentials_chain({.logger = log});
  r = chain->credentials();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->access_key_id, "AKIDFILE");
  env.set("AWS_ACCESS_KEY_ID", "AKIDENV");
  env.set("AWS_SECRET_ACCESS_KEY", "env-secret");
  r = make_default_credentials_chain({.logger = log})->credentials();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->access_key_id, "AKIDENV");
  EXPECT_TRUE(log->contains("using AWS credentials")) << log->joined();
}

}  // namespace
}  // namespace sluice::aws
