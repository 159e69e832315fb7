sluice_test(sluice_redis_integration_tests LABEL integration
  SOURCES
    redis/checkpoint_store_test.cc
    redis/connection_test.cc
    redis/lease_manager_test.cc
  LIBS sluice::redis)
