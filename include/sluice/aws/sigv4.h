// AWS Signature Version 4: signs an HttpRequest in place, with the signature
// in the Authorization header (sign_request) or in the query string
// (presign_request, for URLs handed to someone else).
//
//   SigV4Options opts{.region = "us-east-1", .service = "kinesis", .time = clock.wall_now()};
//   auto creds = provider->credentials();
//   if (!creds.ok()) return creds.status();
//   auto signed_ = sign_request(request, *creds, opts);
//
// The signer follows the public AWS SigV4 test suite (the aws-c-auth one) byte
// for byte; `sluice aws sign` runs it on a raw request and prints each
// intermediate step, which is how a SignatureDoesNotMatch is debugged: compare
// sluice's canonical request with the one the service returns in its error.
//
// Canonicalisation, for reference:
//   - path: dot segments removed and slash runs collapsed (normalize_path),
//     then every byte but the RFC 3986 unreserved ones and '/' percent-encoded;
//     the path is encoded as written in the URL, so an already encoded path
//     is encoded twice, as every service but S3 expects (double_encode_path);
//   - query: parameters decoded, re-encoded (RFC 3986, space as %20), sorted
//     by encoded name then value; a parameter without '=' gets an empty value;
//   - headers: names lower-cased, values trimmed with inner whitespace runs
//     (multi-line values included) collapsed to one space, repeated names
//     joined with ',' in order, sorted by name. Every header present is
//     signed except Authorization and headers that proxies and tracers change
//     on the way (User-Agent, X-Amzn-Trace-Id, Connection, Expect,
//     Transfer-Encoding, Upgrade, Keep-Alive, TE, Proxy-Authorization,
//     Proxy-Connection). Without a Host header, the host comes from the URL
//     (with its port unless it is the scheme's default), as libcurl sends it.
#ifndef SLUICE_AWS_SIGV4_H_
#define SLUICE_AWS_SIGV4_H_

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "sluice/aws/credentials.h"
#include "sluice/aws/http_client.h"
#include "sluice/core/result.h"
#include "sluice/core/status.h"

namespace sluice::aws {

struct SigV4Options {
  std::string region{};   // "us-east-1"
  std::string service{};  // signing name: "kinesis", "dynamodb", "s3"
  // The signing time (X-Amz-Date); pass the injected Clock's wall_now().
  // Left at the epoch (the default), the system clock's now is used.
  // Services reject signatures more than 5 minutes off their clock.
  std::chrono::system_clock::time_point time{};
  // Normalise the path (remove dot segments, collapse slashes) before
  // signing, as every service but S3 expects.
  bool normalize_path = true;
  // Percent-encode the path as written in the URL (so "%20" is signed as
  // "%2520"), as every service but S3 expects. S3: false, which signs the
  // path decoded and encoded once.
  bool double_encode_path = true;
  // How the payload enters the signature.
  enum class Payload {
    kHash,         // SHA-256 of the body (the default)
    kUnsigned,     // "UNSIGNED-PAYLOAD" (S3)
    kPrecomputed,  // `payload_hash` as given (S3 with a hash computed while streaming)
  };
  Payload payload = Payload::kHash;
  std::string payload_hash{};  // hex SHA-256, with kPrecomputed
  // Add the x-amz-content-sha256 header (S3 requires it). Header signing only.
  bool add_content_sha256_header = false;
  // Add the session token (X-Amz-Security-Token) after signing, outside the
  // signature, as a few services (IoT) want. Default: signed with the rest.
  bool session_token_after_signing = false;
  // presign_request only: how long the URL stays valid (X-Amz-Expires),
  // 1 s to 7 days.
  std::chrono::seconds expires = std::chrono::seconds(3600);
};

// The intermediate results, for debugging a SignatureDoesNotMatch.
struct SigV4Result {
  std::string canonical_request{};
  std::string string_to_sign{};
  std::string signature{};         // hex
  std::string authorization{};     // the Authorization header value (empty when presigning)
  std::string signed_headers{};    // "host;x-amz-date"
  std::string credential_scope{};  // "20150830/us-east-1/service/aws4_request"
};

// Adds X-Amz-Security-Token (with a session token), X-Amz-Date,
// x-amz-content-sha256 (when asked) and Authorization to `request`, in that
// order, after its own headers (replacing any it already had).
// InvalidArgument when the URL cannot be parsed, region/service are empty,
// the credentials lack a key, or the payload options do not fit.
Result<SigV4Result> sign_request(HttpRequest& request, const Credentials& credentials,
                                 const SigV4Options& options);

// Query-string signing: appends X-Amz-Algorithm, X-Amz-Credential,
// X-Amz-Date, X-Amz-SignedHeaders, X-Amz-Expires, X-Amz-Security-Token (with
// a session token) and X-Amz-Signature to the URL's query, after the
// parameters it already has (earlier X-Amz-* authentication parameters are
// dropped). Headers are left alone, but those present are signed, so the
// user of the URL must send them as they are. Errors as sign_request.
Result<SigV4Result> presign_request(HttpRequest& request, const Credentials& credentials,
                                    const SigV4Options& options);

// Lower-case hex SHA-256 of `data` (e.g. for SigV4Options::payload_hash).
std::string sha256_hex(std::string_view data);

// "20150830T123600Z", the X-Amz-Date form of `time` (UTC).
std::string format_amz_date(std::chrono::system_clock::time_point time);

// Parses an ISO 8601 / RFC 3339 UTC time as AWS writes them:
// "2015-08-30T12:36:00Z", "2015-08-30T12:36:00.123Z", "2015-08-30T14:36:00+02:00"
// or the basic form "20150830T123600Z". InvalidArgument naming the text otherwise.
Result<std::chrono::system_clock::time_point> parse_iso8601_time(std::string_view text);

// RFC 3986 percent-encoding of everything but A-Z a-z 0-9 - . _ ~ (and '/'
// when `keep_slash`), with upper-case hex: what SigV4 and the AWS Query
// protocol expect.
std::string uri_encode(std::string_view text, bool keep_slash = false);

}  // namespace sluice::aws

#endif  // SLUICE_AWS_SIGV4_H_
