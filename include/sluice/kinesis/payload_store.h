// PayloadStore: where the producer puts payloads too large to send through
// Kinesis (the claim-check pattern of seed 003), and where a consumer fetches
// them back. The record on the stream then carries only a small reference
// (payload_codec.h).
//
//   auto s3 = aws::S3Client::create({.region = "us-east-1"});
//   auto store = S3PayloadStore::create(std::move(*s3), {.bucket = "my-large-payload-bucket"});
//   producer_options.payload.store = *store;
//
// Implementations: S3PayloadStore (over sluice's S3 client) and
// InMemoryPayloadStore (tests, single-process pipelines). A store of your own
// implements put() and get(); override the async_ forms too when the store
// can wait without blocking a thread.
#ifndef SLUICE_KINESIS_PAYLOAD_STORE_H_
#define SLUICE_KINESIS_PAYLOAD_STORE_H_

#include <asio/awaitable.hpp>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "sluice/core/result.h"
#include "sluice/core/status.h"

namespace sluice {
class ThreadPool;
namespace aws {
class S3Client;
}  // namespace aws
}  // namespace sluice

namespace sluice::kinesis {

class PayloadStore {
 public:
  virtual ~PayloadStore() = default;

  // Stores `value` under `key`, replacing what was there. Blocking.
  virtual Status put(const std::string& key, std::string value) = 0;
  // The bytes stored under `key`; NotFound naming the key (and the
  // location) when there are none. Blocking.
  virtual Result<std::string> get(const std::string& key) = 0;

  // The same, for coroutines. The defaults call the blocking forms on the
  // calling thread; stores that do network I/O override them.
  virtual asio::awaitable<Status> async_put(std::string key, std::string value);
  virtual asio::awaitable<Result<std::string>> async_get(std::string key);

  // Where `key` lives, for messages: "s3://bucket/key", "memory:key".
  virtual std::string location(std::string_view key) const = 0;
};

// A new claim-check key: "<prefix>/<uuid v4>" ("<uuid>" when the prefix is
// empty). Seed 003 uses the prefix "{logGroupId}-{schemaName}-{streamName}".
std::string make_payload_key(std::string_view prefix);

// Keeps payloads in a map. Thread-safe. For tests and for producers and
// consumers that share a process.
class InMemoryPayloadStore final : public PayloadStore {
 public:
  Status put(const std::string& key, std::string value) override;
  Result<std::string> get(const std::string& key) override;
  std::string location(std::string_view key) const override;

  // Removes an object (tests of missing claim-checks).
  void erase(const std::string& key);
  std::size_t size() const;
  // The keys, sorted.
  std::map<std::string, std::string> snapshot() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, std::string> objects_;
};

struct S3PayloadStoreOptions {
  // The bucket the payloads go to. Required.
  std::string bucket{};
  // Content-Type of the stored objects. Default "application/octet-stream".
  std::string content_type = "application/octet-stream";
};

// Payloads as S3 objects, one per claim-checked record, at the key given
// (the producer's `{prefix}/{uuid}`). get() of an absent object is NotFound
// naming s3://bucket/key. The blocking forms run the S3 calls on a small
// thread of the store's own, so they may be called from any thread,
// including an Asio pool's.
class S3PayloadStore final : public PayloadStore {
 public:
  // InvalidArgument when the bucket is empty or the client is null.
  static Result<std::shared_ptr<S3PayloadStore>> create(std::shared_ptr<aws::S3Client> s3,
                                                        S3PayloadStoreOptions options);
  ~S3PayloadStore() override;

  Status put(const std::string& key, std::string value) override;
  Result<std::string> get(const std::string& key) override;
  asio::awaitable<Status> async_put(std::string key, std::string value) override;
  asio::awaitable<Result<std::string>> async_get(std::string key) override;
  std::string location(std::string_view key) const override;

  const S3PayloadStoreOptions& options() const { return options_; }

 private:
  S3PayloadStore(std::shared_ptr<aws::S3Client> s3, S3PayloadStoreOptions options);
  std::shared_ptr<aws::S3Client> s3_;
  S3PayloadStoreOptions options_;
  std::unique_ptr<ThreadPool> blocking_pool_;  // runs the blocking forms' coroutines
};

}  // namespace sluice::kinesis

#endif  // SLUICE_KINESIS_PAYLOAD_STORE_H_
