#include "sluice/redis/connection_options.h"

#include <cctype>
#include <charconv>
#include <string>

namespace sluice::redis {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Percent-decodes `in`; false on a malformed escape.
bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = hex_value(in[i + 1]);
    const int lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

std::string percent_encode_userinfo(std::string_view in) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : in) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

bool parse_int(std::string_view s, int& out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// Splits "user:pass@rest" into its user info and the rest. Passwords may
// contain '@' only percent-encoded; the last '@' before the path ends the user info.
Status parse_userinfo(std::string_view& authority, ConnectionOptions& o) {
  const auto at = authority.rfind('@');
  if (at == std::string_view::npos) return Status();
  std::string_view userinfo = authority.substr(0, at);
  authority.remove_prefix(at + 1);
  const auto colon = userinfo.find(':');
  std::string_view user = userinfo.substr(0, colon);
  if (!percent_decode(user, o.username)) {
    return Status::invalid_argument("redis URL: malformed percent-escape in the user name");
  }
  if (colon != std::string_view::npos) {
    if (!percent_decode(userinfo.substr(colon + 1), o.password)) {
      // Never echo the password, even a malformed one.
      return Status::invalid_argument("redis URL: malformed percent-escape in the password");
    }
  }
  return Status();
}

Status parse_query(std::string_view query, ConnectionOptions& o) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    std::string_view kv = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (kv.empty()) continue;
    const auto eq = kv.find('=');
    std::string_view key = kv.substr(0, eq);
    std::string_view value = eq == std::string_view::npos ? std::string_view() : kv.substr(eq + 1);
    int n = 0;
    if (key == "db") {
      if (!parse_int(value, n) || n < 0) {
        return Status::invalid_argument("redis URL: db must be a number >= 0, got '" +
                                        std::string(value) + "'");
      }
      o.db = n;
    } else if (key == "connect_timeout_ms" || key == "command_timeout_ms") {
      if (!parse_int(value, n) || n <= 0) {
        return Status::invalid_argument("redis URL: " + std::string(key) +
                                        " must be a positive number of milliseconds");
      }
      (key == "connect_timeout_ms" ? o.connect_timeout : o.command_timeout) =
          std::chrono::milliseconds(n);
    } else if (key == "client_name") {
      std::string decoded;
      if (!percent_decode(value, decoded))
        return Status::invalid_argument("redis URL: malformed client_name");
      o.client_name = decoded;
    } else {
      return Status::invalid_argument(
          "redis URL: unknown parameter '" + std::string(key) +
          "' (known: db, connect_timeout_ms, command_timeout_ms, client_name)");
    }
  }
  return Status();
}

}  // namespace

Status ConnectionOptions::validate() const {
  if (unix_socket.empty() && host.empty()) {
    return Status::invalid_argument("redis connection: host is empty (set host or unix_socket)");
  }
  if (unix_socket.empty() && port == 0)
    return Status::invalid_argument("redis connection: port must not be 0");
  if (db < 0) return Status::invalid_argument("redis connection: db must be >= 0");
  if (connect_timeout.count() <= 0)
    return Status::invalid_argument("redis connection: connect_timeout must be > 0");
  if (command_timeout.count() <= 0)
    return Status::invalid_argument("redis connection: command_timeout must be > 0");
  if (!username.empty() && password.empty()) {
    return Status::invalid_argument(
        "redis connection: a username needs a password (AUTH <username> <password>)");
  }
  for (char c : client_name) {
    if (c == ' ' || c == '\n' || c == '\r') {
      return Status::invalid_argument(
          "redis connection: client_name must not contain spaces or newlines");
    }
  }
  return Status();
}

std::string ConnectionOptions::describe() const {
  std::string out = unix_socket.empty() ? "redis://" : "unix://";
  if (!username.empty() || !password.empty()) {
    out += percent_encode_userinfo(username);
    if (!password.empty()) out += ":***";
    out += "@";
  }
  if (!unix_socket.empty()) {
    out += unix_socket;
    if (db != 0) out += "?db=" + std::to_string(db);
    return out;
  }
  if (host.find(':') != std::string::npos) {
    out += "[" + host + "]";
  } else {
    out += host;
  }
  out += ":" + std::to_string(port) + "/" + std::to_string(db);
  return out;
}

Result<ConnectionOptions> parse_redis_url(std::string_view url) {
  ConnectionOptions o;
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return Status::invalid_argument(
        "redis URL must start with redis:// or unix:// (e.g. redis://127.0.0.1:6379/0)");
  }
  const std::string_view scheme = url.substr(0, scheme_end);
  std::string_view rest = url.substr(scheme_end + 3);
  if (scheme == "rediss") {
    return Status::invalid_argument(
        "redis URL: TLS (rediss://) is not available: the packaged hiredis 0.14.1 has no TLS "
        "support (no hiredis_ssl); connect through a TLS tunnel such as stunnel with redis://, "
        "or build sluice against hiredis >= 1.0 with SSL");
  }
  if (scheme != "redis" && scheme != "unix") {
    return Status::invalid_argument("redis URL: unknown scheme '" + std::string(scheme) +
                                    "' (use redis:// or unix://)");
  }
  std::string_view query;
  if (const auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }

  if (scheme == "unix") {
    // unix://[user:pass@]/path/to/socket
    const auto slash = rest.find('/');
    if (slash == std::string_view::npos) {
      return Status::invalid_argument(
          "redis URL: unix:// needs an absolute socket path (unix:///run/redis.sock)");
    }
    std::string_view authority = rest.substr(0, slash);
    SLUICE_RETURN_IF_ERROR(parse_userinfo(authority, o));
    if (!authority.empty()) {
      return Status::invalid_argument("redis URL: unix:// takes no host, only a socket path");
    }
    o.unix_socket = std::string(rest.substr(slash));
    o.host.clear();
  } else {
    std::string_view authority = rest;
    std::string_view path;
    if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
      authority = rest.substr(0, slash);
      path = rest.substr(slash + 1);
    }
    SLUICE_RETURN_IF_ERROR(parse_userinfo(authority, o));
    std::string_view host = authority;
    std::string_view port;
    if (!authority.empty() && authority.front() == '[') {
      const auto close = authority.find(']');
      if (close == std::string_view::npos)
        return Status::invalid_argument("redis URL: unclosed '[' in the host");
      host = authority.substr(1, close - 1);
      std::string_view after = authority.substr(close + 1);
      if (!after.empty()) {
        if (after.front() != ':')
          return Status::invalid_argument("redis URL: expected ':port' after ']'");
        port = after.substr(1);
      }
    } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
    if (host.empty())
      return Status::invalid_argument("redis URL: the host is missing (redis://HOST:PORT)");
    o.host = std::string(host);
    if (!port.empty()) {
      int p = 0;
      if (!parse_int(port, p) || p <= 0 || p > 65535) {
        return Status::invalid_argument("redis URL: port must be 1-65535, got '" +
                                        std::string(port) + "'");
      }
      o.port = static_cast<std::uint16_t>(p);
    }
    if (!path.empty()) {
      int db = 0;
      if (!parse_int(path, db) || db < 0) {
        return Status::invalid_argument("redis URL: the path must be a database number, got '/" +
                                        std::string(path) + "'");
      }
      o.db = db;
    }
  }
  SLUICE_RETURN_IF_ERROR(parse_query(query, o));
  SLUICE_RETURN_IF_ERROR(o.validate());
  return o;
}

}  // namespace sluice::redis
