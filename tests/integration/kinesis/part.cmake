sluice_test(sluice_kinesis_integration_tests LABEL integration
  SOURCES
    kinesis/consumer_test.cc
    kinesis/lease_test.cc
  LIBS sluice::kinesis)
if(TARGET sluice)
  add_dependencies(sluice_kinesis_integration_tests sluice)  # the lease tests run the CLI
endif()

# The KCL-compatible worker against kinesalite and dynalite (lease table
# schema, Java KCL tables, balancing, failover of a SIGKILLed `sluice kinesis
# consume --app`, handoff, resharding, checkpointer rules) and its CLI.
sluice_test(sluice_kinesis_kcl_integration_tests LABEL integration
  SOURCES
    kinesis/kcl_test.cc
    kinesis/kcl_failover_test.cc
  LIBS sluice::kinesis)
if(TARGET sluice)
  add_dependencies(sluice_kinesis_kcl_integration_tests sluice)
endif()
if(SLUICE_BUILD_EXAMPLES)  # the multi_worker example test runs it (it exists only then)
  add_dependencies(sluice_kinesis_kcl_integration_tests kinesis_kcl_multi_worker)
  target_compile_definitions(sluice_kinesis_kcl_integration_tests PRIVATE SLUICE_TEST_EXAMPLES=1)
endif()

# The Kinesis producer against kinesalite and s3rver (and the npm
# aws-kinesis-agg cross-check, and the `sluice kinesis produce/aggregate` CLI).
sluice_test(sluice_kinesis_producer_integration_tests LABEL integration
  SOURCES
    kinesis/producer_integration_test.cc
  LIBS sluice::kinesis simdjson::simdjson)
if(TARGET sluice)
  add_dependencies(sluice_kinesis_producer_integration_tests sluice)
endif()

# The engine under load, also run under TSan (label concurrency).
sluice_test(sluice_kinesis_concurrency_tests LABEL concurrency BACKENDS
  SOURCES
    kinesis/consumer_concurrency_test.cc
  LIBS sluice::kinesis)

# Two KCL workers in one process, their processors checkpointing from the
# handler threads while status, stats and lease snapshots are read and one
# then the other stops gracefully; also run under TSan.
sluice_test(sluice_kinesis_kcl_worker_concurrency_tests LABEL concurrency BACKENDS TIMEOUT 180
  SOURCES
    kinesis/kcl_concurrency_test.cc
  LIBS sluice::kinesis)
