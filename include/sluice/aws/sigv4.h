// AWS Signature Version 4: signs an HttpRequest in place.
#ifndef SLUICE_AWS_SIGV4_H_
#define SLUICE_AWS_SIGV4_H_

#include <chrono>
#include <optional>
#include <string>

#include "sluice/aws/credentials.h"
#include "sluice/aws/http_client.h"
#include "sluice/core/status.h"

namespace sluice::aws {

struct SigV4Options {
  std::string region;   // "us-east-1"
  std::string service;  // signing name: "kinesis", "dynamodb", "s3"
  // The signing time (X-Amz-Date).
  std::chrono::system_clock::time_point time;
  // Normalise the path (remove dot segments, collapse slashes) before
  // signing, as every service but S3 expects.
  bool normalize_path = true;
  // How the payload enters the signature.
  enum class Payload {
    kHash,         // SHA-256 of the body (the default)
    kUnsigned,     // "UNSIGNED-PAYLOAD" (S3)
    kPrecomputed,  // `payload_hash` as given (S3 with a hash computed while streaming)
  };
  Payload payload = Payload::kHash;
  std::string payload_hash;  // hex SHA-256, with kPrecomputed
  // Add the x-amz-content-sha256 header (S3 requires it).
  bool add_content_sha256_header = false;
};

// The intermediate results, for debugging a SignatureDoesNotMatch.
struct SigV4Result {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;      // hex
  std::string authorization;  // the Authorization header value
};

// Adds X-Amz-Date, X-Amz-Security-Token (with a session token),
// x-amz-content-sha256 (when asked) and Authorization to `request`.
// InvalidArgument when the URL cannot be parsed or region/service are empty.
Result<SigV4Result> sign_request(HttpRequest& request, const Credentials& credentials,
                                 const SigV4Options& options);

}  // namespace sluice::aws

#endif  // SLUICE_AWS_SIGV4_H_
