/*
 * The library versions every daemon reports under "libraries" in GET
 * /configz (after microhttpd's, which the HTTP layer adds itself). Kept
 * apart from the HTTP layer so that it does not depend on c-ares, ldns and
 * OpenSSL just to name them.
 */
#ifndef MPIC_COMMON_VERSIONS_H
#define MPIC_COMMON_VERSIONS_H

#include <stddef.h>

#include "common/http_server.h"

/* Entries mpic_library_versions() writes at most. */
#define MPIC_LIBRARIES_MAX 5

/*
 * Fills out (MPIC_LIBRARIES_MAX entries) with curl (curl_version, borrowed
 * and static; NULL where the daemon does not use libcurl: left out),
 * c-ares, ldns, jansson and openssl, in that order. Returns how many.
 */
size_t mpic_library_versions(struct mpic_http_library *out,
                             const char *curl_version);

#endif
