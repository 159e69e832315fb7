#include "sluice/aws/service_client.h"

#include <simdjson.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "sluice/aws/config.h"
#include "sluice/aws/sigv4.h"
#include "sluice/core/executor.h"

namespace sluice::aws {
namespace {

bool is_throttling(std::string_view type, int http_status) {
  static constexpr std::string_view kThrottling[] = {
      "ProvisionedThroughputExceededException",
      "ThrottlingException",
      "Throttling",
      "ThrottledException",
      "LimitExceededException",
      "RequestLimitExceeded",
      "TooManyRequestsException",
      "RequestThrottled",
      "RequestThrottledException",
      "SlowDown",
      "BandwidthLimitExceeded",
      "TransactionInProgressException",
      "PriorRequestNotComplete",
      "EC2ThrottledException",
  };
  if (http_status == 429) return true;
  return std::find(std::begin(kThrottling), std::end(kThrottling), type) != std::end(kThrottling);
}

bool is_auth_error(std::string_view type) {
  static constexpr std::string_view kAuth[] = {
      "AccessDeniedException",
      "AccessDenied",
      "UnrecognizedClientException",
      "InvalidSignatureException",
      "SignatureDoesNotMatch",
      "IncompleteSignature",
      "MissingAuthenticationToken",
      "MissingAuthenticationTokenException",
      "ExpiredTokenException",
      "ExpiredToken",
      "InvalidAccessKeyId",
      "InvalidClientTokenId",
      "RequestExpired",
      "RequestTimeTooSkewed",
      "KMSAccessDeniedException",
  };
  return std::find(std::begin(kAuth), std::end(kAuth), type) != std::end(kAuth);
}

bool is_validation_error(std::string_view type) {
  static constexpr std::string_view kValidation[] = {
      "ValidationException",
      "InvalidArgumentException",
      "SerializationException",
      "InvalidParameterValueException",
      "InvalidParameterException",
      "InvalidRequest",
      "InvalidArgument",
      "MalformedXML",
      "InvalidBucketName",
      "KeyTooLongError",
      "EntityTooLarge",
      "UnknownOperationException",
      "InvalidAction",
  };
  return std::find(std::begin(kValidation), std::end(kValidation), type) != std::end(kValidation);
}

std::string strip_type(std::string_view type) {
  // "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
  // or an x-amzn-ErrorType header "Type:http://internal.amazon.com/...".
  if (auto hash = type.rfind('#'); hash != std::string_view::npos) type = type.substr(hash + 1);
  if (auto colon = type.find(':'); colon != std::string_view::npos) type = type.substr(0, colon);
  return std::string(type);
}

}  // namespace

Status aws_error_status(std::string_view service, std::string_view operation,
                        const AwsErrorInfo& e) {
  std::string msg = std::string(service) + " " + std::string(operation) + ": ";
  msg += e.type.empty() ? "HTTP " + std::to_string(e.http_status) + " error" : e.type;
  if (!e.message.empty()) msg += ": " + e.message;
  msg += " (HTTP " + std::to_string(e.http_status);
  if (!e.request_id.empty()) msg += ", request id " + e.request_id;
  msg += ")";
  const std::string_view t = e.type;
  if (is_throttling(t, e.http_status)) return Status::throttled(std::move(msg));
  if (t == "ResourceNotFoundException" || t == "NoSuchKey" || t == "NoSuchBucket" ||
      t == "NotFound" || t == "TableNotFoundException" || t == "StreamNotFoundException") {
    return Status::not_found(std::move(msg));
  }
  if (t == "ResourceInUseException" || t == "BucketAlreadyExists" ||
      t == "BucketAlreadyOwnedByYou" || t == "TableAlreadyExistsException") {
    return Status::already_exists(std::move(msg));
  }
  if (t == "ConditionalCheckFailedException" || t == "PreconditionFailed" ||
      t == "TransactionCanceledException") {
    return Status::condition_failed(std::move(msg));
  }
  if (t == "ExpiredIteratorException") {
    // Retrying the same call cannot help: the caller needs a new iterator.
    return Status(StatusCode::kExpiredIterator, std::move(msg), false);
  }
  if (is_auth_error(t) || e.http_status == 401 || e.http_status == 403) {
    return Status::permission_denied(std::move(msg));
  }
  if (e.http_status >= 500 || t == "InternalFailure" || t == "InternalServerError" ||
      t == "ServiceUnavailable" || t == "InternalError") {
    return Status::unavailable(std::move(msg));
  }
  if (is_validation_error(t)) return Status::invalid_argument(std::move(msg));
  if (e.http_status == 404) return Status::not_found(std::move(msg));
  return Status::failed_precondition(std::move(msg));
}

AwsErrorInfo parse_json_error(const HttpResponse& r) {
  AwsErrorInfo e;
  e.http_status = r.status;
  e.request_id = std::string(r.header("x-amzn-requestid"));
  if (e.request_id.empty()) e.request_id = std::string(r.header("x-amz-request-id"));
  std::string type;
  if (!r.body.empty()) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(r.body.data(), r.body.size(), true).get(doc) == simdjson::SUCCESS &&
        doc.is_object()) {
      std::string_view v;
      if (doc["__type"].get(v) == simdjson::SUCCESS) type = std::string(v);
      if (doc["message"].get(v) == simdjson::SUCCESS ||
          doc["Message"].get(v) == simdjson::SUCCESS) {
        e.message = std::string(v);
      }
    } else {
      // Not JSON (a proxy's HTML page, say): keep a bounded excerpt.
      e.message = r.body.substr(0, 200);
    }
  }
  if (type.empty()) type = std::string(r.header("x-amzn-errortype"));
  e.type = strip_type(type);
  return e;
}

// --- AwsCall -----------------------------------------------------------------

struct AwsCall::OperationMetrics {
  Counter* ok;
  Counter* throttled;
  Counter* failed;
  Counter* transport_errors;
  Counter* retries;
  Histogram* latency;
};

AwsCall::OperationMetrics& AwsCall::metrics_for(std::string_view operation) {
  std::lock_guard lock(metrics_mu_);
  auto it = metrics_.find(operation);
  if (it != metrics_.end()) return *it->second;
  MetricsRegistry& reg = registry_or_global(options_.metrics);
  auto& requests = reg.counter("sluice_aws_requests_total",
                               "AWS API attempts by service, operation and outcome.",
                               {"service", "operation", "outcome"});
  auto& retries = reg.counter("sluice_aws_retries_total", "AWS API attempts that were retries.",
                              {"service", "operation"});
  auto& latency = reg.histogram("sluice_aws_request_duration_seconds",
                                "Duration of one AWS API attempt.", {"service", "operation"});
  const std::string& svc = service_.name;
  const std::string op(operation);
  auto m = std::make_unique<OperationMetrics>(OperationMetrics{
      &requests.with({svc, op, "ok"}), &requests.with({svc, op, "throttled"}),
      &requests.with({svc, op, "error"}), &requests.with({svc, op, "transport_error"}),
      &retries.with({svc, op}), &latency.with({svc, op})});
  auto& ref = *m;
  metrics_.emplace(op, std::move(m));
  return ref;
}

Result<std::shared_ptr<AwsCall>> AwsCall::create(Service service, ClientOptions options) {
  std::shared_ptr<AwsCall> c(new AwsCall());
  SLUICE_ASSIGN_OR_RETURN(c->region_, resolve_region(options.region));
  SLUICE_ASSIGN_OR_RETURN(c->endpoint_, resolve_endpoint(service.name, service.signing_name,
                                                         c->region_, options.endpoint));
  SLUICE_RETURN_IF_ERROR(parse_url(c->endpoint_).status().with_context(service.name + " endpoint"));
  if (options.retry.max_attempts < 1) {
    return Status::invalid_argument("retry.max_attempts must be >= 1, got " +
                                    std::to_string(options.retry.max_attempts));
  }
  c->http_ = options.http ? options.http : std::make_shared<HttpClient>(options.http_options);
  c->logger_ = options.logger ? options.logger : make_noop_logger();
  c->clock_ = options.clock ? options.clock : &Clock::real();
  c->credentials_ = options.credentials;
  if (!c->credentials_) {
    CredentialsOptions chain;
    chain.clock = c->clock_;
    chain.logger = c->logger_;
    c->credentials_ = make_default_credentials_chain(std::move(chain));
  }
  c->tokens_ = options.retry.retry_quota;
  c->service_ = std::move(service);
  c->options_ = std::move(options);
  return c;
}

asio::awaitable<Result<HttpResponse>> AwsCall::json(std::string_view target_prefix,
                                                    std::string_view json_version,
                                                    std::string_view operation, std::string body,
                                                    CallOptions call) {
  HttpRequest r;
  r.method = "POST";
  r.url = endpoint_;
  r.headers = {{"Content-Type", "application/x-amz-json-" + std::string(json_version)},
               {"X-Amz-Target", std::string(target_prefix) + "." + std::string(operation)}};
  r.body = std::move(body);
  // Named locals, not temporaries, cross the co_await (docs/DEVELOPING.md).
  std::string op(operation);
  auto pending = send(op, std::move(r), &parse_json_error, call);
  Result<HttpResponse> res = co_await std::move(pending);
  co_return res;
}

asio::awaitable<Result<HttpResponse>> AwsCall::send(std::string_view operation_view,
                                                    HttpRequest request, ErrorParser parse_error,
                                                    CallOptions call) {
  const std::string operation(operation_view);
  OperationMetrics& m = metrics_for(operation);
  const RetryOptions& retry = options_.retry;
  const int max_attempts = call.max_attempts > 0 ? call.max_attempts : retry.max_attempts;

  SigV4Options signing;
  signing.region = region_;
  signing.service = service_.signing_name;
  signing.normalize_path = !service_.s3_signing;
  if (service_.s3_signing) {
    // S3 signs the path as sent: encoded once, not normalised.
    signing.double_encode_path = false;
    signing.payload = SigV4Options::Payload::kUnsigned;
    signing.add_content_sha256_header = true;
  }

  int spent = 0;  // retry tokens this call has used
  for (int attempt = 1;; ++attempt) {
    auto creds = credentials_->credentials();
    if (!creds.ok()) co_return creds.status().with_context(service_.name + " " + operation);
    // Re-signed on every attempt: the date moves, and credentials may have
    // been refreshed.
    for (const char* h :
         {"authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"}) {
      std::erase_if(request.headers, [h](const auto& kv) {
        return kv.first.size() == std::strlen(h) &&
               std::equal(kv.first.begin(), kv.first.end(), h, [](char a, char b) {
                 return std::tolower(static_cast<unsigned char>(a)) == b;
               });
      });
    }
    signing.time = clock_->wall_now();
    auto signed_ok = sign_request(request, *creds, signing);
    if (!signed_ok.ok()) co_return signed_ok.status();

    const auto started = clock_->now();
    auto pending = http_->send_ref(request);
    Result<HttpResponse> res = co_await std::move(pending);
    m.latency->observe(std::chrono::duration<double>(clock_->now() - started).count());

    Status failure;
    bool transport = false;
    if (!res.ok()) {
      failure = res.status().with_context(service_.name + " " + operation);
      transport = true;
      m.transport_errors->inc();
    } else if (res->status >= 200 && res->status < 300) {
      m.ok->inc();
      if (retry.retry_quota > 0) {
        if (attempt == 1) {
          int t = tokens_.load();
          while (t < retry.retry_quota && !tokens_.compare_exchange_weak(t, t + 1)) {
          }
        } else {
          tokens_.fetch_add(spent);
        }
      }
      co_return res;
    } else {
      failure = aws_error_status(service_.name, operation, parse_error(*res));
      (failure.code() == StatusCode::kThrottled ? m.throttled : m.failed)->inc();
    }

    if (!failure.retryable()) co_return failure;
    if (attempt >= max_attempts) {
      co_return failure.with_context("after " + std::to_string(attempt) + " attempts");
    }
    const int cost = transport ? retry.timeout_retry_cost : retry.retry_cost;
    if (retry.retry_quota > 0) {
      int t = tokens_.load();
      bool took = false;
      while (t >= cost) {
        if (tokens_.compare_exchange_weak(t, t - cost)) {
          took = true;
          break;
        }
      }
      if (!took) {
        co_return Status(failure.code(),
                         std::string(failure.message()) +
                             " (not retried: the client's retry quota is exhausted, the endpoint "
                             "keeps failing)",
                         failure.retryable());
      }
      spent += cost;
    }
    const auto base =
        failure.code() == StatusCode::kThrottled ? retry.throttling_base_delay : retry.base_delay;
    const double ceiling = std::min<double>(
        static_cast<double>(retry.max_backoff.count()),
        static_cast<double>(base.count()) * static_cast<double>(1ull << std::min(attempt - 1, 30)));
    double jittered;
    {
      std::lock_guard lock(rng_mu_);
      jittered = std::uniform_real_distribution<double>(0.0, ceiling)(rng_);
    }
    const auto delay = std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::duration<double, std::milli>(jittered));
    m.retries->inc();
    if (logger_->enabled(LogLevel::kDebug)) {
      logger_->debug("retrying AWS call", {{"service", service_.name},
                                           {"operation", operation},
                                           {"attempt", attempt + 1},
                                           {"delay", delay},
                                           {"error", failure}});
    }
    auto sleep = async_sleep_for(*clock_, delay, call.stop);
    const bool slept = co_await std::move(sleep);
    if (!slept) {
      co_return Status::cancelled(service_.name + " " + operation + ": stopped while backing off");
    }
  }
}

}  // namespace sluice::aws
