#include "sluice/kafka/mock_cluster.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

namespace sluice::kafka {

struct MockCluster::Handles {
  rd_kafka_t* rk = nullptr;  // the mock cluster lives inside this client handle
  rd_kafka_mock_cluster_t* cluster = nullptr;
  ~Handles() {
    if (cluster) rd_kafka_mock_cluster_destroy(cluster);
    if (rk) rd_kafka_destroy(rk);
  }
};

Result<std::unique_ptr<MockCluster>> MockCluster::start(MockClusterOptions options) {
  if (options.brokers < 1) {
    return Status::invalid_argument("mock cluster: brokers must be >= 1, got " +
                                    std::to_string(options.brokers));
  }
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The hosting handle never talks to anything; keep it quiet.
  rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);
  auto handles = std::make_unique<Handles>();
  handles->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!handles->rk) {
    rd_kafka_conf_destroy(conf);
    return Status::internal(std::string("mock cluster: cannot create the hosting client: ") + err);
  }
  handles->cluster = rd_kafka_mock_cluster_new(handles->rk, options.brokers);
  if (!handles->cluster) return Status::internal("mock cluster: rd_kafka_mock_cluster_new failed");
  std::unique_ptr<MockCluster> out(new MockCluster());
  out->bootstrap_ = rd_kafka_mock_cluster_bootstraps(handles->cluster);
  out->handles_ = std::move(handles);
  return out;
}

MockCluster::~MockCluster() = default;

Status MockCluster::create_topic(const std::string& topic, int partitions) {
  if (topic.empty()) return Status::invalid_argument("mock cluster: topic name is empty");
  if (partitions < 1) {
    return Status::invalid_argument("mock cluster: topic \"" + topic + "\" needs >= 1 partition");
  }
  rd_kafka_resp_err_t e =
      rd_kafka_mock_topic_create(handles_->cluster, topic.c_str(), partitions, 1);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::internal("mock cluster: create topic \"" + topic + "\": " + rd_kafka_err2str(e));
  }
  return Status();
}

Status MockCluster::set_broker_up(int broker_id, bool up) {
  rd_kafka_resp_err_t e = up ? rd_kafka_mock_broker_set_up(handles_->cluster, broker_id)
                             : rd_kafka_mock_broker_set_down(handles_->cluster, broker_id);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return Status::invalid_argument("mock cluster: broker " + std::to_string(broker_id) + ": " +
                                    rd_kafka_err2str(e));
  }
  return Status();
}

Status MockCluster::delay_responses(int broker_id, std::int16_t api_key, int count,
                                    std::chrono::milliseconds delay) {
  for (int i = 0; i < count; ++i) {
    const rd_kafka_resp_err_t e = rd_kafka_mock_broker_push_request_error_rtts(
        handles_->cluster, broker_id, api_key, 1, RD_KAFKA_RESP_ERR_NO_ERROR,
        static_cast<int>(delay.count()));
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return Status::invalid_argument("mock cluster: broker " + std::to_string(broker_id) + ": " +
                                      rd_kafka_err2str(e));
    }
  }
  return Status();
}

}  // namespace sluice::kafka
