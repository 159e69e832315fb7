#include "sluice/aws/s3_client.h"
#include "sluice/core/executor.h"
#include "sluice/kinesis/payload_store.h"

namespace sluice::kinesis {

Result<std::shared_ptr<S3PayloadStore>> S3PayloadStore::create(std::shared_ptr<aws::S3Client> s3,
                                                               S3PayloadStoreOptions options) {
  if (!s3) return Status::invalid_argument("S3PayloadStore: the S3 client is null");
  if (options.bucket.empty()) {
    return Status::invalid_argument("S3PayloadStoreOptions.bucket: must name the bucket");
  }
  return std::shared_ptr<S3PayloadStore>(new S3PayloadStore(std::move(s3), std::move(options)));
}

S3PayloadStore::S3PayloadStore(std::shared_ptr<aws::S3Client> s3, S3PayloadStoreOptions options)
    : s3_(std::move(s3)),
      options_(std::move(options)),
      blocking_pool_(std::make_unique<ThreadPool>(1, "sluice-s3store")) {}

S3PayloadStore::~S3PayloadStore() = default;

asio::awaitable<Status> S3PayloadStore::async_put(std::string key, std::string value) {
  aws::PutObjectOptions put_options;
  put_options.content_type = options_.content_type;
  // Awaitables are built in their own statements: GCC 12 may destroy a
  // temporary of a co_await expression twice (DEVELOPING.md).
  auto put_op = s3_->put_object(options_.bucket, key, std::move(value), std::move(put_options));
  Result<std::string> etag = co_await std::move(put_op);
  if (!etag.ok()) {
    co_return etag.status().with_context("storing claim-checked payload " + location(key));
  }
  co_return Status();
}

asio::awaitable<Result<std::string>> S3PayloadStore::async_get(std::string key) {
  auto get_op = s3_->get_object(options_.bucket, key);
  Result<aws::S3Object> object = co_await std::move(get_op);
  if (!object.ok()) {
    Status s = object.status();
    if (s.code() == StatusCode::kNotFound) {
      co_return Status::not_found("claim-checked payload " + location(key) + " does not exist (" +
                                  std::string(s.message()) + ")");
    }
    co_return s.with_context("fetching claim-checked payload " + location(key));
  }
  co_return std::move(object->body);
}

Status S3PayloadStore::put(const std::string& key, std::string value) {
  return run_blocking(blocking_pool_->executor(), async_put(key, std::move(value)));
}

Result<std::string> S3PayloadStore::get(const std::string& key) {
  return run_blocking(blocking_pool_->executor(), async_get(key));
}

std::string S3PayloadStore::location(std::string_view key) const {
  return "s3://" + options_.bucket + "/" + std::string(key);
}

}  // namespace sluice::kinesis
