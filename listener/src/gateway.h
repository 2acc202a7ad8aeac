/*-------------------------------------------------------------------------
 *
 * gateway.h
 *	  HTTPS calls to the IBKR Client Portal gateway, within its rate budget.
 *
 * One Gateway holds one libcurl handle (so the TLS connection is reused)
 * and the rate budget the gateway imposes on one brokerage session:
 * at most GW_BUDGET_PER_SECOND requests in any second, the live-order
 * and trade lists each at most once per GW_LIST_PACING seconds (scaled),
 * and nothing at all for GW_PENALTY_SECONDS (scaled) after a 429 (but
 * for the history endpoint's own chart limit, which bars.c handles).
 * A sibling is a second handle for another thread, whose calls the
 * first one books (gateway.c says how).
 *
 * Every call has a connect timeout and a total timeout, never raises
 * signals (CURLOPT_NOSIGNAL; the caller ignores SIGPIPE), and first asks
 * the guard callback whether an HTTP call may start: the listener's
 * guard refuses while a database transaction is open.
 *
 *-------------------------------------------------------------------------
 */
#ifndef GATEWAY_H
#define GATEWAY_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#define GW_BUDGET_PER_SECOND 10
#define GW_LIST_PACING 5.5			   /* seconds, times the time scale */
#define GW_PENALTY_SECONDS 600.0	   /* seconds, times the time scale */
#define GW_429_WINDOW 60.0			   /* seconds, times the time scale */
#define GW_BODY_MAX (16 * 1024 * 1024) /* largest answer read, bytes */

typedef enum GwResult
{
	GW_OK = 0,	   /* an HTTP answer arrived (any status) */
	GW_CONNECT,	   /* could not connect: nothing was sent */
	GW_TIMEOUT,	   /* no complete answer in time */
	GW_TRANSPORT,  /* TLS or network failure mid-way */
	GW_PENALTY,	   /* not sent: 429 back-off in force */
	GW_REFUSED,	   /* not sent: the guard said no */
	GW_INTERRUPTED /* not sent: a signal ended the wait */
} GwResult;

/* Endpoints that have their own pacing. */
typedef enum GwPace
{
	GW_PACE_NONE = 0,
	GW_PACE_ORDERS,	   /* GET /iserver/account/orders */
	GW_PACE_TRADES,	   /* GET /iserver/account/trades */
	GW_PACE_PORTFOLIO, /* GET /portfolio/accounts */
	GW_PACE_N
} GwPace;

typedef struct GwResponse
{
	long   status; /* HTTP status, 0 when none arrived */
	char  *body;   /* NUL-terminated, malloc'ed, may be "" */
	size_t len;
	size_t cap;		   /* bytes allocated for body */
	char   error[256]; /* transport error text when not GW_OK */
	bool   too_large;  /* the body passed GW_BODY_MAX: GW_TRANSPORT */
} GwResponse;

typedef struct GatewaySettings
{
	const char *base_url;		 /* e.g. https://localhost:5000/v1/api */
	const char *cacert;			 /* CA file, or NULL for the system store */
	bool		insecure;		 /* skip peer and host checks */
	double		connect_timeout; /* seconds */
	double		request_timeout; /* seconds */
	double		time_scale;		 /* factor on pacing and penalty */
	bool		no_budget;		 /* lift the requests/s budget (benchmarks) */
} GatewaySettings;

typedef struct Gateway Gateway;

/* Returns true when an HTTP call may start now. */
typedef bool (*GwGuard)(void *arg);

extern int		gateway_global_init(void);
extern void		gateway_global_cleanup(void);
extern char	   *gateway_redact_url(const char *url);
extern int		gateway_check_url(const char *url, bool insecure,
								  char *err, size_t errlen);
extern Gateway *gateway_create(const GatewaySettings *s,
							   char *err, size_t errlen);
extern Gateway *gateway_create_sibling(const Gateway *gw, char *err,
									   size_t errlen);
extern void		gateway_destroy(Gateway *gw);
extern void		gateway_set_guard(Gateway *gw, GwGuard guard, void *arg);
extern void		gateway_set_interrupt(Gateway				*gw,
									  volatile sig_atomic_t *flag);
extern void		gateway_set_time_scale(Gateway *gw, double time_scale);
extern GwResult gateway_call(Gateway *gw, const char *method,
							 const char *path, const char *body,
							 GwPace pace, GwResponse *resp);
extern bool		gateway_reserve(Gateway *gw, const GwPace *paces, int n);
extern void		gateway_note_remote(
		Gateway *gw, const char *method, const char *path, GwPace pace,
		GwResult r, const GwResponse *resp);
extern double	   gateway_pace_wait(const Gateway *gw, GwPace pace);
extern double	   gateway_penalty_left(const Gateway *gw);
extern double	   gateway_silence(const Gateway *gw);
extern char		  *gateway_escape(const char *s);
extern const char *gateway_result_name(GwResult r);
extern void		   gateway_response_free(GwResponse *resp);

#endif /* GATEWAY_H */
