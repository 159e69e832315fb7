# A consumer in a process of its own, for the SIGKILL/SIGSTOP tests.
add_executable(sluice_redis_lbs_worker redis/lbs_worker_main.cc)
target_link_libraries(sluice_redis_lbs_worker PRIVATE sluice::redis)
sluice_warnings(sluice_redis_lbs_worker)

sluice_test(sluice_redis_integration_tests LABEL integration
  SOURCES
    redis/checkpoint_store_test.cc
    redis/cli_test.cc
    redis/connection_test.cc
    redis/data_stream_reader_test.cc
    redis/lease_manager_test.cc
    redis/stream_client_test.cc
  LIBS sluice::redis)
add_dependencies(sluice_redis_integration_tests sluice_redis_lbs_worker)
