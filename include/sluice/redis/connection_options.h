// Where and how to connect to Redis: host or Unix socket, database, AUTH
// credentials and timeouts, usually parsed from a Redis URL.
//
//   auto opts = sluice::redis::parse_redis_url("redis://app:s3cret@10.0.0.5:6379/2");
//   if (!opts.ok()) return opts.status();        // names what is wrong with the URL
//   log->info("connecting", {{"redis", opts->describe()}});   // password shown as ***
//
// URL forms:
//   redis://[[username][:password]@]host[:port][/db]   TCP (port 6379, db 0 by default)
//   unix://[[username][:password]@]/path/to/redis.sock[?db=N]
//   rediss://...                                        rejected: TLS is not available
//                                                       with the packaged hiredis (0.14.1
//                                                       ships no hiredis_ssl)
// User name and password are percent-decoded. A password without a user name
// authenticates with `AUTH <password>` (requirepass, or the ACL "default"
// user); with a user name, with `AUTH <username> <password>` (Redis 6 ACLs).
#ifndef SLUICE_REDIS_CONNECTION_OPTIONS_H_
#define SLUICE_REDIS_CONNECTION_OPTIONS_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "sluice/core/result.h"
#include "sluice/core/status.h"

namespace sluice::redis {

struct ConnectionOptions {
  // TCP host name or address (IPv6 without brackets). Ignored when
  // `unix_socket` is set.
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  // Path of a Unix domain socket; when not empty it is used instead of host/port.
  std::string unix_socket{};
  // Logical database selected after connecting (SELECT). Keyspace
  // notifications are subscribed for this database too.
  int db = 0;
  // ACL user name (Redis >= 6); empty = AUTH with the password alone.
  std::string username{};
  // Never logged and never part of an error message. Empty = no AUTH.
  std::string password{};
  // Sent as CLIENT SETNAME so that CLIENT LIST shows who is connected; empty = none.
  std::string client_name{};
  // Bound on establishing a connection (TCP connect plus AUTH/SELECT).
  std::chrono::milliseconds connect_timeout{5000};
  // Bound on one command's reply (blocking commands add their own block time).
  std::chrono::milliseconds command_timeout{5000};
  // TCP keep-alive on every connection, so a dead peer is noticed while idle.
  bool keepalive = true;

  // InvalidArgument naming the field when the options are unusable.
  Status validate() const;
  // The URL without the password ("redis://app:***@10.0.0.5:6379/2"), for logs.
  std::string describe() const;
};

// Parses a redis://, unix:// URL (see the top of this file). The error names
// the part that is wrong and never repeats the password.
Result<ConnectionOptions> parse_redis_url(std::string_view url);

}  // namespace sluice::redis

#endif  // SLUICE_REDIS_CONNECTION_OPTIONS_H_
