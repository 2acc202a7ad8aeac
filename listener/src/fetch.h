/*-------------------------------------------------------------------------
 *
 * fetch.h
 *	  Reads of an account's live orders and trades on a worker thread.
 *
 * The tracking step reads two lists from the gateway: the live orders
 * (up to 1000 of them, most of a megabyte) and the trades.  Read on the
 * loop's thread they would hold up every claim behind them for tens of
 * milliseconds; the fetcher reads and parses them on a thread of its
 * own, over its own handle, while the loop goes on claiming and
 * sending.  The loop books each read in the gateway's budget before it
 * hands the job over, and writes to the database only what it takes
 * back: the worker touches nothing of the listener's state.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FETCH_H
#define FETCH_H

#include <stdbool.h>

#include "cpapi.h"
#include "db.h"
#include "gateway.h"

/* One tracking read: what to read, and (once done) what came back. */
typedef struct FetchJob
{
	/* set by the loop */
	char		*account;
	bool		 want_live; /* read the live orders, then the trades */
	int			 days;		/* of trades */
	char		*live_path; /* gateway paths of both reads */
	char		*trades_path;
	InFlightList rows;	 /* the orders in flight when it started */
	unsigned	 epoch;	 /* the loop's tracking epoch when it started */
	bool		 booked; /* the reads were booked with gateway_reserve */
	/* set by whoever ran it */
	bool			live_read;	 /* the live orders were asked for */
	bool			trades_read; /* the trades were asked for */
	GwResult		live_r;
	GwResult		trades_r;
	GwResponse		live_resp;
	GwResponse		trades_resp;
	int				live_rc; /* 0: parsed */
	int				trades_rc;
	char			live_err[CPAPI_ERR_LEN];
	char			trades_err[CPAPI_ERR_LEN];
	CpapiLiveOrders live;
	CpapiTrades		trades;
} FetchJob;

typedef struct Fetcher Fetcher;

extern Fetcher	*fetcher_create(const Gateway *gw, char *err, size_t errlen);
extern void		 fetcher_destroy(Fetcher *f);
extern bool		 fetcher_busy(Fetcher *f);
extern void		 fetcher_start(Fetcher *f, FetchJob *job);
extern FetchJob *fetcher_take(Fetcher *f);
extern int		 fetcher_fd(const Fetcher *f);
extern void		 fetch_job_run(FetchJob *job, Gateway *gw);
extern void		 fetch_job_free(FetchJob *job);

#endif /* FETCH_H */
