sluice_test(sluice_redis_unit_tests LABEL unit
  SOURCES
    redis/connection_options_test.cc
  LIBS sluice::redis)

# Concurrency tests start their own redis-server (no testenv needed) and also
# run under TSan.
sluice_test(sluice_redis_concurrency_tests LABEL concurrency
  SOURCES
    redis/lease_contention_test.cc
  LIBS sluice::redis)
