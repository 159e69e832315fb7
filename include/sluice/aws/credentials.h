// AWS credentials and where they come from.
//
// The default chain resolves them as every AWS SDK does (see
// make_default_credentials_chain). Providers cache what they fetch and
// refresh it before it expires; credentials() may block while it does.
#ifndef SLUICE_AWS_CREDENTIALS_H_
#define SLUICE_AWS_CREDENTIALS_H_

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "sluice/core/result.h"

namespace sluice::aws {

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

}  // namespace sluice::aws

#endif  // SLUICE_AWS_CREDENTIALS_H_
