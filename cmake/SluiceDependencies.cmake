# Every dependency comes from a Debian 12 package (scripts/setup installs them).
set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)

# Standalone Asio (libasio-dev) is header-only.
find_path(ASIO_INCLUDE_DIR asio.hpp REQUIRED)
if(NOT TARGET sluice_asio)
  add_library(sluice_asio INTERFACE)
  target_include_directories(sluice_asio SYSTEM INTERFACE ${ASIO_INCLUDE_DIR})
  target_compile_definitions(sluice_asio INTERFACE ASIO_STANDALONE ASIO_NO_DEPRECATED)
  target_link_libraries(sluice_asio INTERFACE Threads::Threads)
  set_target_properties(sluice_asio PROPERTIES EXPORT_NAME asio)
  set_property(GLOBAL APPEND PROPERTY SLUICE_INSTALLED_TARGETS sluice_asio)
endif()
