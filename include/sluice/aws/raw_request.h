// Raw HTTP requests in the text form of the AWS SigV4 test suite
// (request.txt, header-signed-request.txt), as `sluice aws sign` reads and
// prints them:
//
//   POST /path?query HTTP/1.1
//   Host:example.amazonaws.com
//   My-Header1:value1
//     continuation of value1
//
//   body
//
// Header lines are `Name:value` with or without a space after the colon;
// lines starting with a space or tab continue the previous header's value; a
// blank line ends the headers and everything after it is the body, byte for
// byte. CRLF line ends are accepted too.
#ifndef SLUICE_AWS_RAW_REQUEST_H_
#define SLUICE_AWS_RAW_REQUEST_H_

#include <string>
#include <string_view>

#include "sluice/aws/http_client.h"
#include "sluice/core/result.h"

namespace sluice::aws {

struct RawRequest {
  // `url` is `scheme`://<Host header><request target> (an absolute target is
  // used as it is). Header values are kept exactly as written after the
  // colon (leading space included), with continuation lines joined by "\n"
  // and their indentation kept, so that printing gives back the same text;
  // the signer trims and collapses them as SigV4 requires.
  HttpRequest request{};
  std::string http_version = "HTTP/1.1";
};

// Parses the text form. InvalidArgument naming the line when it is not a
// request (no request line, a header line without ':', no Host header and a
// target that is not an absolute URL).
Result<RawRequest> parse_raw_request(std::string_view text, std::string_view scheme = "https");

// Prints `request` in the text form: the request line with the URL's path and
// query as written, each header as `Name:value`, a blank line, the body.
std::string format_raw_request(const HttpRequest& request,
                               std::string_view http_version = "HTTP/1.1");

}  // namespace sluice::aws

#endif  // SLUICE_AWS_RAW_REQUEST_H_
