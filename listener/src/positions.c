/*-------------------------------------------------------------------------
 *
 * positions.c
 *	  Compare the broker's positions with pgtrade's and hold back the
 *	  accounts that drift.
 *
 * For each leased account the listener reads the broker's positions
 * (GET /portfolio/accounts, paced once per 5.5 s times the time scale;
 * POST /portfolio/{acct}/positions/invalidate; then the pages of
 * GET /portfolio/{acct}/positions/{page} until an empty one) and hands
 * them to pgtrade.record_positions, which compares them by conid and
 * records drift.  A comparison is made only when the account is quiet:
 * none of its executions waits to be recorded (fills.c); no order of it
 * is being sent, cancelled or unknown; orders working at the broker (a
 * resting limit, a bracket's exits) have been read twice by the
 * tracking polls since anything of them last changed, and the database
 * holds every fill the broker reported for them (record_positions
 * postpones otherwise); with no order in flight, the trade polls owed
 * after the last one ended are done.  Otherwise the comparison is
 * postponed to the next poll.  A fill at the broker between the
 * tracking read and the positions read shows as a difference once; the
 * confirming comparison does not see it again, as the fill is recorded
 * in between.
 *
 * When: as soon as a lease is taken (start-up, database reconnect) and
 * whenever the gateway session is established again; then every
 * positions_interval seconds; and POSITIONS_CONFIRM_SECONDS (scaled)
 * after a comparison that found a difference, to confirm it.
 *
 * Claim rule (fail closed): an account is claimed for only when its
 * lease is held, a comparison since the lease was taken and the session
 * last came back has left no difference awaiting confirmation, and the
 * database shows no open drift for it.  Drift that an operator
 * acknowledged does not hold the account back.  Quantities stay decimal
 * text from the gateway's JSON to numeric; nothing is compared in C.
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listener.h"
#include "log.h"

/* Most pages of positions read for one account (100 per page). */
#define POSITIONS_PAGES_MAX 100

/* How long new orders wait for a first comparison before a warning. */
#define POSITIONS_HELD_WARN_SECONDS 30.0

/* Delay before retrying a comparison that could not be made, scaled. */
#define POSITIONS_RETRY_SECONDS 30.0

/* Return true when position checks are switched on. */
static bool
positions_enabled(const Listener *L)
{
	return L->cfg.pos_interval > 0;
}

/*
 * Forget what is known of a lease's positions: it is compared again at
 * once, and not claimed for until that comparison is settled.
 */
void
positions_reset(Listener *L, Lease *l)
{
	(void) L;
	l->pos_verified = false;
	l->pos_next = 0;
	l->pos_held_since = 0;
	l->pos_held_told = false;
	l->settle_polls = TRADES_TAIL_POLLS;
}

/* Reset every lease: the gateway session came back. */
void
positions_reset_all(Listener *L)
{
	int i;

	for (i = 0; i < L->n_leases; i++)
		positions_reset(L, &L->leases[i]);
}

/* Return true when a held lease still waits for its first comparison. */
bool
positions_pending(const Listener *L)
{
	int i;

	if (!positions_enabled(L))
		return false;
	for (i = 0; i < L->n_leases; i++)
		if (L->leases[i].held && !L->leases[i].pos_verified)
			return true;
	return false;
}

/* Return the monotonic time of the next comparison due (or far ahead). */
double
positions_next_due(const Listener *L)
{
	double next = mono_now() + 3600.0;
	int	   i;

	if (!positions_enabled(L))
		return next;
	for (i = 0; i < L->n_leases; i++)
		if (L->leases[i].held && L->leases[i].pos_next < next)
			next = L->leases[i].pos_next;
	return next;
}

/*
 * Set out (empty on entry) to the accounts orders may be claimed for
 * now: held, and compared since the last reconnect.  Open drift is not
 * asked here: pgtrade.claim_orders leaves the orders of an account with
 * open drift pending itself, in the claim's own snapshot, so a question
 * before each claim would cost a round trip on every order's way and
 * could only agree with it.
 */
void
positions_claimable(Listener *L, StrList *out)
{
	int i;

	if (!positions_enabled(L))
	{
		leases_served(L, out);
		return;
	}
	for (i = 0; i < L->n_leases; i++)
		if (L->leases[i].held && L->leases[i].pos_verified)
			strlist_add(out, L->leases[i].account);
}

/*
 * Make one gateway call of the position reading and check that it got
 * a 2xx answer.  Returns 0 (the caller frees resp) or -1 (logged).
 */
static int
positions_call(Listener *L, const char *account, const char *method,
			   const char *path, const char *body, GwPace pace,
			   GwResponse *resp)
{
	GwResult r = session_call(L, method, path, body, pace, resp);

	if (r == GW_OK && resp->status >= 200 && resp->status < 300)
		return 0;
	if (r == GW_OK)
		log_warning("account", "%s: positions: %s %s answered HTTP %ld; "
							   "comparison postponed",
					account, method, path, resp->status);
	else
		log_warning("account", "%s: positions: %s %s: %s%s%s; comparison "
							   "postponed",
					account, method, path, gateway_result_name(r),
					resp->error[0] ? ": " : "", resp->error);
	gateway_response_free(resp);
	return -1;
}

/*
 * Read the pages of an account's positions into out (zeroed on entry).
 * Returns 0, or -1 (logged; out freed).
 */
static int
positions_read_pages(Listener *L, const char *account, const char *esc,
					 CpapiPositions *out)
{
	char	   err[CPAPI_ERR_LEN];
	int		   page;
	int		   n_page;
	GwResponse resp;

	for (page = 0; page < POSITIONS_PAGES_MAX; page++)
	{
		char *path = xasprintf("/portfolio/%s/positions/%d", esc, page);
		int	  rc = positions_call(L, account, "GET", path, NULL,
								  GW_PACE_NONE, &resp);

		free(path);
		if (rc != 0)
			break;
		rc = cpapi_parse_positions(resp.body, resp.len, out, &n_page, err,
								   sizeof(err));
		gateway_response_free(&resp);
		if (rc != 0)
		{
			log_warning("account", "%s: positions page %d unreadable: %s; "
								   "comparison postponed",
						account, page, err);
			break;
		}
		if (n_page == 0)
			return 0;
	}
	if (page >= POSITIONS_PAGES_MAX)
		log_warning("account", "%s: more than %d pages of positions; "
							   "comparison postponed",
					account, POSITIONS_PAGES_MAX);
	cpapi_positions_free(out);
	return -1;
}

/*
 * Read every position the broker holds for account into out (zeroed on
 * entry).  Returns 0, or -1 (logged; out freed).
 */
static int
positions_fetch(Listener *L, const char *account, CpapiPositions *out)
{
	char	  *esc = gateway_escape(account);
	char	  *path = xasprintf("/portfolio/%s/positions/invalidate", esc);
	GwResponse resp;
	int		   rc;
	int		   i;

	rc = positions_call(L, account, "GET", "/portfolio/accounts", NULL,
						GW_PACE_PORTFOLIO, &resp);
	if (rc == 0)
	{
		gateway_response_free(&resp);
		rc = positions_call(L, account, "POST", path, "{}", GW_PACE_NONE,
							&resp);
	}
	if (rc == 0)
	{
		gateway_response_free(&resp);
		rc = positions_read_pages(L, account, esc, out);
	}
	for (i = 0; rc == 0 && i < out->n; i++)
		if (out->items[i].account != NULL &&
			strcmp(out->items[i].account, account) != 0)
		{
			log_warning("account", "%s: positions list a row of account "
								   "%s; comparison postponed",
						account, out->items[i].account);
			cpapi_positions_free(out);
			rc = -1;
		}
	free(path);
	free(esc);
	return rc;
}

/* Log one row of a comparison's outcome. */
static void
positions_log_row(const char *account, const PositionDiff *d)
{
	const char *sym = d->symbol ? d->symbol : "?";
	const char *conid = d->conid ? d->conid : "?";
	const char *pq = d->pgtrade_quantity ? d->pgtrade_quantity : "?";
	const char *bq = d->broker_quantity ? d->broker_quantity : "?";

	if (strcmp(d->outcome, "suspected") == 0)
		log_warning("account", "%s: position of %s (conid %s) differs: "
							   "pgtrade %s, broker %s; no new orders for "
							   "the account until the next comparison",
					account, sym, conid, pq, bq);
	else if (strcmp(d->outcome, "drift") == 0)
		log_error("account", "%s: position drift %s in %s (conid %s): "
							 "pgtrade %s, broker %s; new orders held back "
							 "until it is acknowledged or resolved",
				  account, d->drift_id, sym, conid, pq, bq);
	else if (strcmp(d->outcome, "open") == 0)
		log_warning("account", "%s: position drift %s in %s still open: "
							   "pgtrade %s, broker %s",
					account, d->drift_id, sym, pq, bq);
	else if (strcmp(d->outcome, "agreed") == 0)
		log_info("account", "%s: position drift %s in %s agrees again "
							"(pgtrade %s, broker %s); closed",
				 account, d->drift_id, sym, pq, bq);
	else
		log_debug("account", "%s: position drift %s in %s %s: pgtrade %s, "
							 "broker %s",
				  account, d->drift_id ? d->drift_id : "-", sym,
				  d->outcome, pq, bq);
}

/*
 * A comparison of an account not compared since its lease or the session
 * came back was put off: until one is made, the account takes no new
 * order.  Say so once it lasts: an order whose cancel the broker never
 * answers, or whose fills the trades never show, holds it until an
 * operator settles the order.
 */
static void
positions_held(Listener *L, Lease *l, double now)
{
	if (l->pos_verified)
		return;
	if (l->pos_held_since == 0)
		l->pos_held_since = now;
	if (!l->pos_held_told &&
		now - l->pos_held_since >=
			POSITIONS_HELD_WARN_SECONDS * L->cfg.time_scale)
	{
		log_warning("account",
					"%s: new orders wait: positions cannot be compared with "
					"the broker while an order of the account is being "
					"sent, cancelled or is unknown, or has fills to "
					"record; they are claimed once none has",
					l->account);
		l->pos_held_told = true;
	}
}

/*
 * Settle a lease after a comparison: log its rows and decide when the
 * next one is due and whether the account may be claimed for.
 */
static void
positions_settle(Listener *L, Lease *l, const PositionDiffList *diffs,
				 int n_positions)
{
	bool   postponed = false;
	bool   suspected = false;
	bool   open = false;
	double now = mono_now();
	int	   i;

	for (i = 0; i < diffs->n; i++)
	{
		const PositionDiff *d = &diffs->rows[i];

		postponed |= strcmp(d->outcome, "postponed") == 0;
		suspected |= strcmp(d->outcome, "suspected") == 0;
		open |= strcmp(d->outcome, "drift") == 0 ||
			strcmp(d->outcome, "open") == 0;
		if (strcmp(d->outcome, "postponed") != 0)
			positions_log_row(l->account, d);
	}
	if (postponed)
	{
		log_debug("account", "%s: an order is being sent or cancelled, or "
							 "has fills to record; positions compared "
							 "later",
				  l->account);
		l->pos_next = now + L->cfg.poll_interval;
		positions_held(L, l, now);
		return;
	}
	l->pos_held_since = 0;
	l->pos_held_told = false;
	if (suspected)
		l->pos_next = now + POSITIONS_CONFIRM_SECONDS * L->cfg.time_scale;
	else
	{
		if (!l->pos_verified)
			log_info("account", "%s: positions compared with the broker "
								"(%d held there); %s",
					 l->account, n_positions,
					 open ? "open drift holds back new orders"
						  : "orders may be claimed");
		l->pos_next = now + L->cfg.pos_interval;
	}
	l->pos_verified = !suspected;
}

/* Read the broker's positions of one account and compare them. */
static void
positions_compare(Listener *L, Lease *l)
{
	CpapiPositions	 pos = {0};
	PositionDiffList diffs;
	char			*json;
	DbResult		 rc;

	if (positions_fetch(L, l->account, &pos) != 0)
	{
		l->pos_next = mono_now() +
			POSITIONS_RETRY_SECONDS * L->cfg.time_scale;
		return;
	}
	(void) cpapi_positions_to_json(&pos, &json);
	rc = db_record_positions(L->db, L->listener_id, l->account, json,
							 &diffs);
	free(json);
	if (rc == DB_LOST)
		listener_db_lost(L);
	else if (rc != DB_OK)
		l->pos_next = mono_now() + L->cfg.poll_interval;
	else
	{
		positions_settle(L, l, &diffs, pos.n);
		position_diffs_free(&diffs);
	}
	cpapi_positions_free(&pos);
}

/*
 * Return true when the account's positions cannot be compared yet:
 * executions of it wait to be recorded, an order of it is in flight
 * other than working, its working orders changed within the last
 * tracking reads, or, with none in flight, trade polls are still owed
 * after the last one ended.
 */
static bool
positions_busy(const Listener *L, const Lease *l, const InFlightList *rows)
{
	int working = 0;
	int i;

	if (fills_pending(L, l->account))
		return true;
	for (i = 0; i < rows->n; i++)
	{
		if (strcmp(rows->rows[i].account_id, l->account) != 0)
			continue;
		if (strcmp(rows->rows[i].status, "working") != 0)
			return true;
		working++;
	}
	return working > 0 ? l->settle_polls > 0 : l->trades_tail > 0;
}

/*
 * One step of the position checks: compare the first due account that
 * is quiet, when the pacing of /portfolio/accounts allows.  Accounts
 * that are busy are put off by a poll interval.
 */
void
positions_tick(Listener *L)
{
	StrList		 served = {0};
	InFlightList rows;
	double		 now = mono_now();
	double		 wait;
	int			 i;

	if (!positions_enabled(L) || positions_next_due(L) > now)
		return;
	leases_served(L, &served);
	if (db_orders_in_flight(L->db, &served, &rows) != DB_OK)
	{
		if (!db_is_connected(L->db))
			listener_db_lost(L);
		strlist_free(&served);
		return;
	}
	wait = gateway_pace_wait(L->gw, GW_PACE_PORTFOLIO);
	for (i = 0; i < L->n_leases; i++)
	{
		Lease *l = &L->leases[i];

		if (!l->held || l->pos_next > now)
			continue;
		if (positions_busy(L, l, &rows))
		{
			l->pos_next = now + L->cfg.poll_interval;
			positions_held(L, l, now);
		}
		else if (wait > 0)
			l->pos_next = now + wait;
		else
		{
			positions_compare(L, l);
			break;
		}
	}
	in_flight_free(&rows);
	strlist_free(&served);
}
