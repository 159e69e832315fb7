#include "sluice/kinesis/sqlite_checkpoint_store.h"

#include <sqlite3.h>

#include <chrono>

namespace sluice::kinesis {
namespace {

// Finalizes a prepared statement at scope exit.
struct Statement {
  sqlite3_stmt* s = nullptr;
  ~Statement() { sqlite3_finalize(s); }
};

}  // namespace

Status SqliteCheckpointStore::error(const char* what) const {
  return Status::io_error(std::string("SQLite checkpoint store ") + path_ + ": " + what + ": " +
                          sqlite3_errmsg(db_));
}

Result<std::shared_ptr<SqliteCheckpointStore>> SqliteCheckpointStore::open(
    const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Status::io_error("cannot open SQLite checkpoint store " + path + ": " + msg);
  }
  std::shared_ptr<SqliteCheckpointStore> store(new SqliteCheckpointStore(db, path));
  sqlite3_busy_timeout(db, 5000);
  const char* setup =
      "PRAGMA journal_mode=WAL;"
      "PRAGMA synchronous=FULL;"
      "CREATE TABLE IF NOT EXISTS sluice_checkpoints ("
      "  stream TEXT NOT NULL,"
      "  shard_id TEXT NOT NULL,"
      "  checkpoint TEXT NOT NULL,"
      "  updated_at_ms INTEGER NOT NULL,"
      "  PRIMARY KEY (stream, shard_id));";
  if (sqlite3_exec(db, setup, nullptr, nullptr, nullptr) != SQLITE_OK) {
    return store->error("setting up the table");
  }
  return store;
}

SqliteCheckpointStore::~SqliteCheckpointStore() {
  sqlite3_close(db_);
}

Result<std::optional<Checkpoint>> SqliteCheckpointStore::get(std::string_view stream,
                                                             std::string_view shard_id) {
  std::lock_guard lock(mu_);
  Statement st;
  if (sqlite3_prepare_v2(
          db_, "SELECT checkpoint FROM sluice_checkpoints WHERE stream=?1 AND shard_id=?2", -1,
          &st.s, nullptr) != SQLITE_OK) {
    return error("preparing get");
  }
  sqlite3_bind_text(st.s, 1, stream.data(), static_cast<int>(stream.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(st.s, 2, shard_id.data(), static_cast<int>(shard_id.size()), SQLITE_TRANSIENT);
  const int rc = sqlite3_step(st.s);
  if (rc == SQLITE_DONE) return std::optional<Checkpoint>();
  if (rc != SQLITE_ROW) return error("reading a checkpoint");
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(st.s, 0));
  auto parsed = parse_checkpoint(text ? text : "");
  if (!parsed.ok()) return parsed.status().with_context("shard " + std::string(shard_id));
  return std::optional<Checkpoint>(std::move(*parsed));
}

Status SqliteCheckpointStore::save(std::string_view stream, std::string_view shard_id,
                                   const Checkpoint& checkpoint) {
  const std::string text = encode_checkpoint(checkpoint);
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  std::lock_guard lock(mu_);
  Statement st;
  if (sqlite3_prepare_v2(
          db_,
          "INSERT INTO sluice_checkpoints (stream, shard_id, checkpoint, updated_at_ms) "
          "VALUES (?1, ?2, ?3, ?4) ON CONFLICT(stream, shard_id) DO UPDATE SET "
          "checkpoint=excluded.checkpoint, updated_at_ms=excluded.updated_at_ms",
          -1, &st.s, nullptr) != SQLITE_OK) {
    return error("preparing save");
  }
  sqlite3_bind_text(st.s, 1, stream.data(), static_cast<int>(stream.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(st.s, 2, shard_id.data(), static_cast<int>(shard_id.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(st.s, 3, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int64(st.s, 4, now);
  if (sqlite3_step(st.s) != SQLITE_DONE) return error("writing a checkpoint");
  return Status();
}

Result<std::map<std::string, Checkpoint>> SqliteCheckpointStore::list(std::string_view stream) {
  std::lock_guard lock(mu_);
  Statement st;
  if (sqlite3_prepare_v2(db_, "SELECT shard_id, checkpoint FROM sluice_checkpoints WHERE stream=?1",
                         -1, &st.s, nullptr) != SQLITE_OK) {
    return error("preparing list");
  }
  sqlite3_bind_text(st.s, 1, stream.data(), static_cast<int>(stream.size()), SQLITE_TRANSIENT);
  std::map<std::string, Checkpoint> out;
  int rc;
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
    const auto* shard = reinterpret_cast<const char*>(sqlite3_column_text(st.s, 0));
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(st.s, 1));
    auto parsed = parse_checkpoint(text ? text : "");
    if (!parsed.ok())
      return parsed.status().with_context("shard " + std::string(shard ? shard : ""));
    out.emplace(shard ? shard : "", std::move(*parsed));
  }
  if (rc != SQLITE_DONE) return error("listing checkpoints");
  return out;
}

Status SqliteCheckpointStore::remove(std::string_view stream, std::string_view shard_id) {
  std::lock_guard lock(mu_);
  Statement st;
  if (sqlite3_prepare_v2(db_, "DELETE FROM sluice_checkpoints WHERE stream=?1 AND shard_id=?2", -1,
                         &st.s, nullptr) != SQLITE_OK) {
    return error("preparing remove");
  }
  sqlite3_bind_text(st.s, 1, stream.data(), static_cast<int>(stream.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(st.s, 2, shard_id.data(), static_cast<int>(shard_id.size()), SQLITE_TRANSIENT);
  if (sqlite3_step(st.s) != SQLITE_DONE) return error("removing a checkpoint");
  return Status();
}

}  // namespace sluice::kinesis
