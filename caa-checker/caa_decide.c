/* being written */
#include "common/mem.h"
