#include "sluice/core/metrics_server.h"

#include <gtest/gtest.h>

#include "support/raw_http.h"
#include "support/test_util.h"

namespace sluice {
namespace {

std::string get(std::uint16_t port, const std::string& method, const std::string& path) {
  auto r = testing::raw_http("127.0.0.1", port,
                             method + " " + path + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  return std::to_string(r.status) + "\n" + r.head + "\n\n" + r.body;
}

TEST(MetricsServer, ServesTheRegistry) {
  MetricsRegistry registry;
  registry.counter("sluice_served_total", "Served.", {"k"}).with({"v"}).inc(7);
  auto server = MetricsServer::start(registry);
  ASSERT_TRUE(server.ok()) << server.status();
  const auto port = (*server)->port();
  ASSERT_NE(port, 0);
  EXPECT_EQ((*server)->url(), "http://127.0.0.1:" + std::to_string(port) + "/metrics");

  std::string r = get(port, "GET", "/metrics");
  EXPECT_TRUE(r.starts_with("200\n")) << r;
  EXPECT_NE(r.find("Content-Type: text/plain; version=0.0.4"), std::string::npos) << r;
  EXPECT_NE(r.find("sluice_served_total{k=\"v\"} 7\n"), std::string::npos) << r;

  // Later changes show up in the next scrape.
  registry.counter("sluice_served_total", "Served.", {"k"}).with({"v"}).inc();
  EXPECT_NE(get(port, "GET", "/metrics?x=1").find("sluice_served_total{k=\"v\"} 8\n"),
            std::string::npos);

  EXPECT_TRUE(get(port, "GET", "/other").starts_with("404\n"));
  EXPECT_TRUE(get(port, "POST", "/metrics").starts_with("405\n"));
  std::string head = get(port, "HEAD", "/metrics");
  EXPECT_TRUE(head.starts_with("200\n"));
  EXPECT_EQ(head.find("sluice_served_total"), std::string::npos);

  (*server)->stop();
  EXPECT_THROW(get(port, "GET", "/metrics"), std::exception);
}

TEST(MetricsServer, ReportsBadOptionsAndPortsInUse) {
  MetricsRegistry registry;
  auto bad = MetricsServer::start(registry, {.bind_address = "not-an-ip"});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("not-an-ip"), std::string_view::npos);

  auto first = MetricsServer::start(registry);
  ASSERT_TRUE(first.ok());
  auto second = MetricsServer::start(registry, {.port = (*first)->port()});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kIOError);
  EXPECT_NE(second.status().message().find("bind"), std::string_view::npos) << second.status();

  auto no_slash = MetricsServer::start(registry, {.path = "metrics"});
  EXPECT_EQ(no_slash.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sluice
