// S3Client against s3rver: objects in and out, metadata, not-found, and URLs.
#include "sluice/aws/s3_client.h"

#include <gtest/gtest.h>

#include "sluice/aws/sigv4.h"
#include "sluice/core/executor.h"
#include "support/backends.h"
#include "support/local_http_server.h"
#include "support/test_util.h"

namespace sluice::aws {
namespace {

using testing::Backends;

ClientOptions s3rver_options() {
  ClientOptions o;
  o.region = "us-east-1";
  o.endpoint = Backends::get().s3_endpoint;
  o.credentials = make_static_credentials("S3RVER", "S3RVER");  // s3rver's account
  return o;
}

class S3ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = S3Client::create(s3rver_options());
    ASSERT_TRUE(c.ok()) << c.status();
    s3_ = std::move(*c);
  }
  template <class T>
  T run(asio::awaitable<T> task) {
    return run_blocking(pool_.executor(), std::move(task));
  }
  ThreadPool pool_{2};
  std::unique_ptr<S3Client> s3_;
  const std::string bucket_ = Backends::get().s3_bucket;
};

TEST_F(S3ClientTest, PutHeadGetDelete) {
  const std::string key = "claim-check/" + testing::unique_name("obj") + "/with space+plus";
  std::string body(300000, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 7);
  auto etag = run(s3_->put_object(bucket_, key, body,
                                  {.content_type = "application/octet-stream",
                                   .content_encoding = "gzip",
                                   .metadata = {{"schema", "DataFileV1"}}}));
  ASSERT_TRUE(etag.ok()) << etag.status();
  EXPECT_FALSE(etag->empty());
  auto head = run(s3_->head_object(bucket_, key));
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->content_length, body.size());
  EXPECT_EQ(head->content_type, "application/octet-stream");
  EXPECT_EQ(head->metadata.at("schema"), "DataFileV1");
  auto obj = run(s3_->get_object(bucket_, key));
  ASSERT_TRUE(obj.ok()) << obj.status();
  EXPECT_EQ(obj->body, body);
  EXPECT_EQ(obj->info.etag, *etag);
  ASSERT_TRUE(run(s3_->delete_object(bucket_, key)).ok());
  auto gone = run(s3_->get_object(bucket_, key));
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound);
  EXPECT_NE(gone.status().message().find("NoSuchKey"), std::string_view::npos) << gone.status();
  auto gone_head = run(s3_->head_object(bucket_, key));
  EXPECT_EQ(gone_head.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(run(s3_->delete_object(bucket_, key)).ok()) << "deleting twice is fine";
}

TEST_F(S3ClientTest, BucketsAndErrors) {
  const std::string bucket = testing::unique_name("bkt");
  ASSERT_TRUE(run(s3_->create_bucket(bucket)).ok());
  EXPECT_EQ(run(s3_->create_bucket(bucket)).code(), StatusCode::kAlreadyExists);
  auto missing = run(s3_->get_object(testing::unique_name("no-bucket"), "k"));
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(run(s3_->put_object("", "k", "x")).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(run(s3_->put_object(bucket, "", "x")).status().code(), StatusCode::kInvalidArgument);
}

// s3rver does not check signatures, so a local server records what S3Client
// signs: keys with characters that need encoding must be signed with the
// path encoded once (S3's rule), else real S3 answers SignatureDoesNotMatch.
TEST(S3Signing, PathIsEncodedOnceAndPayloadUnsigned) {
  testing::LocalHttpServer server([](const testing::RecordedRequest&) {
    return testing::LocalHttpResponse{.status = 200, .headers = {{"ETag", "\"e\""}}};
  });
  ClientOptions o;
  o.region = "us-east-1";
  o.endpoint = server.url();
  o.credentials =
      make_static_credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
  auto s3 = S3Client::create(o);
  ASSERT_TRUE(s3.ok());
  ThreadPool pool(1);
  auto etag =
      run_blocking(pool.executor(), (*s3)->put_object("bucket", "dir/a b+c\xc3\xa9.bin", "body"));
  ASSERT_TRUE(etag.ok()) << etag.status();
  ASSERT_EQ(server.request_count(), 1u);
  const testing::RecordedRequest sent = server.requests()[0];
  EXPECT_EQ(sent.target, "/bucket/dir/a%20b%2Bc%C3%A9.bin");
  EXPECT_EQ(sent.header("x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
  // Re-sign what was sent with S3's rules: the same Authorization.
  HttpRequest again;
  again.method = "PUT";
  again.url = server.url() + sent.target;
  again.body = "body";
  for (const auto& [k, v] : sent.headers) {
    if (k == "Authorization" || k == "X-Amz-Date" || k == "x-amz-content-sha256" || k == "Host" ||
        k == "Content-Length") {
      continue;
    }
    again.headers.emplace_back(k, v);
  }
  SigV4Options opts;
  opts.region = "us-east-1";
  opts.service = "s3";
  opts.normalize_path = false;
  opts.double_encode_path = false;
  opts.payload = SigV4Options::Payload::kUnsigned;
  opts.add_content_sha256_header = true;
  auto when = parse_iso8601_time(sent.header("x-amz-date"));
  ASSERT_TRUE(when.ok()) << when.status();
  opts.time = *when;
  auto expected = sign_request(
      again,
      *make_static_credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
           ->credentials(),
      opts);
  ASSERT_TRUE(expected.ok()) << expected.status();
  EXPECT_EQ(sent.header("authorization"), expected->authorization);
  EXPECT_NE(expected->canonical_request.find("/bucket/dir/a%20b%2Bc%C3%A9.bin"), std::string::npos);
}

TEST(S3Urls, VirtualHostAndPathStyle) {
  auto make = [](std::string endpoint, bool force_path) {
    ClientOptions o;
    o.region = "eu-west-1";
    o.endpoint = std::move(endpoint);
    o.credentials = make_static_credentials("a", "b");
    return std::move(*S3Client::create(o, {.force_path_style = force_path}));
  };
  auto aws = make("https://s3.eu-west-1.amazonaws.com", false);
  EXPECT_EQ(*aws->object_url("my-bucket", "a b/c"),
            "https://my-bucket.s3.eu-west-1.amazonaws.com/a%20b/c");
  EXPECT_EQ(*aws->object_url("my.dotted.bucket", "k"),
            "https://s3.eu-west-1.amazonaws.com/my.dotted.bucket/k");
  auto forced = make("https://s3.eu-west-1.amazonaws.com", true);
  EXPECT_EQ(*forced->object_url("my-bucket", "k"),
            "https://s3.eu-west-1.amazonaws.com/my-bucket/k");
  auto local = make("http://127.0.0.1:4569", false);
  EXPECT_EQ(*local->object_url("my-bucket", "k~x"), "http://127.0.0.1:4569/my-bucket/k~x");
  auto localhost = make("http://localhost:4569", false);
  EXPECT_EQ(*localhost->object_url("b-1", "k"), "http://localhost:4569/b-1/k");
  EXPECT_EQ(s3_encode_key("a/b c+d%e\xc3\xa9"), "a/b%20c%2Bd%25e%C3%A9");
}

}  // namespace
}  // namespace sluice::aws
