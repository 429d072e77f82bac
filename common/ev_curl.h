/*
 * A libcurl multi handle driven by the ev loop (socket + timer callbacks,
 * curl_multi_socket_action; the shape of curl's ephiperfifo example).
 * Completed transfers are removed from the multi handle outside any libcurl
 * callback, then handed to their owner's on_done.
 */
#ifndef MPIC_COMMON_EV_CURL_H
#define MPIC_COMMON_EV_CURL_H

#include <curl/curl.h>

struct ev_loop;
struct ev_curl;

/*
 * Called once per transfer after it has been removed from the multi
 * handle. The owner then owns `easy` again (reuse it or
 * curl_easy_cleanup()). `result` is the transfer's CURLcode.
 */
typedef void ev_curl_done_fn(CURL *easy, CURLcode result, void *arg);

/* Returns an owned ev_curl, or NULL if libcurl failed. */
struct ev_curl *ev_curl_new(struct ev_loop *loop);
/* Cancels every transfer still running (their on_done is not called; the
 * easy handles are removed, not cleaned up) and frees. NULL-safe. */
void ev_curl_free(struct ev_curl *ec);
/* The multi handle, e.g. to set CURLMOPT_MAX_HOST_CONNECTIONS. Borrowed. */
CURLM *ev_curl_multi(struct ev_curl *ec);

/*
 * Starts `easy` (configured by the caller; CURLOPT_PRIVATE is ours). on_done
 * runs later, never from inside this call. Returns 0, or -1 if libcurl
 * refused the handle (then on_done is never called).
 */
int ev_curl_add(struct ev_curl *ec, CURL *easy, ev_curl_done_fn *on_done,
                void *arg);
/*
 * The same for a CURLOPT_CONNECT_ONLY transfer: on_done runs with the handle
 * still in the multi handle, so its connection stays open and
 * CURLINFO_ACTIVESOCKET gives the socket (libcurl no longer watches it).
 * The owner ends it with ev_curl_cancel(), which closes the connection.
 */
int ev_curl_add_connect_only(struct ev_curl *ec, CURL *easy,
                             ev_curl_done_fn *on_done, void *arg);
/* Stops a running transfer without calling its on_done. Safe to call from
 * any callback of ours (not from inside a libcurl callback). */
void ev_curl_cancel(struct ev_curl *ec, CURL *easy);

#endif
