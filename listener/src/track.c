/*-------------------------------------------------------------------------
 *
 * track.c
 *	  Reconciliation and tracking: what the broker says about our orders.
 *
 * Reconciliation runs before anything new is claimed: at start, after a
 * reconnect (database or gateway), and after any answer that left an
 * order's fate open.  For each account it reads the live orders at
 * least RECONCILE_POLLS times (the first answer of a session may be
 * empty) and the trades, then:
 *	submitting, unknown	found by cOID (order_ref) -> adopted with the
 *				broker's order id; a submitting order not found -> sent
 *				again with the same cOID, whichever process claimed it,
 *				when pgtrade.claim_resend allows (attempts left, cOID
 *				window open, valid, no kill switch), otherwise unknown
 *	working, cancel_requested	status, filled quantity and fills updated
 *				(a cancel_requested order is not moved back to working)
 *
 * Tracking does the same for working orders, one account per step, as
 * the list pacing allows, and keeps reading trades for TRADES_TAIL_POLLS
 * steps after an account's last order left flight, so that the fills
 * of an order seen Filled are not missed.  An account with nothing in
 * flight still has its trades read every TRADES_IDLE_SECONDS (scaled):
 * fills that land after an order ended (a Cancelled or Inactive order
 * can still carry them), late commissions, corrections and trades
 * placed outside pgtrade are recorded too.  After every reconciliation
 * each served account gets one poll of a week of trades, for fills of
 * orders that ended while the listener was away; it comes after the
 * claims resume, since fills are idempotent and claims are not delayed
 * by them.
 *
 * An order that ended stays in a small memory: while the broker still
 * lists it, a status it reports later (Submitted after Filled, an
 * Inactive order revived) goes to record_status, which keeps it as an
 * event and never moves the order back.  Only reports with news go to
 * the database (the live orders index their cOIDs), and with nothing of
 * an account working its live orders are read for them only every
 * ENDED_POLL_SECONDS (scaled): the trades, which carry the fills, are
 * read as before.
 *
 * Fills are recorded for every execution of a served account, ours or
 * not, in batches off the loop (fills.c); record_fill dedupes by
 * execution id, and a small cache saves the database a call per
 * execution per poll.
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listener.h"
#include "log.h"

/*
 * The live orders of one account over one or more polls, with an index
 * by cOID (open addressing over a power-of-two table) of the report
 * each cOID's lookup returns: the first in the newest poll showing it.
 */
typedef struct LiveView
{
	int					   n;
	CpapiLiveOrders		   polls[RECONCILE_POLLS];
	const CpapiLiveOrder **index; /* NULL: empty slot */
	uint32_t			   mask;  /* table size - 1 */
} LiveView;

/* FNV-1a hash of a string. */
static uint32_t
seen_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char) *s) * 16777619u;
	return h;
}

/* Probe c's index for key: its slot, or the empty one it would take. */
static int
seen_probe(const SeenCache *c, const char *key)
{
	uint32_t h;

	for (h = seen_hash(key) & (SEEN_SLOTS - 1); c->slots[h] != 0;
		 h = (h + 1) & (SEEN_SLOTS - 1))
		if (strcmp(c->keys.items[c->slots[h] - 1], key) == 0)
			break;
	return (int) h;
}

/*
 * Return the slot of key in c's index, as seen_probe.  The index is
 * (re)built first when it does not cover keys exactly, for instance
 * after keys was emptied by its owner.
 */
static int
seen_slot(SeenCache *c, const char *key)
{
	if (c->slots == NULL)
		c->slots = xcalloc(SEEN_SLOTS, sizeof(int));
	if (c->indexed != c->keys.n)
	{
		int i;

		memset(c->slots, 0, SEEN_SLOTS * sizeof(int));
		for (i = 0; i < c->keys.n; i++)
		{
			int s = seen_probe(c, c->keys.items[i]);

			if (c->slots[s] == 0)
				c->slots[s] = i + 1;
		}
		c->indexed = c->keys.n;
	}
	return seen_probe(c, key);
}

/* Return true when the cache holds key. */
bool
seen_check(SeenCache *c, const char *key)
{
	return c->slots != NULL || c->keys.n > 0
		? c->slots[seen_slot(c, key)] != 0
		: false;
}

/* Add key to the cache (once), emptying it first when full. */
void
seen_add(SeenCache *c, const char *key)
{
	int s;

	if (c->keys.n >= CACHE_MAX)
	{
		strlist_free(&c->keys);
		c->indexed = 0;
		if (c->slots != NULL)
			memset(c->slots, 0, SEEN_SLOTS * sizeof(int));
	}
	s = seen_slot(c, key);
	if (c->slots[s] != 0)
		return;
	strlist_add(&c->keys, key);
	c->slots[s] = c->keys.n;
	c->indexed = c->keys.n;
}

/* Empty the retry slot. */
void
retry_clear(Listener *L)
{
	claimed_order_free(&L->retry.order);
	free(L->retry.rejection);
	memset(&L->retry, 0, sizeof(L->retry));
}

/*
 * React to a lost database connection: its advisory locks are gone, so
 * no lease is held; reconnect soon and reconcile afterwards.
 */
void
listener_db_lost(Listener *L)
{
	int i;

	db_disconnect(L->db);
	/* the second session follows (a reload may have changed conninfo) */
	if (L->rec != NULL && !db_busy(L->rec))
		db_disconnect(L->rec);
	fills_lost(L);
	for (i = 0; i < L->n_leases; i++)
		L->leases[i].held = false;
	L->need_reconcile = true;
	L->track_epoch++;
	L->next_db_try = mono_now();
	L->db_delay = DB_RETRY_MIN;
	listener_set_error(L, "database connection lost");
}

/* Fetch one answer of the live orders of account (paced). */
static int
live_fetch(Listener *L, const char *account, CpapiLiveOrders *out)
{
	char	  *esc = gateway_escape(account);
	char	  *path = xasprintf("/iserver/account/orders?accountId=%s", esc);
	GwResponse resp;
	GwResult   r = session_call(L, "GET", path, NULL, GW_PACE_ORDERS, &resp);
	char	   err[CPAPI_ERR_LEN] = "";
	int		   rc = -1;

	if (r == GW_OK && resp.status == 200 &&
		cpapi_parse_live_orders(resp.body, resp.len, out, err,
								sizeof(err)) == 0)
		rc = 0;
	else if (r != GW_INTERRUPTED)
	{
		if (err[0] == '\0') /* the transport's own text, if any */
			snprintf(err, sizeof(err), "%s", resp.error);
		log_warning("account", "%s: could not read live orders: %s, HTTP "
							   "%ld%s%s",
					account, gateway_result_name(r), resp.status,
					err[0] ? ", " : "", err);
	}
	if (rc == 0 && out->n_skipped > 0)
		log_warning("account", "%s: %d live orders unreadable, first: %s",
					account, out->n_skipped, out->skip_reason);
	gateway_response_free(&resp);
	free(path);
	free(esc);
	return rc;
}

/* Fetch the trades of account for the last days (paced). */
static int
trades_fetch(Listener *L, const char *account, int days, CpapiTrades *out)
{
	char	  *esc = gateway_escape(account);
	char	  *path = xasprintf("/iserver/account/trades?days=%d&accountId=%s",
								days, esc);
	GwResponse resp;
	GwResult   r = session_call(L, "GET", path, NULL, GW_PACE_TRADES, &resp);
	char	   err[CPAPI_ERR_LEN] = "";
	int		   rc = -1;

	if (r == GW_OK && resp.status == 200 &&
		cpapi_parse_trades(resp.body, resp.len, out, err, sizeof(err)) == 0)
		rc = 0;
	else if (r != GW_INTERRUPTED)
	{
		if (err[0] == '\0') /* the transport's own text, if any */
			snprintf(err, sizeof(err), "%s", resp.error);
		log_warning("account", "%s: could not read trades: %s, HTTP %ld%s%s",
					account, gateway_result_name(r), resp.status,
					err[0] ? ", " : "", err);
	}
	if (rc == 0 && out->n_skipped > 0)
		log_warning("account", "%s: %d executions unreadable, first: %s",
					account, out->n_skipped, out->skip_reason);
	gateway_response_free(&resp);
	free(path);
	free(esc);
	return rc;
}

/* Release a live view. */
static void
live_view_free(LiveView *v)
{
	int i;

	for (i = 0; i < v->n; i++)
		cpapi_live_orders_free(&v->polls[i]);
	v->n = 0;
	free(v->index);
	v->index = NULL;
}

/* Index the reports of v by cOID: newest poll first, first report wins. */
static void
live_view_index(LiveView *v)
{
	size_t size = 16;
	int	   total = 0;
	int	   p;
	int	   i;

	for (p = 0; p < v->n; p++)
		total += v->polls[p].n;
	while (size < 2 * (size_t) total)
		size <<= 1;
	v->index = xcalloc(size, sizeof(*v->index));
	v->mask = (uint32_t) (size - 1);
	for (p = v->n - 1; p >= 0; p--)
		for (i = 0; i < v->polls[p].n; i++)
		{
			const CpapiLiveOrder *o = &v->polls[p].orders[i];
			uint32_t			  h;

			if (o->order_ref == NULL)
				continue;
			for (h = seen_hash(o->order_ref) & v->mask; v->index[h] != NULL;
				 h = (h + 1) & v->mask)
				if (strcmp(v->index[h]->order_ref, o->order_ref) == 0)
					break;
			if (v->index[h] == NULL)
				v->index[h] = o;
		}
}

/* Poll the live orders polls times.  Returns 0 or -1 (view freed). */
static int
live_view_fetch(Listener *L, const char *account, int polls, LiveView *v)
{
	memset(v, 0, sizeof(*v));
	while (v->n < polls)
	{
		if (live_fetch(L, account, &v->polls[v->n]) != 0)
		{
			live_view_free(v);
			return -1;
		}
		v->n++;
	}
	live_view_index(v);
	return 0;
}

/* Find the newest report of cOID coid in account, or NULL. */
static const CpapiLiveOrder *
live_view_find(const LiveView *v, const char *account, const char *coid)
{
	const CpapiLiveOrder *hit = NULL;
	uint32_t			  h;
	int					  p;
	int					  i;

	if (v->index != NULL)
	{
		for (h = seen_hash(coid) & v->mask; v->index[h] != NULL;
			 h = (h + 1) & v->mask)
			if (strcmp(v->index[h]->order_ref, coid) == 0)
			{
				hit = v->index[h];
				break;
			}
		if (hit == NULL)
			return NULL;
		if (hit->account == NULL || strcmp(hit->account, account) == 0)
			return hit;
		/* the same cOID in another account's report: look at them all */
	}
	for (p = v->n - 1; p >= 0; p--)
		for (i = 0; i < v->polls[p].n; i++)
		{
			const CpapiLiveOrder *o = &v->polls[p].orders[i];

			if (o->order_ref != NULL && strcmp(o->order_ref, coid) == 0 &&
				(o->account == NULL || strcmp(o->account, account) == 0))
				return o;
		}
	return NULL;
}

/* Find the first execution of cOID coid, or NULL. */
static const CpapiTrade *
trades_find(const CpapiTrades *t, const char *coid)
{
	int i;

	for (i = 0; i < t->n; i++)
		if (t->trades[i].order_ref != NULL &&
			strcmp(t->trades[i].order_ref, coid) == 0)
			return &t->trades[i];
	return NULL;
}

/* Fill m from what the view and the trades say of coid. */
static void
broker_match_fill(BrokerMatch *m, const LiveView *v, const CpapiTrades *t,
				  const char *account, const char *coid)
{
	const CpapiLiveOrder *lo = live_view_find(v, account, coid);
	const CpapiTrade	 *tr = trades_find(t, coid);

	memset(m, 0, sizeof(*m));
	if (lo != NULL)
	{
		m->in_live = true;
		m->order_id = xstrdup(lo->order_id);
		m->status = xstrdup(lo->status);
		m->account = xstrdup(lo->account);
		m->conid = lo->conid;
		m->side = lo->side;
		m->total_size = xstrdup(lo->total_size);
		m->filled = xstrdup(lo->filled);
		m->avg_price = xstrdup(lo->avg_price);
		m->payload = xstrdup(lo->payload);
	}
	if (tr != NULL)
	{
		m->in_trades = true;
		if (lo == NULL)
		{
			m->account = xstrdup(tr->account);
			m->conid = tr->conid;
			m->side = tr->side;
			m->payload = xstrdup(tr->payload);
		}
	}
}

/* Release a broker match. */
void
broker_match_free(BrokerMatch *m)
{
	free(m->order_id);
	free(m->status);
	free(m->account);
	free(m->total_size);
	free(m->filled);
	free(m->avg_price);
	free(m->payload);
	memset(m, 0, sizeof(*m));
}

/*
 * Look one cOID up at the broker: RECONCILE_POLLS live-order polls and
 * a week of trades.  Returns 0 with m filled (m->in_live, m->in_trades
 * tell what was found), or -1 when the broker could not be asked.
 */
int
broker_find(Listener *L, const char *account, const char *coid,
			BrokerMatch *m)
{
	LiveView	v;
	CpapiTrades t;

	memset(m, 0, sizeof(*m));
	if (live_view_fetch(L, account, RECONCILE_POLLS, &v) != 0)
		return -1;
	if (trades_fetch(L, account, 7, &t) != 0)
	{
		live_view_free(&v);
		return -1;
	}
	broker_match_fill(m, &v, &t, account, coid);
	live_view_free(&v);
	cpapi_trades_free(&t);
	return 0;
}

/*
 * Compare what the broker holds under a cOID with the order pgtrade
 * holds under it.  Returns NULL when account, contract, side and (for a
 * live order) quantity agree, else a malloc'ed description of the
 * difference.  An order without a known contract never agrees.  A
 * trade carries no order size, only its own: a match found in the
 * trades alone is not compared by quantity.  A live order's size is its
 * total, filled or not.
 */
static char *
match_differs(const BrokerMatch *m, const char *coid, const char *account,
			  int64_t conid, const char *our_side, const char *quantity)
{
	const char *side = cpapi_side_db(m->side);

	bool same_size = !m->in_live ||
		(m->total_size != NULL && quantity != NULL &&
		 cpapi_decimal_equal(m->total_size, quantity));

	if ((m->account == NULL || strcmp(m->account, account) == 0) &&
		conid > 0 && m->conid == conid && side != NULL && our_side != NULL &&
		strcmp(side, our_side) == 0 && same_size)
		return NULL;
	return xasprintf("cOID %s is registered at the broker for a different "
					 "order: account %s, conid %lld, side %s, quantity %s "
					 "(ours: account %s, conid %lld, side %s, quantity %s)",
					 coid, m->account ? m->account : "?",
					 (long long) m->conid, side ? side : "?",
					 m->total_size ? m->total_size : "?", account,
					 (long long) conid, our_side ? our_side : "?",
					 quantity ? quantity : "?");
}

/* As match_differs, for an order this process claimed. */
char *
broker_match_differs(const ClaimedOrder *o, const BrokerMatch *m)
{
	return match_differs(m, o->client_order_id, o->account_id, o->conid,
						 o->side, o->quantity);
}

/*
 * Record that the broker has an order we had left submitting: its order
 * id and status, then its filled quantity.  An
 * order seen only in the trades is acknowledged without an id; its
 * fills, recorded next, move it on.
 */
DbResult
broker_adopt(Listener *L, int64_t order_id, const BrokerMatch *m)
{
	const char *status = m->status ? m->status : "Submitted";
	const char *broker_id = m->in_live ? m->order_id : NULL;
	char	   *st = NULL;
	DbResult	rc;

	rc = db_record_submission(L->db, order_id, broker_id, status,
							  m->payload, &st);
	free(st);
	if (rc == DB_OK && m->in_live && m->status != NULL && m->filled &&
		cpapi_decimal_sign(m->filled) > 0)
		rc = db_record_status(L->db, order_id, m->status, m->filled,
							  m->avg_price, m->payload, NULL);
	return rc;
}

/* Return the lease of account, or NULL. */
static Lease *
lease_of(Listener *L, const char *account)
{
	int i;

	for (i = 0; i < L->n_leases; i++)
		if (strcmp(L->leases[i].account, account) == 0)
			return &L->leases[i];
	return NULL;
}

/*
 * Note that the trades of account must be read for a few more steps: an
 * order of it was just acknowledged, possibly already filled.
 */
void
track_owe_trades(Listener *L, const char *account)
{
	Lease *l = lease_of(L, account);

	if (l != NULL)
	{
		l->trades_tail = TRADES_TAIL_POLLS;
		l->settle_polls = TRADES_TAIL_POLLS;
	}
}

/*
 * Return true for the broker statuses of an order still working:
 * PendingSubmit, PreSubmitted, Submitted, WarnState (spaces and case
 * ignored, as pgtrade.broker_status_target does).
 */
static const char *status_target(const char *status);

static bool
status_is_working(const char *status)
{
	const char *target = status_target(status);

	return target != NULL && strcmp(target, "working") == 0;
}

/*
 * Map a broker status to the pgtrade status it implies, or NULL, as
 * pgtrade.broker_status_target does (spaces and case ignored).
 */
static const char *
status_target(const char *status)
{
	static const char *const map[][2] = {
		/* clang-format off */
		{"pendingsubmit", "working"},
		{"presubmitted", "working"},
		{"submitted", "working"},
		{"warnstate", "working"},
		{"pendingcancel", "cancel_requested"},
		{"precancelled", "cancel_requested"},
		{"filled", "filled"},
		{"cancelled", "cancelled"},
		{"inactive", "rejected"},
		/* clang-format on */
	};
	char   word[32];
	size_t n = 0;
	size_t i;

	for (; status != NULL && *status && n < sizeof(word) - 1; status++)
		if (*status != ' ')
			word[n++] = (char) (*status >= 'A' && *status <= 'Z'
									? *status + 32
									: *status);
	word[n] = '\0';
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(word, map[i][0]) == 0)
			return map[i][1];
	return NULL;
}

/* Return true for the pgtrade statuses an order never leaves. */
static bool
status_is_final(const char *status)
{
	return status != NULL &&
		(strcmp(status, "filled") == 0 || strcmp(status, "cancelled") == 0 ||
		 strcmp(status, "rejected") == 0 || strcmp(status, "expired") == 0);
}

/*
 * Warn, once, when the broker's order is of another size than pgtrade's
 * in two live reads running: a modification the broker applied after
 * pgtrade recorded it refused (its answer lost), say.  One read alone
 * may fall between the broker applying a modification and the loop
 * recording it.
 */
static void
note_size_differs(Listener *L, const InFlightOrder *row,
				  const CpapiLiveOrder *lo)
{
	char  ctx[48];
	char *seen;
	char *told;

	if (lo->total_size == NULL || row->quantity == NULL ||
		cpapi_decimal_equal(lo->total_size, row->quantity))
		return;
	seen = xasprintf("%lld|size|%s", (long long) row->order_id,
					 lo->total_size);
	told = xasprintf("%lld|size told|%s", (long long) row->order_id,
					 lo->total_size);
	if (!seen_check(&L->status_seen, seen))
		seen_add(&L->status_seen, seen);
	else if (!seen_check(&L->status_seen, told))
	{
		seen_add(&L->status_seen, told);
		snprintf(ctx, sizeof(ctx), "order %lld", (long long) row->order_id);
		log_warning(ctx, "the broker's order (cOID %s) is for %s, pgtrade's "
						 "for %s: a modification the broker applied after "
						 "its answer was lost, perhaps; check the order at "
						 "the broker",
					row->client_order_id, lo->total_size, row->quantity);
	}
	free(seen);
	free(told);
}

/*
 * Record a live order's status for a working row, unless already sent.
 * A cancel_requested order is not moved back to working by a working
 * status: until its cancel reaches the broker the broker still says
 * Submitted, and the cancel must not be lost.  It leaves
 * cancel_requested when the broker reports it cancelled or filled.
 */
static DbResult
apply_status(Listener *L, const InFlightOrder *row, const CpapiLiveOrder *lo)
{
	char	 ctx[48];
	char	*key;
	char	*status = NULL;
	DbResult rc = DB_OK;

	if (lo->status == NULL)
		return DB_OK;
	note_size_differs(L, row, lo);
	if (strcmp(row->status, "cancel_requested") == 0 &&
		status_is_working(lo->status))
	{
		snprintf(ctx, sizeof(ctx), "order %lld", (long long) row->order_id);
		log_debug(ctx, "broker status %s left aside while the cancel is "
					   "pending",
				  lo->status);
		return DB_OK;
	}
	key = xasprintf("%lld|%s|%s|%s", (long long) row->order_id, lo->status,
					lo->filled ? lo->filled : "",
					lo->avg_price ? lo->avg_price : "");
	if (!seen_check(&L->status_seen, key))
	{
		snprintf(ctx, sizeof(ctx), "order %lld", (long long) row->order_id);
		rc = db_record_status(L->db, row->order_id, lo->status, lo->filled,
							  lo->avg_price, lo->payload, &status);
		if (rc == DB_OK)
		{
			Lease *lease = lease_of(L, row->account_id);

			seen_add(&L->status_seen, key);
			/* positions wait until the change has settled */
			if (lease != NULL)
				lease->settle_polls = TRADES_TAIL_POLLS;
			/*
			 * A filled quantity the broker reports anew: its execution
			 * may date from before the trades list's day (one just
			 * before midnight UTC, read after it), which the next read
			 * covers too
			 */
			if (lease != NULL && lo->filled != NULL &&
				strtod(lo->filled, NULL) > 0 && lease->trades_days < 2)
				lease->trades_days = 2;
			if (status_is_final(status) && !status_is_final(row->status))
				track_note_ended(L, row->account_id, row->client_order_id,
								 row->order_id, status);
			if (status && strcmp(status, row->status) != 0)
				log_info(ctx, "broker status %s, filled %s; order is now %s",
						 lo->status, lo->filled ? lo->filled : "?", status);
			else
				log_debug(ctx, "broker status %s, filled %s", lo->status,
						  lo->filled ? lo->filled : "?");
		}
	}
	free(status);
	free(key);
	return rc;
}

/*
 * A working or cancel_requested order that has no broker order id (one an
 * operator settled with resolve_unknown, whose answer never came back):
 * the live orders show it by cOID, so record the id there, without which
 * no cancel or modification can be sent.  Only when account, contract,
 * side and quantity match; otherwise say so once.
 */
static DbResult
learn_broker_id(Listener *L, const InFlightOrder *row, const LiveView *v,
				const CpapiTrades *t)
{
	BrokerMatch m;
	char		ctx[48];
	char	   *why;
	char	   *key;
	char	   *st = NULL;
	DbResult	rc = DB_OK;

	if (row->broker_order_id != NULL && row->broker_order_id[0] != '\0')
		return DB_OK;
	broker_match_fill(&m, v, t, row->account_id, row->client_order_id);
	if (!m.in_live || m.order_id == NULL)
	{
		broker_match_free(&m);
		return DB_OK;
	}
	snprintf(ctx, sizeof(ctx), "order %lld", (long long) row->order_id);
	why = match_differs(&m, row->client_order_id, row->account_id,
						row->conid, row->side, row->quantity);
	if (why == NULL)
	{
		rc = db_record_submission(L->db, row->order_id, m.order_id, m.status,
								  m.payload, &st);
		if (rc == DB_OK)
			log_info(ctx, "broker order id %s learned from the live orders "
						  "(cOID %s)",
					 m.order_id, row->client_order_id);
	}
	else
	{
		key = xasprintf("%lld|differs", (long long) row->order_id);
		if (!seen_check(&L->status_seen, key))
		{
			seen_add(&L->status_seen, key);
			log_warning(ctx, "%s; its broker order id is not taken: "
							 "no cancel or modification can be sent",
						why);
		}
		free(key);
	}
	free(st);
	free(why);
	broker_match_free(&m);
	return rc;
}

/* Separator of the fields of an ended-order key (never in a cOID). */
#define ENDED_SEP '\x1f'

/*
 * Remember that an order of account ended (status is its pgtrade
 * status), so that later broker reports of it are still recorded.
 */
void
track_note_ended(Listener *L, const char *account, const char *coid,
				 int64_t order_id, const char *status)
{
	char *key = xasprintf("%s%c%s%c%lld%c%s", account, ENDED_SEP, coid,
						  ENDED_SEP, (long long) order_id, ENDED_SEP,
						  status);

	if (!seen_check(&L->ended, key))
		seen_add(&L->ended, key);
	free(key);
}

/*
 * Tell whether a live report of an order that ended as status says
 * anything the database lacks: a status implying another outcome (a
 * fill after Cancelled, Submitted after Filled), or, for an order that
 * ended without filling in full, a filled quantity, which counts in the
 * risk gate until its fills are recorded.  The report that ended the
 * order was recorded with it; repeating it would cost a write for every
 * ended order the broker lists, on every poll.
 */
static bool
ended_report_is_news(const char *status, const CpapiLiveOrder *lo)
{
	const char *target = status_target(lo->status);

	if (target == NULL || strcmp(target, status) != 0)
		return true;
	if (strcmp(status, "filled") == 0)
		return false;
	return lo->filled != NULL && strtod(lo->filled, NULL) != 0.0;
}

/*
 * Record what the live orders still say of the ended orders of account.
 * Returns DB_LOST or DB_OK.
 */
static DbResult
apply_ended(Listener *L, const char *account, const LiveView *v)
{
	int		 i;
	DbResult rc = DB_OK;

	for (i = 0; rc != DB_LOST && i < L->ended.keys.n; i++)
	{
		char				 *key = xstrdup(L->ended.keys.items[i]);
		char				 *coid = strchr(key, ENDED_SEP);
		char				 *id = coid ? strchr(coid + 1, ENDED_SEP) : NULL;
		char				 *status = id ? strchr(id + 1, ENDED_SEP) : NULL;
		const CpapiLiveOrder *lo;

		if (status != NULL)
		{
			/* split the key in place: account, cOID, order id, status */
			*coid++ = '\0';
			*id++ = '\0';
			*status++ = '\0';
			if (strcmp(key, account) == 0 &&
				(lo = live_view_find(v, account, coid)) != NULL &&
				ended_report_is_news(status, lo))
			{
				InFlightOrder row = {.order_id = strtoll(id, NULL, 10),
									 .client_order_id = coid,
									 .account_id = key,
									 .status = status};
				const char	 *target = status_target(lo->status);

				rc = apply_status(L, &row, lo);
				/* cancelled here, working there: cancel it there */
				if (strcmp(status, "cancelled") == 0 && target != NULL &&
					strcmp(target, "working") == 0 && lo->order_id != NULL)
					cancel_stray(L, row.order_id, key, coid, lo->order_id);
			}
		}
		free(key);
	}
	return rc;
}

/*
 * Record every execution not recorded yet: queued, and sent to the
 * database off the loop (fills.c).
 */
static void
apply_trades(Listener *L, const char *account, const CpapiTrades *t)
{
	fills_add(L, account, t);
	fills_pump(L);
}

/*
 * Send the order again with the same cOID; o is its order body as
 * pgtrade.claim_resend returned it.  Returns 0 when the outcome was
 * recorded, -1 otherwise.
 */
static int
retry_resend(Listener *L, const InFlightOrder *row, const ClaimedOrder *o,
			 bool never_sent)
{
	SubmitOutcome out;
	char		  ctx[48];

	snprintf(ctx, sizeof(ctx), "order %lld", (long long) row->order_id);
	if (never_sent)
		log_info(ctx, "claimed in a batch that stopped before it was sent, "
					  "and not at the broker; sending it now with cOID %s "
					  "(attempt %d of at most %d)",
				 row->client_order_id, o->attempts, 1 + RETRY_RESENDS_MAX);
	else
		log_warning(ctx, "not at the broker after %d live-order polls and a "
						 "week of trades; sending it again with the same "
						 "cOID %s (attempt %d of at most %d)",
					RECONCILE_POLLS, row->client_order_id, o->attempts,
					1 + RETRY_RESENDS_MAX);
	out = order_submit(L, o);
	if (out == SUBMIT_DB_LOST)
		listener_db_lost(L);
	return out == SUBMIT_RECORDED ? 0 : -1;
}

/* Describe where the broker shows a cOID: " as order N (Status)". */
static void
match_where(const BrokerMatch *m, char *buf, size_t len)
{
	if (m->in_live)
		snprintf(buf, len, " as order %s (%s)", m->order_id,
				 m->status ? m->status : "no status");
	else
		snprintf(buf, len, " in its trades only");
}

/*
 * An unknown order is for an operator to resolve; when the broker shows
 * its cOID, say so once.
 */
static void
reconcile_unknown_seen(Listener *L, const InFlightOrder *row,
					   const BrokerMatch *m, const char *ctx)
{
	char  where[128];
	char *key = xasprintf("%lld|%s", (long long) row->order_id,
						  m->order_id ? m->order_id : "trades");

	if (!seen_check(&L->status_seen, key))
	{
		seen_add(&L->status_seen, key);
		match_where(m, where, sizeof(where));
		log_warning(ctx,
					"is unknown, and the broker shows cOID %s%s; an "
					"operator must resolve it",
					row->client_order_id, where);
	}
	free(key);
}

/* Record an order unknown (its account halts) and log why. */
static DbResult
reconcile_mark_unknown(Listener *L, const InFlightOrder *row,
					   const char *why, const char *ctx)
{
	DbResult rc = db_record_unknown(L->db, row->order_id, why);

	if (rc == DB_OK)
	{
		log_error(ctx, "order is unknown and its account halts: %s", why);
		if (L->retry.active && L->retry.order.order_id == row->order_id)
			retry_clear(L);
	}
	return rc;
}

/* Remember that order id was claimed here and never sent. */
void
unsent_note(Listener *L, int64_t order_id)
{
	char id[24];

	snprintf(id, sizeof(id), "%lld", (long long) order_id);
	if (!strlist_contains(&L->unsent, id))
		strlist_add(&L->unsent, id);
}

/*
 * Return true when order id was claimed here and never sent, and forget
 * it: whatever follows settles it.
 */
static bool
unsent_take(Listener *L, int64_t order_id)
{
	StrList rest = {0};
	char	id[24];
	bool	found = false;
	int		i;

	snprintf(id, sizeof(id), "%lld", (long long) order_id);
	if (!strlist_contains(&L->unsent, id))
		return false;
	for (i = 0; i < L->unsent.n; i++)
	{
		if (strcmp(L->unsent.items[i], id) == 0)
			found = true;
		else
			strlist_add(&rest, L->unsent.items[i]);
	}
	strlist_free(&L->unsent);
	L->unsent = rest;
	return found;
}

/*
 * A submitting order the broker does not have: send it again with the
 * same cOID, or mark it unknown when pgtrade.claim_resend refuses.
 *
 * Whoever claimed it, this process or one that died, the broker's answer
 * to the same cOID keeps it from being booked twice, so the order need
 * not be in this process's retry slot: its order body comes from the
 * database.  claim_resend counts and records every resend before it
 * leaves, so the bound holds across restarts, and it refuses past the
 * cOID window, past valid_until and under a kill switch.
 */
static int
reconcile_not_found(Listener *L, const InFlightOrder *row, bool mine,
					const char *ctx)
{
	ClaimedOrder o;
	char		*refused = NULL;
	char		*why;
	int			 rc;
	bool		 never_sent = unsent_take(L, row->order_id);

	if (!mine && !never_sent && bracket_child_settles_later(L, row))
		return DB_OK; /* goes, or went, with its parent */
	rc = db_claim_resend(L->db, L->listener_id, row->order_id,
						 1 + RETRY_RESENDS_MAX, &o, &refused);
	if (rc == DB_OK && refused != NULL &&
		strncmp(refused, "cancelled: ", 11) == 0)
	{
		/* a cancel asked while it was submitting: not sent again */
		log_info(ctx, "not at the broker, and a cancel was asked while it "
					  "was being submitted (%s): cancelled, not sent again",
				 refused + 11);
		/*
		 * A request whose answer was lost may still be placed: watched as
		 * an ended order, and cancelled at the broker if it shows up
		 */
		track_note_ended(L, row->account_id, row->client_order_id,
						 row->order_id, "cancelled");
		bracket_note_children_ended(L, row->order_id, row->account_id);
		free(refused);
		return DB_OK;
	}
	if (rc == DB_OK && refused == NULL)
	{
		/* order_submit puts it in the retry slot if it is not there */
		rc = retry_resend(L, row, &o, never_sent);
		claimed_order_free(&o);
		return rc;
	}
	if (rc == DB_OK && never_sent)
	{
		/* never sent, and it may not go now: as a claim would have */
		const char *because = refused;

		if (strncmp(because, "not sent again: ", 16) == 0)
			because += 16;
		rc = db_release_unsent(L->db, L->listener_id, row->order_id,
							   because);
		if (rc == DB_OK)
			log_warning(ctx, "claimed in a batch that stopped before it "
							 "was sent, and may not be sent now (%s); "
							 "cancelled",
						because);
		else
			unsent_note(L, row->order_id); /* decide at the next pass */
		free(refused);
		return rc;
	}
	if (never_sent)
		unsent_note(L, row->order_id); /* decide at the next pass */
	if (rc != DB_OK)
		return rc;
	why = xasprintf("not found at the broker by cOID %s after %d "
					"live-order polls and a week of trades%s; %s",
					row->client_order_id, RECONCILE_POLLS,
					mine ? "" : "; sent by an earlier listener process",
					refused);
	rc = reconcile_mark_unknown(L, row, why, ctx);
	free(why);
	free(refused);
	return rc;
}

/*
 * Settle one submitting or unknown order with what the broker said.
 * Returns DB_OK, DB_FAILED, DB_LOST, or -1 when a resend left the order
 * open again (reconciliation then stops and runs again later).
 */
static int
reconcile_order(Listener *L, const InFlightOrder *row, const LiveView *v,
				const CpapiTrades *t)
{
	bool mine = L->retry.active &&
		L->retry.order.order_id == row->order_id;
	bool		found;
	char		ctx[48];
	char		where[128];
	BrokerMatch m;
	DbResult	rc = DB_OK;
	char	   *why = NULL;

	snprintf(ctx, sizeof(ctx), "order %lld", (long long) row->order_id);
	if (mine && L->retry.rejection != NULL)
	{
		rc = db_record_rejection(L->db, row->order_id, L->retry.rejection,
								 NULL);
		if (rc == DB_OK)
			retry_clear(L);
		return rc;
	}
	broker_match_fill(&m, v, t, row->account_id, row->client_order_id);
	found = m.in_live || m.in_trades;
	/*
	 * Adopted only when account, contract, side and quantity match the
	 * order pgtrade holds, whichever process sent it: a cOID the broker
	 * holds for another order means something else used our id, and the
	 * order is left for an operator.
	 */
	if (found && strcmp(row->status, "unknown") != 0)
		why = match_differs(&m, row->client_order_id, row->account_id,
							row->conid, row->side, row->quantity);
	if (found && strcmp(row->status, "unknown") == 0)
		reconcile_unknown_seen(L, row, &m, ctx);
	else if (why != NULL)
		rc = reconcile_mark_unknown(L, row, why, ctx);
	else if (found)
	{
		rc = broker_adopt(L, row->order_id, &m);
		track_owe_trades(L, row->account_id);
		match_where(&m, where, sizeof(where));
		if (rc == DB_OK)
			log_info(ctx, "found at the broker by cOID %s%s; adopted",
					 row->client_order_id, where);
		if (rc == DB_OK && mine)
			retry_clear(L);
	}
	free(why);
	broker_match_free(&m);
	if (found || strcmp(row->status, "submitting") != 0)
		return rc;
	return reconcile_not_found(L, row, mine, ctx);
}

/*
 * Reconcile the in-flight orders of one account.  Returns 0, or -1 when
 * the broker could not be asked, a resend left an order open, or the
 * database was lost.
 */
static int
reconcile_account(Listener *L, const char *account, const InFlightList *rows)
{
	bool		lookup = false;
	LiveView	v;
	CpapiTrades t;
	int			i;
	int			rc = 0;

	for (i = 0; i < rows->n; i++)
		if (strcmp(rows->rows[i].account_id, account) == 0 &&
			(strcmp(rows->rows[i].status, "submitting") == 0 ||
			 strcmp(rows->rows[i].status, "unknown") == 0))
			lookup = true;
	if (live_view_fetch(L, account, lookup ? RECONCILE_POLLS : 1, &v) != 0)
		return -1;
	if (trades_fetch(L, account, lookup ? 7 : 1, &t) != 0)
	{
		live_view_free(&v);
		return -1;
	}
	for (i = 0; rc == 0 && i < rows->n; i++)
	{
		const InFlightOrder	 *row = &rows->rows[i];
		const CpapiLiveOrder *lo;

		if (strcmp(row->account_id, account) != 0)
			continue;
		if (strcmp(row->status, "submitting") == 0 ||
			strcmp(row->status, "unknown") == 0)
			rc = reconcile_order(L, row, &v, &t);
		else if ((lo = live_view_find(&v, account,
									  row->client_order_id)) != NULL)
		{
			rc = learn_broker_id(L, row, &v, &t);
			if (rc == DB_OK)
				rc = apply_status(L, row, lo);
		}
		if (rc == DB_LOST)
			listener_db_lost(L);
		rc = rc == DB_OK ? 0 : -1;
	}
	if (rc == 0)
		apply_trades(L, account, &t);
	if (rc == 0 && lease_of(L, account) != NULL)
		track_owe_trades(L, account);
	live_view_free(&v);
	cpapi_trades_free(&t);
	return rc;
}

/*
 * Reconcile every served account with orders in flight.  Clears
 * need_reconcile on success; on failure it is tried again after a poll
 * interval.  Returns 0 or -1.
 */
int
reconcile_run(Listener *L)
{
	StrList		 served = {0};
	InFlightList rows;
	DbResult	 rc;
	int			 i;
	int			 failed = 0;

	/* a tracking read under way predates what this finds */
	L->track_epoch++;
	leases_served(L, &served);
	rc = db_orders_in_flight(L->db, &served, &rows);
	if (rc == DB_LOST)
		listener_db_lost(L);
	if (rc != DB_OK)
	{
		strlist_free(&served);
		L->next_reconcile = mono_now() + L->cfg.poll_interval;
		return -1;
	}
	if (rows.n > 0)
	{
		StrList accounts = {0};

		for (i = 0; i < rows.n; i++)
			if (!strlist_contains(&accounts, rows.rows[i].account_id))
				strlist_add(&accounts, rows.rows[i].account_id);
		log_info("reconcile", "%d %s in flight on %d %s; asking the broker",
				 rows.n, rows.n == 1 ? "order" : "orders", accounts.n,
				 accounts.n == 1 ? "account" : "accounts");
		strlist_free(&accounts);
	}
	for (i = 0; i < served.n && !failed && !listener_stop_asked(); i++)
	{
		int	 j;
		bool any = false;

		for (j = 0; j < rows.n; j++)
			any |= strcmp(rows.rows[j].account_id, served.items[i]) == 0;
		if (any && reconcile_account(L, served.items[i], &rows) != 0)
			failed = 1;
	}
	in_flight_free(&rows);
	strlist_free(&served);
	if (failed || listener_stop_asked() || !session_ready(L))
	{
		L->next_reconcile = mono_now() + L->cfg.poll_interval;
		return -1;
	}
	/* catch up on the fills of orders that ended while we were away */
	for (i = 0; i < L->n_leases; i++)
		if (L->leases[i].held)
		{
			L->leases[i].trades_days = 7;
			if (L->leases[i].trades_tail < 1)
				L->leases[i].trades_tail = 1;
		}
	L->need_reconcile = false;
	log_debug("reconcile", "done");
	return 0;
}

/*
 * Remember the in-flight orders of account that the trades answer has
 * executions of.  A fill read from the trades can end an order that the
 * live orders, read a moment earlier, still showed working; it then
 * leaves flight without apply_status seeing it end, and a report the
 * broker makes of it later (Submitted after Filled) would go unrecorded.
 */
static void
note_traded(Listener *L, const char *account, const InFlightList *rows,
			const CpapiTrades *t)
{
	int i;
	int j;

	for (i = 0; i < rows->n; i++)
	{
		const InFlightOrder *row = &rows->rows[i];

		/* submitting and unknown orders are reconcile_order's */
		if (strcmp(row->account_id, account) != 0 ||
			strcmp(row->status, "submitting") == 0 ||
			strcmp(row->status, "unknown") == 0)
			continue;
		for (j = 0; j < t->n; j++)
			if (t->trades[j].order_ref != NULL &&
				strcmp(t->trades[j].order_ref, row->client_order_id) == 0)
			{
				track_note_ended(L, account, row->client_order_id,
								 row->order_id, row->status);
				break;
			}
	}
}

/*
 * Tell whether this tracking step of lease's account reads the live
 * orders: always while an order of it is working, being cancelled or
 * unknown, and for TRADES_TAIL_POLLS steps after (an order filled by
 * the trades read a moment later still has its Filled to be read); for
 * the late reports of ended orders alone, once every
 * ENDED_POLL_SECONDS.  A session's list holds up to 1000 orders, and
 * reading it holds up the next claim by tens of milliseconds.
 */
static bool
track_needs_live(Listener *L, Lease *lease, const InFlightList *rows)
{
	int i;

	for (i = 0; i < rows->n; i++)
		if (strcmp(rows->rows[i].account_id, lease->account) == 0 &&
			strcmp(rows->rows[i].status, "submitting") != 0)
		{
			lease->live_tail = TRADES_TAIL_POLLS;
			return true;
		}
	/* an order that just left working: its final status is read too */
	if (lease->live_tail > 0)
	{
		lease->live_tail--;
		return true;
	}
	return L->ended.keys.n > 0 && mono_now() >= lease->ended_next;
}

/*
 * Log what went wrong with one tracking read; returns true when it was
 * read and parsed.
 */
static bool
track_read_ok(const char *account, const char *what, GwResult r,
			  const GwResponse *resp, int rc, const char *err)
{
	if (rc == 0)
		return true;
	if (r != GW_OK && err[0] == '\0')
		err = resp->error; /* the transport's own text */
	if (r != GW_INTERRUPTED)
		log_warning("account", "%s: could not read %s: %s, HTTP %ld%s%s",
					account, what, gateway_result_name(r), resp->status,
					err[0] ? ", " : "", err);
	return false;
}

/*
 * Apply a finished tracking read of one account: its in-flight orders
 * and fills as the broker reported them.  A read that the loop made
 * stale meanwhile (a reconciliation, a lost session or database, the
 * lease let go) counts in the gateway's budget and the session's state
 * but is dropped: the next step reads again.
 */
static void
track_apply(Listener *L, FetchJob *job)
{
	const InFlightList *rows = &job->rows;
	Lease			   *lease;
	LiveView			v;
	bool				any = false;
	int					i;
	DbResult			rc = DB_OK;

	if (job->booked && job->live_read)
		gateway_note_remote(L->gw, "GET", job->live_path, GW_PACE_ORDERS,
							job->live_r, &job->live_resp);
	if (job->booked && job->trades_read)
		gateway_note_remote(L->gw, "GET", job->trades_path, GW_PACE_TRADES,
							job->trades_r, &job->trades_resp);
	if (job->live_read &&
		!session_note_remote(L, "GET", job->live_path, job->live_r,
							 &job->live_resp))
		return;
	if (job->trades_read &&
		!session_note_remote(L, "GET", job->trades_path, job->trades_r,
							 &job->trades_resp))
		return;
	lease = lease_of(L, job->account);
	if (job->epoch != L->track_epoch || lease == NULL || !lease->held ||
		L->need_reconcile || !db_is_connected(L->db) || !session_ready(L))
	{
		log_debug("track", "%s: a read that went stale meanwhile is "
						   "dropped",
				  job->account);
		return;
	}
	if (job->want_live &&
		!track_read_ok(job->account, "live orders", job->live_r,
					   &job->live_resp, job->live_rc, job->live_err))
		return;
	if (!track_read_ok(job->account, "trades", job->trades_r,
					   &job->trades_resp, job->trades_rc, job->trades_err))
		return;
	memset(&v, 0, sizeof(v));
	if (job->want_live)
	{
		if (job->live.n_skipped > 0)
			log_warning("account", "%s: %d live orders unreadable, first: %s",
						lease->account, job->live.n_skipped,
						job->live.skip_reason);
		/* the view takes the list over */
		v.polls[0] = job->live;
		v.n = 1;
		job->live_rc = -1;
		live_view_index(&v);
		lease->ended_next = mono_now() + ENDED_POLL_SECONDS * L->cfg.time_scale;
	}
	if (job->trades.n_skipped > 0)
		log_warning("account", "%s: %d executions unreadable, first: %s",
					lease->account, job->trades.n_skipped,
					job->trades.skip_reason);
	lease->trades_days = 0;
	lease->trades_polls++;
	lease->next_idle = mono_now() + TRADES_IDLE_SECONDS * L->cfg.time_scale;
	for (i = 0; rc != DB_LOST && i < rows->n; i++)
	{
		const InFlightOrder	 *row = &rows->rows[i];
		const CpapiLiveOrder *lo;

		if (strcmp(row->account_id, lease->account) != 0)
			continue;
		any = true;
		if (strcmp(row->status, "unknown") == 0)
			rc = reconcile_order(L, row, &v, &job->trades) == DB_LOST
				? DB_LOST
				: DB_OK;
		else if (strcmp(row->status, "submitting") != 0 &&
				 (lo = live_view_find(&v, lease->account,
									  row->client_order_id)) != NULL)
		{
			rc = learn_broker_id(L, row, &v, &job->trades);
			if (rc == DB_OK)
				rc = apply_status(L, row, lo);
		}
	}
	if (rc != DB_LOST)
		rc = apply_ended(L, lease->account, &v);
	if (rc != DB_LOST)
		apply_trades(L, lease->account, &job->trades);
	if (rc != DB_LOST)
		note_traded(L, lease->account, rows, &job->trades);
	if (rc == DB_LOST)
		listener_db_lost(L);
	if (any)
		lease->trades_tail = TRADES_TAIL_POLLS;
	else if (lease->trades_tail > 0)
		lease->trades_tail--;
	if (lease->settle_polls > 0)
		lease->settle_polls--;
	live_view_free(&v);
}

/*
 * Start the tracking read of one account: on the worker when there is
 * one (booking its reads first), else on the loop's own handle, applied
 * at once.  Takes over rows.  Returns false when the gateway's budget
 * has no room for the reads right now (nothing started).
 */
static bool
track_start(Listener *L, Lease *lease, InFlightList *rows)
{
	FetchJob *job = xcalloc(1, sizeof(FetchJob));
	char	 *esc = gateway_escape(lease->account);
	int		  live_tail = lease->live_tail;
	GwPace	  paces[2] = {GW_PACE_TRADES, GW_PACE_ORDERS};
	char	  err[256];

	job->account = xstrdup(lease->account);
	job->want_live = track_needs_live(L, lease, rows);
	job->days = lease->trades_days > 0 ? lease->trades_days : 1;
	job->live_path = xasprintf("/iserver/account/orders?accountId=%s", esc);
	job->trades_path = xasprintf("/iserver/account/trades?days=%d"
								 "&accountId=%s",
								 job->days, esc);
	job->epoch = L->track_epoch;
	job->rows = *rows;
	memset(rows, 0, sizeof(*rows));
	free(esc);
	if (L->fetcher == NULL && !L->fetch_inline)
	{
		L->fetcher = fetcher_create(L->gw, err, sizeof(err));
		if (L->fetcher == NULL)
		{
			L->fetch_inline = true;
			log_warning("track",
						"tracking reads run on the main thread, holding "
						"up claims while they last: %s",
						err);
		}
	}
	if (L->fetcher == NULL)
	{
		fetch_job_run(job, L->gw);
		track_apply(L, job);
		fetch_job_free(job);
		return true;
	}
	if (!gateway_reserve(L->gw, paces, job->want_live ? 2 : 1))
	{
		lease->live_tail = live_tail;
		fetch_job_free(job);
		return false;
	}
	job->booked = true;
	fetcher_start(L->fetcher, job);
	return true;
}

/*
 * Apply the tracking read the worker has finished, if any.  The loop
 * calls this every turn, whatever its state, so that a finished read
 * never leaves the wake-up descriptor readable.
 */
void
track_collect(Listener *L)
{
	FetchJob *job;

	if (L->fetcher == NULL || (job = fetcher_take(L->fetcher)) == NULL)
		return;
	track_apply(L, job);
	fetch_job_free(job);
	/* the next account's step may follow: its pacing still applies */
	L->next_track = mono_now();
}

/*
 * One tracking step: pick the next served account that has orders in
 * flight (or trade polls owed) and update it, when the list pacing
 * allows.  Sets next_track for the loop's timer.
 */
void
track_tick(Listener *L)
{
	StrList		 served = {0};
	InFlightList rows;
	Lease		*due[64];
	int			 n_due = 0;
	int			 i;
	double		 wait;

	track_collect(L);
	if (L->fetcher != NULL && fetcher_busy(L->fetcher))
		return;
	if (mono_now() < L->next_track)
		return;
	L->next_track = mono_now() + L->cfg.poll_interval;
	leases_served(L, &served);
	if (db_orders_in_flight(L->db, &served, &rows) != DB_OK)
	{
		if (!db_is_connected(L->db))
			listener_db_lost(L);
		strlist_free(&served);
		return;
	}
	for (i = 0; i < L->n_leases && n_due < 64; i++)
	{
		Lease *l = &L->leases[i];
		bool   any = false;
		int	   j;

		for (j = 0; j < rows.n; j++)
			any |= strcmp(rows.rows[j].account_id, l->account) == 0;
		if (l->held &&
			(any || l->trades_tail > 0 || mono_now() >= l->next_idle))
			due[n_due++] = l;
	}
	wait = gateway_pace_wait(L->gw, GW_PACE_ORDERS);
	if (gateway_pace_wait(L->gw, GW_PACE_TRADES) > wait)
		wait = gateway_pace_wait(L->gw, GW_PACE_TRADES);
	if (n_due > 0 && wait > 0)
		L->next_track = mono_now() + wait;
	else if (n_due > 0)
	{
		if (track_start(L, due[L->track_cursor % n_due], &rows))
		{
			L->track_cursor++;
			L->next_track = mono_now();
		}
		else /* the budget is full for now */
			L->next_track = mono_now() + 0.1;
	}
	in_flight_free(&rows);
	strlist_free(&served);
}
