/*-------------------------------------------------------------------------
 *
 * fills.c
 *	  Record the broker's executions off the loop, in batches.
 *
 * A read of the trades can bring a thousand new executions at once (200
 * fills a second between two reads 5 s apart), and recording each costs
 * the database half a millisecond and its own commit.  Done on the loop
 * that claims, it held new orders up for seconds.  So the executions a
 * read brings are queued here, in the order the broker listed them, and
 * recorded by pgtrade.record_fills up to FILLS_BATCH_MAX at a time, one
 * transaction each, on a database session of their own: the loop sends
 * a batch, goes on claiming, and collects the answer when its socket
 * says it is in.
 *
 * Nothing here can lose or double a fill.  record_fill keeps an
 * execution once, by its id, so a batch whose answer was lost (the
 * session broke, the database restarted) is simply sent again; an
 * execution leaves the queue only when its batch committed.  A batch
 * that failed for another reason was rolled back whole: its executions
 * are then recorded one by one, so that one bad row does not hold up the
 * others, and a row refused on its own is dropped from the queue with an
 * error line (the next read of the trades brings it again).  A batch
 * that failed on a lock, a timeout or a deadlock is not split: it stays
 * queued and is sent again a second later (scaled).
 *
 * Without a session of its own (it could not be opened) the batches are
 * recorded on the main session, still one transaction each.  While
 * executions of an account wait here, the account counts as busy for
 * the position comparison, and --once does not exit.  At shutdown what
 * is queued is recorded before the listener leaves, within
 * FILLS_DRAIN_SECONDS; what is left after that is logged, and is read
 * again from the broker's week of trades after the next start.
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listener.h"
#include "log.h"

/* Most executions recorded in one transaction. */
#define FILLS_BATCH_MAX 100

/* Longest wait at shutdown for the queue to be recorded. */
#define FILLS_DRAIN_SECONDS 5.0

/* Delay before trying the fills session again after it failed to open. */
#define FILLS_SESSION_RETRY_SECONDS 60.0

/* Delay before sending again a batch that failed on a lock or timeout. */
#define FILLS_TRANSIENT_RETRY_SECONDS 1.0

struct FillQueue
{
	FillRecord *recs; /* n of them, in arrival order, owned strings */
	char	  **keys; /* their fills_seen keys: execution id, commission */
	int			n;
	int			cap;
	int			sending;	/* recs[0 .. sending) are in a batch on db */
	DbConn	   *db;			/* the fills session */
	double		next_try;	/* when to try opening it again */
	double		hold_until; /* no batch is sent before this */
	SeenCache	queued;		/* keys of recs, for dedupe */
};

/* Return a malloc'ed copy of s, or NULL. */
static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

/* Free the strings of a queued record. */
static void
record_free(FillRecord *f)
{
	free((char *) f->execution_id);
	free((char *) f->order_ref);
	free((char *) f->account_id);
	free((char *) f->conid);
	free((char *) f->side);
	free((char *) f->quantity);
	free((char *) f->price);
	free((char *) f->trade_time);
	free((char *) f->commission);
	free((char *) f->payload);
}

/* Return the queue, creating it on first use. */
static FillQueue *
queue_of(Listener *L)
{
	if (L->fillq == NULL)
	{
		L->fillq = xcalloc(1, sizeof(FillQueue));
		L->fillq->db = db_create();
	}
	return L->fillq;
}

/* Empty a seen cache, keeping its slot table. */
static void
seen_clear(SeenCache *c)
{
	strlist_free(&c->keys);
	c->indexed = 0;
	if (c->slots != NULL)
		memset(c->slots, 0, SEEN_SLOTS * sizeof(int));
}

/*
 * Queue the executions of one read of account's trades that are not
 * recorded yet nor queued already.
 */
void
fills_add(Listener *L, const char *account, const CpapiTrades *t)
{
	FillQueue *q;
	int		   i;

	if (t->n == 0)
		return;
	q = queue_of(L);
	for (i = 0; i < t->n; i++)
	{
		const CpapiTrade *tr = &t->trades[i];
		char			 *key = xasprintf("%s|%s", tr->execution_id,
							  tr->commission ? tr->commission : "");
		FillRecord		 *f;
		char			  conid[24];

		if (seen_check(&L->fills_seen, key) || seen_check(&q->queued, key))
		{
			free(key);
			continue;
		}
		if (q->n == q->cap)
		{
			q->cap = q->cap ? 2 * q->cap : 256;
			q->recs = xrealloc(q->recs, q->cap * sizeof(FillRecord));
			q->keys = xrealloc(q->keys, q->cap * sizeof(char *));
		}
		snprintf(conid, sizeof(conid), "%lld", (long long) tr->conid);
		f = &q->recs[q->n];
		f->execution_id = xstrdup(tr->execution_id);
		f->order_ref = dup_or_null(tr->order_ref);
		f->account_id = xstrdup(tr->account ? tr->account : account);
		f->conid = tr->has_conid ? xstrdup(conid) : NULL;
		f->side = dup_or_null(cpapi_side_db(tr->side));
		f->quantity = dup_or_null(tr->size);
		f->price = dup_or_null(tr->price);
		f->trade_time = dup_or_null(tr->trade_time);
		f->commission = dup_or_null(tr->commission);
		f->payload = dup_or_null(tr->payload);
		q->keys[q->n++] = key;
		seen_add(&q->queued, key);
	}
}

/*
 * Take the first n queued executions out, after their recording:
 * inserted[i] (or NULL: none known) says which were new rows.  Those
 * recorded (ok[i], or all when ok is NULL) go to fills_seen.
 */
static void
queue_take(Listener *L, int n, const bool *inserted, const bool *ok)
{
	FillQueue *q = L->fillq;
	int		   i;

	for (i = 0; i < n; i++)
	{
		const FillRecord *f = &q->recs[i];

		if (ok == NULL || ok[i])
			seen_add(&L->fills_seen, q->keys[i]);
		if (inserted != NULL && inserted[i])
			log_info("account",
					 "%s: execution %s recorded: %s %s at %s, cOID %s",
					 f->account_id, f->execution_id,
					 f->side ? f->side : "?", f->quantity ? f->quantity : "?",
					 f->price ? f->price : "?",
					 f->order_ref ? f->order_ref : "(none)");
		record_free(&q->recs[i]);
		free(q->keys[i]);
	}
	q->n -= n;
	memmove(q->recs, q->recs + n, (size_t) q->n * sizeof(FillRecord));
	memmove(q->keys, q->keys + n, (size_t) q->n * sizeof(char *));
	/*
	 * Forget the keys that left; a row dropped after a refusal must be
	 * queued again when the next read of the trades lists it.
	 */
	seen_clear(&q->queued);
	for (i = 0; i < q->n; i++)
		seen_add(&q->queued, q->keys[i]);
}

/*
 * Record the first n queued executions one by one on db, after their
 * batch was rolled back.  A row refused on its own is dropped (its
 * error is logged).  Returns DB_LOST when the session broke (the rest
 * stays queued), else DB_OK.
 */
static DbResult
queue_one_by_one(Listener *L, DbConn *db, int n)
{
	FillQueue *q = L->fillq;
	bool	  *inserted = xcalloc((size_t) n, sizeof(bool));
	bool	  *ok = xcalloc((size_t) n, sizeof(bool));
	DbResult   rc = DB_OK;
	int		   done;

	log_warning("database", "recording %d executions one by one after "
							"their batch failed",
				n);
	for (done = 0; done < n; done++)
	{
		rc = db_record_fill(db, &q->recs[done], &inserted[done]);
		if (rc == DB_LOST)
			break;
		ok[done] = rc == DB_OK;
		if (rc != DB_OK)
		{
			const FillRecord *f = &q->recs[done];

			log_error("account",
					  "%s: execution %s not recorded; tried again when the "
					  "trades list it again",
					  f->account_id, f->execution_id);
		}
		rc = DB_OK;
	}
	queue_take(L, done, inserted, ok);
	free(inserted);
	free(ok);
	return rc;
}

/*
 * Return the fills session, opening it when needed, or NULL when it
 * cannot be had now (the batches then go to the main session).
 */
static DbConn *
fills_session(Listener *L)
{
	FillQueue *q = L->fillq;

	if (db_is_connected(q->db))
		return q->db;
	if (mono_now() < q->next_try)
		return NULL;
	if (db_connect_as(q->db, L->cfg.conninfo, L->cfg.statement_timeout,
					  L->cfg.lock_timeout, false) == DB_OK)
		return q->db;
	q->next_try = mono_now() + FILLS_SESSION_RETRY_SECONDS * L->cfg.time_scale;
	log_warning("database", "could not open a session to record executions; "
							"recording them on the main one");
	return NULL;
}

/*
 * A batch of n failed on a lock, a timeout or a deadlock: recording its
 * rows one by one would wait as long for each, so the batch stays queued
 * and is sent again after FILLS_TRANSIENT_RETRY_SECONDS (scaled).
 */
static void
fills_hold(Listener *L, int n)
{
	FillQueue *q = L->fillq;
	double	   delay = FILLS_TRANSIENT_RETRY_SECONDS * L->cfg.time_scale;

	q->hold_until = mono_now() + delay;
	log_warning("database",
				"a batch of %d executions could not be recorded now; "
				"sending it again in %.1f s",
				n, delay);
}

/* Collect the answer of the batch in flight (it must be in or due). */
static void
fills_collect(Listener *L)
{
	FillQueue *q = L->fillq;
	int		   n = q->sending;
	bool	  *inserted = xcalloc((size_t) n, sizeof(bool));
	DbResult   rc;

	q->sending = 0;
	rc = db_record_fills_wait(q->db, n, inserted);
	if (rc == DB_OK)
		queue_take(L, n, inserted, NULL);
	else if (rc == DB_FAILED && db_failed_transiently(q->db))
		fills_hold(L, n);
	else if (rc == DB_FAILED)
		(void) queue_one_by_one(L, q->db, n);
	/* DB_LOST: whether it committed is not known; sent again later */
	free(inserted);
}

/*
 * Advance the recording: collect the batch in flight when its answer is
 * in, then send the next one.  It waits for the database only in two
 * cases: without a fills session (a batch is recorded on the main one at
 * once), and after a batch failed on its data (its rows are recorded one
 * by one).
 */
void
fills_pump(Listener *L)
{
	FillQueue *q = L->fillq;
	DbConn	  *db;
	bool	  *inserted;
	DbResult   rc;
	int		   n;

	if (q == NULL)
		return;
	if (q->sending > 0)
	{
		if (!db_answer_ready(q->db))
			return;
		fills_collect(L);
	}
	if (q->n == 0 || !db_is_connected(L->db) || mono_now() < q->hold_until)
		return;
	n = q->n < FILLS_BATCH_MAX ? q->n : FILLS_BATCH_MAX;
	if ((db = fills_session(L)) != NULL &&
		db_record_fills_send(db, n, q->recs) == DB_OK)
	{
		q->sending = n;
		return;
	}
	/* on the main session, waiting */
	inserted = xcalloc((size_t) n, sizeof(bool));
	rc = db_record_fills(L->db, n, q->recs, inserted);
	if (rc == DB_OK)
		queue_take(L, n, inserted, NULL);
	else if (rc == DB_FAILED && db_failed_transiently(L->db))
		fills_hold(L, n);
	else if (rc == DB_FAILED)
		rc = queue_one_by_one(L, L->db, n);
	free(inserted);
	if (rc == DB_LOST)
		listener_db_lost(L);
}

/*
 * Return true when executions wait to be recorded: of account, or of
 * any account when account is NULL.
 */
bool
fills_pending(const Listener *L, const char *account)
{
	const FillQueue *q = L->fillq;
	int				 i;

	if (q == NULL || q->n == 0)
		return false;
	if (account == NULL)
		return true;
	for (i = 0; i < q->n; i++)
		if (strcmp(q->recs[i].account_id, account) == 0)
			return true;
	return false;
}

/*
 * Return when the loop should come round to send the next batch of
 * executions (on the mono_now() clock), or -1 when there is none to send.
 */
double
fills_next_due(const Listener *L)
{
	const FillQueue *q = L->fillq;

	if (q == NULL || q->n == 0 || q->sending > 0 || !db_is_connected(L->db))
		return -1;
	return q->hold_until;
}

/* The fills session's socket while a batch is in flight, else -1. */
int
fills_socket(const Listener *L)
{
	const FillQueue *q = L->fillq;

	return q != NULL && q->sending > 0 ? db_socket(q->db) : -1;
}

/*
 * The main session was lost (or its settings changed): close the fills
 * session too.  A batch in flight stays queued and is sent again.
 */
void
fills_lost(Listener *L)
{
	FillQueue *q = L->fillq;

	if (q == NULL)
		return;
	q->sending = 0;
	db_disconnect(q->db);
	q->next_try = 0;
}

/*
 * At shutdown: record what is queued, for at most FILLS_DRAIN_SECONDS,
 * and log what is left.
 */
void
fills_finish(Listener *L)
{
	FillQueue *q = L->fillq;
	double	   deadline = mono_now() + FILLS_DRAIN_SECONDS;

	if (q == NULL)
		return;
	while ((q->n > 0 || q->sending > 0) && mono_now() < deadline &&
		   db_is_connected(L->db))
	{
		if (q->sending > 0)
			fills_collect(L); /* waits: bounded by statement_timeout */
		else if (mono_now() < q->hold_until)
			break; /* held back by a lock: left to the next start */
		else
			fills_pump(L);
	}
	if (q->n > 0)
		log_warning("database", "stopping with %d executions not recorded; "
								"the next start reads them from the "
								"broker's trades",
					q->n);
}

/* Free the queue and close its session. */
void
fills_free(Listener *L)
{
	FillQueue *q = L->fillq;
	int		   i;

	if (q == NULL)
		return;
	for (i = 0; i < q->n; i++)
	{
		record_free(&q->recs[i]);
		free(q->keys[i]);
	}
	free(q->recs);
	free(q->keys);
	strlist_free(&q->queued.keys);
	free(q->queued.slots);
	db_destroy(q->db);
	free(q);
	L->fillq = NULL;
}
