// MetricsPublisher: where the KCL-style worker sends its periodic metrics,
// and CloudWatchMetricsPublisher, which sends them to Amazon CloudWatch with
// PutMetricData (the AWS Query protocol: a form-encoded POST signed with
// SigV4 for the "monitoring" service), as the Java KCL does.
//
//   auto cw = sluice::kinesis::kcl::CloudWatchMetricsPublisher::create(
//       {.metric_namespace = "my-app"});           // region, endpoint, credentials
//   worker_config.metrics_publisher = std::move(*cw);  // as the AWS SDKs resolve them
//
// The endpoint honours AWS_ENDPOINT_URL_CLOUDWATCH (and AWS_ENDPOINT_URL).
// Implement MetricsPublisher to send the same figures elsewhere.
#ifndef SLUICE_KINESIS_KCL_METRICS_PUBLISHER_H_
#define SLUICE_KINESIS_KCL_METRICS_PUBLISHER_H_

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "sluice/aws/service_client.h"
#include "sluice/core/result.h"
#include "sluice/core/status.h"

namespace sluice {
class ThreadPool;
}

namespace sluice::kinesis::kcl {

struct MetricDatum {
  std::string name{};
  double value = 0;
  // A CloudWatch unit: "Count", "Milliseconds", "Seconds", "Bytes", "None", ...
  std::string unit = "Count";
  std::vector<std::pair<std::string, std::string>> dimensions{};
  // The epoch (default) means "now" to CloudWatch (no Timestamp is sent).
  std::chrono::system_clock::time_point timestamp{};
};

class MetricsPublisher {
 public:
  virtual ~MetricsPublisher() = default;
  // Sends one batch of data points; may block.
  virtual Status publish(const std::vector<MetricDatum>& data) = 0;
};

struct CloudWatchPublisherOptions {
  // The CloudWatch namespace (the KCL uses the application name).
  std::string metric_namespace{};
  // Region, endpoint, credentials, retries.
  aws::ClientOptions client{};
  // Data points per PutMetricData request (CloudWatch allows up to 1000).
  int max_per_request = 1000;
};

class CloudWatchMetricsPublisher final : public MetricsPublisher {
 public:
  static Result<std::unique_ptr<CloudWatchMetricsPublisher>> create(
      CloudWatchPublisherOptions options);
  ~CloudWatchMetricsPublisher() override;
  // One PutMetricData per max_per_request data points.
  Status publish(const std::vector<MetricDatum>& data) override;

 private:
  CloudWatchMetricsPublisher(CloudWatchPublisherOptions options,
                             std::shared_ptr<aws::AwsCall> call);
  CloudWatchPublisherOptions options_;
  std::shared_ptr<aws::AwsCall> call_;
  std::unique_ptr<ThreadPool> pool_;
};

// The form body of one PutMetricData request (Action, Version, Namespace,
// MetricData.member.N.*), for tests and debugging.
std::string put_metric_data_body(const std::string& metric_namespace,
                                 std::span<const MetricDatum> data);

}  // namespace sluice::kinesis::kcl

#endif  // SLUICE_KINESIS_KCL_METRICS_PUBLISHER_H_
