// No secret reaches a log line or an error message: every provider is driven
// through success, refresh and failure with a recording logger, and every
// line and every Status is searched for each secret the test handed out.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <vector>

#include "sluice/aws/credentials.h"
#include "sluice/aws/sigv4.h"
#include "sluice/core/clock.h"
#include "support/local_http_server.h"
#include "support/test_util.h"
#include "unit/aws/credentials_test_util.h"

namespace sluice::aws {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using testing::LocalHttpResponse;
using testing::LocalHttpServer;
using testing::RecordedRequest;
using testing_support::CleanAwsEnvironment;
using testing_support::credentials_json;
using testing_support::sts_reply;

// Every secret value the fake services and files hand out or take in.
const std::vector<std::string>& secrets() {
  static const std::vector<std::string> s = {
      "SECRETenv111", "TOKENenv111",   "SECRETprofile222", "TOKENprofile222", "SECRETproc333",
      "TOKENproc333", "SECRETrole444", "TOKENrole444",     "SECRETweb555",    "TOKENweb555",
      "JWTweb555",    "SECRETcont666", "TOKENcont666",     "AUTHcont666",     "SECRETimds777",
      "TOKENimds777", "IMDSSESSION777"};
  return s;
}

class SecretsTest : public ::testing::Test {
 protected:
  SecretsTest()
      : log_(std::make_shared<testing::RecordingLogger>(LogLevel::kTrace)),
        server_([this](const RecordedRequest& r) { return handle(r); }) {
    env_.set("AWS_ENDPOINT_URL_STS", server_.url() + "/sts");
    env_.set("AWS_EC2_METADATA_SERVICE_ENDPOINT", server_.url());
    options_.clock = &clock_;
    options_.logger = log_;
    options_.metadata_attempts = 1;
  }

  ~SecretsTest() override {
    const std::string logs = log_->joined();
    for (const auto& s : secrets()) {
      EXPECT_EQ(logs.find(s), std::string::npos) << "secret " << s << " in the logs:\n" << logs;
      for (const auto& m : messages_) {
        EXPECT_EQ(m.find(s), std::string::npos) << "secret " << s << " in: " << m;
      }
    }
    EXPECT_GT(messages_.size(), 0u);
  }

  LocalHttpResponse handle(const RecordedRequest& r) {
    const bool broken = broken_.load();
    const auto exp = clock_.wall_now() + hours(1);
    if (r.path() == "/sts/") {
      if (broken) {
        // 200 without a session token: malformed, with secrets in the body.
        return {.status = 200,
                .body =
                    "<Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>SECRETrole444"
                    "</SecretAccessKey></Credentials>"};
      }
      if (r.body.find("AssumeRoleWithWebIdentity") != std::string::npos) {
        return {.status = 200,
                .body = sts_reply("AssumeRoleWithWebIdentity", "ASIAWEB", "SECRETweb555",
                                  "TOKENweb555", exp)};
      }
      return {.status = 200,
              .body = sts_reply("AssumeRole", "ASIAROLE", "SECRETrole444", "TOKENrole444", exp)};
    }
    if (r.path() == "/container") {
      if (r.header("Authorization") != "AUTHcont666") return {.status = 401, .body = "denied"};
      if (broken) return {.status = 200, .body = "{\"SecretAccessKey\":\"SECRETcont666\"}"};
      return {.status = 200,
              .body = credentials_json("ASIACONT", "SECRETcont666", "TOKENcont666", exp)};
    }
    if (r.path() == "/latest/api/token") return {.status = 200, .body = "IMDSSESSION777"};
    if (r.path() == "/latest/meta-data/iam/security-credentials/") {
      return {.status = 200, .body = "role"};
    }
    if (r.path() == "/latest/meta-data/iam/security-credentials/role") {
      if (broken) {
        return {.status = 200,
                .body =
                    "{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"SecretAccessKey\":"
                    "\"SECRETimds777\",\"Token\":\"TOKENimds777\"}"};
      }
      return {.status = 200,
              .body = credentials_json("ASIAIMDS", "SECRETimds777", "TOKENimds777", exp)};
    }
    return {.status = 404};
  }

  // Asks `p` for credentials; records the outcome's message.
  Result<Credentials> ask(const std::shared_ptr<CredentialsProvider>& p) {
    auto r = p->credentials();
    messages_.push_back(r.ok() ? "ok: " + r->access_key_id + " " + r->source
                               : r.status().to_string());
    return r;
  }

  // Success, a refresh that fails (served from the cache, with a warning),
  // then a failure once expired.
  void success_then_failed_refresh(const std::shared_ptr<CredentialsProvider>& p) {
    broken_ = false;
    auto r = ask(p);
    EXPECT_TRUE(r.ok()) << r.status();
    broken_ = true;
    clock_.advance(minutes(56));
    r = ask(p);
    EXPECT_TRUE(r.ok()) << r.status();
    clock_.advance(minutes(5));
    r = ask(p);
    EXPECT_FALSE(r.ok());
    broken_ = false;
  }

  CleanAwsEnvironment env_;
  ManualClock clock_;
  std::shared_ptr<testing::RecordingLogger> log_;
  CredentialsOptions options_;
  std::atomic<bool> broken_{false};
  std::vector<std::string> messages_;
  LocalHttpServer server_;
};

TEST_F(SecretsTest, Environment) {
  env_.set("AWS_SECRET_ACCESS_KEY", "SECRETenv111");
  env_.set("AWS_SESSION_TOKEN", "TOKENenv111");
  EXPECT_FALSE(ask(make_environment_credentials()).ok());  // no key id
  env_.set("AWS_ACCESS_KEY_ID", "AKIDENV");
  EXPECT_TRUE(ask(make_environment_credentials()).ok());
  EXPECT_TRUE(ask(make_default_credentials_chain(options_)).ok());
}

TEST_F(SecretsTest, SharedFilesAndProcess) {
  const auto script = env_.dir() / "p.sh";
  testing::write_file(
      script,
      "#!/bin/sh\necho '{\"Version\":1,\"AccessKeyId\":\"AKIDPROC\","
      "\"SecretAccessKey\":\"SECRETproc333\",\"SessionToken\":\"TOKENproc333\"}'\n");
  const auto bad_script = env_.dir() / "bad.sh";
  testing::write_file(bad_script, "#!/bin/sh\necho 'SECRETproc333 TOKENproc333'\nexit 1\n");
  const auto malformed = env_.dir() / "malformed.sh";
  testing::write_file(malformed,
                      "#!/bin/sh\necho '{\"Version\":1,\"SecretAccessKey\":\"SECRETproc333\"'\n");
  env_.write_credentials(
      "[default]\naws_access_key_id = AKIDPROF\naws_secret_access_key = SECRETprofile222\n"
      "aws_session_token = TOKENprofile222\n"
      "[half]\naws_secret_access_key = SECRETprofile222\n"
      "[junk]\nSECRETprofile222 without an equals sign\n");
  env_.write_config("[profile proc]\ncredential_process = /bin/sh " + script.string() +
                    "\n[profile badproc]\ncredential_process = /bin/sh " + bad_script.string() +
                    "\n[profile malformed]\ncredential_process = /bin/sh " + malformed.string() +
                    "\n");
  for (const char* p : {"default", "half", "junk", "proc", "badproc", "malformed", "missing"}) {
    auto o = options_;
    o.profile = p;
    (void)ask(make_profile_credentials(o));
    (void)ask(make_default_credentials_chain([&] {
      auto oo = o;
      env_.set("AWS_EC2_METADATA_DISABLED", "true");
      return oo;
    }()));
  }
}

TEST_F(SecretsTest, AssumeRole) {
  env_.write_credentials(
      "[src]\naws_access_key_id = AKIDSRC\naws_secret_access_key = SECRETprofile222\n");
  env_.write_config("[profile role]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = src\n");
  auto o = options_;
  o.profile = "role";
  success_then_failed_refresh(make_profile_credentials(o));
}

TEST_F(SecretsTest, WebIdentity) {
  const auto token = env_.dir() / "jwt";
  testing::write_file(token, "JWTweb555");
  env_.set("AWS_WEB_IDENTITY_TOKEN_FILE", token.string());
  env_.set("AWS_ROLE_ARN", "arn:aws:iam::1:role/web");
  success_then_failed_refresh(make_web_identity_credentials(options_));
  env_.unset("AWS_ROLE_ARN");
  (void)ask(make_web_identity_credentials(options_));
}

TEST_F(SecretsTest, Container) {
  env_.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", server_.url() + "/container");
  env_.set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "AUTHcont666");
  success_then_failed_refresh(make_container_credentials(options_));
  env_.set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "AUTHcont666-wrong");
  (void)ask(make_container_credentials(options_));  // 401
  env_.set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "AUTHcont666\r\nX-Injected: 1");
  (void)ask(make_container_credentials(options_));  // refused before sending
}

TEST_F(SecretsTest, InstanceMetadata) {
  success_then_failed_refresh(make_instance_metadata_credentials(options_));
}

TEST_F(SecretsTest, ChainWithEveryProviderFailing) {
  env_.set("AWS_SECRET_ACCESS_KEY", "SECRETenv111");
  env_.set("AWS_CONTAINER_CREDENTIALS_FULL_URI", server_.url() + "/container");
  env_.set("AWS_CONTAINER_AUTHORIZATION_TOKEN", "AUTHcont666-wrong");
  env_.write_credentials("[default]\naws_secret_access_key = SECRETprofile222\n");
  env_.set("AWS_EC2_METADATA_DISABLED", "true");
  auto r = ask(make_default_credentials_chain(options_));
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied);
}

TEST_F(SecretsTest, SignerErrors) {
  Credentials c;
  c.secret_access_key = "SECRETenv111";
  c.session_token = "TOKENenv111";
  HttpRequest req;
  req.url = "https://h/";
  SigV4Options o;
  o.region = "r";
  o.service = "s";
  messages_.push_back(sign_request(req, c, o).status().to_string());
  c.access_key_id = "AKID";
  o.region.clear();
  messages_.push_back(presign_request(req, c, o).status().to_string());
}

}  // namespace
}  // namespace sluice::aws
