# The Kinesis producer's CPU path (records into PutRecords bodies, aggregated
# and plain; compression). End to end against kinesalite:
# bench/kinesis/producer_end_to_end.sh.
add_executable(bench_kinesis_producer_encode kinesis/producer_encode_bench.cc)
target_link_libraries(bench_kinesis_producer_encode PRIVATE sluice::kinesis benchmark::benchmark)
target_include_directories(bench_kinesis_producer_encode PRIVATE ${PROJECT_SOURCE_DIR}/src)
sluice_warnings(bench_kinesis_producer_encode)

# The consumer's decode path next to its floor (base64 + MD5 of the same bytes).
add_executable(bench_consumer_decode kinesis/consumer_decode_bench.cc)
target_link_libraries(bench_consumer_decode PRIVATE sluice::kinesis benchmark::benchmark OpenSSL::Crypto)
target_include_directories(bench_consumer_decode PRIVATE ${PROJECT_SOURCE_DIR}/src)
sluice_warnings(bench_consumer_decode)

# End to end against kinesalite (run under testenv/with-backends).
find_package(CURL REQUIRED)
add_executable(bench_consumer_e2e kinesis/consumer_e2e.cc)
target_link_libraries(bench_consumer_e2e PRIVATE sluice::kinesis CURL::libcurl)
sluice_warnings(bench_consumer_e2e)

# Scale: 1,000 shards in one process against a fake endpoint (threads, RSS).
if(TARGET sluice_test_support)
  add_executable(bench_consumer_scale kinesis/consumer_scale.cc)
  target_link_libraries(bench_consumer_scale PRIVATE sluice::kinesis sluice_test_support)
  sluice_warnings(bench_consumer_scale)
endif()

# The KCL lease coordinator: convergence, failover and lease-table cost
# against dynalite (run under testenv/with-backends) or in memory.
add_executable(bench_kcl_coordination kinesis/kcl_coordination.cc)
target_link_libraries(bench_kcl_coordination PRIVATE sluice::kinesis)
sluice_warnings(bench_kcl_coordination)
