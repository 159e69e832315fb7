// examples/readme/record_handler.cc
// A Kinesis consumer with a record handler: checkpoints in SQLite, so a
// restart resumes where it stopped; Ctrl-C stops it gracefully.
#include <cstdio>
#include <memory>
#include <stop_token>

#include "sluice/aws/kinesis_client.h"
#include "sluice/core/shutdown_signals.h"
#include "sluice/kinesis/consumer.h"
#include "sluice/kinesis/payload_codec.h"
#include "sluice/kinesis/sqlite_checkpoint_store.h"

int fail(const sluice::Status& s) {
  std::fprintf(stderr, "%s\n", s.to_string().c_str());
  return 1;
}

int main() {
  // Region, endpoint and credentials are resolved as the AWS SDKs do:
  // AWS_REGION, AWS_ENDPOINT_URL_KINESIS, the default credential chain...
  auto kinesis = sluice::aws::KinesisClient::create({});
  if (!kinesis.ok()) return fail(kinesis.status());
  auto store = sluice::kinesis::SqliteCheckpointStore::open("checkpoints.db");
  if (!store.ok()) return fail(store.status());

  sluice::kinesis::ConsumerOptions options;
  options.stream_name = "orders";
  options.start_position = sluice::kinesis::StartPosition::kTrimHorizon;
  // Undo the producer's compression (no claim-check store here).
  options.payload_decoder = sluice::kinesis::make_payload_decoder(nullptr);
  options.record_handler = [](const sluice::kinesis::Record& r) -> sluice::Status {
    std::printf("%.*s %.*s\n", static_cast<int>(r.shard_id.size()), r.shard_id.data(),
                static_cast<int>(r.data.size()), r.data.data());
    return sluice::Status();  // an error (or an exception) is retried
  };

  auto consumer = sluice::kinesis::Consumer::create(options, std::move(*kinesis), *store);
  if (!consumer.ok()) return fail(consumer.status());
  std::stop_source stop;
  sluice::ShutdownSignals signals(stop);  // SIGINT/SIGTERM request the stop
  sluice::Status s = (*consumer)->start(stop.get_token());
  return s.ok() ? 0 : fail(s);
}
