// Shared pieces of the credential tests: an environment scrubbed of every AWS
// variable, canned replies of the metadata services and STS.
#ifndef SLUICE_TESTS_UNIT_AWS_CREDENTIALS_TEST_UTIL_H_
#define SLUICE_TESTS_UNIT_AWS_CREDENTIALS_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "sluice/aws/sigv4.h"
#include "support/local_http_server.h"
#include "support/test_util.h"

namespace sluice::aws::testing_support {

// Unsets every variable the AWS layer reads and points the shared files at an
// empty temporary directory, for the scope of a test.
class CleanAwsEnvironment {
 public:
  CleanAwsEnvironment() {
    for (const char* v : {"AWS_ACCESS_KEY_ID",
                          "AWS_SECRET_ACCESS_KEY",
                          "AWS_SESSION_TOKEN",
                          "AWS_PROFILE",
                          "AWS_REGION",
                          "AWS_DEFAULT_REGION",
                          "AWS_ENDPOINT_URL",
                          "AWS_ENDPOINT_URL_STS",
                          "AWS_ENDPOINT_URL_KINESIS",
                          "AWS_ENDPOINT_URL_DYNAMODB",
                          "AWS_ENDPOINT_URL_S3",
                          "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
                          "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                          "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                          "AWS_CONTAINER_AUTHORIZATION_TOKEN",
                          "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                          "AWS_EC2_METADATA_DISABLED",
                          "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                          "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
                          "AWS_EC2_METADATA_V1_DISABLED",
                          "AWS_WEB_IDENTITY_TOKEN_FILE",
                          "AWS_ROLE_ARN",
                          "AWS_ROLE_SESSION_NAME",
                          "http_proxy",
                          "https_proxy",
                          "HTTP_PROXY",
                          "HTTPS_PROXY",
                          "ALL_PROXY",
                          "all_proxy"}) {
      envs_.push_back(std::make_unique<testing::ScopedEnv>(v, std::nullopt));
    }
    envs_.push_back(std::make_unique<testing::ScopedEnv>("AWS_CONFIG_FILE", config_path()));
    envs_.push_back(
        std::make_unique<testing::ScopedEnv>("AWS_SHARED_CREDENTIALS_FILE", credentials_path()));
  }
  void set(const std::string& name, const std::string& value) {
    envs_.push_back(std::make_unique<testing::ScopedEnv>(name, value));
  }
  void unset(const std::string& name) {
    envs_.push_back(std::make_unique<testing::ScopedEnv>(name, std::nullopt));
  }
  std::string config_path() const { return (dir_ / "config").string(); }
  std::string credentials_path() const { return (dir_ / "credentials").string(); }
  void write_config(const std::string& text) const { testing::write_file(config_path(), text); }
  void write_credentials(const std::string& text) const {
    testing::write_file(credentials_path(), text);
  }
  const testing::TempDir& dir() const { return dir_; }

 private:
  testing::TempDir dir_;
  std::vector<std::unique_ptr<testing::ScopedEnv>> envs_;
};

inline std::string iso(std::chrono::system_clock::time_point t) {
  const std::string d = format_amz_date(t);  // 20260101T000000Z
  return d.substr(0, 4) + "-" + d.substr(4, 2) + "-" + d.substr(6, 2) + "T" + d.substr(9, 2) + ":" +
         d.substr(11, 2) + ":" + d.substr(13, 2) + "Z";
}

// The JSON of the container endpoint and IMDS.
inline std::string credentials_json(const std::string& key, const std::string& secret,
                                    const std::string& token,
                                    std::chrono::system_clock::time_point expiration,
                                    const std::string& token_field = "Token") {
  return "{\"Code\":\"Success\",\"Type\":\"AWS-HMAC\",\"AccessKeyId\":\"" + key +
         "\",\"SecretAccessKey\":\"" + secret + "\",\"" + token_field + "\":\"" + token +
         "\",\"Expiration\":\"" + iso(expiration) + "\",\"LastUpdated\":\"2026-01-01T00:00:00Z\"}";
}

inline std::string sts_reply(const std::string& action, const std::string& key,
                             const std::string& secret, const std::string& token,
                             std::chrono::system_clock::time_point expiration) {
  return "<" + action + "Response xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  <" +
         action + "Result>\n    <Credentials>\n      <AccessKeyId>" + key +
         "</AccessKeyId>\n      <SecretAccessKey>" + secret +
         "</SecretAccessKey>\n      <SessionToken>" + token +
         "</SessionToken>\n      <Expiration>" + iso(expiration) +
         "</Expiration>\n    </Credentials>\n  </" + action +
         "Result>\n  <ResponseMetadata>"
         "<RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId></ResponseMetadata>\n</" +
         action + "Response>\n";
}

inline std::string sts_error(const std::string& code, const std::string& message) {
  return "<ErrorResponse "
         "xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender</Type><Code>" +
         code + "</Code><Message>" + message +
         "</Message></Error><RequestId>1a2b</RequestId></ErrorResponse>";
}

}  // namespace sluice::aws::testing_support

#endif  // SLUICE_TESTS_UNIT_AWS_CREDENTIALS_TEST_UTIL_H_
