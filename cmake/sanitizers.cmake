# -DMPIC_SANITIZE=ON: AddressSanitizer (with LeakSanitizer) and
# UndefinedBehaviorSanitizer for everything we build, tests included.
if(MPIC_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
