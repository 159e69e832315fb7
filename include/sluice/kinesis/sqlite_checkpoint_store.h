// SqliteCheckpointStore: checkpoints in an SQLite database file, for a
// consumer that runs as one process and must survive restarts without a
// server to keep state in. Writes are durable (WAL, synchronous=FULL) before
// save() returns.
//
//   auto store = SqliteCheckpointStore::open("/var/lib/my-service/checkpoints.db");
//   if (!store.ok()) return store.status();
#ifndef SLUICE_KINESIS_SQLITE_CHECKPOINT_STORE_H_
#define SLUICE_KINESIS_SQLITE_CHECKPOINT_STORE_H_

#include <memory>
#include <mutex>
#include <string>

#include "sluice/core/checkpoint_store.h"

struct sqlite3;

namespace sluice::kinesis {

class SqliteCheckpointStore final : public CheckpointStore {
 public:
  // Opens (creating if needed) the database at `path` and its table.
  // ":memory:" gives a private in-memory database.
  static Result<std::shared_ptr<SqliteCheckpointStore>> open(const std::string& path);
  ~SqliteCheckpointStore() override;

  Result<std::optional<Checkpoint>> get(std::string_view stream,
                                        std::string_view shard_id) override;
  Status save(std::string_view stream, std::string_view shard_id,
              const Checkpoint& checkpoint) override;
  Result<std::map<std::string, Checkpoint>> list(std::string_view stream) override;
  Status remove(std::string_view stream, std::string_view shard_id) override;

 private:
  SqliteCheckpointStore(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  Status error(const char* what) const;
  std::mutex mu_;
  sqlite3* db_;
  std::string path_;
};

}  // namespace sluice::kinesis

#endif  // SLUICE_KINESIS_SQLITE_CHECKPOINT_STORE_H_
