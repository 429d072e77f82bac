/*
 * dlopen(3) of libcurl for the CAA checker's span exporter (curl_dl.h).
 * Compiled with curl_dl.h forced in, so no libcurl name is written here
 * outside the X-macro (stringified and pasted, never expanded).
 */
#include "caa-checker/curl_dl.h"

#include <dlfcn.h>
#include <string.h>

struct mpic_curl_dl mpic_curl_dl;

/* libcurl's ABI has been 4 since 7.16 (2006). */
#define CURL_SONAME "libcurl.so.4"

int mpic_curl_dl_load(const char **why)
{
    static void *handle;
    struct mpic_curl_dl t;
    void *sym;

    if (handle != NULL)
        return 0;
    memset(&t, 0, sizeof(t));
    /* Never closed: libcurl keeps global state until exit. */
    handle = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        *why = dlerror();
        if (*why == NULL)
            *why = "cannot open " CURL_SONAME;
        return -1;
    }
#define MPIC_CURL_DL_RESOLVE(ret, name, args)                                  \
    sym = dlsym(handle, #name);                                                \
    if (sym == NULL) {                                                         \
        *why = "a libcurl function is missing: " #name;                        \
        dlclose(handle);                                                       \
        handle = NULL;                                                         \
        return -1;                                                             \
    }                                                                          \
    memcpy(&t.f_##name, &sym, sizeof(sym));
    MPIC_CURL_DL_FUNCS(MPIC_CURL_DL_RESOLVE)
#undef MPIC_CURL_DL_RESOLVE
    mpic_curl_dl = t;
    return 0;
}
