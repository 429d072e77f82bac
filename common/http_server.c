/* http_server.c: being written. */
#include "common/mem.h"
