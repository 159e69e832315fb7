add_executable(bench_core core/core_bench.cc)
target_link_libraries(bench_core PRIVATE sluice::core benchmark::benchmark)
sluice_warnings(bench_core)
