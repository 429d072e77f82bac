/*
 * coordinator/openapi.json, the OpenAPI document of POST /mpic, built into
 * the coordinator by CMake (cmake/embed.cmake) and served as
 * GET /openapi.json.
 */
#ifndef MPIC_COORDINATOR_OPENAPI_H
#define MPIC_COORDINATOR_OPENAPI_H

#include <stddef.h>

extern const unsigned char mpic_openapi_json[];
extern const size_t mpic_openapi_json_len; /* without the trailing NUL */

#endif
