// `sluice aws ...` commands: SigV4 signing of a raw request (to debug a
// SignatureDoesNotMatch), and which credentials, region and endpoint the
// AWS clients would use.
#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "cli.h"
#include "sluice/aws/config.h"
#include "sluice/aws/credentials.h"
#include "sluice/aws/raw_request.h"
#include "sluice/aws/sigv4.h"
#include "sluice/core/clock.h"

namespace sluice::cli {
namespace {

struct SignOptions {
  std::string region;
  std::string service;
  std::string time;
  std::string access_key;
  std::string secret_key;
  std::string session_token;
  std::string profile;
  std::string print = "signed-request";
  std::string scheme = "https";
  bool no_normalize_path = false;
  bool sign_body = false;
  bool unsigned_payload = false;
  bool unsigned_session_token = false;
  bool s3 = false;
  bool query = false;
  int expires = 3600;
};

constexpr const char* kSignFooter = R"(
Reads a raw HTTP request on stdin, in the form of the AWS SigV4 test suite:

  POST / HTTP/1.1
  Host:kinesis.us-east-1.amazonaws.com
  Content-Type:application/x-amz-json-1.1
  X-Amz-Target:Kinesis_20131202.ListStreams

  {}

and prints it signed (or, with --print, one step of the signing).

Debugging a SignatureDoesNotMatch: AWS's error message includes the
canonical request and string to sign the service computed. Feed sluice the
request as it was sent, with the same --time (the X-Amz-Date), and compare
`--print canonical-request` and `--print string-to-sign` line by line: the
first line that differs (method, path encoding, query order, a header value,
the set of signed headers, the payload hash) is the culprit. A matching
canonical request with a different signature means other keys, region or
service.

--region and --service win; without them both come from the Host
(kinesis.us-east-1.amazonaws.com), and the region else from AWS_REGION or the
profile. Credentials: --access-key/--secret-key,
else the default chain (environment, web identity, profile, container, EC2).
The signed output contains a signature, never the secret key; it does contain
the session token, if any.)";

constexpr const char* kCredentialsFooter = R"(
Tries the default chain in order and prints the first source that answers:
environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), web
identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN), the profile of
~/.aws/credentials and ~/.aws/config (keys, role_arn with source_profile or
credential_source, credential_process), container credentials
(AWS_CONTAINER_CREDENTIALS_RELATIVE_URI / _FULL_URI), EC2 instance metadata.

Prints source, access_key_id, whether a session token is present, and when the
credentials expire. The secret key and the token are never printed. Exit
status 1, with every source tried and why it failed, when none answers.)";

constexpr const char* kEndpointFooter = R"(
Region: --region, else AWS_REGION, AWS_DEFAULT_REGION, then the profile's
region. Without one, the endpoint can only come from the configuration below.
Endpoint: --endpoint-url, else AWS_ENDPOINT_URL_<SERVICE> (e.g.
AWS_ENDPOINT_URL_KINESIS), AWS_ENDPOINT_URL, the profile's services section or
endpoint_url, then https://<service>.<region>.amazonaws.com.
AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true skips the environment and the profile.)";

// "kinesis.us-east-1.amazonaws.com" -> {"kinesis", "us-east-1"}.
std::pair<std::string, std::string> service_and_region_from_host(std::string host) {
  if (auto colon = host.find(':'); colon != std::string::npos) host.resize(colon);
  std::vector<std::string> labels;
  std::stringstream ss(host);
  for (std::string l; std::getline(ss, l, '.');) labels.push_back(l);
  std::size_t aws = labels.size();
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] == "amazonaws") {
      aws = i;
      break;
    }
  }
  if (aws == labels.size() || aws == 0) return {};
  if (aws == 1) return {labels[0], "us-east-1"};  // global endpoints: sts.amazonaws.com
  return {labels[aws - 2], labels[aws - 1]};
}

Status run_sign(const SignOptions& o, const GlobalOptions& global) {
  std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
  if (input.empty()) {
    return Status::invalid_argument(
        "no request on stdin (see sluice aws sign --help for the form)");
  }
  SLUICE_ASSIGN_OR_RETURN(aws::RawRequest raw, aws::parse_raw_request(input, o.scheme));

  auto url = aws::parse_url(raw.request.url);
  if (!url.ok()) return url.status();
  auto [host_service, host_region] = service_and_region_from_host(url->host);

  aws::SigV4Options sig;
  sig.service = !o.service.empty() ? o.service : host_service;
  if (sig.service.empty()) {
    return Status::invalid_argument("no --service, and the Host does not name one");
  }
  if (!o.region.empty()) {
    sig.region = o.region;
  } else if (!global.region.empty()) {
    sig.region = global.region;
  } else if (!host_region.empty()) {
    sig.region = host_region;
  } else {
    SLUICE_ASSIGN_OR_RETURN(sig.region, aws::resolve_region("", o.profile));
  }
  if (!o.time.empty()) {
    SLUICE_ASSIGN_OR_RETURN(sig.time, aws::parse_iso8601_time(o.time));
  } else {
    sig.time = Clock::real().wall_now();
  }
  sig.normalize_path = !(o.no_normalize_path || o.s3);
  sig.double_encode_path = !o.s3;
  sig.add_content_sha256_header = o.sign_body || o.s3;
  if (o.unsigned_payload) sig.payload = aws::SigV4Options::Payload::kUnsigned;
  sig.session_token_after_signing = o.unsigned_session_token;
  sig.expires = std::chrono::seconds(o.expires);

  aws::Credentials creds;
  if (!o.access_key.empty() || !o.secret_key.empty()) {
    if (o.access_key.empty() || o.secret_key.empty()) {
      return Status::invalid_argument("--access-key and --secret-key go together");
    }
    creds.access_key_id = o.access_key;
    creds.secret_access_key = o.secret_key;
    creds.session_token = o.session_token;
  } else {
    aws::CredentialsOptions co;
    co.profile = o.profile;
    co.logger = global.logger();
    SLUICE_ASSIGN_OR_RETURN(creds, aws::make_default_credentials_chain(co)->credentials());
    if (!o.session_token.empty()) creds.session_token = o.session_token;
  }

  SLUICE_ASSIGN_OR_RETURN(aws::SigV4Result r, o.query
                                                  ? aws::presign_request(raw.request, creds, sig)
                                                  : aws::sign_request(raw.request, creds, sig));
  std::string out;
  if (o.print == "canonical-request") {
    out = r.canonical_request + "\n";
  } else if (o.print == "string-to-sign") {
    out = r.string_to_sign + "\n";
  } else if (o.print == "signature") {
    out = r.signature + "\n";
  } else if (o.print == "all") {
    out = "# canonical request\n" + r.canonical_request + "\n\n# string to sign\n" +
          r.string_to_sign + "\n\n# signature\n" + r.signature + "\n\n# signed request\n" +
          aws::format_raw_request(raw.request, raw.http_version);
  } else {
    out = aws::format_raw_request(raw.request, raw.http_version);
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
  return Status();
}

void add_sign_command(CLI::App& group, Context& ctx) {
  auto o = std::make_shared<SignOptions>();
  auto* cmd = group.add_subcommand(
      "sign",
      "Sign a raw HTTP request from stdin with AWS SigV4 and print it (or a step of the signing); "
      "the tool for debugging a SignatureDoesNotMatch");
  cmd->footer(kSignFooter);
  cmd->add_option("--region", o->region,
                  "Region to sign for (default: from the Host, then AWS_REGION/profile)");
  cmd->add_option("--service", o->service,
                  "Signing name, e.g. kinesis, dynamodb, s3 (default: from the Host)");
  cmd->add_option("--time", o->time,
                  "Signing time, ISO 8601 (e.g. 2015-08-30T12:36:00Z; default: now)");
  cmd->add_option("--access-key", o->access_key, "Access key id (default: the credential chain)");
  cmd->add_option("--secret-key", o->secret_key,
                  "Secret access key (prefer the environment or a profile)");
  cmd->add_option("--session-token", o->session_token, "Session token of temporary credentials");
  cmd->add_option("--profile", o->profile,
                  "Shared-config profile for the credential chain (default: AWS_PROFILE)");
  cmd->add_flag("--no-normalize-path", o->no_normalize_path,
                "Sign the path as written (no dot-segment removal or slash collapsing)");
  cmd->add_flag("--sign-body", o->sign_body,
                "Add the x-amz-content-sha256 header (SHA-256 of the body) and sign it");
  cmd->add_flag("--unsigned-payload", o->unsigned_payload,
                "Sign UNSIGNED-PAYLOAD instead of the body's hash");
  cmd->add_flag("--unsigned-session-token", o->unsigned_session_token,
                "Add X-Amz-Security-Token after signing, outside the signature (IoT style)");
  cmd->add_flag("--s3", o->s3,
                "S3 rules: no path normalisation, path encoded once, x-amz-content-sha256 added");
  cmd->add_flag("--query", o->query,
                "Presign: put the signature in the query string instead of a header");
  cmd->add_option("--expires", o->expires, "With --query: seconds the URL stays valid")
      ->check(CLI::Range(1, 604800));
  cmd->add_option("--scheme", o->scheme, "Scheme for the URL built from the Host header")
      ->check(CLI::IsMember({"http", "https"}));
  cmd->add_option("--print", o->print, "What to print")
      ->check(CLI::IsMember(
          {"canonical-request", "string-to-sign", "signature", "signed-request", "all"}));
  ctx.on_run(cmd, "aws sign", [o, &ctx]() { return run_sign(*o, ctx.global); });
}

void add_credentials_command(CLI::App& group, Context& ctx) {
  auto profile = std::make_shared<std::string>();
  auto* cmd = group.add_subcommand(
      "credentials",
      "Resolve AWS credentials with the default chain and say where they came from (never the "
      "secret)");
  cmd->footer(kCredentialsFooter);
  cmd->add_option("--profile", *profile,
                  "Shared-config profile (default: AWS_PROFILE, then default)");
  ctx.on_run(cmd, "aws credentials", [profile, &ctx]() -> Status {
    aws::CredentialsOptions co;
    co.profile = *profile;
    co.logger = ctx.global.logger();
    SLUICE_ASSIGN_OR_RETURN(aws::Credentials c,
                            aws::make_default_credentials_chain(co)->credentials());
    std::string expires = "never";
    if (c.expiration) {
      const auto left = std::chrono::duration_cast<std::chrono::seconds>(*c.expiration -
                                                                         Clock::real().wall_now());
      expires = aws::format_amz_date(*c.expiration) + " (in " + std::to_string(left.count()) + "s)";
    }
    std::printf("source: %s\naccess_key_id: %s\nsession_token: %s\nexpires: %s\n", c.source.c_str(),
                c.access_key_id.c_str(), c.session_token.empty() ? "none" : "present",
                expires.c_str());
    return Status();
  });
}

void add_endpoint_command(CLI::App& group, Context& ctx) {
  struct Opts {
    std::string service = "kinesis";
    std::string profile;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = group.add_subcommand(
      "endpoint", "Print the region and the endpoint URL a service client would use");
  cmd->footer(kEndpointFooter);
  cmd->add_option("--service", o->service,
                  "Service: kinesis, dynamodb, s3 or sts (or another signing name, for the "
                  "AWS_ENDPOINT_URL_<NAME> variable and the default endpoint)");
  cmd->add_option("--profile", o->profile,
                  "Shared-config profile (default: AWS_PROFILE, then default)");
  ctx.on_run(cmd, "aws endpoint", [o, &ctx]() -> Status {
    static const std::pair<const char*, const char*> kIds[] = {
        {"kinesis", "Kinesis"}, {"dynamodb", "DynamoDB"}, {"s3", "S3"}, {"sts", "STS"}};
    std::string id = o->service;
    for (const auto& [name, service_id] : kIds) {
      if (o->service == name) id = service_id;
    }
    auto region = aws::resolve_region(ctx.global.region, o->profile);
    SLUICE_ASSIGN_OR_RETURN(std::string endpoint,
                            aws::resolve_endpoint(id, o->service, region.ok() ? *region : "",
                                                  ctx.global.endpoint_url, o->profile));
    std::printf("region: %s\nendpoint: %s\n",
                region.ok() ? region->c_str()
                            : ("(none: " + std::string(region.status().message()) + ")").c_str(),
                endpoint.c_str());
    return Status();
  });
}

}  // namespace

void add_aws_commands(CLI::App& root, Context& ctx) {
  auto* group = root.add_subcommand(
      "aws", "AWS helpers: SigV4 signing, and which credentials, region and endpoint apply");
  group->require_subcommand(1);
  add_sign_command(*group, ctx);
  add_credentials_command(*group, ctx);
  add_endpoint_command(*group, ctx);
}

}  // namespace sluice::cli
