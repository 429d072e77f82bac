/*
 * The OTLP/HTTP JSON span exporter (docs/tracing.md): turns span recording
 * on, and every OTLP_FLUSH_MS (or as soon as OTLP_BATCH spans wait) POSTs a
 * batch to the endpoint with libcurl on the daemon's own loop (a multi
 * handle of its own, so export never shares connection limits with the
 * daemon's real work). One POST at a time, bounded by OTLP_TIMEOUT_MS; a
 * batch the collector does not accept is dropped and counted, never
 * retried, and nothing a request does ever waits for the exporter.
 */
#ifndef MPIC_COMMON_OTLP_EXPORT_H
#define MPIC_COMMON_OTLP_EXPORT_H

struct ev_loop;

#define OTLP_QUEUE_SPANS 4096
#define OTLP_BATCH       512
#define OTLP_FLUSH_MS    1000
#define OTLP_TIMEOUT_MS  2000

/*
 * Starts exporting to endpoint (an http:// or https:// URL; copied).
 * service_name (e.g. "mpic-coordinator") and perspective_code (may be
 * NULL) name the resource; both copied. Returns 0, or -1 (logged) if
 * libcurl could not be set up. One exporter per process.
 */
int mpic_otlp_start(struct ev_loop *loop, const char *endpoint,
                    const char *service_name, const char *perspective_code);
/* Cancels a POST in flight, stops recording and frees everything; spans
 * still queued are lost. Safe if never started. */
void mpic_otlp_stop(void);

#endif
