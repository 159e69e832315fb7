# `sluice demo` end to end with small counts (the README's first command runs
# it with the full ones), and its Ctrl-C cleanup.
if(TARGET sluice)
  sluice_test(sluice_demo_integration_tests LABEL integration
    SOURCES
      tools/demo_test.cc)
  add_dependencies(sluice_demo_integration_tests sluice)
endif()
