# Seed 002's quick start: a load-balanced Redis Streams consumer.
add_executable(redis_lbs redis/redis_lbs.cc)
target_link_libraries(redis_lbs PRIVATE sluice::redis)
sluice_warnings(redis_lbs)
