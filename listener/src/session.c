/*-------------------------------------------------------------------------
 *
 * session.c
 *	  The brokerage session at the gateway, and the account leases.
 *
 * Start-up order, as the gateway wants it: auth status; if the session
 * is not healthy (authenticated, connected, not competing), ssodh/init
 * and a bounded poll of the status; then /iserver/accounts (which must
 * precede order calls in every brokerage session); then the suppressed
 * message ids.  A session that is lost (401, "no bridge", a failed
 * tickle) stops all claiming until it is re-established, and a
 * re-established session is reconciled before anything new is sent.
 *
 * Leases: the listener serves an account only while it holds that
 * account's advisory lock on its database session.  Accounts to serve
 * are those the gateway lists, narrowed by the accounts setting.
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listener.h"
#include "log.h"

/* Remember the last problem for the heartbeat (never a secret). */
void
listener_set_error(Listener *L, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(L->last_error, sizeof(L->last_error), fmt, ap);
	va_end(ap);
}

/* Return true when orders may be sent. */
bool
session_ready(const Listener *L)
{
	return L->session == SESSION_READY &&
		gateway_penalty_left(L->gw) <= 0;
}

/* Return the gateway state word written by the heartbeat. */
const char *
session_state_name(const Listener *L)
{
	if (gateway_penalty_left(L->gw) > 0)
		return "rate_limited";
	switch (L->session)
	{
		case SESSION_STARTING:
			return "starting";
		case SESSION_READY:
			return "authenticated";
		case SESSION_COMPETING:
			return "competing";
		case SESSION_DOWN:
			return "down";
	}
	return "down";
}

/* Sleep up to seconds, in short steps, unless a stop is asked. */
static void
session_pause(double seconds)
{
	double until = mono_now() + seconds;

	while (!listener_stop_asked() && mono_now() < until)
		sleep_seconds(until - mono_now() < 0.25 ? until - mono_now() : 0.25);
}

/*
 * Mark the session lost: stop claiming, re-establish soon, and reconcile
 * once it is back.
 */
void
session_lost(Listener *L, const char *why)
{
	if (L->session == SESSION_READY)
	{
		log_warning("gateway", "session lost: %s; no orders are claimed "
							   "until it is re-established",
					why);
		L->next_establish = mono_now();
		L->establish_delay = SESSION_RETRY_MIN;
	}
	L->session = SESSION_DOWN;
	L->need_reconcile = true;
	L->track_epoch++;
	listener_set_error(L, "gateway: %s", why);
}

/*
 * Read an auth status answer (POST path with body).  Returns 0 with *a
 * filled, or -1 with the reason logged and kept.
 */
static int
session_auth_call(Listener *L, const char *path, const char *body,
				  CpapiAuthStatus *a)
{
	GwResponse resp;
	GwResult   r = gateway_call(L->gw, "POST", path, body, GW_PACE_NONE,
								&resp);
	char	   err[CPAPI_ERR_LEN];
	int		   rc = -1;

	memset(a, 0, sizeof(*a));
	if (r != GW_OK)
		listener_set_error(L, "gateway %s: %s%s%s", path,
						   gateway_result_name(r), resp.error[0] ? ": " : "",
						   resp.error);
	else if (resp.status == 401)
		listener_set_error(L, "gateway %s: HTTP 401: no login session at "
							  "the gateway; log in to it in a browser",
						   path);
	else if (resp.status != 200)
		listener_set_error(L, "gateway %s: HTTP %ld", path, resp.status);
	else if (cpapi_parse_auth_status(resp.body, resp.len, a, err,
									 sizeof(err)) != 0)
		listener_set_error(L, "gateway %s: %s", path, err);
	else
		rc = 0;
	if (rc != 0)
		log_warning(NULL, "%s", L->last_error);
	gateway_response_free(&resp);
	return rc;
}

/*
 * Note that another platform holds the brokerage session: nothing is
 * sent meanwhile.  Logged once per spell.  Returns -1.
 */
static int
session_competing(Listener *L, const char *why)
{
	if (L->session != SESSION_COMPETING)
		log_warning("gateway", "%s", why);
	L->session = SESSION_COMPETING;
	listener_set_error(L, "gateway: competing session");
	return -1;
}

/*
 * Bring the brokerage session up: status, else ssodh/init and a bounded
 * poll of the status.  A session another platform holds is taken over
 * (ssodh/init with compete) only when the compete setting says so;
 * otherwise the listener waits, trading nothing, until it is free.
 * Returns 0 when healthy.
 */
static int
session_authenticate(Listener *L)
{
	CpapiAuthStatus a;
	int				i;

	if (session_auth_call(L, "/iserver/auth/status", NULL, &a) != 0)
		return -1;
	if (cpapi_auth_healthy(&a))
	{
		cpapi_auth_status_free(&a);
		return 0;
	}
	if (a.competing && !L->cfg.compete)
	{
		cpapi_auth_status_free(&a);
		return session_competing(L, "another platform holds the brokerage "
									"session; nothing is sent until it is "
									"free (the compete setting would take "
									"it over)");
	}
	log_info("gateway", "brokerage session not ready (authenticated %s, "
						"connected %s, competing %s%s%s); initialising it%s",
			 a.authenticated ? "yes" : "no", a.connected ? "yes" : "no",
			 a.competing ? "yes" : "no", a.fail ? ", " : "",
			 a.fail ? a.fail : "", a.competing ? " with compete" : "");
	cpapi_auth_status_free(&a);
	if (session_auth_call(L, "/iserver/auth/ssodh/init",
						  L->cfg.compete ? "{\"publish\":true,\"compete\":true}"
										 : "{\"publish\":true,\"compete\":false}",
						  &a) != 0)
		return -1;
	for (i = 0; i < SESSION_STATUS_POLLS && !cpapi_auth_healthy(&a); i++)
	{
		cpapi_auth_status_free(&a);
		session_pause(SESSION_STATUS_POLL_SECONDS * L->cfg.time_scale);
		if (listener_stop_asked())
			return -1;
		if (session_auth_call(L, "/iserver/auth/status", NULL, &a) != 0)
			return -1;
	}
	if (cpapi_auth_healthy(&a))
	{
		cpapi_auth_status_free(&a);
		return 0;
	}
	L->session = a.competing ? SESSION_COMPETING : SESSION_DOWN;
	listener_set_error(L, "gateway: brokerage session %s after "
						  "ssodh/init",
					   a.competing ? "still competing" : "not authenticated");
	log_warning(NULL, "%s", L->last_error);
	cpapi_auth_status_free(&a);
	return -1;
}

/*
 * Ask /iserver/accounts (which unlocks the order endpoints for this
 * brokerage session) and update the accounts served.  Returns 0 or -1.
 */
static int
session_query_accounts(Listener *L)
{
	GwResponse	  resp;
	GwResult	  r;
	CpapiAccounts acc;
	char		  err[CPAPI_ERR_LEN];
	int			  i;

	r = gateway_call(L->gw, "GET", "/iserver/accounts", NULL, GW_PACE_NONE,
					 &resp);
	if (r != GW_OK || resp.status != 200 ||
		cpapi_parse_accounts(resp.body, resp.len, &acc, err,
							 sizeof(err)) != 0)
	{
		if (r != GW_OK)
			listener_set_error(L, "gateway /iserver/accounts: %s",
							   gateway_result_name(r));
		else if (resp.status != 200)
			listener_set_error(L, "gateway /iserver/accounts: HTTP %ld",
							   resp.status);
		else
			listener_set_error(L, "gateway /iserver/accounts: %s", err);
		log_warning(NULL, "%s (HTTP %ld)", L->last_error, resp.status);
		gateway_response_free(&resp);
		return -1;
	}
	gateway_response_free(&resp);
	strlist_free(&L->gw_accounts);
	for (i = 0; i < acc.n; i++)
		strlist_add(&L->gw_accounts, acc.accounts[i]);
	cpapi_accounts_free(&acc);
	leases_update(L);
	return 0;
}

/* Send the suppressed message ids, if any.  Failure is only logged. */
void
session_send_suppress(Listener *L)
{
	GwResponse resp;
	GwResult   r;
	char	  *body;
	char	  *ids;

	if (L->cfg.suppress_ids.n == 0)
		return;
	cpapi_build_id_list_body("messageIds", L->cfg.suppress_ids.items,
							 L->cfg.suppress_ids.n, &body);
	ids = strlist_join(&L->cfg.suppress_ids, ", ");
	r = gateway_call(L->gw, "POST", "/iserver/questions/suppress", body,
					 GW_PACE_NONE, &resp);
	if (r == GW_OK && resp.status == 200)
		log_info("gateway", "suppressed message ids %s", ids);
	else
		log_warning("gateway",
					"could not suppress message ids %s: %s (HTTP %ld); such "
					"prompts meet the confirm list instead",
					ids, gateway_result_name(r), resp.status);
	gateway_response_free(&resp);
	free(body);
	free(ids);
}

/*
 * Establish the session: authenticate, query accounts, suppress ids,
 * take leases.  Returns 0 when ready; otherwise schedules the next
 * attempt with back-off and returns -1.
 */
int
session_establish(Listener *L)
{
	double now;

	if (session_authenticate(L) == 0 && session_query_accounts(L) == 0)
	{
		char *accts = strlist_join(&L->gw_accounts, ", ");

		session_send_suppress(L);
		L->session = SESSION_READY;
		L->ever_ready = true;
		positions_reset_all(L);
		L->need_reconcile = true;
		L->next_reconcile = mono_now();
		L->establish_delay = SESSION_RETRY_MIN;
		L->next_tickle = mono_now() +
			SESSION_TICKLE_SECONDS * L->cfg.time_scale;
		L->last_error[0] = '\0';
		log_info("gateway", "session ready; gateway accounts: %s",
				 accts[0] ? accts : "(none)");
		free(accts);
		leases_take(L);
		return 0;
	}
	if (L->session == SESSION_READY)
		L->session = SESSION_DOWN;
	now = mono_now();
	L->next_establish = now + L->establish_delay * L->cfg.time_scale;
	log_info("gateway", "next session attempt in %.1f s",
			 L->establish_delay * L->cfg.time_scale);
	L->establish_delay *= 2;
	if (L->establish_delay > SESSION_RETRY_MAX)
		L->establish_delay = SESSION_RETRY_MAX;
	return -1;
}

/*
 * Keep the session alive and check it: POST /tickle.  A 401, an error
 * envelope, a missing or unhealthy iserver.authStatus mean the session
 * is lost.  A tickle held back by the rate-limit penalty is skipped.
 */
void
session_tickle(Listener *L)
{
	GwResponse	resp;
	GwResult	r;
	CpapiTickle t;
	char		err[CPAPI_ERR_LEN];

	L->next_tickle = mono_now() + SESSION_TICKLE_SECONDS * L->cfg.time_scale;
	r = gateway_call(L->gw, "POST", "/tickle", NULL, GW_PACE_NONE, &resp);
	if (r == GW_PENALTY || r == GW_INTERRUPTED || r == GW_REFUSED)
		;
	else if (r != GW_OK)
		session_lost(L, gateway_result_name(r));
	else if (resp.status == 401)
		session_lost(L, "not authenticated (tickle answered 401)");
	else if (resp.status == 429)
		; /* the gateway's penalty is now in force */
	else if (resp.status != 200 ||
			 cpapi_parse_tickle(resp.body, resp.len, &t, err,
								sizeof(err)) != 0)
		session_lost(L, "unreadable tickle answer");
	else
	{
		if (t.error != NULL)
			session_lost(L, t.error);
		else if (!t.has_auth)
			session_lost(L, "no brokerage session in the tickle answer");
		else if (t.auth.competing)
			session_lost(L, "competing session");
		else if (!cpapi_auth_healthy(&t.auth))
			session_lost(L, "brokerage session not authenticated");
		else
			log_debug("gateway", "tickle: session alive");
		cpapi_tickle_free(&t);
	}
	gateway_response_free(&resp);
}

/*
 * Look at an answer for session-level trouble: 401 and "no bridge" mean
 * the session is lost; so does 503, which /iserver answers during the
 * gateway's maintenance and nightly reset, so that nothing is claimed
 * until /iserver/accounts answers again.  what names the call for the
 * log.
 */
void
session_note_answer(Listener *L, const char *what, GwResult r,
					const GwResponse *resp)
{
	char		  *error = NULL;
	CpapiErrorKind kind;

	if (r != GW_OK)
		return;
	/* an error envelope is short: a long answer is classed by status */
	if (resp->len <= SESSION_ERROR_BODY_MAX)
		(void) cpapi_parse_error(resp->body, resp->len, &error, NULL);
	kind = cpapi_classify_error(resp->status, error);
	if (kind == CPAPI_ERR_NOT_AUTHENTICATED || kind == CPAPI_ERR_NO_BRIDGE ||
		resp->status == 503)
	{
		char *why = xasprintf("%s answered %s (HTTP %ld)", what,
							  cpapi_error_kind_name(kind),
							  resp->status);

		session_lost(L, why);
		free(why);
	}
	free(error);
}

/* Return true when an answer is "Please query /accounts first". */
static bool
asks_accounts_first(GwResult r, const GwResponse *resp)
{
	char *error = NULL;
	bool  asks;

	asks = r == GW_OK && resp->len <= SESSION_ERROR_BODY_MAX &&
		cpapi_may_ask_accounts(resp->body, resp->len) &&
		cpapi_parse_error(resp->body, resp->len, &error, NULL) == 1 &&
		cpapi_classify_error(resp->status, error) == CPAPI_ERR_QUERY_ACCOUNTS;
	free(error);
	return asks;
}

/*
 * Make a call under the session: when the gateway says "Please query
 * /accounts first", query them and repeat the call once; when it says
 * the session is gone, mark it lost.  The caller frees resp.
 */
GwResult
session_call(Listener *L, const char *method, const char *path,
			 const char *body, GwPace pace, GwResponse *resp)
{
	GwResult r = gateway_call(L->gw, method, path, body, pace, resp);

	if (asks_accounts_first(r, resp))
	{
		log_info("gateway", "%s %s: the gateway asks for /iserver/accounts "
							"first; querying it and trying once more",
				 method, path);
		gateway_response_free(resp);
		if (session_query_accounts(L) == 0)
		{
			/* a new brokerage session: suppression was per session */
			session_send_suppress(L);
			r = gateway_call(L->gw, method, path, body, pace, resp);
		}
		else
			r = GW_TRANSPORT;
	}
	session_note_answer(L, path, r, resp);
	return r;
}

/*
 * Note the answer to a call made off the loop's thread (the tracking
 * reads), as session_call notes its own; "Please query /accounts first"
 * is answered by querying them, but the call is not repeated: the
 * tracking reads again at its next step.  Returns true when the answer
 * may be used.
 */
bool
session_note_remote(Listener *L, const char *method, const char *path,
					GwResult r, const GwResponse *resp)
{
	if (asks_accounts_first(r, resp))
	{
		log_info("gateway", "%s %s: the gateway asks for /iserver/accounts "
							"first; querying it",
				 method, path);
		if (session_query_accounts(L) == 0)
			session_send_suppress(L);
		return false;
	}
	session_note_answer(L, path, r, resp);
	return true;
}

/* Return the index of the lease for account, or -1. */
static int
lease_index(const Listener *L, const char *account)
{
	int i;

	for (i = 0; i < L->n_leases; i++)
		if (strcmp(L->leases[i].account, account) == 0)
			return i;
	return -1;
}

/*
 * Make the lease list match the accounts to serve: the gateway's
 * accounts, narrowed by the accounts setting.  Leases no longer wanted
 * are released.
 */
void
leases_update(Listener *L)
{
	StrList want = {0};
	int		i;

	for (i = 0; i < L->gw_accounts.n; i++)
		if (L->cfg.accounts.n == 0 ||
			strlist_contains(&L->cfg.accounts, L->gw_accounts.items[i]))
			strlist_add(&want, L->gw_accounts.items[i]);
	for (i = 0; i < L->cfg.accounts.n; i++)
		if (!strlist_contains(&L->gw_accounts, L->cfg.accounts.items[i]))
			log_warning("account", "%s is configured but the gateway does "
								   "not list it; it is not served",
						L->cfg.accounts.items[i]);
	for (i = L->n_leases - 1; i >= 0; i--)
	{
		Lease *l = &L->leases[i];

		if (strlist_contains(&want, l->account))
			continue;
		if (l->held && db_is_connected(L->db))
			(void) db_lease_release(L->db, l->account);
		log_info("account", "%s is no longer served", l->account);
		free(l->account);
		L->leases[i] = L->leases[--L->n_leases];
	}
	for (i = 0; i < want.n; i++)
		if (lease_index(L, want.items[i]) < 0)
		{
			L->leases = xrealloc(L->leases,
								 sizeof(Lease) * (size_t) (L->n_leases + 1));
			memset(&L->leases[L->n_leases], 0, sizeof(Lease));
			L->leases[L->n_leases++].account = xstrdup(want.items[i]);
		}
	strlist_free(&want);
}

/* An account pgtrade does not know: no order of it will ever come. */
static void
warn_unknown_account(const char *account)
{
	log_warning("account",
				"%s: pgtrade has no such account, so no order of it will "
				"come; check --accounts, or register it with "
				"pgtrade.add_account",
				account);
}

/* Try to take every lease not held yet. */
void
leases_take(Listener *L)
{
	int i;

	for (i = 0; i < L->n_leases && db_is_connected(L->db); i++)
	{
		Lease	*l = &L->leases[i];
		bool	 got;
		DbResult rc;

		if (l->held)
			continue;
		rc = db_lease_try(L->db, l->account, &got);
		if (rc == DB_LOST)
		{
			listener_db_lost(L);
			return;
		}
		if (rc == DB_OK && got)
		{
			bool known;

			l->held = true;
			L->need_reconcile = true;
			positions_reset(L, l);
			log_info("account", "%s: lease taken%s; serving it", l->account,
					 l->standby ? " after standing by" : "");
			l->standby = false;
			if (db_account_known(L->db, l->account, &known) == DB_OK && !known)
				warn_unknown_account(l->account);
		}
		else if (rc == DB_OK && !l->standby)
		{
			/* once per wait: the lease is tried again every poll */
			l->standby = true;
			log_info("account", "%s: lease held by another listener; "
								"standing by until it is free",
					 l->account);
		}
		else if (rc == DB_OK)
			log_debug("account", "%s: lease held by another listener",
					  l->account);
	}
}

/* Set out to the accounts whose lease is held (out must be empty). */
void
leases_served(const Listener *L, StrList *out)
{
	int i;

	for (i = 0; i < L->n_leases; i++)
		if (L->leases[i].held)
			strlist_add(out, L->leases[i].account);
}
