// The demo's Redis Streams act: data streams handed out over the load
// balancer stream to three client processes; one is killed with SIGKILL and
// the others claim its streams.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "demo.h"
#include "sluice/core/shutdown_signals.h"
#include "sluice/redis/client.h"
#include "sluice/redis/data_stream_reader.h"
#include "sluice/redis/lbs.h"
#include "sluice/redis/stream_client.h"

namespace sluice::cli::demo {

using namespace std::chrono_literals;

// One client process: prints "A|C|X|F <stream>" for added, claimed,
// disowned and finished streams and "D <id> <ms>" per message handled.
Status run_redis_worker(const RedisWorkerOptions& o) {
  std::stop_source stop;
  ShutdownSignals signals(stop, {SIGINT, SIGTERM}, false);
  SLUICE_ASSIGN_OR_RETURN(auto redis, redis::RedisClient::connect(o.redis_url));
  std::mutex out_mu;
  auto print = [&](const std::string& line) {
    std::lock_guard lock(out_mu);
    std::fputs((line + "\n").c_str(), stdout);
    std::fflush(stdout);
  };

  redis::StreamClientOptions client_options;
  client_options.consumer_id = o.id;
  client_options.heartbeat_interval = 1s;
  client_options.lbs_idle_time = 4s;
  client_options.lbs_block_time = 200ms;
  client_options.group_start_id = "0";
  // Expired locks are noticed through keyspace events; a local demo server
  // may not publish them yet.
  client_options.configure_keyspace_events = true;
  SLUICE_ASSIGN_OR_RETURN(auto client,
                          redis::RedisStreamClient::create(redis, o.service, client_options));

  redis::DataStreamReaderOptions reader_options;
  reader_options.batch_size = 5;
  reader_options.block_time = 100ms;
  std::unique_ptr<redis::DataStreamReader> reader;
  std::vector<std::string> finished;  // guarded by out_mu
  auto handler = [&](std::string_view stream,
                     const std::vector<redis::StreamEntry>& batch) -> Status {
    bool last = false;
    for (const auto& e : batch) {
      std::string id;
      for (const auto& [k, v] : e.fields) {
        if (k == "id") id = v;
        if (k == "last") last = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(o.delay_ms));  // the work
      print("D " + id + " " + std::to_string(now_us()));
    }
    if (last) {
      // Finished: the main loop hands the stream back.
      std::lock_guard lock(out_mu);
      finished.emplace_back(stream);
    }
    return Status();
  };
  SLUICE_ASSIGN_OR_RETURN(
      reader, redis::DataStreamReader::create(redis, o.service, reader_options, handler));
  SLUICE_ASSIGN_OR_RETURN(auto queue, client->init());
  while (!stop.stop_requested()) {
    std::vector<std::string> done;
    {
      std::lock_guard lock(out_mu);
      done.swap(finished);
    }
    for (const auto& name : done) {
      reader->remove(name);
      if (client->done_stream(name).ok()) print("F " + name);
    }
    auto n = queue->pop_for(200ms, stop.get_token());
    if (!n) {
      if (queue->closed()) break;
      continue;
    }
    const std::string& name = n->info.data_stream_name;
    switch (n->type) {
      case redis::NotificationType::kStreamAdded:
        if (reader->add(name).ok()) print("A " + name);
        break;
      case redis::NotificationType::kStreamExpired:
        if (client->claim(n->info).ok() && reader->add(name).ok()) print("C " + name);
        break;
      case redis::NotificationType::kStreamDisowned:
        reader->remove(name);
        print("X " + name);
        break;
      case redis::NotificationType::kStreamTerminated:
        stop.request_stop();
        break;
    }
  }
  reader->stop();
  return Status();
}

// The orchestrator.
Result<Ledger::Summary> run_redis_act(const DemoOptions& o, View& view) {
  SLUICE_ASSIGN_OR_RETURN(auto redis, redis::RedisClient::connect(o.redis_url));
  const std::string service = "sluice-demo-" + std::to_string(std::random_device{}() % 100000);
  const int streams = o.redis_streams, per_stream = o.redis_messages_per_stream;
  view.event("redis: " + std::to_string(streams) + " data streams of " +
             std::to_string(per_stream) +
             " messages, handed to 3 clients over the load balancer stream " + service + "-input");
  Ledger ledger;
  for (int s = 0; s < streams; ++s) {
    const std::string name = service + "-data-" + std::to_string(s);
    std::vector<redis::Command> adds;
    for (int i = 0; i < per_stream; ++i) {
      const std::string id = "s" + std::to_string(s) + "-" + std::to_string(i);
      redis::Command c{"XADD", name, "*", "id", id, "n", std::to_string(i)};
      if (i == per_stream - 1) {
        c.push_back("last");
        c.push_back("1");
      }
      adds.push_back(std::move(c));
      ledger.produced(id, name, i);
    }
    SLUICE_ASSIGN_OR_RETURN(auto replies, redis->pipeline(adds));
    (void)replies;
  }
  std::vector<std::unique_ptr<Child>> clients;
  std::vector<std::unique_ptr<Tail>> tails;
  auto start_client = [&](int i) {
    const std::string name = "client-" + std::to_string(i);
    const std::string out = o.work_dir + "/redis-" + name + ".out";
    clients.push_back(std::make_unique<Child>(
        name,
        std::vector<std::string>{"demo", "redis-worker", "--redis", o.redis_url, "--service",
                                 service, "--id", "redis-consumer-demo-" + name, "--delay-ms",
                                 std::to_string(o.redis_delay_ms)},
        out, o.work_dir + "/redis-" + name + ".err"));
    tails.push_back(std::make_unique<Tail>(out));
  };
  for (int i = 0; i < 3; ++i) start_client(i);
  std::this_thread::sleep_for(500ms);  // clients in the group before streams arrive
  for (int s = 0; s < streams; ++s) {
    SLUICE_RETURN_IF_ERROR(
        redis::lbs_add(*redis, service, service + "-data-" + std::to_string(s)).status());
  }

  std::map<std::string, std::set<std::string>> owned;  // client -> streams
  std::map<std::string, std::size_t> handled;
  std::map<std::string, std::string> state;
  std::int64_t seq = 0;
  bool killed = false;
  const auto deadline = std::chrono::steady_clock::now() + o.act_timeout;
  const std::size_t total =
      static_cast<std::size_t>(streams) * static_cast<std::size_t>(per_stream);
  while (std::chrono::steady_clock::now() < deadline && !o.stop.stop_requested()) {
    for (std::size_t i = 0; i < clients.size(); ++i) {
      const std::string& name = clients[i]->name();
      for (const auto& line : tails[i]->new_lines()) {
        if (line.size() < 3) continue;
        const char kind = line[0];
        const std::string rest = line.substr(2);
        if (kind == 'D') {
          const auto sp = rest.find(' ');
          ledger.delivered(rest.substr(0, sp), std::stoll(rest.substr(sp + 1)), seq++);
          ++handled[name];
        } else if (kind == 'A' || kind == 'C') {
          owned[name].insert(rest);
          if (kind == 'C') view.event("  " + name + " claimed " + rest);
        } else if (kind == 'X' || kind == 'F') {
          owned[name].erase(rest);
        }
      }
      state[name] =
          clients[i]->running() ? "running" : (killed && i == 1 ? "killed (SIGKILL)" : "stopped");
    }
    const std::size_t unique = ledger.unique_delivered();
    std::vector<std::vector<std::string>> rows;
    for (const auto& c : clients) {
      rows.push_back({c->name(), std::to_string(c->pid()), state[c->name()],
                      std::to_string(owned[c->name()].size()), std::to_string(handled[c->name()])});
    }
    std::vector<std::string> block{
        View::bar("redis", static_cast<double>(unique), static_cast<double>(total))};
    for (auto& l : View::table({"client", "pid", "state", "streams", "messages"}, rows))
      block.push_back("  " + l);
    view.status(block);
    if (!killed && unique >= total / 3) {
      clients[1]->signal(SIGKILL);
      killed = true;
      view.event("  killed client-1 with SIGKILL holding " +
                 std::to_string(owned["client-1"].size()) +
                 " streams; their locks expire in 1 s and the others claim them");
      owned["client-1"].clear();
    }
    if (unique >= total) break;
    SLUICE_RETURN_IF_ERROR(all_exited(clients));
    std::this_thread::sleep_for(100ms);
  }
  for (auto& c : clients) c->signal(SIGTERM);
  for (auto& c : clients) c->wait(10s);
  view.finish();
  return ledger.summarize();
}

}  // namespace sluice::cli::demo
