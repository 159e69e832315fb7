// CloudWatchMetricsPublisher against a local HTTP server that checks each
// PutMetricData request: Query protocol form body, SigV4 for "monitoring",
// batching by max_per_request, and errors named by their code.
#include <gtest/gtest.h>

#include "sluice/kinesis/kcl/metrics_publisher.h"
#include "support/local_http_server.h"

namespace sluice::kinesis::kcl {
namespace {

CloudWatchPublisherOptions options_for(const sluice::testing::LocalHttpServer& server) {
  CloudWatchPublisherOptions o;
  o.metric_namespace = "my-app";
  o.client.region = "us-east-1";
  o.client.endpoint = server.url();
  o.client.credentials = aws::make_static_credentials("AKIDEXAMPLE", "secret");
  o.max_per_request = 2;
  return o;
}

TEST(KclMetricsPublisherTest, SendsSignedPutMetricDataRequestsInBatches) {
  sluice::testing::LocalHttpServer server([](const sluice::testing::RecordedRequest&) {
    return sluice::testing::LocalHttpResponse{
        .status = 200,
        .body =
            "<PutMetricDataResponse><ResponseMetadata><RequestId>r1</RequestId>"
            "</ResponseMetadata></PutMetricDataResponse>"};
  });
  auto publisher = CloudWatchMetricsPublisher::create(options_for(server));
  ASSERT_TRUE(publisher.ok()) << publisher.status();
  const std::vector<std::pair<std::string, std::string>> dims = {{"WorkerIdentifier", "host-1 a"}};
  std::vector<MetricDatum> data = {{"RecordsProcessed", 42, "Count", dims, {}},
                                   {"MillisBehindLatest", 1500, "Milliseconds", dims, {}},
                                   {"LeasesHeld", 3, "Count", dims, {}}};
  ASSERT_TRUE((*publisher)->publish(data).ok());
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u) << "3 data points, 2 per request";
  const auto& first = requests[0];
  EXPECT_EQ(first.method, "POST");
  EXPECT_NE(first.header("Content-Type").find("application/x-www-form-urlencoded"),
            std::string::npos);
  EXPECT_NE(first.header("Authorization").find("/us-east-1/monitoring/aws4_request"),
            std::string::npos)
      << first.header("Authorization");
  const std::string& body = first.body;
  for (const char* part : {"Action=PutMetricData", "Version=2010-08-01", "Namespace=my-app",
                           "MetricData.member.1.MetricName=RecordsProcessed",
                           "MetricData.member.1.Value=42", "MetricData.member.1.Unit=Count",
                           "MetricData.member.1.Dimensions.member.1.Name=WorkerIdentifier",
                           "MetricData.member.1.Dimensions.member.1.Value=host-1%20a",
                           "MetricData.member.2.MetricName=MillisBehindLatest",
                           "MetricData.member.2.Unit=Milliseconds"}) {
    EXPECT_NE(body.find(part), std::string::npos) << part << " in " << body;
  }
  EXPECT_EQ(body.find("MetricData.member.3"), std::string::npos);
  EXPECT_NE(requests[1].body.find("MetricData.member.1.MetricName=LeasesHeld"), std::string::npos);
}

TEST(KclMetricsPublisherTest, ErrorsNameTheirCode) {
  sluice::testing::LocalHttpServer server([](const sluice::testing::RecordedRequest&) {
    return sluice::testing::LocalHttpResponse{
        .status = 400,
        .body =
            "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidParameterValue</Code>"
            "<Message>bad unit</Message></Error><RequestId>r2</RequestId></ErrorResponse>"};
  });
  auto publisher = CloudWatchMetricsPublisher::create(options_for(server));
  ASSERT_TRUE(publisher.ok());
  Status s = (*publisher)->publish({{"X", 1, "Count", {}, {}}});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.to_string().find("InvalidParameterValue"), std::string::npos) << s;
  EXPECT_FALSE(CloudWatchMetricsPublisher::create({}).ok()) << "the namespace is required";
}

}  // namespace
}  // namespace sluice::kinesis::kcl
