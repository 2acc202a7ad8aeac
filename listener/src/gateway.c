/*-------------------------------------------------------------------------
 *
 * gateway.c
 *	  HTTPS calls to the IBKR Client Portal gateway, within its rate budget.
 *
 * Options common to all calls are set once on the handle; each call sets
 * its URL, method and body, and clears the custom method of the one
 * before.  The TLS connection is reused.  The gateway needs no token:
 * cookies it sets are kept in memory only and never logged.
 *
 * Timing: the budget of GW_BUDGET_PER_SECOND requests per second is a
 * ring of the last request start times; pacing and the 429 penalty are
 * deadlines on the monotonic clock.  Waits for the budget are short
 * and uninterruptible; waits for list pacing can be several seconds and
 * end early when the interrupt flag is set by a signal.  --no-rate-budget
 * lifts the requests-per-second budget for benchmarks against the
 * simulator (logged as a warning); list pacing and the penalty stay.
 *
 * A sibling (gateway_create_sibling) is a second handle on the same
 * gateway for another thread: the lists the tracking reads while orders
 * go out on the first.  It shares the first one's cookies (under a
 * lock) but keeps no budget of its own: the owner of the first handle
 * books each of its calls there beforehand (gateway_reserve) and hands
 * the answer back afterwards (gateway_note_remote), so that the budget,
 * the pacing and the 429 back-off still count every request once.
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L

#include "gateway.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <pthread.h>

#include "log.h"
#include "util.h"

/*
 * The budget's window: a little over a second, so that the gateway,
 * which sees requests later than we start them, never counts eleven.
 */
#define GW_BUDGET_WINDOW 1.05

/* curl writes its error text into GwResponse.error */
_Static_assert(sizeof(((GwResponse *) 0)->error) >= CURL_ERROR_SIZE,
			   "GwResponse.error is smaller than CURL_ERROR_SIZE");

static int gateway_setup_handle(Gateway *gw);

struct Gateway
{
	CURL				  *curl;
	char				  *base_url;
	char				  *cacert;
	bool				   insecure;
	long				   connect_timeout_ms;
	long				   request_timeout_ms;
	double				   time_scale;
	bool				   no_budget; /* the requests/s budget is lifted */
	struct curl_slist	  *headers;
	double				   recent[GW_BUDGET_PER_SECOND]; /* start times */
	int					   recent_pos;
	double				   pace_next[GW_PACE_N]; /* earliest next list call */
	double				   penalty_until;		 /* no calls before this time */
	double				   last_429;			 /* last 429, 0: none */
	double				   last_sent;			 /* last request, 0: none */
	GwGuard				   guard;
	void				  *guard_arg;
	volatile sig_atomic_t *interrupt;
	CURLSH				  *share; /* cookies, shared with siblings */
	pthread_mutex_t		  *share_lock;
	bool				   sibling; /* unpaced: its owner books its calls */
};

/* Initialise libcurl once per process.  Returns 0 or -1. */
int
gateway_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

/* Release libcurl's global state at exit. */
void
gateway_global_cleanup(void)
{
	curl_global_cleanup();
}

/* Return true for host names that mean this machine. */
static bool
host_is_loopback(const char *host)
{
	return strcasecmp(host, "localhost") == 0 ||
		strcmp(host, "127.0.0.1") == 0 ||
		strcmp(host, "[::1]") == 0 || strcmp(host, "::1") == 0;
}

/*
 * Return a copy of url fit for the log (malloc'ed; the caller frees it):
 * whatever stands between the scheme and the last '@' is a user name and
 * password ("https://user:secret@host/v1/api") and becomes "***".  Any
 * text is accepted, a valid URL or not, so that an error message about a
 * malformed URL leaks nothing either; a path that contains '@' is masked
 * too, which costs only a less useful log line.
 */
char *
gateway_redact_url(const char *url)
{
	const char *auth;
	const char *at;

	if (url == NULL)
		return xstrdup("(none)");
	auth = strstr(url, "://");
	auth = auth != NULL ? auth + 3 : url;
	at = strrchr(auth, '@');
	if (at == NULL)
		return xstrdup(url);
	return xasprintf("%.*s***%s", (int) (auth - url), url, at);
}

/*
 * Check a gateway URL: https, or http to a loopback host only; and
 * --insecure only for a loopback host, since skipping certificate checks
 * towards another machine would hand the session to whoever answers.
 * Returns 0, or -1 with err set.
 */
int
gateway_check_url(const char *url, bool insecure, char *err, size_t errlen)
{
	CURLU *u = curl_url();
	char  *scheme = NULL;
	char  *host = NULL;
	int	   rc = -1;

	if (u == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
		curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
		curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
	{
		char *shown = gateway_redact_url(url);

		snprintf(err, errlen, "invalid gateway URL \"%s\"", shown);
		free(shown);
	}
	else if (strcmp(scheme, "https") != 0 &&
			 !(strcmp(scheme, "http") == 0 && host_is_loopback(host)))
		snprintf(err, errlen, "gateway URL must use https (plain http is "
							  "allowed only to localhost)");
	else if (insecure && !host_is_loopback(host))
		snprintf(err, errlen, "--insecure is allowed only for a gateway on "
							  "localhost or 127.0.0.1, not \"%s\"",
				 host);
	else
		rc = 0;
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

/* libcurl share callbacks: one lock for everything shared. */
static void
share_lock(CURL *c, curl_lock_data data, curl_lock_access access, void *arg)
{
	(void) c;
	(void) data;
	(void) access;
	pthread_mutex_lock(arg);
}

static void
share_unlock(CURL *c, curl_lock_data data, void *arg)
{
	(void) c;
	(void) data;
	pthread_mutex_unlock(arg);
}

/* Create the cookie share of a first handle.  Returns 0 or -1. */
static int
gateway_share_init(Gateway *gw)
{
	CURLSHcode sc = CURLSHE_OK;

	gw->share_lock = xcalloc(1, sizeof(pthread_mutex_t));
	pthread_mutex_init(gw->share_lock, NULL);
	gw->share = curl_share_init();
	if (gw->share == NULL)
		return -1;
	sc |= curl_share_setopt(gw->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_COOKIE);
	sc |= curl_share_setopt(gw->share, CURLSHOPT_LOCKFUNC, share_lock);
	sc |= curl_share_setopt(gw->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	sc |= curl_share_setopt(gw->share, CURLSHOPT_USERDATA, gw->share_lock);
	return sc == CURLSHE_OK ? 0 : -1;
}

/* Set the headers and the options every call shares.  Returns 0 or -1. */
static int
gateway_setup_headers(Gateway *gw)
{
	gw->headers = curl_slist_append(NULL, "Content-Type: application/json");
	gw->headers = curl_slist_append(gw->headers, "Accept: application/json");
	gw->headers = curl_slist_append(gw->headers, "Expect:");
	if (gw->headers == NULL)
		return -1;
	return gateway_setup_handle(gw);
}

/*
 * Create a gateway client.  Returns NULL with err set on failure.  The
 * settings' strings are copied.
 */
Gateway *
gateway_create(const GatewaySettings *s, char *err, size_t errlen)
{
	Gateway *gw;
	int		 i;

	if (gateway_check_url(s->base_url, s->insecure, err, errlen) != 0)
		return NULL;
	gw = xcalloc(1, sizeof(Gateway));
	gw->curl = curl_easy_init();
	if (gw->curl == NULL)
	{
		snprintf(err, errlen, "could not initialise libcurl");
		free(gw);
		return NULL;
	}
	gw->base_url = xstrdup(s->base_url);
	gw->cacert = xstrdup(s->cacert);
	gw->insecure = s->insecure;
	gw->connect_timeout_ms = (long) (s->connect_timeout * 1000.0);
	gw->request_timeout_ms = (long) (s->request_timeout * 1000.0);
	gw->time_scale = s->time_scale;

	/*
	 * The gateway paces list calls per session, not per process: a
	 * listener restarted a moment after its predecessor listed orders
	 * would earn a 429 with its first list call, and a few quick
	 * restarts the penalty box.  So the first list calls wait one
	 * pacing interval too.
	 */
	for (i = GW_PACE_NONE + 1; i < GW_PACE_N; i++)
		gw->pace_next[i] = mono_now() + GW_LIST_PACING * gw->time_scale;
	gw->no_budget = s->no_budget;
	if (gw->insecure)
		log_warning("gateway",
					"CERTIFICATE CHECKS OFF (--insecure): the gateway's "
					"identity is not verified; allowed for a loopback "
					"gateway only, use --cacert with the gateway's "
					"certificate instead");
	if (gw->no_budget)
		log_warning("gateway", "RATE BUDGET OFF: requests are not held to "
							   "%d a second; a real gateway answers 429 and "
							   "then blocks the session for 10 minutes; use "
							   "this only against the simulator",
					GW_BUDGET_PER_SECOND);
	if (gateway_share_init(gw) != 0 || gateway_setup_headers(gw) != 0)
	{
		snprintf(err, errlen, "could not set up libcurl");
		gateway_destroy(gw);
		return NULL;
	}
	return gw;
}

/*
 * Create a second handle on gw's gateway, for one other thread, with
 * gw's settings and cookies.  It waits for no budget: see the head of
 * this file.  gw must outlive it.  Returns NULL with err set on failure.
 */
Gateway *
gateway_create_sibling(const Gateway *gw, char *err, size_t errlen)
{
	Gateway *sib = xcalloc(1, sizeof(Gateway));

	sib->curl = curl_easy_init();
	if (sib->curl == NULL)
	{
		snprintf(err, errlen, "could not initialise libcurl");
		free(sib);
		return NULL;
	}
	sib->base_url = xstrdup(gw->base_url);
	sib->cacert = gw->cacert ? xstrdup(gw->cacert) : NULL;
	sib->insecure = gw->insecure;
	sib->connect_timeout_ms = gw->connect_timeout_ms;
	sib->request_timeout_ms = gw->request_timeout_ms;
	sib->time_scale = gw->time_scale;
	sib->no_budget = true;
	sib->sibling = true;
	sib->share = gw->share;
	if (gateway_setup_headers(sib) != 0)
	{
		snprintf(err, errlen, "could not set up libcurl");
		gateway_destroy(sib);
		return NULL;
	}
	return sib;
}

/* Release a gateway client; NULL is allowed. */
void
gateway_destroy(Gateway *gw)
{
	if (gw == NULL)
		return;
	curl_easy_cleanup(gw->curl);
	if (!gw->sibling && gw->share != NULL)
		curl_share_cleanup(gw->share);
	if (gw->share_lock != NULL)
	{
		pthread_mutex_destroy(gw->share_lock);
		free(gw->share_lock);
	}
	curl_slist_free_all(gw->headers);
	free(gw->base_url);
	free(gw->cacert);
	free(gw);
}

/* Install the callback asked before every HTTP call. */
void
gateway_set_guard(Gateway *gw, GwGuard guard, void *arg)
{
	gw->guard = guard;
	gw->guard_arg = arg;
}

/* Install the flag that ends pacing waits early (set by signals). */
void
gateway_set_interrupt(Gateway *gw, volatile sig_atomic_t *flag)
{
	gw->interrupt = flag;
}

/* Change the factor on pacing and penalty durations. */
void
gateway_set_time_scale(Gateway *gw, double time_scale)
{
	gw->time_scale = time_scale;
}

/* Return seconds until a call of this pacing class may start (0: now). */
double
gateway_pace_wait(const Gateway *gw, GwPace pace)
{
	double now = mono_now();
	double wait = gw->penalty_until - now;

	if (pace != GW_PACE_NONE && gw->pace_next[pace] - now > wait)
		wait = gw->pace_next[pace] - now;
	return wait > 0 ? wait : 0;
}

/* Return seconds left of the 429 penalty (0: none). */
double
gateway_penalty_left(const Gateway *gw)
{
	double left = gw->penalty_until - mono_now();

	return left > 0 ? left : 0;
}

/*
 * Return seconds since the last request was sent (a large number when
 * none was): the gateway ends a session that sees no request for about
 * six minutes, whatever the reason for the silence.
 */
double
gateway_silence(const Gateway *gw)
{
	return gw->last_sent > 0 ? mono_now() - gw->last_sent : 1e9;
}

/* Return a new malloc'ed copy of s escaped for a URL path segment. */
char *
gateway_escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0);
	char *r;

	if (e == NULL)
		return xstrdup("");
	r = xstrdup(e);
	curl_free(e);
	return r;
}

/* Return a short name of a call result, for log lines. */
const char *
gateway_result_name(GwResult r)
{
	switch (r)
	{
		case GW_OK:
			return "answered";
		case GW_CONNECT:
			return "could not connect";
		case GW_TIMEOUT:
			return "timed out";
		case GW_TRANSPORT:
			return "transport failure";
		case GW_PENALTY:
			return "held back by the rate-limit penalty";
		case GW_REFUSED:
			return "refused: a database transaction is open";
		case GW_INTERRUPTED:
			return "interrupted";
	}
	return "failed";
}

/* Release the body of a response and zero it. */
void
gateway_response_free(GwResponse *resp)
{
	free(resp->body);
	memset(resp, 0, sizeof(*resp));
}

/*
 * libcurl write callback: append to the response, refusing a body that
 * grows past GW_BODY_MAX (one sent without a length, or longer than it
 * said): the answer is then incomplete, and the call a transport
 * failure.
 */
static size_t
write_body(char *data, size_t size, size_t nmemb, void *arg)
{
	GwResponse *resp = arg;
	size_t		n = size * nmemb;

	if (n > GW_BODY_MAX - resp->len)
	{
		resp->too_large = true;
		return 0; /* makes curl fail with a write error */
	}
	if (resp->len + n + 1 > resp->cap)
	{
		/* doubling: a large answer comes in thousands of pieces */
		size_t cap = resp->cap ? resp->cap : 4096;

		while (cap < resp->len + n + 1)
			cap *= 2;
		if (cap > (size_t) GW_BODY_MAX + 1)
			cap = (size_t) GW_BODY_MAX + 1; /* enough: see the test above */
		resp->body = xrealloc(resp->body, cap);
		resp->cap = cap;
	}
	memcpy(resp->body + resp->len, data, n);
	resp->len += n;
	resp->body[resp->len] = '\0';
	return n;
}

/*
 * Wait until a call of this class may start.  Returns false when the
 * wait was cut short by the interrupt flag.
 */
static bool
gateway_wait_turn(Gateway *gw, GwPace pace)
{
	double wait;
	double oldest;

	while ((wait = gateway_pace_wait(gw, pace)) > 0)
	{
		if (gw->interrupt != NULL && *gw->interrupt)
			return false;
		sleep_seconds(wait < 0.25 ? wait : 0.25);
	}
	if (gw->no_budget)
		return true;
	oldest = gw->recent[gw->recent_pos];
	wait = oldest + GW_BUDGET_WINDOW - mono_now();
	if (oldest > 0 && wait > 0)
		sleep_seconds(wait);
	return true;
}

/*
 * Set the options every call shares, once: libcurl keeps options between
 * calls on one handle, and resetting them per call would also grow its
 * cookie-file list by one entry per call.
 */
static int
gateway_setup_handle(Gateway *gw)
{
	CURL	*c = gw->curl;
	CURLcode cc = CURLE_OK;

	cc |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
	cc |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	cc |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
						   gw->connect_timeout_ms);
	cc |= curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, gw->request_timeout_ms);
	cc |= curl_easy_setopt(c, CURLOPT_HTTPHEADER, gw->headers);
	cc |= curl_easy_setopt(c, CURLOPT_USERAGENT,
						   "pgtrade-listener/" LISTENER_VERSION);
	cc |= curl_easy_setopt(c, CURLOPT_COOKIEFILE, "");
	cc |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_body);
	/* an answer that announces more is refused before it is read */
	cc |= curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
						   (curl_off_t) GW_BODY_MAX);
	if (gw->share != NULL)
		cc |= curl_easy_setopt(c, CURLOPT_SHARE, gw->share);
	if (gw->cacert != NULL)
		cc |= curl_easy_setopt(c, CURLOPT_CAINFO, gw->cacert);
	if (gw->insecure)
	{
		cc |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		cc |= curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	return cc == CURLE_OK ? 0 : -1;
}

/* Set the options of one call: URL, method, body, where answers go. */
static void
gateway_setup_call(Gateway *gw, const char *method, const char *url,
				   const char *body, GwResponse *resp)
{
	CURL *c = gw->curl;

	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, resp->error);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, NULL);
	if (strcmp(method, "POST") == 0)
	{
		/* the gateway answers a body-less POST with 411: always send one */
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, body ? body : "{}");
	}
	else
	{
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
		if (strcmp(method, "GET") != 0)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}
}

/* Map a curl error code to a call result. */
static GwResult
gateway_map_error(CURLcode cc)
{
	switch (cc)
	{
		case CURLE_COULDNT_CONNECT:
		case CURLE_COULDNT_RESOLVE_HOST:
			return GW_CONNECT;
		case CURLE_OPERATION_TIMEDOUT:
			return GW_TIMEOUT;
		default:
			return GW_TRANSPORT;
	}
}

/*
 * Back off after a 429: one list pacing interval after the first, the
 * whole penalty after a second one within GW_429_WINDOW.  Never retry
 * at once.
 */
static void
gateway_note_429(Gateway *gw, const char *method, const char *path)
{
	double now = mono_now();
	double pause = GW_LIST_PACING * gw->time_scale;

	if (gw->last_429 > 0 && now - gw->last_429 < GW_429_WINDOW * gw->time_scale)
		pause = GW_PENALTY_SECONDS * gw->time_scale;
	gw->last_429 = now;
	gw->penalty_until = now + pause;
	log_warning("gateway", "%s %s: rate limited (429); no requests for "
						   "%.1f s",
				method, path, pause);
}

/*
 * Make one call: method ("GET", "POST", "DELETE") to base URL + path,
 * with body for POST (NULL sends "{}").  Waits for the rate budget and
 * for the pacing class.  On GW_OK resp holds the status and body; the
 * caller frees resp in every case.  A 429 answer starts the penalty.
 */
GwResult
gateway_call(Gateway *gw, const char *method, const char *path,
			 const char *body, GwPace pace, GwResponse *resp)
{
	char	*url;
	CURLcode cc;
	double	 start;
	GwResult r = GW_OK;

	memset(resp, 0, sizeof(*resp));
	if (gw->sibling)
		pace = GW_PACE_NONE; /* booked by the owner: gateway_reserve */
	else if (gateway_penalty_left(gw) > 0)
		return GW_PENALTY;
	if (!gw->sibling && !gateway_wait_turn(gw, pace))
		return GW_INTERRUPTED;
	if (gw->guard != NULL && !gw->guard(gw->guard_arg))
	{
		log_error("gateway", "%s %s not sent: a database transaction is "
							 "open",
				  method, path);
		return GW_REFUSED;
	}
	url = xasprintf("%s%s", gw->base_url, path);
	gateway_setup_call(gw, method, url, body, resp);
	start = gw->last_sent = mono_now();
	cc = curl_easy_perform(gw->curl);
	gw->recent[gw->recent_pos] = start;
	gw->recent_pos = (gw->recent_pos + 1) % GW_BUDGET_PER_SECOND;
	if (pace != GW_PACE_NONE)
		gw->pace_next[pace] = mono_now() + GW_LIST_PACING * gw->time_scale;
	if (cc == CURLE_FILESIZE_EXCEEDED)
		resp->too_large = true;
	if (resp->too_large)
	{
		r = GW_TRANSPORT;
		snprintf(resp->error, sizeof(resp->error),
				 "answer larger than %d bytes refused", GW_BODY_MAX);
	}
	else if (cc != CURLE_OK)
	{
		r = gateway_map_error(cc);
		if (resp->error[0] == '\0')
			snprintf(resp->error, sizeof(resp->error), "%s",
					 curl_easy_strerror(cc));
	}
	else
		curl_easy_getinfo(gw->curl, CURLINFO_RESPONSE_CODE, &resp->status);
	if (resp->body == NULL)
		resp->body = xstrdup("");
	log_debug("gateway", "%s %s: %s %ld (%zu bytes, %.0f ms)", method, path,
			  gateway_result_name(r), resp->status, resp->len,
			  (mono_now() - start) * 1000.0);
	/*
	 * The history endpoint's own limit (five chart requests at a time)
	 * answers "Too many history charts requests": not the session's
	 * budget, so orders are not held back for it; bars.c backs off.
	 */
	if (r == GW_OK && resp->status == 429 && !gw->sibling &&
		strstr(resp->body, "history charts") == NULL)
		gateway_note_429(gw, method, path);
	free(url);
	return r;
}

/*
 * Book calls that a sibling of gw is to make now, one of each pacing
 * class in paces: returns true, with them counted in gw's budget and
 * pacing, when gateway_call on gw would start them at once; false
 * (nothing booked) when one of them would wait.
 */
bool
gateway_reserve(Gateway *gw, const GwPace *paces, int n)
{
	double now = mono_now();
	double oldest;
	int	   i;

	if (n < 1 || n > GW_BUDGET_PER_SECOND)
		return false;
	for (i = 0; i < n; i++)
		if (gateway_pace_wait(gw, paces[i]) > 0)
			return false;
	/* the ring is in time order: the n-th oldest start must be old */
	oldest = gw->recent[(gw->recent_pos + n - 1) % GW_BUDGET_PER_SECOND];
	if (!gw->no_budget && oldest > 0 && oldest + GW_BUDGET_WINDOW > now)
		return false;
	for (i = 0; i < n; i++)
	{
		gw->recent[gw->recent_pos] = now;
		gw->recent_pos = (gw->recent_pos + 1) % GW_BUDGET_PER_SECOND;
		if (paces[i] != GW_PACE_NONE)
			gw->pace_next[paces[i]] = now + GW_LIST_PACING * gw->time_scale;
	}
	gw->last_sent = now;
	return true;
}

/*
 * Count on gw the answer to a call a sibling made after gateway_reserve:
 * pacing runs from the answer, as for gw's own calls, and a 429 starts
 * the back-off.
 */
void
gateway_note_remote(Gateway *gw, const char *method, const char *path,
					GwPace pace, GwResult r, const GwResponse *resp)
{
	if (pace != GW_PACE_NONE)
		gw->pace_next[pace] = mono_now() + GW_LIST_PACING * gw->time_scale;
	if (r == GW_OK && resp->status == 429)
		gateway_note_429(gw, method, path);
}
