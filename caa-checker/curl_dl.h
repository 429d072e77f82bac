/*
 * libcurl opened with dlopen(3) at run time (docs/tracing.md): the CAA
 * checker makes no HTTP requests for its checks, and only its OTLP span
 * exporter needs libcurl, so it does not link libcurl (and the ~20 shared
 * objects that come with it) and loads it only when tracing.otlp_endpoint
 * is set. The same ev_curl.c and otlp_export.c are compiled for it with
 * MPIC_CURL_DL defined and this header forced in first (-include): every
 * libcurl function they call then goes through the table below.
 */
#ifndef MPIC_CAA_CHECKER_CURL_DL_H
#define MPIC_CAA_CHECKER_CURL_DL_H

#include <curl/curl.h>

/* The libcurl functions the exporter and ev_curl.c use. */
#define MPIC_CURL_DL_FUNCS(X)                                                  \
    X(CURLcode, curl_global_init, (long))                                      \
    X(void, curl_global_cleanup, (void))                                       \
    X(curl_version_info_data *, curl_version_info, (CURLversion))              \
    X(CURL *, curl_easy_init, (void))                                          \
    X(void, curl_easy_cleanup, (CURL *))                                       \
    X(CURLcode, curl_easy_setopt, (CURL *, CURLoption, ...))                   \
    X(CURLcode, curl_easy_getinfo, (CURL *, CURLINFO, ...))                    \
    X(const char *, curl_easy_strerror, (CURLcode))                            \
    X(CURLM *, curl_multi_init, (void))                                        \
    X(CURLMcode, curl_multi_cleanup, (CURLM *))                                \
    X(CURLMcode, curl_multi_setopt, (CURLM *, CURLMoption, ...))               \
    X(CURLMcode, curl_multi_add_handle, (CURLM *, CURL *))                     \
    X(CURLMcode, curl_multi_remove_handle, (CURLM *, CURL *))                  \
    X(CURLMcode, curl_multi_socket_action,                                     \
      (CURLM *, curl_socket_t, int, int *))                                    \
    X(CURLMsg *, curl_multi_info_read, (CURLM *, int *))                       \
    X(const char *, curl_multi_strerror, (CURLMcode))                          \
    X(struct curl_slist *, curl_slist_append,                                  \
      (struct curl_slist *, const char *))                                     \
    X(void, curl_slist_free_all, (struct curl_slist *))

#define MPIC_CURL_DL_MEMBER(ret, name, args) ret(*f_##name) args;
struct mpic_curl_dl {
    MPIC_CURL_DL_FUNCS(MPIC_CURL_DL_MEMBER)
};
#undef MPIC_CURL_DL_MEMBER

/* Filled by mpic_curl_dl_load(). */
extern struct mpic_curl_dl mpic_curl_dl;

/*
 * Opens libcurl (libcurl.so.4) and resolves the table; idempotent.
 * Returns 0, or -1 with a static-or-dlerror reason in *why (not owned).
 */
int mpic_curl_dl_load(const char **why);

#ifdef MPIC_CURL_DL
/* curl.h's type-checking wrappers (typecheck-gcc.h) are macros too. */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt
#define curl_global_init         (*mpic_curl_dl.f_curl_global_init)
#define curl_global_cleanup      (*mpic_curl_dl.f_curl_global_cleanup)
#define curl_version_info        (*mpic_curl_dl.f_curl_version_info)
#define curl_easy_init           (*mpic_curl_dl.f_curl_easy_init)
#define curl_easy_cleanup        (*mpic_curl_dl.f_curl_easy_cleanup)
#define curl_easy_setopt         (*mpic_curl_dl.f_curl_easy_setopt)
#define curl_easy_getinfo        (*mpic_curl_dl.f_curl_easy_getinfo)
#define curl_easy_strerror       (*mpic_curl_dl.f_curl_easy_strerror)
#define curl_multi_init          (*mpic_curl_dl.f_curl_multi_init)
#define curl_multi_cleanup       (*mpic_curl_dl.f_curl_multi_cleanup)
#define curl_multi_setopt        (*mpic_curl_dl.f_curl_multi_setopt)
#define curl_multi_add_handle    (*mpic_curl_dl.f_curl_multi_add_handle)
#define curl_multi_remove_handle (*mpic_curl_dl.f_curl_multi_remove_handle)
#define curl_multi_socket_action (*mpic_curl_dl.f_curl_multi_socket_action)
#define curl_multi_info_read     (*mpic_curl_dl.f_curl_multi_info_read)
#define curl_multi_strerror      (*mpic_curl_dl.f_curl_multi_strerror)
#define curl_slist_append        (*mpic_curl_dl.f_curl_slist_append)
#define curl_slist_free_all      (*mpic_curl_dl.f_curl_slist_free_all)
#endif

#endif
