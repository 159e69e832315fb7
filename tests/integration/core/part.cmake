sluice_test(sluice_core_integration_tests LABEL integration
  SOURCES
    core/backends_smoke_test.cc
  LIBS sluice::core)
