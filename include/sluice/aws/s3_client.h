// S3Client: the object calls sluice's producer needs for claim-checked
// payloads (PutObject, GetObject, HeadObject, DeleteObject, and CreateBucket
// for setting up), over REST with SigV4 (UNSIGNED-PAYLOAD), retries and
// error mapping (service_client.h).
//
// Addressing: virtual-host style (https://bucket.s3.region.amazonaws.com/key)
// by default; path style (https://host/bucket/key) when asked, when the
// endpoint is an IP address or localhost (local emulators), or when the
// bucket name is not a DNS label.
#ifndef SLUICE_AWS_S3_CLIENT_H_
#define SLUICE_AWS_S3_CLIENT_H_

#include <asio/awaitable.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "sluice/aws/service_client.h"

namespace sluice::aws {

struct S3Options {
  // Always use path-style URLs.
  bool force_path_style = false;
};

struct PutObjectOptions {
  std::string content_type{};
  std::string content_encoding{};
  // Stored as x-amz-meta-<name> headers.
  std::map<std::string, std::string> metadata{};
};

struct S3ObjectInfo {
  std::uint64_t content_length = 0;
  std::string content_type;
  std::string content_encoding;
  std::string etag;
  std::map<std::string, std::string> metadata;  // x-amz-meta-* (names lower-cased)
};

struct S3Object {
  S3ObjectInfo info;
  std::string body;
};

class S3Client {
 public:
  static Result<std::unique_ptr<S3Client>> create(ClientOptions options = {}, S3Options s3 = {});

  const AwsCall& call() const { return *call_; }

  // The URL an object is addressed by (for messages and presigning).
  Result<std::string> object_url(const std::string& bucket, const std::string& key) const;

  // Returns the ETag.
  asio::awaitable<Result<std::string>> put_object(std::string bucket, std::string key,
                                                  std::string body, PutObjectOptions options = {},
                                                  CallOptions call = {});
  // NotFound (NoSuchKey / NoSuchBucket) when absent.
  asio::awaitable<Result<S3Object>> get_object(std::string bucket, std::string key,
                                               CallOptions call = {});
  asio::awaitable<Result<S3ObjectInfo>> head_object(std::string bucket, std::string key,
                                                    CallOptions call = {});
  // Deleting an absent object succeeds, as in S3.
  asio::awaitable<Status> delete_object(std::string bucket, std::string key, CallOptions call = {});
  // AlreadyExists when the bucket is there (owned by you or not).
  asio::awaitable<Status> create_bucket(std::string bucket, CallOptions call = {});

 private:
  S3Client(std::shared_ptr<AwsCall> call, S3Options s3) : call_(std::move(call)), s3_(s3) {}
  std::shared_ptr<AwsCall> call_;
  S3Options s3_;
};

// Percent-encodes an object key for a URL path (RFC 3986 unreserved
// characters and '/' stay as they are).
std::string s3_encode_key(std::string_view key);

// Reads <Code>, <Message> and <RequestId> of an S3 XML error reply.
AwsErrorInfo parse_s3_error(const HttpResponse& response);

}  // namespace sluice::aws

#endif  // SLUICE_AWS_S3_CLIENT_H_
