// The signer's options beyond the public suite: S3 payload modes, path
// encoding, headers taken from the URL, re-signing, bad inputs.
#include "sluice/aws/sigv4.h"

#include <gtest/gtest.h>

#include "sluice/aws/raw_request.h"

namespace sluice::aws {
namespace {

using std::chrono::system_clock;

system_clock::time_point at(const char* iso) {
  return parse_iso8601_time(iso).value();
}

HttpRequest make_request(std::string method, std::string url, HttpHeaders headers = {},
                         std::string body = "") {
  HttpRequest r;
  r.method = std::move(method);
  r.url = std::move(url);
  r.headers = std::move(headers);
  r.body = std::move(body);
  return r;
}

Credentials example_credentials() {
  Credentials c;
  c.access_key_id = "AKIDEXAMPLE";
  c.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  return c;
}

std::size_t count_headers(const HttpRequest& r, std::string_view name) {
  std::size_t n = 0;
  for (const auto& [k, v] : r.headers) n += (k == name);
  return n;
}

// The GET Object example of the S3 SigV4 documentation.
TEST(SigV4, MatchesTheS3DocumentationExample) {
  Credentials c;
  c.access_key_id = "AKIAIOSFODNN7EXAMPLE";
  c.secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  HttpRequest req = make_request("GET", "https://examplebucket.s3.amazonaws.com/test.txt",
                                 {{"Range", "bytes=0-9"}}, "");
  SigV4Options o{.region = "us-east-1",
                 .service = "s3",
                 .time = at("2013-05-24T00:00:00Z"),
                 .normalize_path = false,
                 .double_encode_path = false,
                 .add_content_sha256_header = true};
  auto r = sign_request(req, c, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(
      r->canonical_request,
      "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
      "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
      "x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(r->signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(req.header("x-amz-content-sha256"),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  // No Host header was added: libcurl sends it from the URL.
  EXPECT_EQ(req.header("host"), "");
}

TEST(SigV4, UnsignedAndPrecomputedPayloads) {
  HttpRequest req = make_request("PUT", "https://b.s3.us-west-2.amazonaws.com/k", {}, "data");
  SigV4Options o{.region = "us-west-2",
                 .service = "s3",
                 .time = at("2026-01-01T00:00:00Z"),
                 .normalize_path = false,
                 .double_encode_path = false,
                 .payload = SigV4Options::Payload::kUnsigned,
                 .add_content_sha256_header = true};
  auto r = sign_request(req, example_credentials(), o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->canonical_request.ends_with("\nUNSIGNED-PAYLOAD"));
  EXPECT_EQ(req.header("x-amz-content-sha256"), "UNSIGNED-PAYLOAD");

  const std::string hash = sha256_hex("data");
  EXPECT_EQ(hash, "3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7");
  o.payload = SigV4Options::Payload::kPrecomputed;
  o.payload_hash = hash;
  r = sign_request(req, example_credentials(), o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->canonical_request.ends_with("\n" + hash));
  EXPECT_EQ(count_headers(req, "x-amz-content-sha256"), 1u);  // replaced, not repeated
  EXPECT_EQ(req.header("x-amz-content-sha256"), hash);

  // The same as hashing the body.
  HttpRequest again = make_request("PUT", req.url, {}, "data");
  o.payload = SigV4Options::Payload::kHash;
  auto r2 = sign_request(again, example_credentials(), o);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2->signature, r->signature);

  o.payload = SigV4Options::Payload::kPrecomputed;
  o.payload_hash.clear();
  auto bad = sign_request(req, example_credentials(), o);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST(SigV4, EncodesPathsTwiceExceptForS3) {
  SigV4Options o{.region = "us-east-1", .service = "service", .time = at("2015-08-30T12:36:00Z")};
  HttpRequest req = make_request("GET", "https://example.amazonaws.com/a%20b/c+d/%E1%88%B4");
  auto r = sign_request(req, example_credentials(), o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->canonical_request.starts_with("GET\n/a%2520b/c%2Bd/%25E1%2588%25B4\n"))
      << r->canonical_request;

  o.double_encode_path = false;
  o.normalize_path = false;
  r = sign_request(req, example_credentials(), o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->canonical_request.starts_with("GET\n/a%20b/c%2Bd/%E1%88%B4\n"))
      << r->canonical_request;

  // S3 keeps dot segments and repeated slashes: they are part of the key.
  HttpRequest s3 = make_request("GET", "https://b.s3.amazonaws.com//a/./b/../c");
  r = sign_request(s3, example_credentials(), o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->canonical_request.starts_with("GET\n//a/./b/../c\n")) << r->canonical_request;
}

TEST(SigV4, NormalisesPathsLikeRfc3986) {
  SigV4Options o{.region = "r", .service = "s", .time = at("2015-08-30T12:36:00Z")};
  const std::pair<const char*, const char*> cases[] = {
      {"https://h", "/"},       {"https://h/a/b/..", "/a/"}, {"https://h/a/./b/", "/a/b/"},
      {"https://h/../a", "/a"}, {"https://h/a//b", "/a/b"},  {"https://h/a/b/.", "/a/b/"},
  };
  for (const auto& [url, want] : cases) {
    HttpRequest req = make_request("GET", url);
    auto r = sign_request(req, example_credentials(), o);
    ASSERT_TRUE(r.ok()) << url;
    EXPECT_TRUE(r->canonical_request.starts_with(std::string("GET\n") + want + "\n"))
        << url << " -> " << r->canonical_request;
  }
}

TEST(SigV4, QueryParametersAreDecodedReencodedAndSorted) {
  SigV4Options o{.region = "r", .service = "s", .time = at("2015-08-30T12:36:00Z")};
  HttpRequest req = make_request("GET", "https://h/?b=2&a=%7e x&a=1&flag&c=a%2Fb&d=+");
  auto r = sign_request(req, example_credentials(), o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->canonical_request.starts_with("GET\n/\na=1&a=~%20x&b=2&c=a%2Fb&d=%2B&flag=\n"))
      << r->canonical_request;
}

TEST(SigV4, HostComesFromTheUrlWithItsPortAndVolatileHeadersAreNotSigned) {
  SigV4Options o{.region = "us-east-1", .service = "kinesis", .time = at("2015-08-30T12:36:00Z")};
  HttpRequest req = make_request("POST", "http://127.0.0.1:4567/",
                                 {{"Content-Type", "application/x-amz-json-1.1"},
                                  {"X-Amz-Target", "Kinesis_20131202.ListShards"},
                                  {"User-Agent", "sluice/0.1"},
                                  {"X-Amzn-Trace-Id", "Root=1-abc"},
                                  {"Authorization", "stale"}},
                                 "{}");
  auto r = sign_request(req, example_credentials(), o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->signed_headers, "content-type;host;x-amz-date;x-amz-target");
  EXPECT_NE(r->canonical_request.find("\nhost:127.0.0.1:4567\n"), std::string::npos);
  EXPECT_EQ(count_headers(req, "Authorization"), 1u);
  EXPECT_EQ(req.header("authorization"), r->authorization);
  EXPECT_EQ(r->credential_scope, "20150830/us-east-1/kinesis/aws4_request");
  EXPECT_TRUE(r->authorization.starts_with(
      "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/kinesis/aws4_request, "
      "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature="));

  HttpRequest https = make_request("GET", "https://h:443/");
  r = sign_request(https, example_credentials(), o);
  ASSERT_TRUE(r.ok());
  EXPECT_NE(r->canonical_request.find("\nhost:h\n"), std::string::npos);  // default port dropped
}

TEST(SigV4, ResigningReplacesTheAuthenticationHeaders) {
  Credentials c = example_credentials();
  c.session_token = "token-1";
  SigV4Options o{.region = "r", .service = "s", .time = at("2015-08-30T12:36:00Z")};
  HttpRequest req = make_request("GET", "https://h/");
  ASSERT_TRUE(sign_request(req, c, o).ok());
  o.time = at("2015-08-30T12:37:00Z");
  c.session_token.clear();
  auto r = sign_request(req, c, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(count_headers(req, "X-Amz-Date"), 1u);
  EXPECT_EQ(req.header("x-amz-date"), "20150830T123700Z");
  EXPECT_EQ(count_headers(req, "Authorization"), 1u);
  EXPECT_EQ(req.header("x-amz-security-token"), "");  // no stale token
  EXPECT_EQ(r->signed_headers, "host;x-amz-date");
}

TEST(SigV4, SameInputsSameSignatureAcrossCacheAndKeys) {
  SigV4Options o{.region = "r", .service = "s", .time = at("2015-08-30T12:36:00Z")};
  HttpRequest a = make_request("GET", "https://h/");
  HttpRequest b = a;
  auto ra = sign_request(a, example_credentials(), o);
  auto rb = sign_request(b, example_credentials(), o);  // from the key cache
  ASSERT_TRUE(ra.ok() && rb.ok());
  EXPECT_EQ(ra->signature, rb->signature);
  Credentials other = example_credentials();
  other.secret_access_key = "another-secret";
  HttpRequest c = make_request("GET", "https://h/");
  auto rc = sign_request(c, other, o);
  ASSERT_TRUE(rc.ok());
  EXPECT_NE(rc->signature, ra->signature);
}

TEST(SigV4, RejectsBadInputsWithoutQuotingSecrets) {
  SigV4Options o{.region = "r", .service = "s", .time = at("2015-08-30T12:36:00Z")};
  Credentials c = example_credentials();
  HttpRequest req = make_request("GET", "not a url");
  auto r = sign_request(req, c, o);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);

  req.url = "https://h/";
  SigV4Options no_region = o;
  no_region.region.clear();
  EXPECT_NE(sign_request(req, c, no_region).status().message().find("region"),
            std::string_view::npos);
  SigV4Options no_service = o;
  no_service.service.clear();
  EXPECT_NE(sign_request(req, c, no_service).status().message().find("service"),
            std::string_view::npos);
  Credentials no_secret = c;
  no_secret.secret_access_key.clear();
  EXPECT_EQ(sign_request(req, no_secret, o).status().code(), StatusCode::kInvalidArgument);
  Credentials no_key = c;
  no_key.access_key_id.clear();
  auto s = sign_request(req, no_key, o).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message().find(c.secret_access_key), std::string_view::npos);

  SigV4Options long_expiry = o;
  long_expiry.expires = std::chrono::hours(24 * 8);
  EXPECT_EQ(presign_request(req, c, long_expiry).status().code(), StatusCode::kInvalidArgument);
}

TEST(SigV4, PresignReplacesAnEarlierSignatureAndKeepsOtherParameters) {
  Credentials c = example_credentials();
  c.session_token = "tok/en";
  SigV4Options o{.region = "us-east-1",
                 .service = "s3",
                 .time = at("2015-08-30T12:36:00Z"),
                 .normalize_path = false,
                 .double_encode_path = false,
                 .payload = SigV4Options::Payload::kUnsigned,
                 .expires = std::chrono::seconds(60)};
  HttpRequest req = make_request("GET", "https://b.s3.amazonaws.com/k?versionId=3");
  auto first = presign_request(req, c, o);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(req.url.starts_with("https://b.s3.amazonaws.com/k?versionId=3&X-Amz-Algorithm="))
      << req.url;
  EXPECT_NE(req.url.find("&X-Amz-Expires=60&X-Amz-Security-Token=tok%2Fen&X-Amz-Signature=" +
                         first->signature),
            std::string::npos)
      << req.url;
  EXPECT_TRUE(first->canonical_request.ends_with("\nUNSIGNED-PAYLOAD"));
  EXPECT_TRUE(first->authorization.empty());
  const std::string url1 = req.url;
  auto second = presign_request(req, c, o);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(req.url, url1);  // the old signature parameters were replaced, not kept
}

TEST(SigV4, UnsetTimeMeansNow) {
  HttpRequest req = make_request("GET", "https://h/");
  SigV4Options o{.region = "r", .service = "s"};
  const auto before = system_clock::now();
  ASSERT_TRUE(sign_request(req, example_credentials(), o).ok());
  const auto signed_at = parse_iso8601_time(std::string(req.header("x-amz-date"))).value();
  EXPECT_GE(signed_at, std::chrono::floor<std::chrono::seconds>(before));
  EXPECT_LE(signed_at, system_clock::now());
}

TEST(Iso8601, ParsesTheFormsAwsWrites) {
  const auto base = at("2015-08-30T12:36:00Z");
  EXPECT_EQ(format_amz_date(base), "20150830T123600Z");
  EXPECT_EQ(at("20150830T123600Z"), base);
  EXPECT_EQ(at("2015-08-30T14:36:00+02:00"), base);
  EXPECT_EQ(at("2015-08-30T12:36:00.500Z"), base + std::chrono::milliseconds(500));
  for (const char* bad : {"", "2015-08-30", "2015-08-30T12:36:00", "2015-13-01T00:00:00Z",
                          "2015-08-30T12:36:00Zjunk", "yesterday"}) {
    auto r = parse_iso8601_time(bad);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(RawRequest, ParsesAndPrintsTheSuiteForm) {
  const std::string text =
      "POST /p?q=1 HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1: a\n  "
      "b\n\tc\nX:y\n\nbody\nline2";
  auto r = parse_raw_request(text);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->request.method, "POST");
  EXPECT_EQ(r->request.url, "https://example.amazonaws.com/p?q=1");
  ASSERT_EQ(r->request.headers.size(), 3u);
  EXPECT_EQ(r->request.headers[1].second, " a\n  b\n\tc");
  EXPECT_EQ(r->request.body, "body\nline2");
  EXPECT_EQ(format_raw_request(r->request, r->http_version), text);

  auto crlf = parse_raw_request("GET / HTTP/1.1\r\nHost: h\r\n\r\n", "http");
  ASSERT_TRUE(crlf.ok());
  EXPECT_EQ(crlf->request.url, "http://h/");
  EXPECT_EQ(crlf->request.headers[0].second, " h");

  auto absolute = parse_raw_request("GET http://127.0.0.1:9/x HTTP/1.1\n");
  ASSERT_TRUE(absolute.ok());
  EXPECT_EQ(absolute->request.url, "http://127.0.0.1:9/x");
}

TEST(RawRequest, RejectsWhatIsNotARequest) {
  for (const char* bad : {"", "GET\n", "GET /\nHost:h\n", "GET / HTTP/1.1\nno colon here\n",
                          "GET / HTTP/1.1\n  continuation first\n", "GET / HTTP/1.1\nX:y\n"}) {
    auto r = parse_raw_request(bad);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace sluice::aws
