#include "sluice/kinesis/kcl/metrics_publisher.h"

#include <cmath>
#include <cstdio>
#include <ctime>

#include "sluice/aws/sigv4.h"
#include "sluice/core/executor.h"

namespace sluice::kinesis::kcl {

namespace {

std::string number_text(double v) {
  if (!std::isfinite(v)) v = 0;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15g", v);
  return buf;
}

std::string iso8601(std::chrono::system_clock::time_point t) {
  const auto secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// The text between <tag> and </tag>, or "".
std::string xml_field(const std::string& body, const std::string& tag) {
  const auto open = body.find("<" + tag + ">");
  if (open == std::string::npos) return "";
  const auto start = open + tag.size() + 2;
  const auto close = body.find("</" + tag + ">", start);
  if (close == std::string::npos) return "";
  return body.substr(start, close - start);
}

// Query-protocol errors: <ErrorResponse><Error><Code>..</Code><Message>..</Message></Error>
// <RequestId>..</RequestId></ErrorResponse>.
aws::AwsErrorInfo parse_query_error(const aws::HttpResponse& r) {
  aws::AwsErrorInfo e;
  e.http_status = r.status;
  e.type = xml_field(r.body, "Code");
  e.message = xml_field(r.body, "Message");
  e.request_id = xml_field(r.body, "RequestId");
  for (const auto& [name, value] : r.headers) {
    if (name == "x-amzn-requestid" && e.request_id.empty()) e.request_id = value;
  }
  if (e.type.empty()) e.type = "HTTP " + std::to_string(r.status);
  return e;
}

asio::awaitable<Status> send_body(std::shared_ptr<aws::AwsCall> call, std::string body) {
  aws::HttpRequest r;
  r.method = "POST";
  r.url = call->endpoint();
  if (r.url.empty() || r.url.back() != '/') r.url += '/';
  r.headers = {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
  r.body = std::move(body);
  const std::string operation = "PutMetricData";
  auto pending = call->send(operation, std::move(r), &parse_query_error);
  Result<aws::HttpResponse> reply = co_await std::move(pending);
  if (!reply.ok()) co_return reply.status();
  co_return Status();
}

}  // namespace

std::string put_metric_data_body(const std::string& ns, std::span<const MetricDatum> data) {
  std::string body = "Action=PutMetricData&Version=2010-08-01&Namespace=" + aws::uri_encode(ns);
  int n = 0;
  for (const MetricDatum& d : data) {
    const std::string m = "&MetricData.member." + std::to_string(++n) + ".";
    body += m + "MetricName=" + aws::uri_encode(d.name);
    body += m + "Value=" + number_text(d.value);
    if (!d.unit.empty()) body += m + "Unit=" + aws::uri_encode(d.unit);
    if (d.timestamp != std::chrono::system_clock::time_point{}) {
      body += m + "Timestamp=" + aws::uri_encode(iso8601(d.timestamp));
    }
    int k = 0;
    for (const auto& [name, value] : d.dimensions) {
      const std::string dim = m + "Dimensions.member." + std::to_string(++k) + ".";
      body += dim + "Name=" + aws::uri_encode(name);
      body += dim + "Value=" + aws::uri_encode(value);
    }
  }
  return body;
}

Result<std::unique_ptr<CloudWatchMetricsPublisher>> CloudWatchMetricsPublisher::create(
    CloudWatchPublisherOptions options) {
  if (options.metric_namespace.empty()) {
    return Status::invalid_argument("CloudWatchPublisherOptions.metric_namespace is required");
  }
  if (options.max_per_request < 1 || options.max_per_request > 1000) {
    return Status::invalid_argument("CloudWatchPublisherOptions.max_per_request must be 1..1000");
  }
  SLUICE_ASSIGN_OR_RETURN(
      auto call,
      aws::AwsCall::create({.name = "CloudWatch", .signing_name = "monitoring"}, options.client));
  return std::unique_ptr<CloudWatchMetricsPublisher>(
      new CloudWatchMetricsPublisher(std::move(options), std::move(call)));
}

CloudWatchMetricsPublisher::CloudWatchMetricsPublisher(CloudWatchPublisherOptions options,
                                                       std::shared_ptr<aws::AwsCall> call)
    : options_(std::move(options)),
      call_(std::move(call)),
      pool_(std::make_unique<ThreadPool>(1, "sluice-cw")) {}

CloudWatchMetricsPublisher::~CloudWatchMetricsPublisher() = default;

Status CloudWatchMetricsPublisher::publish(const std::vector<MetricDatum>& data) {
  const std::size_t per = static_cast<std::size_t>(options_.max_per_request);
  for (std::size_t i = 0; i < data.size(); i += per) {
    std::span<const MetricDatum> chunk(data.data() + i, std::min(per, data.size() - i));
    std::string body = put_metric_data_body(options_.metric_namespace, chunk);
    Status s = run_blocking(pool_->executor(), send_body(call_, std::move(body)));
    if (!s.ok()) return s.with_context("CloudWatch PutMetricData");
  }
  return Status();
}

}  // namespace sluice::kinesis::kcl
