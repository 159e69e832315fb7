#include "sluice/core/shutdown_signals.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include "support/test_util.h"

namespace sluice {
namespace {

using namespace std::chrono_literals;

TEST(ShutdownSignals, FirstSignalRequestsStop) {
  std::stop_source stop;
  ShutdownSignals signals(stop, {SIGUSR1});
  EXPECT_EQ(signals.received(), 0);
  EXPECT_FALSE(stop.stop_requested());
  ASSERT_EQ(kill(getpid(), SIGUSR1), 0);
  ASSERT_TRUE(testing::wait_until([&] { return stop.stop_requested(); }, 10s));
  EXPECT_EQ(signals.received(), SIGUSR1);
}

void second_signal_exits() {
  std::stop_source stop;
  ShutdownSignals signals(stop, {SIGUSR2});
  kill(getpid(), SIGUSR2);
  if (!testing::wait_until([&] { return stop.stop_requested(); }, 10s)) _exit(3);
  kill(getpid(), SIGUSR2);  // the impatient operator
  std::this_thread::sleep_for(10s);
  _exit(4);  // not reached when the second signal ends the process
}

TEST(ShutdownSignalsDeathTest, SecondSignalExitsAtOnce) {
  EXPECT_EXIT(second_signal_exits(), ::testing::ExitedWithCode(128 + SIGUSR2), "");
}

}  // namespace
}  // namespace sluice
