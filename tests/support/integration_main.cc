// main() of every integration test binary: the back ends must be there.
// Run the binary through testenv/with-backends (scripts/test does); without
// it every test fails loudly instead of skipping quietly.
#include <gtest/gtest.h>

#include <cstdio>

#include "support/backends.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  if (!GTEST_FLAG_GET(list_tests)) {
    const auto missing = sluice::testing::Backends::missing();
    if (!missing.empty()) {
      std::fprintf(stderr,
                   "\nsluice integration tests need their back ends, and these variables are not "
                   "set:\n");
      for (const auto& m : missing) std::fprintf(stderr, "  %s\n", m.c_str());
      std::fprintf(stderr,
                   "Run through the launcher, e.g.\n  testenv/with-backends -- ctest --test-dir "
                   "build -L integration\n(scripts/test does this).\n\n");
      return 1;
    }
  }
  return RUN_ALL_TESTS();
}
