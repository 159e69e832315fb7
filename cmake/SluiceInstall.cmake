# `cmake --install` puts in place: public headers, one static library per
# component, the `sluice` binary, a CMake package (find_package(sluice CONFIG
# COMPONENTS ...)) and one pkg-config file per component.
include(CMakePackageConfigHelpers)

set(SLUICE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/sluice)
# pkg-config files find the prefix relative to themselves ("../.." for lib/pkgconfig).
file(RELATIVE_PATH PC_UP /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/sluice DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_BINARY_DIR}/generated/include/sluice/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/sluice)

foreach(component IN LISTS SLUICE_COMPONENTS)
  set(targets sluice_${component})
  if(component STREQUAL "core")
    list(APPEND targets sluice_asio)
  endif()
  install(TARGETS ${targets} EXPORT sluice-${component}-targets
          ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
          LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
          INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(EXPORT sluice-${component}-targets NAMESPACE sluice:: DESTINATION ${SLUICE_CMAKE_DIR})
  file(GENERATE OUTPUT ${PROJECT_BINARY_DIR}/sluice-${component}-deps.cmake
       CONTENT "include(CMakeFindDependencyMacro)\n${SLUICE_DEPS_${component}}\nset(sluice_${component}_REQUIRES ${SLUICE_REQUIRES_${component}})\n")
  install(FILES ${PROJECT_BINARY_DIR}/sluice-${component}-deps.cmake DESTINATION ${SLUICE_CMAKE_DIR})

  set(PC_COMPONENT ${component})
  set(PC_REQUIRES "")
  foreach(req IN LISTS SLUICE_REQUIRES_${component})
    string(APPEND PC_REQUIRES " sluice-${req}")
  endforeach()
  string(APPEND PC_REQUIRES " ${SLUICE_PC_REQUIRES_${component}}")
  set(PC_LIBS "${SLUICE_PC_LIBS_${component}}")
  configure_file(${PROJECT_SOURCE_DIR}/cmake/templates/sluice.pc.in
                 ${PROJECT_BINARY_DIR}/pkgconfig/sluice-${component}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/sluice-${component}.pc
          DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()

configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/templates/sluiceConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/sluiceConfig.cmake
                              INSTALL_DESTINATION ${SLUICE_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/sluiceConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/sluiceConfig.cmake ${PROJECT_BINARY_DIR}/sluiceConfigVersion.cmake
        DESTINATION ${SLUICE_CMAKE_DIR})
