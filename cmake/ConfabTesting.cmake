# confab_add_test(<name> SOURCES ... LIBRARIES ... LABELS ... [TIMEOUT s])
# One QtTest executable per test, registered with ctest with labels, a timeout and a headless,
# glib-free environment (QT_NO_GLIB=1 is what the server runs with; see server/app/main.cpp).
# Server logs below warning are off; set QT_LOGGING_RULES=confab.*=true when debugging a test.
# The timeout is multiplied by CONFAB_TEST_TIMEOUT_MULTIPLIER and the sanitizers' runtime options
# are added under CONFAB_SANITIZE (cmake/Sanitizers.cmake).
function(confab_add_test name)
    cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LIBRARIES;LABELS" ${ARGN})
    if(NOT ARG_TIMEOUT)
        set(ARG_TIMEOUT 120)
    endif()
    math(EXPR ARG_TIMEOUT "${ARG_TIMEOUT} * ${CONFAB_TEST_TIMEOUT_MULTIPLIER}")
    qt_add_executable(${name} ${ARG_SOURCES})
    target_link_libraries(${name} PRIVATE Qt6::Test ${ARG_LIBRARIES})
    confab_set_target_defaults(${name})
    target_compile_definitions(${name} PRIVATE CONFAB_TEST_DATA_DIR="${PROJECT_SOURCE_DIR}/tests/data")
    add_test(NAME ${name} COMMAND ${name})
    set_tests_properties(${name} PROPERTIES
        LABELS "${ARG_LABELS}"
        TIMEOUT ${ARG_TIMEOUT}
        ENVIRONMENT "QT_QPA_PLATFORM=offscreen;QT_NO_GLIB=1;QT_LOGGING_RULES=confab.*.debug=false\\;confab.*.info=false")
    if(CONFAB_SANITIZER_TEST_ENV)
        set_property(TEST ${name} APPEND PROPERTY ENVIRONMENT ${CONFAB_SANITIZER_TEST_ENV})
    endif()
endfunction()
