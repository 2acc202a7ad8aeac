/*-------------------------------------------------------------------------
 *
 * paper.c
 *	  Paper mode: orders filled from stored bars, with no gateway at all.
 *
 * With --paper the listener creates no gateway client and makes no HTTP
 * call.  It serves the accounts of --accounts (there is no gateway to
 * list them), holds their leases like a live listener, and claims their
 * orders with pgtrade.claim_order, so the kill switch, halts and
 * valid_until apply unchanged.  Each claimed order is acknowledged at
 * once (pgtrade.paper_accept: broker order id PAPER-<cOID>) and handed
 * to pgtrade.paper_step, which fills it from the instrument's latest
 * ended bar with the configured slippage, or leaves it working, or
 * cancels it; working paper orders are stepped again every poll, and
 * their cancels and modifications carried out (pgtrade.paper_cancel,
 * pgtrade.paper_modify).  All price logic
 * lives in those SQL functions, in numeric.
 *
 * Orders in flight that are not paper orders (sent to a broker by a live
 * listener) are left alone, with one warning each; a submitting order
 * claimed by another listener process becomes unknown, since a paper
 * listener cannot ask a broker whether it was sent.
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "listener.h"
#include "log.h"

/* Return true when a broker order id names a paper order. */
static bool
paper_is_paper_id(const char *broker_order_id)
{
	return broker_order_id != NULL &&
		strncmp(broker_order_id, "PAPER-", 6) == 0;
}

/* Write the log context of order id ("order 12") into ctx. */
static void
paper_ctx(char *ctx, size_t len, int64_t id)
{
	snprintf(ctx, len, "order %lld", (long long) id);
}

/* Log a warning once per key (order and condition). */
static void
paper_warn_once(Listener *L, const char *key, const char *msg, int64_t id)
{
	char ctx[32];

	if (seen_check(&L->paper_seen, key))
		return;
	seen_add(&L->paper_seen, key);
	paper_ctx(ctx, sizeof(ctx), id);
	log_warning(ctx, "%s", msg);
}

/*
 * Serve the accounts of the configuration: they stand in for the
 * gateway's list.  Call at start and after a reload changed them.
 */
void
paper_start(Listener *L)
{
	strlist_free(&L->gw_accounts);
	strlist_copy(&L->gw_accounts, &L->cfg.accounts);
	leases_update(L);
	if (db_is_connected(L->db))
		leases_take(L);
}

/* Return the settings of paper_step as text parameters. */
static void
paper_params(const Listener *L, char *slip, size_t sliplen, char *age,
			 size_t agelen)
{
	snprintf(slip, sliplen, "%.6g", L->cfg.paper_slippage);
	if (L->cfg.paper_bar_age > 0)
		snprintf(age, agelen, "%.0f seconds", L->cfg.paper_bar_age);
	else
		age[0] = '\0';
}

/* Log the outcome row of paper_step for order id. */
static void
paper_log_step(Listener *L, int64_t id, const PGresult *res)
{
	const char *outcome = PQgetvalue(res, 0, 0);
	const char *detail = PQgetvalue(res, 0, 4);
	char		ctx[32];
	char	   *key;

	paper_ctx(ctx, sizeof(ctx), id);
	if (strcmp(outcome, "filled") == 0 || strcmp(outcome, "cancelled") == 0)
	{
		log_info(ctx, "paper %s: %s", outcome, detail);
		return;
	}
	if (strcmp(outcome, "ignored") == 0)
		return;
	/* working or stale: once per order and bar, not every poll */
	key = xasprintf("%lld|%s|%s", (long long) id, outcome,
					PQgetvalue(res, 0, 3));
	if (!seen_check(&L->paper_seen, key))
	{
		seen_add(&L->paper_seen, key);
		log_msg(strcmp(outcome, "stale") == 0 ? LEVEL_WARNING : LEVEL_LOG,
				ctx, "paper order not filled: %s", detail);
	}
	free(key);
}

/* Step one working paper order: fill, leave working, or cancel it. */
static void
paper_step(Listener *L, int64_t id)
{
	char		idtext[24];
	char		slip[32];
	char		age[48];
	const char *params[3] = {idtext, slip, NULL};
	PGresult   *res;
	DbResult	rc;

	snprintf(idtext, sizeof(idtext), "%lld", (long long) id);
	paper_params(L, slip, sizeof(slip), age, sizeof(age));
	params[2] = age[0] ? age : NULL;
	rc = db_exec(L->db, "paper_step",
				 "SELECT outcome, status, price, bar_ts, detail "
				 "FROM pgtrade.paper_step($1::bigint, $2::numeric, "
				 "$3::interval)",
				 3, params, &res);
	if (rc == DB_LOST)
		listener_db_lost(L);
	if (rc != DB_OK)
		return;
	if (PQntuples(res) == 1)
		paper_log_step(L, id, res);
	PQclear(res);
}

/*
 * Run a one-value paper function (paper_accept, paper_cancel,
 * paper_modify) on an order's or a modification's id; returns its text
 * (malloc'ed) or NULL when the call failed.
 */
static char *
paper_call(Listener *L, const char *what, const char *sql, int64_t id)
{
	char		idtext[24];
	char		lid[24];
	const char *params[2] = {idtext, lid};
	PGresult   *res;
	DbResult	rc;
	char	   *v = NULL;

	snprintf(idtext, sizeof(idtext), "%lld", (long long) id);
	snprintf(lid, sizeof(lid), "%lld", (long long) L->listener_id);
	rc = db_exec(L->db, what, sql, strstr(sql, "$2") ? 2 : 1, params, &res);
	if (rc == DB_LOST)
		listener_db_lost(L);
	if (rc != DB_OK)
		return NULL;
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		v = xstrdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

/* Acknowledge a claimed order as a paper order and step it at once. */
static void
paper_take(Listener *L, const ClaimedOrder *o)
{
	char *status = paper_call(L, "paper_accept",
							  "SELECT pgtrade.paper_accept($1::bigint, "
							  "$2::bigint)",
							  o->order_id);

	char ctx[32];

	if (status == NULL)
		return;
	paper_ctx(ctx, sizeof(ctx), o->order_id);
	log_info(ctx, "paper order %s %s %s %s (cOID %s): %s", o->side,
			 o->quantity, o->symbol, o->order_type, o->client_order_id,
			 status);
	if (strcmp(status, "working") == 0)
		paper_step(L, o->order_id);
	free(status);
}

/* Claim every pending order of the served accounts and take each. */
static void
paper_claims(Listener *L, const StrList *served)
{
	while (served->n > 0 && db_is_connected(L->db) && !listener_stop_asked())
	{
		ClaimedOrder o;
		bool		 found;
		DbResult	 rc = db_claim_order(L->db, L->listener_id, served, &o,
										 &found);

		if (rc == DB_LOST)
			listener_db_lost(L);
		if (rc != DB_OK || !found)
			break;
		paper_take(L, &o);
		claimed_order_free(&o);
	}
}

/* Carry out the cancels due on paper orders. */
static void
paper_cancels(Listener *L, const StrList *served)
{
	CancelList list;
	int		   i;

	if (db_orders_to_cancel(L->db, served, "0", &list) != DB_OK)
	{
		if (!db_is_connected(L->db))
			listener_db_lost(L);
		return;
	}
	for (i = 0; i < list.n && db_is_connected(L->db); i++)
	{
		CancelOrder *c = &list.rows[i];
		char		*key;
		char		*status;

		if (!paper_is_paper_id(c->broker_order_id))
		{
			key = xasprintf("%lld|cancel", (long long) c->order_id);
			paper_warn_once(L, key, "cancel asked for an order that is not a "
									"paper order; a paper listener cannot "
									"send it",
							c->order_id);
			free(key);
			continue;
		}
		status = paper_call(L, "paper_cancel",
							"SELECT pgtrade.paper_cancel($1::bigint)",
							c->order_id);
		if (status != NULL)
			log_info(NULL, "order %lld: paper cancel carried out; order is %s",
					 (long long) c->order_id, status);
		free(status);
	}
	cancel_list_free(&list);
}

/*
 * Carry out the modifications due on paper orders: a paper order's
 * broker is this listener, which applies them (pgtrade.paper_modify).
 */
static void
paper_modifications(Listener *L, const StrList *served)
{
	static const char *not_paper =
		"not a paper order: a paper listener cannot send its modification";
	char	   *arr = db_text_array(served);
	const char *params[1] = {arr};
	PGresult   *res;
	DbResult	rc;
	int			i;

	rc = db_exec(L->db, "modifications_due",
				 "SELECT modification_id, order_id, broker_order_id "
				 "FROM pgtrade.modifications_due($1::text[], interval '0')",
				 1, params, &res);
	free(arr);
	if (rc == DB_LOST)
		listener_db_lost(L);
	if (rc != DB_OK)
		return;
	for (i = 0; i < PQntuples(res) && db_is_connected(L->db); i++)
	{
		int64_t		mod = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		int64_t		order = strtoll(PQgetvalue(res, i, 1), NULL, 10);
		const char *broker = NULL;
		char	   *key;
		char	   *status;
		char		ctx[32];

		if (!PQgetisnull(res, i, 2))
			broker = PQgetvalue(res, i, 2);
		if (!paper_is_paper_id(broker))
		{
			key = xasprintf("%lld|modify", (long long) order);
			paper_warn_once(L, key, not_paper, order);
			free(key);
			continue;
		}
		status = paper_call(L, "paper_modify",
							"SELECT pgtrade.paper_modify($1::bigint, "
							"$2::bigint)",
							mod);
		paper_ctx(ctx, sizeof(ctx), order);
		if (status != NULL)
			log_info(ctx, "paper modification %lld carried out: %s",
					 (long long) mod, status);
		free(status);
	}
	PQclear(res);
}

/* Step one order in flight, as its status and broker order id allow. */
static void
paper_in_flight(Listener *L, const InFlightOrder *r)
{
	char *key;
	char *status;

	if (strcmp(r->status, "working") == 0 &&
		paper_is_paper_id(r->broker_order_id))
		paper_step(L, r->order_id);
	else if (strcmp(r->status, "submitting") == 0 &&
			 r->broker_order_id == NULL)
	{
		/* ours are accepted at claim: this one is another process's */
		status = paper_call(L, "paper_accept",
							"SELECT pgtrade.paper_accept($1::bigint, "
							"$2::bigint)",
							r->order_id);
		if (status != NULL && strcmp(status, "working") == 0)
			paper_step(L, r->order_id);
		else if (status != NULL)
			log_warning(NULL, "order %lld: left submitting by another "
							  "listener process; now %s",
						(long long) r->order_id, status);
		free(status);
	}
	else if (!paper_is_paper_id(r->broker_order_id))
	{
		key = xasprintf("%lld|live", (long long) r->order_id);
		paper_warn_once(L, key, "in flight at a broker, not a paper order; "
								"left alone",
						r->order_id);
		free(key);
	}
}

/* Step every working paper order of the served accounts. */
static void
paper_working(Listener *L, const StrList *served)
{
	InFlightList rows;
	int			 i;

	if (db_orders_in_flight(L->db, served, &rows) != DB_OK)
	{
		if (!db_is_connected(L->db))
			listener_db_lost(L);
		return;
	}
	for (i = 0; i < rows.n && db_is_connected(L->db); i++)
		paper_in_flight(L, &rows.rows[i]);
	in_flight_free(&rows);
}

/*
 * Do the paper work of one turn: on a notification or a poll tick,
 * take leases, carry out cancels and modifications, claim and fill
 * pending orders, then step the working ones.
 */
void
paper_work(Listener *L, double now)
{
	StrList served = {0};

	if (!L->notified && now < L->next_poll)
		return;
	L->notified = L->notified_other = false;
	leases_take(L);
	leases_served(L, &served);
	if (served.n > 0 && db_is_connected(L->db))
		paper_cancels(L, &served);
	if (served.n > 0 && db_is_connected(L->db))
		paper_modifications(L, &served);
	if (served.n > 0 && db_is_connected(L->db))
		paper_claims(L, &served);
	if (served.n > 0 && db_is_connected(L->db))
		paper_working(L, &served);
	strlist_free(&served);
}

/* Return the monotonic time of the next paper work: the next poll. */
double
paper_next_due(const Listener *L)
{
	return L->next_poll;
}
