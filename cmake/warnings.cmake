# Warnings for our own code (docs/STYLE.md 10). -Werror only when asked (CI).
set(MPIC_WARNINGS
  -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
  -Wmissing-declarations -Wpointer-arith -Wcast-qual -Wformat=2
  -Wno-unused-parameter)
if(MPIC_WERROR)
  list(APPEND MPIC_WARNINGS -Werror)
endif()
add_compile_options(${MPIC_WARNINGS})
