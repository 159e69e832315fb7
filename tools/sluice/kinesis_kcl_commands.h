// The KCL-compatible commands of `sluice kinesis`: `leases` (inspect a Java-
// KCL-compatible lease table) and the lease-table-coordinated mode of
// `consume` (--app).
#ifndef SLUICE_TOOLS_SLUICE_KINESIS_KCL_COMMANDS_H_
#define SLUICE_TOOLS_SLUICE_KINESIS_KCL_COMMANDS_H_

#include <functional>
#include <string>

#include "cli.h"
#include "sluice/kinesis/record.h"

namespace sluice::cli {

// `sluice kinesis consume --app NAME`: what the consume command passes on.
struct KclConsumeOptions {
  std::string app;
  std::string table;  // empty: the application name
  std::string stream;
  std::string from = "latest";  // latest, trim-horizon, or an RFC 3339 time
  std::string worker_id;        // empty: host name + random suffix
  std::string dynamodb_endpoint_url;
  double failover_time = 10;  // seconds
  double take_interval = 5;   // seconds
  int max_leases = 0;
  int leases_to_acquire = 0;
  int batch_size = 100;
  long long max_records = 0;
  double idle_exit = 0;
};

// Runs a KCL worker that prints each user record with `print` (on handler
// threads, one record at a time) and checkpoints after every batch.
Status run_kcl_consume(const KclConsumeOptions& options, Context& ctx,
                       const std::function<void(const kinesis::Record&)>& print);

// Adds `sluice kinesis leases` to the kinesis group.
void add_kinesis_lease_commands(CLI::App& kinesis, Context& ctx);

}  // namespace sluice::cli

#endif  // SLUICE_TOOLS_SLUICE_KINESIS_KCL_COMMANDS_H_
