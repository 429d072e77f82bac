/* config.c: being written. */
#include "common/mem.h"
