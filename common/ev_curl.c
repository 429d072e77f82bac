/* ev_curl.c: being written. */
#include "common/mem.h"
