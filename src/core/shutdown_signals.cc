#include "sluice/core/shutdown_signals.h"

#include <unistd.h>

#include <thread>

#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>

namespace sluice {

struct ShutdownSignals::Impl {
  asio::io_context io;
  asio::signal_set set{io};
  std::stop_source source;
  bool exit_on_second = true;
  std::atomic<int> first{0};
  std::thread thread;

  void arm() {
    set.async_wait([this](std::error_code ec, int signo) {
      if (ec) return;  // cancelled: shutting down
      int expected = 0;
      if (!first.compare_exchange_strong(expected, signo)) {
        if (exit_on_second) _exit(128 + signo);
      }
      source.request_stop();
      arm();
    });
  }
};

ShutdownSignals::ShutdownSignals(std::stop_source source, std::initializer_list<int> signals,
                                 bool exit_on_second_signal)
    : impl_(std::make_unique<Impl>()) {
  impl_->source = std::move(source);
  impl_->exit_on_second = exit_on_second_signal;
  for (int s : signals) impl_->set.add(s);
  impl_->arm();
  impl_->thread = std::thread([this] { impl_->io.run(); });
}

ShutdownSignals::~ShutdownSignals() {
  asio::post(impl_->io, [this] {
    std::error_code ignored;
    impl_->set.clear(ignored);
    impl_->set.cancel(ignored);
  });
  impl_->thread.join();
}

int ShutdownSignals::received() const { return impl_->first.load(); }

}  // namespace sluice
