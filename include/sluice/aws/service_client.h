// What every AWS service client shares: where to send requests (region and
// endpoint), how to sign them (credentials), how to retry (the AWS standard
// retry mode, with a retry quota), and how errors become Status values.
//
// KinesisClient, DynamoDbClient and S3Client are built on AwsCall. Options
// left empty are resolved as the AWS SDKs do: region from AWS_REGION /
// AWS_DEFAULT_REGION / the profile, endpoint from AWS_ENDPOINT_URL_<SERVICE>
// / AWS_ENDPOINT_URL / the public AWS endpoint, credentials from the default
// chain.
#ifndef SLUICE_AWS_SERVICE_CLIENT_H_
#define SLUICE_AWS_SERVICE_CLIENT_H_

#include <asio/awaitable.hpp>
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <stop_token>
#include <string>
#include <string_view>

#include "sluice/aws/credentials.h"
#include "sluice/aws/http_client.h"
#include "sluice/core/clock.h"
#include "sluice/core/logger.h"
#include "sluice/core/metrics.h"
#include "sluice/core/result.h"

namespace sluice::aws {

// The AWS "standard" retry mode.
struct RetryOptions {
  // Attempts per call, the first included (1 = never retry).
  int max_attempts = 3;
  // Backoff before retry n: uniform in [0, min(max_backoff, base * 2^(n-1))],
  // with `throttling_base_delay` as the base after a throttling error.
  std::chrono::milliseconds base_delay = std::chrono::milliseconds(100);
  std::chrono::milliseconds throttling_base_delay = std::chrono::milliseconds(500);
  std::chrono::milliseconds max_backoff = std::chrono::seconds(20);
  // Retry quota: a retry spends `retry_cost` tokens (`timeout_retry_cost`
  // after a timeout or connection error), a call that succeeds first time
  // earns one back, a retried call that succeeds refunds its cost. With the
  // bucket empty, failures are returned without retrying, so a sick endpoint
  // is not hammered. 0 disables the quota.
  int retry_quota = 500;
  int retry_cost = 5;
  int timeout_retry_cost = 10;
};

struct ClientOptions {
  // "us-east-1". Empty: AWS_REGION, AWS_DEFAULT_REGION, then the profile.
  std::string region{};
  // "http://127.0.0.1:4567". Empty: AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL,
  // then https://<service>.<region>.amazonaws.com.
  std::string endpoint{};
  // Null: the default credential chain.
  std::shared_ptr<CredentialsProvider> credentials{};
  // Share one HttpClient between service clients; null makes one with
  // `http_options`.
  std::shared_ptr<HttpClient> http{};
  HttpClientOptions http_options{};
  RetryOptions retry{};
  std::shared_ptr<Logger> logger{};    // null: no logging
  MetricsRegistry* metrics = nullptr;  // null: MetricsRegistry::global()
  const Clock* clock = nullptr;        // null: Clock::real()
};

// Per-call overrides.
struct CallOptions {
  // 0: the client's RetryOptions::max_attempts.
  int max_attempts = 0;
  // Ends a backoff wait early (the call then fails with Cancelled).
  std::stop_token stop{};
};

// The parts of an AWS error reply.
struct AwsErrorInfo {
  int http_status = 0;
  std::string type;        // "ResourceNotFoundException" (namespace prefix removed)
  std::string message;     // the service's explanation
  std::string request_id;  // for AWS support
};

// Maps an AWS error to a Status: throttling (ProvisionedThroughputExceeded,
// Throttling, LimitExceeded, RequestLimitExceeded, TooManyRequests, SlowDown,
// HTTP 429) is Throttled; 5xx is Unavailable; ResourceNotFound/NoSuchKey/
// NoSuchBucket is NotFound; ResourceInUse is AlreadyExists;
// ConditionalCheckFailed is ConditionFailed; ExpiredIterator is
// ExpiredIterator (not retryable as is: a new iterator is needed);
// credential and signature errors are PermissionDenied; validation errors
// are InvalidArgument. The message reads
// "<service> <operation>: <type>: <message> (HTTP <status>, request id <id>)".
Status aws_error_status(std::string_view service, std::string_view operation,
                        const AwsErrorInfo& error);

// Extracts the error of an awsJson reply: `__type` (with or without a
// "namespace#" prefix), `message`/`Message`, x-amzn-RequestId.
AwsErrorInfo parse_json_error(const HttpResponse& response);

// Region, endpoint, credentials, signing, retries and metrics for one service.
class AwsCall {
 public:
  struct Service {
    // The SDK service id: "Kinesis", "DynamoDB", "S3" (messages, metrics,
    // AWS_ENDPOINT_URL_<ID>).
    std::string name;
    // The SigV4 signing name and default host prefix: "kinesis".
    std::string signing_name;
    // S3 signs paths as written and payloads as UNSIGNED-PAYLOAD (with the
    // x-amz-content-sha256 header); every other service normalises paths and
    // hashes the body.
    bool s3_signing = false;
  };

  // Resolves region, endpoint and credentials now, so that a missing region
  // or a malformed endpoint is reported at construction.
  static Result<std::shared_ptr<AwsCall>> create(Service service, ClientOptions options);

  const Service& service() const { return service_; }
  const std::string& region() const { return region_; }
  const std::string& endpoint() const { return endpoint_; }
  const ClientOptions& options() const { return options_; }
  const Clock& clock() const { return *clock_; }
  Logger& logger() const { return *logger_; }

  // Signs and sends `request` with retries. `parse_error` turns a non-2xx
  // reply into AwsErrorInfo (JSON or XML services differ). A 2xx reply is
  // returned as is; an error reply becomes the mapped Status once retries
  // are spent or the error is not retryable.
  using ErrorParser = AwsErrorInfo (*)(const HttpResponse&);
  asio::awaitable<Result<HttpResponse>> send(std::string_view operation, HttpRequest request,
                                             ErrorParser parse_error, CallOptions call = {});

  // awsJson 1.0/1.1: POST to the endpoint with X-Amz-Target
  // "<target_prefix>.<operation>".
  asio::awaitable<Result<HttpResponse>> json(std::string_view target_prefix,
                                             std::string_view json_version,
                                             std::string_view operation, std::string body,
                                             CallOptions call = {});

  // Tokens left in the retry quota (for tests).
  int retry_tokens() const { return tokens_.load(); }

 private:
  AwsCall() = default;
  struct OperationMetrics;
  OperationMetrics& metrics_for(std::string_view operation);

  Service service_;
  ClientOptions options_;
  std::string region_;
  std::string endpoint_;
  std::shared_ptr<CredentialsProvider> credentials_;
  std::shared_ptr<HttpClient> http_;
  std::shared_ptr<Logger> logger_;
  const Clock* clock_ = nullptr;
  std::atomic<int> tokens_{0};
  // Jitter source. Not thread_local: a coroutine may resume on another
  // thread, and GCC 12 keeps the first thread's TLS address across the
  // suspension.
  std::mutex rng_mu_;
  std::mt19937_64 rng_{std::random_device{}()};
  std::mutex metrics_mu_;
  std::map<std::string, std::unique_ptr<OperationMetrics>, std::less<>> metrics_;
};

}  // namespace sluice::aws

#endif  // SLUICE_AWS_SERVICE_CLIENT_H_
