sluice_test(sluice_redis_unit_tests LABEL unit
  SOURCES
    redis/connection_options_test.cc
    redis/lbs_test.cc
  LIBS sluice::redis)

# Concurrency tests (they also run under TSan). The lease test starts a
# redis-server of its own, so it needs no testenv.
sluice_test(sluice_redis_concurrency_tests LABEL concurrency
  SOURCES
    redis/lease_contention_test.cc
    redis/notification_queue_concurrency_test.cc
    redis/stream_client_concurrency_test.cc
  LIBS sluice::redis)
