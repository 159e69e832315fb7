# Every dependency comes from a Debian 12 package (scripts/setup installs them).
set(THREADS_PREFER_PTHREAD_FLAG ON)
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)

# Standalone Asio (libasio-dev) is header-only.
find_path(ASIO_INCLUDE_DIR asio.hpp REQUIRED)
if(NOT TARGET sluice_asio)
  add_library(sluice_asio INTERFACE)
  target_include_directories(sluice_asio SYSTEM INTERFACE ${ASIO_INCLUDE_DIR})
  # ASIO_DISABLE_STD_ALIGNED_ALLOC: Asio picks aligned_alloc or operator new
  # for its coroutine frames by testing a libstdc++ macro that only exists
  # once a standard header was included, so two translation units could pick
  # differently and free each other's frames with the wrong function. One
  # choice for every unit (and every user of the installed package).
  target_compile_definitions(sluice_asio INTERFACE ASIO_STANDALONE ASIO_NO_DEPRECATED
                                                   ASIO_DISABLE_STD_ALIGNED_ALLOC)
  target_link_libraries(sluice_asio INTERFACE Threads::Threads)
  set_target_properties(sluice_asio PROPERTIES EXPORT_NAME asio)
  set_property(GLOBAL APPEND PROPERTY SLUICE_INSTALLED_TARGETS sluice_asio)
endif()
