/*-------------------------------------------------------------------------
 *
 * listener.h
 *	  State of one listener process and the steps of its loop.
 *
 * One process serves one gateway.  One thread does all the work: the
 * loop in loop.c waits on the database socket and a timer, and runs the
 * steps below one after the other, so nothing ever interleaves with an
 * order submission and its prompt chain.  A second thread only reads
 * and parses the tracking lists (fetch.h); what they say is applied by
 * the loop.
 *
 * Terms:
 *	lease		a session advisory lock per account; only leased accounts
 *				are served, so two listeners never serve one account
 *	in flight	an order the broker may be working: submitting, working,
 *				cancel_requested, unknown (pgtrade.orders_in_flight)
 *	reconcile	looking in-flight orders up at the broker before claiming
 *				anything new: at start, after a reconnect, after an
 *				answer that left an order's fate open
 *	retry slot	the one order, claimed by this process, whose placement
 *				had no clear answer; it may be sent again with the same
 *				cOID once the broker was asked and did not have it
 *
 * Signals only set the flags declared here.
 *
 *-------------------------------------------------------------------------
 */
#ifndef LISTENER_H
#define LISTENER_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "cpapi.h"
#include "db.h"
#include "fetch.h"
#include "gateway.h"
#include "util.h"

/* Gateway timers before scaling, in seconds. */
#define SESSION_TICKLE_SECONDS 60.0
#define SESSION_STATUS_POLL_SECONDS 1.0
#define SESSION_STATUS_POLLS 10
#define SESSION_RETRY_MIN 1.0
#define SESSION_RETRY_MAX 60.0

/*
 * Answers longer than this are not read as error envelopes (those are a
 * line of text): parsing every live-orders list twice more would cost
 * more than the list itself.
 */
#define SESSION_ERROR_BODY_MAX 65536

/* Database reconnection back-off, seconds (not scaled). */
#define DB_RETRY_MIN 1.0
#define DB_RETRY_MAX 30.0

/* Prompt rounds answered for one order before giving up. */
#define ORDER_PROMPT_ROUNDS_MAX 10

/*
 * Orders claimed in one transaction at most.  The claims, the POSTs one
 * after the other, then the acceptances in one transaction: two commits
 * a batch instead of two an order.  A batch is as large as the queue,
 * up to this, so an order that arrives alone goes alone.
 */
#define CLAIM_BATCH_MAX 32

/*
 * A batch stops being sent after this many seconds (a slow gateway,
 * prompts, contract lookups): what is left goes through the
 * reconciliation, which re-checks kill switches and valid_until.
 */
#define CLAIM_BATCH_SECONDS 1.0

/*
 * With nothing of an account working, its live orders are read for the
 * late reports of ended orders at most this often (scaled), seconds.
 */
#define ENDED_POLL_SECONDS 30.0

/* Live-order polls before concluding an order is not at the broker. */
#define RECONCILE_POLLS 2

/*
 * Resends of one order with its cOID, counted in the database across
 * restarts; pgtrade.claim_resend also stops them before the broker's
 * 24-hour cOID window closes.
 */
#define RETRY_RESENDS_MAX 3

/* A cancel the broker has not ended is sent again after this, scaled. */
#define CANCEL_RESEND_SECONDS 30.0

/* Trade polls kept up after an account's last order left flight. */
#define TRADES_TAIL_POLLS 2

/* A difference is compared again after this, scaled, to confirm it. */
#define POSITIONS_CONFIRM_SECONDS 10.0
/* An idle account's trades are read this often, scaled (late fills). */
#define TRADES_IDLE_SECONDS 60.0

/* Bound of the in-memory caches of reported fills and statuses. */
#define CACHE_MAX 8192
#define SEEN_SLOTS (4 * CACHE_MAX) /* a power of two */

extern volatile sig_atomic_t got_stop; /* SIGTERM or SIGINT, 0: none */
extern volatile sig_atomic_t got_reload;

typedef enum SessionState
{
	SESSION_STARTING,  /* not established yet */
	SESSION_READY,	   /* authenticated, accounts queried */
	SESSION_COMPETING, /* another platform holds the session */
	SESSION_DOWN	   /* lost; re-establishing with back-off */
} SessionState;

typedef struct Lease
{
	char	*account;
	bool	 held;			 /* our advisory lock is taken */
	bool	 standby;		 /* found held by another listener, logged */
	int		 trades_tail;	 /* trade polls still owed */
	int		 trades_days;	 /* days of the next trade poll, 0: one */
	unsigned trades_polls;	 /* trade polls read so far */
	unsigned once_mark;		 /* --once: trades_polls when settled */
	bool	 pos_verified;	 /* compared since taken or session back */
	double	 pos_next;		 /* next position comparison (monotonic) */
	double	 pos_held_since; /* unverified and postponed since, or 0 */
	bool	 pos_held_told;	 /* that wait has been warned of */
	double	 next_idle;		 /* next trade poll while nothing is owed */
	double	 ended_next;	 /* next live-orders read for ended orders */
	int		 live_tail;		 /* live-orders reads owed after working */
	int		 settle_polls;	 /* tracking reads owed since a change */
} Lease;

typedef struct RetrySlot
{
	bool		 active;
	ClaimedOrder order;
	char		*rejection; /* a verdict not yet recorded, or NULL */
} RetrySlot;

/*
 * A bounded set of strings (fills and statuses already sent, orders seen
 * ending).  keys keeps them in the order added; slots is an open-
 * addressing index over keys (index + 1, 0: empty), built on first use,
 * so a lookup costs one hash, not a walk of up to CACHE_MAX strings.
 */
typedef struct SeenCache
{
	StrList keys;
	int	   *slots;	 /* SEEN_SLOTS entries, or NULL */
	int		indexed; /* keys[0 .. indexed) are in slots */
} SeenCache;

typedef struct BarsState   BarsState;	/* bars.c */
typedef struct AcceptBatch AcceptBatch; /* order.c */
typedef struct FillQueue   FillQueue;	/* fills.c */

typedef struct Listener
{
	Config	 cfg;
	DbConn	*db;
	Gateway *gw;
	int64_t	 listener_id;
	bool	 registered;

	SessionState session;
	StrList		 gw_accounts; /* accounts the gateway lists */
	Lease		*leases;	  /* accounts to serve */
	int			 n_leases;

	double next_db_try;
	double db_delay;
	double next_establish;
	double establish_delay;
	double next_tickle;
	double next_poll;
	double next_heartbeat;
	double next_track;
	double start_time;

	bool	 need_reconcile;
	double	 next_reconcile;
	bool	 notified;		 /* a notification: claim */
	bool	 notified_other; /* one not of a new order: cancels too */
	bool	 ever_ready;	 /* the session was ready at least once */
	int		 track_cursor;
	Fetcher *fetcher;	   /* tracking reads off the loop, or NULL */
	bool	 fetch_inline; /* no worker could be had: read on the loop */
	unsigned track_epoch;  /* bumped when tracking reads go stale */
	char	 last_error[512];

	RetrySlot	 retry;
	AcceptBatch *accepts;	/* acceptances not recorded yet, or NULL */
	DbConn		*rec;		/* second session: records a batch meanwhile */
	AcceptBatch *recording; /* the batch it is recording, or NULL */
	StrList		 unsent;	/* ids of orders claimed here, never sent */
	SeenCache	 fills_seen;
	FillQueue	*fillq; /* executions waiting to be recorded, or NULL */
	SeenCache	 status_seen;
	SeenCache	 ended; /* orders seen ending: account, cOID, id, status */

	/* --once */
	double	once_deadline;
	bool	once_claims_done;
	StrList once_submitted; /* order ids as text */
	StrList once_accounts;	/* their accounts */
	bool	once_settled;	/* all of them have left flight */

	BarsState *bars;	   /* market-data refresh (bars.c) */
	SeenCache  paper_seen; /* paper mode: warnings already logged */
} Listener;

/* session.c */
extern int		   session_establish(Listener *L);
extern void		   session_tickle(Listener *L);
extern void		   session_lost(Listener *L, const char *why);
extern bool		   session_ready(const Listener *L);
extern const char *session_state_name(const Listener *L);
extern GwResult	   session_call(Listener *L, const char *method,
								const char *path, const char *body,
								GwPace pace, GwResponse *resp);
extern void		   session_note_answer(Listener *L, const char *what,
									   GwResult r, const GwResponse *resp);
extern bool		   session_note_remote(
		   Listener *L, const char *method, const char *path, GwResult r,
		   const GwResponse *resp);
extern void session_send_suppress(Listener *L);
extern void leases_update(Listener *L);
extern void leases_take(Listener *L);
extern void leases_served(const Listener *L, StrList *out);
extern void listener_set_error(Listener *L, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* order.c */
typedef enum SubmitOutcome
{
	SUBMIT_RECORDED,  /* the outcome is in the database */
	SUBMIT_UNCERTAIN, /* left submitting: reconcile first */
	SUBMIT_DB_LOST	  /* outcome known but not recorded */
} SubmitOutcome;

extern SubmitOutcome order_submit(Listener *L, const ClaimedOrder *o);
extern void			 claim_and_submit(Listener *L);
extern void			 accepts_settle(Listener *L);
extern void			 unsent_note(Listener *L, int64_t order_id);
extern bool			 prompt_allowed(const Listener		  *L,
									const CpapiOrderReply *r);
extern char			*prompt_text(const CpapiOrderReply *r);

/* fills.c */
extern void	  fills_add(Listener *L, const char *account,
						const CpapiTrades *t);
extern void	  fills_pump(Listener *L);
extern bool	  fills_pending(const Listener *L, const char *account);
extern double fills_next_due(const Listener *L);
extern int	  fills_socket(const Listener *L);
extern void	  fills_lost(Listener *L);
extern void	  fills_finish(Listener *L);
extern void	  fills_free(Listener *L);

/* modify.c */
extern void modify_send_due(Listener *L);

/* bracket.c */
extern int		bracket_build_body(Listener *L, const ClaimedOrder *o,
								   const CpapiTicket *t, char **body,
								   char *err, size_t errlen);
extern DbResult bracket_record_children(Listener *L, const ClaimedOrder *o,
										const char *answer_text);
extern bool		bracket_child_settles_later(Listener			*L,
											const InFlightOrder *row);
extern void		bracket_note_children_ended(
		Listener *L, int64_t parent_id, const char *account);

/* cancel.c */
extern void cancel_send_due(Listener *L);
extern void cancel_stray(Listener *L, int64_t order_id, const char *account,
						 const char *coid, const char *broker_order_id);

/* track.c */

/* What the broker knows of one cOID, copied out of its answers. */
typedef struct BrokerMatch
{
	bool	  in_live;	 /* found among the live orders */
	bool	  in_trades; /* found among the trades */
	char	 *order_id;	 /* broker order id (live orders only) */
	char	 *status;
	char	 *account;
	int64_t	  conid;
	CpapiSide side;
	char	 *total_size;
	char	 *filled;
	char	 *avg_price;
	char	 *payload; /* the live order or first trade, as JSON */
} BrokerMatch;

extern int		broker_find(Listener *L, const char *account, const char *coid,
							BrokerMatch *m);
extern void		broker_match_free(BrokerMatch *m);
extern char	   *broker_match_differs(const ClaimedOrder *o,
									 const BrokerMatch	*m);
extern DbResult broker_adopt(Listener *L, int64_t order_id,
							 const BrokerMatch *m);
extern int		reconcile_run(Listener *L);
extern void		track_tick(Listener *L);
extern void		track_collect(Listener *L);
extern bool		seen_check(SeenCache *c, const char *key);
extern void		seen_add(SeenCache *c, const char *key);
extern void		listener_db_lost(Listener *L);
extern void		retry_clear(Listener *L);
extern void		track_owe_trades(Listener *L, const char *account);
extern void		track_note_ended(Listener *L, const char *account,
								 const char *coid, int64_t order_id,
								 const char *status);

/* positions.c */
extern void	  positions_reset(Listener *L, Lease *l);
extern void	  positions_reset_all(Listener *L);
extern bool	  positions_pending(const Listener *L);
extern double positions_next_due(const Listener *L);
extern void	  positions_claimable(Listener *L, StrList *out);
extern void	  positions_tick(Listener *L);

/* bars.c */
extern void	  bars_tick(Listener *L);
extern double bars_next_due(const Listener *L);
extern void	  bars_free(Listener *L);

/* paper.c */
extern void	  paper_start(Listener *L);
extern void	  paper_work(Listener *L, double now);
extern double paper_next_due(const Listener *L);

/* loop.c */
extern bool listener_stop_asked(void);
extern int	listener_run(Listener *L);

#endif /* LISTENER_H */
