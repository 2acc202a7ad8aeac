/*-------------------------------------------------------------------------
 *
 * bars.c
 *	  Market-data refresh: bars of the instruments the listener's
 *	  accounts trade, fetched from the gateway's history endpoint and
 *	  stored with pgtrade.record_bars.
 *
 * Every bars_interval seconds (times time_scale), and once at start-up,
 * the listener asks pgtrade.bars_to_refresh which instruments and bar
 * sizes the active strategies of its served accounts use, and with which
 * history bar and period to fetch them.  The answers form a queue that
 * is worked off one request per loop turn, and only while the order
 * work is idle: no notification waiting, no reconciliation due, no
 * rate-limit back-off in force.  Orders never wait for bars: a
 * notification seen before a request puts the request off to a later
 * turn.  The request goes through the shared rate budget of gateway.c;
 * the loop is single-threaded, so at most one history request is ever
 * open, well under the gateway's five concurrent ones.
 *
 * A 429, a "No data." answer (logged once per instrument, then as
 * DEBUG), a transport failure or a batch the database refuses is logged
 * and skipped; the next refresh tries again.
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "history.h"
#include "listener.h"
#include "log.h"

/* One instrument and bar size to fetch. */
typedef struct BarTarget
{
	char   *instrument_id; /* digits */
	char   *symbol;
	int64_t conid;
	char   *bar_size; /* interval text, as the database printed it */
	char   *bar;	  /* history bar argument: 1d, 5min, 1h */
	char   *period;	  /* history period argument: 5d, 20min, 3h */
} BarTarget;

struct BarsState
{
	BarTarget *queue;
	int		   n;
	int		   next;		 /* first target not fetched yet */
	double	   next_refresh; /* monotonic time of the next refresh */
	SeenCache  skipped;		 /* skip reasons already logged */
};

/* Release the queue of targets. */
static void
bars_queue_clear(BarsState *s)
{
	int i;

	for (i = 0; i < s->n; i++)
	{
		free(s->queue[i].instrument_id);
		free(s->queue[i].symbol);
		free(s->queue[i].bar_size);
		free(s->queue[i].bar);
		free(s->queue[i].period);
	}
	free(s->queue);
	s->queue = NULL;
	s->n = s->next = 0;
}

/* Release the refresh state of L (at exit). */
void
bars_free(Listener *L)
{
	if (L->bars == NULL)
		return;
	bars_queue_clear(L->bars);
	strlist_free(&L->bars->skipped.keys);
	free(L->bars);
	L->bars = NULL;
}

/* Log, once per instrument, bar size and reason, why it is not fetched. */
static void
bars_note_skip(BarsState *s, const char *symbol, const char *bar_size,
			   const char *reason)
{
	char *key = xasprintf("%s|%s|%s", symbol, bar_size, reason);

	if (!seen_check(&s->skipped, key))
	{
		seen_add(&s->skipped, key);
		log_info("bars", "%s %s bars are not fetched: %s", symbol, bar_size,
				 reason);
	}
	free(key);
}

/* Copy the result rows of bars_to_refresh into the queue. */
static void
bars_queue_fill(BarsState *s, const PGresult *res)
{
	int rows = PQntuples(res);
	int i;

	s->queue = xcalloc((size_t) (rows > 0 ? rows : 1), sizeof(BarTarget));
	for (i = 0; i < rows; i++)
	{
		BarTarget *t = &s->queue[s->n];

		if (!PQgetisnull(res, i, 6))
		{
			bars_note_skip(s, PQgetvalue(res, i, 1), PQgetvalue(res, i, 3),
						   PQgetvalue(res, i, 6));
			continue;
		}
		t->instrument_id = xstrdup(PQgetvalue(res, i, 0));
		t->symbol = xstrdup(PQgetvalue(res, i, 1));
		t->conid = strtoll(PQgetvalue(res, i, 2), NULL, 10);
		t->bar_size = xstrdup(PQgetvalue(res, i, 3));
		t->bar = xstrdup(PQgetvalue(res, i, 4));
		t->period = xstrdup(PQgetvalue(res, i, 5));
		s->n++;
	}
}

/*
 * Ask the database what to fetch for the served accounts and queue it.
 * Returns 0, or -1 when the database call failed.
 */
static int
bars_load(Listener *L)
{
	StrList		served = {0};
	char	   *arr;
	const char *params[1];
	PGresult   *res;
	DbResult	rc;

	leases_served(L, &served);
	arr = db_text_array(&served);
	params[0] = arr;
	rc = db_exec(L->db, "bars_to_refresh",
				 "SELECT instrument_id, symbol, conid, bar_size, bar, "
				 "period, skip_reason "
				 "FROM pgtrade.bars_to_refresh($1::text[])",
				 1, params, &res);
	free(arr);
	strlist_free(&served);
	if (rc == DB_LOST)
		listener_db_lost(L);
	if (rc != DB_OK)
		return -1;
	bars_queue_clear(L->bars);
	bars_queue_fill(L->bars, res);
	PQclear(res);
	log_debug("bars", "refresh: %d instrument bar sizes to fetch",
			  L->bars->n);
	return 0;
}

/*
 * Store the bars of a history answer with pgtrade.record_bars and log
 * the counts.  json is the bars array built by history_bars_json.
 */
static void
bars_store(Listener *L, const BarTarget *t, const char *json)
{
	const char *params[3] = {t->instrument_id, t->bar_size, json};
	PGresult   *res;
	DbResult	rc;

	rc = db_exec(L->db, "record_bars",
				 "SELECT inserted, updated, unchanged, forming "
				 "FROM pgtrade.record_bars($1::bigint, $2::interval, "
				 "$3::jsonb)",
				 3, params, &res);
	if (rc == DB_LOST)
		listener_db_lost(L);
	if (rc != DB_OK)
	{
		log_warning("bars", "%s %s bars refused by the database; nothing "
							"stored",
					t->symbol, t->bar_size);
		return;
	}
	if (PQntuples(res) == 1)
	{
		bool changed = strcmp(PQgetvalue(res, 0, 0), "0") != 0 ||
			strcmp(PQgetvalue(res, 0, 1), "0") != 0;

		log_msg(changed ? LEVEL_LOG : LEVEL_DEBUG, "bars",
				"%s %s bars (period %s): %s new, %s updated, %s unchanged, "
				"%s still forming",
				t->symbol, t->bar_size, t->period, PQgetvalue(res, 0, 0),
				PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2),
				PQgetvalue(res, 0, 3));
	}
	PQclear(res);
}

/*
 * Judge a history answer that is not bars: "No data." and a 429 are
 * logged as what they are, anything else as an unreadable answer.
 * Returns true when the rest of this refresh should be dropped.
 */
static bool
bars_answer_failed(BarsState *s, const BarTarget *t, const GwResponse *resp,
				   const char *why)
{
	char *error = NULL;
	bool  stop = false;

	(void) cpapi_parse_error(resp->body, resp->len, &error, NULL);
	if (resp->status == 429)
	{
		log_warning("bars", "%s %s bars: rate limited (HTTP 429); the "
							"refresh resumes after the back-off",
					t->symbol, t->bar_size);
		stop = true;
	}
	else if (history_is_no_data(error))
	{
		/* LOG the first time, then DEBUG: it answers so every refresh */
		char *key = xasprintf("nodata|%s|%s", t->symbol, t->bar_size);
		bool  again = seen_check(&s->skipped, key);

		log_msg(again ? LEVEL_DEBUG : LEVEL_LOG, "bars",
				"%s %s bars: the gateway has no data (conid %lld)",
				t->symbol, t->bar_size, (long long) t->conid);
		if (!again)
			seen_add(&s->skipped, key);
		free(key);
	}
	else
		log_warning("bars", "%s %s bars: unusable history answer (HTTP %ld): "
							"%s",
					t->symbol, t->bar_size, resp->status, why);
	free(error);
	return stop;
}

/*
 * Fetch one target's bars and store them.  Returns true when the rest of
 * this refresh should be dropped (rate limit, lost session).
 */
static bool
bars_fetch(Listener *L, const BarTarget *t)
{
	char		 path[256];
	char		 err[CPAPI_ERR_LEN];
	GwResponse	 resp;
	CpapiHistory h;
	GwResult	 r;
	char		*json = NULL;
	bool		 stop = false;

	if (history_path(t->conid, t->period, t->bar, path, sizeof(path)) != 0)
	{
		log_warning("bars", "%s %s bars: cannot ask for period \"%s\", bar "
							"\"%s\"",
					t->symbol, t->bar_size, t->period, t->bar);
		return false;
	}
	r = session_call(L, "GET", path, NULL, GW_PACE_NONE, &resp);
	if (r != GW_OK)
	{
		log_warning("bars", "%s %s bars: history request failed: %s%s%s",
					t->symbol, t->bar_size, gateway_result_name(r),
					resp.error[0] ? ": " : "", resp.error);
		gateway_response_free(&resp);
		return r == GW_PENALTY || !session_ready(L);
	}
	if (resp.status != 200 ||
		cpapi_parse_history(resp.body, resp.len, &h, err, sizeof(err)) != 0)
		stop = bars_answer_failed(L->bars, t, &resp, resp.status != 200 ? "not a success" : err);
	else
	{
		if (history_bars_json(&h, &json) < 0)
			log_warning("bars", "%s %s bars: a bar holds a value that is not "
								"a number; nothing stored",
						t->symbol, t->bar_size);
		else
			bars_store(L, t, json);
		free(json);
		cpapi_history_free(&h);
	}
	gateway_response_free(&resp);
	return stop || !session_ready(L);
}

/* Return true when the order work leaves room for a history request. */
static bool
bars_may_fetch(Listener *L)
{
	int count = 0;
	int other = 0;

	if (L->cfg.bars_interval <= 0 || !db_is_connected(L->db) ||
		!session_ready(L) || L->need_reconcile || L->retry.active ||
		L->notified || gateway_penalty_left(L->gw) > 0)
		return false;
	/* an order notification that arrived meanwhile goes first */
	if (db_read_notifies(L->db, &count, &other) == DB_LOST)
	{
		listener_db_lost(L);
		return false;
	}
	if (count > 0)
		L->notified = true;
	if (other > 0)
		L->notified_other = true;
	return count == 0;
}

/*
 * Do this turn's share of the market-data refresh: start a refresh when
 * one is due, then send at most one history request.  Call it after the
 * order work of a turn.
 */
void
bars_tick(Listener *L)
{
	double now = mono_now();

	if (L->bars == NULL)
		L->bars = xcalloc(1, sizeof(BarsState));
	if (!bars_may_fetch(L))
		return;
	if (L->bars->next >= L->bars->n)
	{
		if (now < L->bars->next_refresh)
			return;
		L->bars->next_refresh = now +
			L->cfg.bars_interval * L->cfg.time_scale;
		if (bars_load(L) != 0 || L->bars->n == 0)
			return;
	}
	if (bars_fetch(L, &L->bars->queue[L->bars->next++]))
		L->bars->next = L->bars->n;
}

/*
 * Return the monotonic time at which bars_tick has work: now while
 * targets are queued, else the next refresh; far away when the refresh
 * is off or the order work has the session.
 */
double
bars_next_due(const Listener *L)
{
	if (L->cfg.bars_interval <= 0 || L->need_reconcile || L->retry.active)
		return mono_now() + 3600.0;
	if (L->bars == NULL || L->bars->next < L->bars->n)
		return mono_now();
	return L->bars->next_refresh;
}
