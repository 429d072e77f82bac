/* caa_tree.c: being written. */
#include "common/mem.h"
