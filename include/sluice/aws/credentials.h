// AWS credentials and where they come from.
//
// The default chain resolves them as every AWS SDK does (see
// make_default_credentials_chain). Providers cache what they fetch and
// refresh it before it expires; credentials() may block while it does.
//
//   auto provider = sluice::aws::make_default_credentials_chain({.logger = log});
//   auto creds = provider->credentials();   // cheap while cached
//   if (!creds.ok()) return creds.status(); // PermissionDenied: what was tried, and why not
//
// Secrets (secret keys, session tokens, web identity and container
// authorization tokens) never appear in log lines or error messages.
#ifndef SLUICE_AWS_CREDENTIALS_H_
#define SLUICE_AWS_CREDENTIALS_H_

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sluice/aws/shared_config.h"
#include "sluice/core/clock.h"
#include "sluice/core/logger.h"
#include "sluice/core/result.h"

namespace sluice::aws {

class HttpClient;

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;  // never logged
  std::string session_token;      // never logged; empty when there is none
  // When temporary credentials stop working; unset for long-term keys.
  std::optional<std::chrono::system_clock::time_point> expiration;
  // Where they came from: "static", "environment", "profile <name>",
  // "container", "imds", "web-identity", ...
  std::string source;
};

class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  // Current credentials. Thread-safe; may block while refreshing.
  // PermissionDenied (with the providers tried and why each failed) when
  // none can be found.
  virtual Result<Credentials> credentials() = 0;
};

// Always returns the given keys.
std::shared_ptr<CredentialsProvider> make_static_credentials(std::string access_key_id,
                                                             std::string secret_access_key,
                                                             std::string session_token = "");

// What the providers below share. Every field has a working default.
struct CredentialsOptions {
  // The shared-file profile: empty = AWS_PROFILE, else "default".
  std::string profile{};
  // Where the shared files are: empty = AWS_CONFIG_FILE /
  // AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/config and ~/.aws/credentials.
  SharedConfigFiles files{};
  // Region of the STS calls (web identity, assume role): empty = the region
  // resolution of config.h for `profile`, else the global STS endpoint
  // (https://sts.amazonaws.com, signed for us-east-1).
  std::string sts_region{};
  // STS endpoint: empty = AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, the
  // profile's, then https://sts.<region>.amazonaws.com (see config.h).
  std::string sts_endpoint{};
  // Role session name for web identity and assume role when neither
  // AWS_ROLE_SESSION_NAME nor the profile's role_session_name is set.
  // Empty = "sluice-<milliseconds since the epoch>".
  std::string role_session_name{};
  // HTTP client for the network providers. Null: each makes its own on first
  // use, with `metadata_timeout` for the link-local metadata services and
  // `sts_timeout` for STS.
  std::shared_ptr<HttpClient> http{};
  std::chrono::milliseconds metadata_timeout = std::chrono::seconds(1);
  std::chrono::milliseconds sts_timeout = std::chrono::seconds(10);
  // Tries per metadata request (container and IMDS) on timeouts and 5xx.
  int metadata_attempts = 2;
  // Refresh temporary credentials this long before they expire.
  std::chrono::seconds refresh_before_expiry = std::chrono::minutes(5);
  // After a failed refresh, while the old credentials are still valid, wait
  // this long before trying again (and serve the old ones meanwhile).
  std::chrono::seconds refresh_retry_interval = std::chrono::seconds(10);
  // Run credential_process commands from the profile (they are arbitrary
  // shell commands, as with every SDK).
  bool allow_credential_process = true;
  const Clock* clock = nullptr;      // null = Clock::real()
  std::shared_ptr<Logger> logger{};  // null = no logging
};

// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (read at each
// call). NotFound when unset; InvalidArgument when only one key is set.
std::shared_ptr<CredentialsProvider> make_environment_credentials();

// The profile of the shared files (options.profile), resolved like the SDKs:
//   role_arn + source_profile or credential_source -> STS AssumeRole with
//     the source's credentials (chains of profiles allowed, cycles rejected;
//     credential_source is Environment, Ec2InstanceMetadata or EcsContainer;
//     external_id, role_session_name and duration_seconds honoured);
//   role_arn + web_identity_token_file -> STS AssumeRoleWithWebIdentity;
//   aws_access_key_id + aws_secret_access_key (+ aws_session_token);
//   credential_process -> runs the command, reads its JSON (Version 1).
// SSO profiles and mfa_serial are not supported: the error says so.
std::shared_ptr<CredentialsProvider> make_profile_credentials(CredentialsOptions options = {});

// Runs `command` with /bin/sh and reads the credential_process JSON from its
// stdout ({"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken",
// "Expiration"}); re-runs it before Expiration.
std::shared_ptr<CredentialsProvider> make_process_credentials(std::string command,
                                                              CredentialsOptions options = {});

// Container credentials (ECS, EKS Pod Identity): GET
// http://169.254.170.2$AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, or
// AWS_CONTAINER_CREDENTIALS_FULL_URI (https, or http to a loopback address
// or the ECS/EKS link-local hosts) with the Authorization header read from
// AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (re-read at each refresh) or
// AWS_CONTAINER_AUTHORIZATION_TOKEN. NotFound when neither URI is set.
std::shared_ptr<CredentialsProvider> make_container_credentials(CredentialsOptions options = {});

// EC2 instance metadata (IMDSv2): PUT /latest/api/token (TTL 6 h, reused),
// then GET /latest/meta-data/iam/security-credentials/ for the role and
// .../<role> for the keys. Falls back to IMDSv1 when the token call is
// refused with 403/404/405, unless AWS_EC2_METADATA_V1_DISABLED=true.
// Endpoint: AWS_EC2_METADATA_SERVICE_ENDPOINT, else by
// AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE (IPv4: http://169.254.169.254,
// IPv6: http://[fd00:ec2::254]). NotFound when
// AWS_EC2_METADATA_DISABLED=true.
std::shared_ptr<CredentialsProvider> make_instance_metadata_credentials(
    CredentialsOptions options = {});

// Web identity (EKS IRSA and the like): AWS_WEB_IDENTITY_TOKEN_FILE +
// AWS_ROLE_ARN [+ AWS_ROLE_SESSION_NAME] through STS
// AssumeRoleWithWebIdentity (Query protocol, unsigned). The token file is
// re-read at each refresh. NotFound when the variables are unset.
std::shared_ptr<CredentialsProvider> make_web_identity_credentials(CredentialsOptions options = {});

// Caches what `fetch` returns and calls it again `refresh_before_expiry`
// before the expiration; when that refresh fails and the cached credentials
// have not expired yet, keeps serving them (with a warning) and retries after
// `refresh_retry_interval`. Concurrent callers wait for one fetch. `name`
// names the provider in logs.
std::shared_ptr<CredentialsProvider> make_refreshing_credentials(
    std::string name, std::function<Result<Credentials>()> fetch, CredentialsOptions options = {});

struct NamedCredentialsProvider {
  std::string name{};  // for messages: "environment", "profile default", ...
  std::shared_ptr<CredentialsProvider> provider{};
};

// Tries the providers in order and keeps to the first that answers (going
// back to the whole list if it stops answering). When none does:
// PermissionDenied listing each provider and why it failed.
std::shared_ptr<CredentialsProvider> make_credentials_chain(
    std::vector<NamedCredentialsProvider> providers, CredentialsOptions options = {});

// The SDK order: environment, web identity, the shared-file profile,
// container, EC2 instance metadata.
std::shared_ptr<CredentialsProvider> make_default_credentials_chain(
    CredentialsOptions options = {});

}  // namespace sluice::aws

#endif  // SLUICE_AWS_CREDENTIALS_H_
