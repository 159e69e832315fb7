// Private pieces shared by the credential providers.
#ifndef SLUICE_SRC_AWS_CREDENTIALS_INTERNAL_H_
#define SLUICE_SRC_AWS_CREDENTIALS_INTERNAL_H_

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "sluice/aws/credentials.h"
#include "sluice/aws/http_client.h"

namespace sluice::aws::credentials_internal {

const Clock& clock_of(const CredentialsOptions& o);
Logger& logger_of(const CredentialsOptions& o);

// The caller's HttpClient, or one made on first use with the given timeout.
class LazyHttpClient {
 public:
  LazyHttpClient(std::shared_ptr<HttpClient> given, std::chrono::milliseconds timeout);
  HttpClient& get();

 private:
  std::mutex mu_;
  std::shared_ptr<HttpClient> client_;
  std::chrono::milliseconds timeout_;
};

// Sends `request`, again on timeouts, transport errors and 5xx replies, up to
// `attempts` tries in all. Returns the last reply or error.
Result<HttpResponse> send_with_retries(HttpClient& http, const HttpRequest& request, int attempts);

// Reads the credential JSON of the container and instance metadata services
// and of credential_process: AccessKeyId, SecretAccessKey, `token_field`,
// Expiration. Corruption naming `what` (never the body) when malformed.
// `code`, when given, receives the "Code" field (instance metadata's status).
Result<Credentials> parse_credentials_json(std::string_view body, std::string_view what,
                                           std::string_view token_field,
                                           std::string* code = nullptr);

// "sluice-<ms since epoch>" unless the options give one.
std::string role_session_name(const CredentialsOptions& o);

// STS AssumeRoleWithWebIdentity (unsigned Query protocol POST).
Result<Credentials> assume_role_with_web_identity(const CredentialsOptions& o, HttpClient& http,
                                                  const std::string& role_arn,
                                                  const std::string& session_name,
                                                  const std::string& web_identity_token);

struct AssumeRoleParams {
  std::string role_arn;
  std::string session_name;
  std::string external_id;   // optional
  int duration_seconds = 0;  // 0 = STS default (1 h)
};
// STS AssumeRole, signed with `source`.
Result<Credentials> assume_role(const CredentialsOptions& o, HttpClient& http,
                                const Credentials& source, const AssumeRoleParams& params);

// A web identity fetch (token file re-read each time).
Result<Credentials> fetch_web_identity(const CredentialsOptions& o, HttpClient& http,
                                       const std::string& token_file, const std::string& role_arn,
                                       const std::string& session_name);

}  // namespace sluice::aws::credentials_internal

#endif  // SLUICE_SRC_AWS_CREDENTIALS_INTERNAL_H_
