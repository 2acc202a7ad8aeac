/*-------------------------------------------------------------------------
 *
 * backtest_core.h
 *	  The bar loop of a backtest of sma_cross, over bars in memory.
 *
 * bt_sma_cross_run walks the bars once, oldest first, as pgtrade.backtest
 * does in PL/pgSQL: at each bar it fills at the open what the last close
 * decided, then, for the closes within the tested period, marks equity,
 * tracks drawdown, exposure and returns, and decides.  The decision is
 * the one sma_cross_evaluate gives over the window a live run would load
 * (the newest "window" bars), computed by running sums over the whole
 * series instead of over each window.  The two differ only by rounding,
 * so wherever rounding could change the answer (the two averages within
 * a bound of the equality band's edge) the window itself is evaluated.
 *
 * Orders and fills are the caller's: an order callback says whether the
 * order passes (the risk checks) and a fill callback prices it and gives
 * back the cash and position the equity is marked with.  That keeps
 * money out of this file: pgtrade's callbacks work in numeric, the
 * benchmark's in doubles.  This file includes no PostgreSQL header.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTRADE_BACKTEST_CORE_H
#define PGTRADE_BACKTEST_CORE_H

#include <stdbool.h>
#include <stddef.h>

typedef struct BtCallbacks
{
	void *arg;

	/*
	 * An order at close i moving to target (1 long, 0 flat): BT_PLACED
	 * when it passes and is to fill at the next open, BT_REFUSED when the
	 * risk checks refuse it, BT_NO_ORDER when the target asks for the
	 * position held (a size that rounds down to nothing, say).
	 */
	int (*order)(void *arg, size_t i, int target);

	/*
	 * The pending order fills at the open of bar i; *cash and *position
	 * are set to what equity is marked with from then on, and *ret to the
	 * return from close i - 1 to close i as the exact equities give it
	 * (NaN when the caller has none: the loop then takes it from its own
	 * doubles).
	 */
	void (*fill)(void *arg, size_t i, double *cash, double *position,
				 double *ret);

	/*
	 * The loop follows equity in doubles.  Where two equities are too
	 * close for its doubles to order, it asks the caller, which keeps
	 * them exactly; either may be NULL, and the doubles then decide.
	 *
	 * cmp_equity: the sign of the equity at close i less that at close j
	 * (j -1: the capital).  cmp_drawdown: the sign of e(i) e(pt) - e(t)
	 * e(pi), e the equity at a close (-1 the capital): below 0 when the
	 * fall from pi to i is deeper than that from pt to t.
	 */
	int (*cmp_equity)(void *arg, long i, long j);
	int (*cmp_drawdown)(void *arg, long i, long pi, long t, long pt);

	/*
	 * The return from close i - 1 to close i from the exact equities,
	 * NaN when the equity at i - 1 is not above 0 (no return counts), for
	 * an equity before whose double is too far from exact to divide by
	 * (a small difference of a large cash and a large position).  May be
	 * NULL: the doubles then decide.
	 */
	double (*exact_return)(void *arg, long i);

	/*
	 * An array the fill callback reads at the bar it fills at, as long as
	 * the closes (the opens): the loop fetches it into the cache a few
	 * bars ahead of the close it is at, so that a fill does not wait on
	 * memory for it.  May be NULL.
	 */
	const double *fill_reads;
} BtCallbacks;

#define BT_REFUSED 0
#define BT_PLACED 1
#define BT_NO_ORDER 2

typedef struct BtResult
{
	long   bars;		 /* closes within the period */
	long   in_market;	 /* of those, closes with a position */
	long   orders;		 /* orders that passed */
	long   refused;		 /* orders that did not */
	long   rechecked;	 /* closes decided over the window itself */
	long   peak_at;		 /* drawdown's peak (the first close when
								 * that peak is the capital) */
	bool   peak_capital; /* the drawdown's peak is the capital */
	long   trough_at;	 /* drawdown's trough, -1: no close */
	double max_drawdown; /* as a fraction, <= 0 */
	long   nreturns;
	double sharpe;	/* NaN when undefined */
	double sortino; /* NaN when undefined */
} BtResult;

#define BT_OK 0
#define BT_EPARAM (-1)	   /* periods, window or bounds out of range */
#define BT_ENOTFINITE (-2) /* a close, an average or an equity is not finite */

/*
 * close holds n closes, oldest first; closes first .. last (0-based,
 * inclusive) are within the tested period; bars after last are not read.
 * window is the number of bars a live run loads; capital the starting
 * equity; periods_per_year scales Sharpe and Sortino.  work must hold
 * bt_work_doubles(n, window) doubles.
 */
/* the doubles of work a loop over n bars with that window needs */
extern size_t bt_work_doubles(size_t n, int window);

extern int bt_sma_cross_run(
	const double *close, size_t n, long first, long last, int fast,
	int slow, int window, double capital, double periods_per_year,
	const BtCallbacks *cb, double *work, BtResult *res);

/*
 * The same loop with the decision the caller's: decide(decide_arg, i)
 * gives the target at close i (1 long, 0 flat, -1 none).  Before first
 * nothing is decided, so nothing fills: the loop starts there.  work
 * must hold bt_work_doubles(n, 0) doubles.
 */
typedef int (*BtDecide)(void *arg, size_t i);

extern int bt_run(const double *close, size_t n, long first, long last,
				  double capital, double periods_per_year, BtDecide decide,
				  void *decide_arg, const BtCallbacks *cb, double *work,
				  BtResult *res);

#endif /* PGTRADE_BACKTEST_CORE_H */
