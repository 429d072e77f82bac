# -DMPIC_FUZZ=ON: libFuzzer targets in tests/fuzz (clang only). Everything
# is compiled with coverage instrumentation for the fuzzer plus ASan and
# UBSan; only the fuzz_* executables link the libFuzzer runtime.
option(MPIC_FUZZ "Build the libFuzzer targets (tests/fuzz; needs clang)" OFF)
if(MPIC_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "MPIC_FUZZ=ON needs clang: configure with CC=clang")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined
                      -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
