sluice_test(sluice_core_unit_tests LABEL unit
  SOURCES
    core/status_test.cc
    core/codec_test.cc
    core/checkpoint_store_test.cc
    core/backoff_test.cc
    core/clock_test.cc
    core/logger_test.cc
    core/metrics_test.cc
    core/metrics_server_test.cc
  LIBS sluice::core)

sluice_test(sluice_core_concurrency_tests LABEL concurrency
  SOURCES
    core/executor_test.cc
    core/shutdown_signals_test.cc
    core/metrics_concurrency_test.cc
  LIBS sluice::core)
