#include "sluice/aws/raw_request.h"

#include <vector>

#include "aws/auth_util.h"

namespace sluice::aws {

namespace {

// Splits off one line (without its "\n" or "\r\n"); returns false at the end.
bool next_line(std::string_view& text, std::string_view& line) {
  if (text.empty()) return false;
  const auto nl = text.find('\n');
  if (nl == std::string_view::npos) {
    line = text;
    text = {};
  } else {
    line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
  }
  if (line.ends_with('\r')) line.remove_suffix(1);
  return true;
}

}  // namespace

Result<RawRequest> parse_raw_request(std::string_view text, std::string_view scheme) {
  RawRequest out;
  std::string_view line;
  if (!next_line(text, line) || auth_internal::trim(line).empty()) {
    return Status::invalid_argument(
        "raw request: no request line (expected e.g. \"GET / HTTP/1.1\")");
  }
  // METHOD SP target SP version; the target may hold spaces (the suite's
  // "/example space/"), so the version is the last word.
  const auto first_space = line.find(' ');
  const auto last_space = line.rfind(' ');
  if (first_space == std::string_view::npos || last_space == first_space ||
      !line.substr(last_space + 1).starts_with("HTTP/")) {
    return Status::invalid_argument("raw request: line 1 is not \"METHOD target HTTP/1.1\"");
  }
  out.request.method = std::string(line.substr(0, first_space));
  const std::string target(line.substr(first_space + 1, last_space - first_space - 1));
  out.http_version = std::string(line.substr(last_space + 1));
  if (target.empty()) return Status::invalid_argument("raw request: line 1 has no request target");

  int line_no = 1;
  bool ended = false;
  while (next_line(text, line)) {
    ++line_no;
    if (line.empty()) {
      ended = true;
      break;
    }
    if (line.front() == ' ' || line.front() == '\t') {
      if (out.request.headers.empty()) {
        return Status::invalid_argument("raw request: line " + std::to_string(line_no) +
                                        " continues a header but none came before");
      }
      out.request.headers.back().second.append("\n").append(line);
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return Status::invalid_argument("raw request: line " + std::to_string(line_no) +
                                      " is not a \"Name:value\" header");
    }
    out.request.headers.emplace_back(std::string(line.substr(0, colon)),
                                     std::string(line.substr(colon + 1)));
  }
  if (ended) out.request.body = std::string(text);

  if (target.starts_with("http://") || target.starts_with("https://")) {
    out.request.url = target;
  } else {
    const std::string_view host = auth_internal::trim(out.request.header("host"));
    if (host.empty()) {
      return Status::invalid_argument("raw request: no Host header (needed to build the URL)");
    }
    out.request.url = std::string(scheme) + "://" + std::string(host) +
                      (target.starts_with('/') || target.starts_with('?') ? "" : "/") + target;
  }
  return out;
}

std::string format_raw_request(const HttpRequest& request, std::string_view http_version) {
  // The target: everything after the authority, as written.
  std::string_view url = request.url;
  std::string target = "/";
  if (const auto scheme_end = url.find("://"); scheme_end != std::string_view::npos) {
    const auto rest = url.substr(scheme_end + 3);
    const auto path = rest.find_first_of("/?");
    if (path != std::string_view::npos) {
      target = std::string(rest.substr(path));
      if (target.front() == '?') target.insert(0, "/");
    }
  } else if (!url.empty()) {
    target = std::string(url);
  }
  std::string out;
  out.reserve(128 + request.body.size());
  out.append(request.method)
      .append(" ")
      .append(target)
      .append(" ")
      .append(http_version)
      .append("\n");
  for (const auto& [name, value] : request.headers) {
    out.append(name).append(":").append(value).append("\n");
  }
  out.append("\n");
  out.append(request.body);
  return out;
}

}  // namespace sluice::aws
