# CONFAB_SANITIZE: AddressSanitizer (with LeakSanitizer) and UndefinedBehaviorSanitizer for the
# whole tree, so that a use-after-free, an overflow, a leak or undefined behaviour fails a test
# instead of crashing once in a while. CI builds it in its own directory
# (scripts/quickstart.sh sanitize, which also turns CONFAB_BUILD_QML off).
#
# Directory-wide on purpose (included before any add_subdirectory): every target the project
# builds, including moc and resource code and targets added later, is instrumented without each
# CMakeLists.txt having to remember it. Qt and the other system libraries are not instrumented;
# ASan still sees their heap, since it replaces malloc for the whole process.
option(CONFAB_SANITIZE "Build with -fsanitize=address,undefined (ASan, LSan, UBSan) for CI" OFF)

# Test timeouts are multiplied by this (confab_add_test): sanitized code runs 2-3 times slower.
if(CONFAB_SANITIZE)
    set(confab_timeout_default 3)
else()
    set(confab_timeout_default 1)
endif()
set(CONFAB_TEST_TIMEOUT_MULTIPLIER ${confab_timeout_default} CACHE STRING
    "Factor applied to every test's timeout (default 3 with CONFAB_SANITIZE, else 1)")

# Extra ENVIRONMENT entries for every test (confab_add_test); empty unless CONFAB_SANITIZE.
set(CONFAB_SANITIZER_TEST_ENV "")

if(CONFAB_SANITIZE)
    if(NOT CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
        message(FATAL_ERROR "CONFAB_SANITIZE needs GCC or Clang (found ${CMAKE_CXX_COMPILER_ID})")
    endif()
    # -fno-sanitize-recover=undefined: UBSan otherwise prints its report and carries on, and the
    # test would pass. -fno-omit-frame-pointer: complete stacks from ASan's fast unwinder.
    add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined
        -fno-omit-frame-pointer)
    add_link_options(-fsanitize=address,undefined)

    # Runtime options, as test properties so that a test re-run by hand with ctest in the same
    # build directory behaves exactly as in CI; child processes (confab-server started by the cli
    # and durability suites) inherit them from the test.
    #   ASan: stop at the first error with abort() (a crash, not a quiet exit 1); leaks on;
    #         also check static initialisation order, and stack use after return (a reference
    #         or view kept to a returned function's local; use after scope is on by default).
    #   UBSan: a stack with every report (the build makes every report fatal).
    #   LSan: third-party leaks only are suppressed, in tests/sanitizers/lsan.supp.
    set(CONFAB_SANITIZER_TEST_ENV
        "ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=1:check_initialization_order=1:detect_stack_use_after_return=1"
        "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1"
        "LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/sanitizers/lsan.supp:print_suppressions=0")
endif()
