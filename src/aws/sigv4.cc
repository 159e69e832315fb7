#include "sluice/aws/sigv4.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <ctime>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "aws/auth_util.h"

namespace sluice::aws {

using auth_internal::Digest;

namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

bool is_unreserved(unsigned char c) {
  return std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~';
}

// Headers that proxies, tracers and HTTP stacks add or change on the way:
// signing them would break the signature for no security gain.
bool skipped_header(std::string_view lower_name) {
  static constexpr std::string_view kSkipped[] = {
      "authorization",     "user-agent", "x-amzn-trace-id", "connection", "expect",
      "transfer-encoding", "upgrade",    "keep-alive",      "te",         "proxy-authorization",
      "proxy-connection"};
  return std::find(std::begin(kSkipped), std::end(kSkipped), lower_name) != std::end(kSkipped);
}

// Removes dot segments and empty segments; keeps a trailing slash (also the
// implied one of a final "." or "..").
std::string normalize_path(std::string_view path) {
  std::vector<std::string_view> out;
  bool trailing = false;
  std::size_t pos = 0;
  while (pos <= path.size()) {
    const auto slash = path.find('/', pos);
    const auto end = slash == std::string_view::npos ? path.size() : slash;
    const std::string_view seg = path.substr(pos, end - pos);
    const bool last = slash == std::string_view::npos;
    if (seg.empty() || seg == ".") {
      trailing = last && (seg == "." || path.ends_with('/'));
    } else if (seg == "..") {
      if (!out.empty()) out.pop_back();
      trailing = last;
    } else {
      out.push_back(seg);
      trailing = false;
    }
    if (last) break;
    pos = slash + 1;
  }
  std::string result = "/";
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (i > 0) result.push_back('/');
    result.append(out[i]);
  }
  if (trailing && !out.empty()) result.push_back('/');
  return result;
}

std::string canonical_uri(std::string_view path, const SigV4Options& o) {
  if (path.empty()) path = "/";
  std::string p = o.normalize_path ? normalize_path(path) : std::string(path);
  if (o.double_encode_path) return uri_encode(p, /*keep_slash=*/true);
  return uri_encode(auth_internal::uri_decode(p), /*keep_slash=*/true);
}

using Param = std::pair<std::string, std::string>;  // encoded name, encoded value

// The query's parameters as written, each piece kept raw too (for rebuilding
// a presigned URL without touching what the caller wrote).
struct RawParam {
  std::string_view raw;
  std::string name;   // decoded
  std::string value;  // decoded
};

std::vector<RawParam> split_query(std::string_view query) {
  std::vector<RawParam> out;
  std::size_t pos = 0;
  while (pos <= query.size()) {
    auto amp = query.find('&', pos);
    if (amp == std::string_view::npos) amp = query.size();
    const std::string_view piece = query.substr(pos, amp - pos);
    if (!piece.empty()) {
      const auto eq = piece.find('=');
      RawParam p;
      p.raw = piece;
      p.name = auth_internal::uri_decode(piece.substr(0, eq));
      p.value = eq == std::string_view::npos ? std::string()
                                             : auth_internal::uri_decode(piece.substr(eq + 1));
      out.push_back(std::move(p));
    }
    pos = amp + 1;
  }
  return out;
}

std::string canonical_query(std::vector<Param> params) {
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [k, v] : params) {
    if (!out.empty()) out.push_back('&');
    out.append(k).push_back('=');
    out.append(v);
  }
  return out;
}

std::string collapse_whitespace(std::string_view value) {
  value = auth_internal::trim(value);
  std::string out;
  out.reserve(value.size());
  bool in_space = false;
  for (char c : value) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f') {
      if (!in_space) out.push_back(' ');
      in_space = true;
    } else {
      out.push_back(c);
      in_space = false;
    }
  }
  return out;
}

struct CanonicalHeaders {
  std::string text;     // "name:value\n" lines
  std::string signed_;  // "host;x-amz-date"
};

CanonicalHeaders canonical_headers(const HttpHeaders& headers, const UrlParts& url,
                                   std::string_view exclude) {
  std::map<std::string, std::string> canon;
  for (const auto& [name, value] : headers) {
    std::string lname = auth_internal::to_lower(auth_internal::trim(name));
    if (lname.empty() || skipped_header(lname) || lname == exclude) continue;
    std::string v = collapse_whitespace(value);
    auto [it, inserted] = canon.try_emplace(std::move(lname), v);
    if (!inserted) it->second.append(",").append(v);
  }
  if (!canon.contains("host")) canon.emplace("host", url.host_header());
  CanonicalHeaders out;
  for (const auto& [k, v] : canon) {
    out.text.append(k).append(":").append(v).append("\n");
    if (!out.signed_.empty()) out.signed_.push_back(';');
    out.signed_.append(k);
  }
  return out;
}

// Signing keys change once a day per (secret, region, service): derive each
// once. The map is keyed by a hash of the secret, not the secret itself.
Digest signing_key(std::string_view secret, std::string_view date, std::string_view region,
                   std::string_view service) {
  static std::mutex mu;
  static std::unordered_map<std::string, Digest> cache;
  std::string key = auth_internal::to_hex(auth_internal::sha256(secret));
  key.append("/").append(date).append("/").append(region).append("/").append(service);
  {
    std::lock_guard lock(mu);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
  }
  const Digest k_date = auth_internal::hmac_sha256("AWS4" + std::string(secret), date);
  const Digest k_region = auth_internal::hmac_sha256(auth_internal::as_view(k_date), region);
  const Digest k_service = auth_internal::hmac_sha256(auth_internal::as_view(k_region), service);
  const Digest k_signing =
      auth_internal::hmac_sha256(auth_internal::as_view(k_service), "aws4_request");
  std::lock_guard lock(mu);
  if (cache.size() >= 256) cache.clear();  // old dates and rotated keys
  cache.emplace(std::move(key), k_signing);
  return k_signing;
}

Status check_inputs(const Credentials& c, const SigV4Options& o) {
  if (o.region.empty()) return Status::invalid_argument("SigV4: no region to sign for");
  if (o.service.empty())
    return Status::invalid_argument("SigV4: no service (signing name) to sign for");
  if (c.access_key_id.empty()) {
    return Status::invalid_argument("SigV4: the credentials have no access key id");
  }
  if (c.secret_access_key.empty()) {
    return Status::invalid_argument("SigV4: the credentials have no secret access key");
  }
  if (o.payload == SigV4Options::Payload::kPrecomputed && o.payload_hash.empty()) {
    return Status::invalid_argument("SigV4: payload kPrecomputed needs payload_hash");
  }
  return Status();
}

std::string payload_hash(const HttpRequest& r, const SigV4Options& o) {
  switch (o.payload) {
    case SigV4Options::Payload::kUnsigned:
      return "UNSIGNED-PAYLOAD";
    case SigV4Options::Payload::kPrecomputed:
      return o.payload_hash;
    case SigV4Options::Payload::kHash:
      break;
  }
  return sha256_hex(r.body);
}

void remove_headers(HttpHeaders& headers, std::string_view name) {
  std::erase_if(headers, [&](const auto& h) { return auth_internal::iequals(h.first, name); });
}

struct Scope {
  std::string amz_date;  // 20150830T123600Z
  std::string date;      // 20150830
  std::string scope;     // 20150830/us-east-1/service/aws4_request
};

Scope make_scope(const SigV4Options& o) {
  Scope s;
  const auto time =
      o.time == std::chrono::system_clock::time_point{} ? std::chrono::system_clock::now() : o.time;
  s.amz_date = format_amz_date(time);
  s.date = s.amz_date.substr(0, 8);
  s.scope = s.date + "/" + o.region + "/" + o.service + "/aws4_request";
  return s;
}

void finish(SigV4Result& r, const Credentials& c, const SigV4Options& o, const Scope& s) {
  r.credential_scope = s.scope;
  r.string_to_sign = std::string(kAlgorithm) + "\n" + s.amz_date + "\n" + s.scope + "\n" +
                     sha256_hex(r.canonical_request);
  const Digest key = signing_key(c.secret_access_key, s.date, o.region, o.service);
  r.signature = auth_internal::to_hex(
      auth_internal::hmac_sha256(auth_internal::as_view(key), r.string_to_sign));
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  return auth_internal::to_hex(auth_internal::sha256(data));
}

std::string uri_encode(std::string_view text, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size() + text.size() / 2);
  for (unsigned char c : text) {
    if (is_unreserved(c) || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  return out;
}

std::string format_amz_date(std::chrono::system_clock::time_point time) {
  const std::time_t t = std::chrono::system_clock::to_time_t(
      std::chrono::time_point_cast<std::chrono::seconds>(time));
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

Result<std::chrono::system_clock::time_point> parse_iso8601_time(std::string_view text) {
  using namespace std::chrono;
  const std::string_view original = text;
  auto bad = [&] {
    return Status::invalid_argument("not an ISO 8601 UTC time: \"" + std::string(original) +
                                    "\" (expected e.g. 2015-08-30T12:36:00Z)");
  };
  text = auth_internal::trim(text);
  std::size_t i = 0;
  auto digits = [&](int n, int& value) {
    value = 0;
    for (int k = 0; k < n; ++k, ++i) {
      if (i >= text.size() || !std::isdigit(static_cast<unsigned char>(text[i]))) return false;
      value = value * 10 + (text[i] - '0');
    }
    return true;
  };
  auto expect = [&](char c) {
    if (i < text.size() && text[i] == c) {
      ++i;
      return true;
    }
    return false;
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  const bool extended = text.size() > 4 && text[4] == '-';
  if (!digits(4, y)) return bad();
  if (extended && !expect('-')) return bad();
  if (!digits(2, mo)) return bad();
  if (extended && !expect('-')) return bad();
  if (!digits(2, d)) return bad();
  if (!(expect('T') || expect('t') || expect(' '))) return bad();
  if (!digits(2, h)) return bad();
  if (extended && !expect(':')) return bad();
  if (!digits(2, mi)) return bad();
  if (extended && !expect(':')) return bad();
  if (!digits(2, s)) return bad();
  nanoseconds frac{0};
  if (expect('.') || expect(',')) {
    long long scale = 100000000;
    bool any = false;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      frac += nanoseconds((text[i] - '0') * scale);
      scale /= 10;
      ++i;
      any = true;
    }
    if (!any) return bad();
  }
  minutes offset{0};
  if (expect('Z') || expect('z')) {
  } else if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    const int sign = text[i] == '-' ? -1 : 1;
    ++i;
    int oh = 0, om = 0;
    if (!digits(2, oh)) return bad();
    expect(':');
    if (!digits(2, om)) return bad();
    offset = minutes(sign * (oh * 60 + om));
  } else {
    return bad();
  }
  if (i != text.size()) return bad();
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)},
                           day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || s > 60) return bad();
  auto tp = sys_days(ymd) + hours(h) + minutes(mi) + seconds(s) + frac - offset;
  return time_point_cast<system_clock::duration>(tp);
}

Result<SigV4Result> sign_request(HttpRequest& request, const Credentials& credentials,
                                 const SigV4Options& options) {
  SLUICE_RETURN_IF_ERROR(check_inputs(credentials, options));
  SLUICE_ASSIGN_OR_RETURN(UrlParts url, parse_url(request.url));
  const Scope scope = make_scope(options);
  const std::string hash = payload_hash(request, options);

  remove_headers(request.headers, "authorization");
  remove_headers(request.headers, "x-amz-date");
  remove_headers(request.headers, "x-amz-security-token");
  if (options.add_content_sha256_header) remove_headers(request.headers, "x-amz-content-sha256");
  if (!credentials.session_token.empty()) {
    request.headers.emplace_back("X-Amz-Security-Token", credentials.session_token);
  }
  request.headers.emplace_back("X-Amz-Date", scope.amz_date);
  if (options.add_content_sha256_header) request.headers.emplace_back("x-amz-content-sha256", hash);

  std::vector<Param> params;
  for (auto& p : split_query(url.query))
    params.emplace_back(uri_encode(p.name), uri_encode(p.value));
  const CanonicalHeaders headers = canonical_headers(
      request.headers, url, options.session_token_after_signing ? "x-amz-security-token" : "");

  SigV4Result r;
  r.signed_headers = headers.signed_;
  r.canonical_request = request.method + "\n" + canonical_uri(url.path, options) + "\n" +
                        canonical_query(std::move(params)) + "\n" + headers.text + "\n" +
                        headers.signed_ + "\n" + hash;
  finish(r, credentials, options, scope);
  r.authorization = std::string(kAlgorithm) + " Credential=" + credentials.access_key_id + "/" +
                    scope.scope + ", SignedHeaders=" + headers.signed_ +
                    ", Signature=" + r.signature;
  request.headers.emplace_back("Authorization", r.authorization);
  return r;
}

Result<SigV4Result> presign_request(HttpRequest& request, const Credentials& credentials,
                                    const SigV4Options& options) {
  SLUICE_RETURN_IF_ERROR(check_inputs(credentials, options));
  if (options.expires < std::chrono::seconds(1) || options.expires > std::chrono::hours(24 * 7)) {
    return Status::invalid_argument("SigV4: presigned URLs expire after 1 second to 7 days, not " +
                                    std::to_string(options.expires.count()) + " seconds");
  }
  SLUICE_ASSIGN_OR_RETURN(UrlParts url, parse_url(request.url));
  const Scope scope = make_scope(options);
  const std::string hash = payload_hash(request, options);

  // The caller's parameters, without an earlier signature's.
  auto is_auth_param = [](std::string_view name) {
    static constexpr std::string_view kAuth[] = {
        "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date",          "X-Amz-SignedHeaders",
        "X-Amz-Expires",   "X-Amz-Signature",  "X-Amz-Security-Token"};
    return std::find(std::begin(kAuth), std::end(kAuth), name) != std::end(kAuth);
  };
  std::string query;
  std::vector<Param> params;
  for (auto& p : split_query(url.query)) {
    if (is_auth_param(p.name)) continue;
    if (!query.empty()) query.push_back('&');
    query.append(p.raw);
    params.emplace_back(uri_encode(p.name), uri_encode(p.value));
  }

  const CanonicalHeaders headers = canonical_headers(request.headers, url, "");
  std::vector<Param> added = {
      {"X-Amz-Algorithm", std::string(kAlgorithm)},
      {"X-Amz-Credential", uri_encode(credentials.access_key_id + "/" + scope.scope)},
      {"X-Amz-Date", scope.amz_date},
      {"X-Amz-SignedHeaders", uri_encode(headers.signed_)},
      {"X-Amz-Expires", std::to_string(options.expires.count())},
  };
  const bool token = !credentials.session_token.empty();
  if (token && !options.session_token_after_signing) {
    added.emplace_back("X-Amz-Security-Token", uri_encode(credentials.session_token));
  }
  params.insert(params.end(), added.begin(), added.end());

  SigV4Result r;
  r.signed_headers = headers.signed_;
  r.canonical_request = request.method + "\n" + canonical_uri(url.path, options) + "\n" +
                        canonical_query(std::move(params)) + "\n" + headers.text + "\n" +
                        headers.signed_ + "\n" + hash;
  finish(r, credentials, options, scope);

  if (token && options.session_token_after_signing) {
    added.emplace_back("X-Amz-Security-Token", uri_encode(credentials.session_token));
  }
  added.emplace_back("X-Amz-Signature", r.signature);
  for (const auto& [k, v] : added) {
    if (!query.empty()) query.push_back('&');
    query.append(k).append("=").append(v);
  }
  std::string base = request.url.substr(0, request.url.find_first_of("?#"));
  if (const auto authority = base.find("://") + 3; base.find('/', authority) == std::string::npos) {
    base.push_back('/');
  }
  request.url = base + "?" + query;
  return r;
}

}  // namespace sluice::aws
