# -DMPIC_COVERAGE=ON: gcov instrumentation (gcc --coverage) for everything we
# build, tests included; scripts/coverage.sh runs the suite and reports with
# gcovr. Combines with MPIC_SANITIZE (CI instruments its ASan build). Each
# process writes its counters (*.gcda beside the objects) when it exits
# normally, merging under a file lock with what other processes wrote: a
# daemon counts only if it exits (SIGTERM), not when killed.
option(MPIC_COVERAGE "Build with gcov coverage instrumentation (gcc)" OFF)
if(MPIC_COVERAGE)
  if(NOT CMAKE_C_COMPILER_ID STREQUAL "GNU")
    message(FATAL_ERROR "MPIC_COVERAGE=ON needs gcc (gcov and gcovr)")
  endif()
  add_compile_options(--coverage)
  add_link_options(--coverage)
endif()
