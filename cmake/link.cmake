# Link flags for everything we build: drop DT_NEEDED entries for libraries
# an executable does not use (fewer objects for the dynamic loader to map
# at start-up) and let the linker optimise the hash tables it writes.
include(CheckLinkerFlag)
foreach(flag -Wl,--as-needed -Wl,-O1)
  string(MAKE_C_IDENTIFIER "MPIC_LD${flag}" var)
  check_linker_flag(C "${flag}" ${var})
  if(${var})
    add_link_options(${flag})
  endif()
endforeach()
