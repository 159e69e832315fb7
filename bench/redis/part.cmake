# End-to-end load-balancer benchmark: assignment and failover latency, memory
# and threads per consumer (starts its own redis-server).
add_executable(bench_redis_lbs redis/redis_lbs_bench.cc)
target_link_libraries(bench_redis_lbs PRIVATE sluice::redis)
sluice_warnings(bench_redis_lbs)
