/*-------------------------------------------------------------------------
 *
 * sma_cross.h
 *	  The built-in strategy kind "sma_cross", in plain C.
 *
 * A regime strategy on closing prices: on the last bar, the fast simple
 * moving average above the slow one means "be long" (target 1), below
 * means "be flat" (target 0), and equal means no opinion (no target).
 * With fewer than slow + 1 bars there is no opinion either: the bar
 * before the last must have both averages too, to tell whether the two
 * lines crossed on the last bar.
 *
 * Two averages closer than SMA_CROSS_REL_EPS times their magnitude count
 * as equal, so that rounding in the running sums cannot invent a regime
 * on a flat series (SMA(1) of 0.1s is 0.1, SMA(3) may be 0.1 + 1 ulp).
 *
 * "crossed" is true when the last bar is above (or below) and the bar
 * before was not.  When it was already, the evaluation walks back to the
 * bar on which the current relation began, so the reason can say since
 * when it holds, or that it held over every bar given.
 *
 * Closes near the largest double can make a running sum overflow, so an
 * average comes out infinite although every close is finite.  Such an
 * average compares as nonsense, so the evaluation stops and reports
 * where it happened (SMA_CROSS_EOVERFLOW), as pgtrade.sma raises 22003
 * for the same series.
 *
 * Nothing here allocates: the caller passes a work buffer of 2 * n
 * doubles.  The SQL glue is strategy_sql.c.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTRADE_SMA_CROSS_H
#define PGTRADE_SMA_CROSS_H

#include <stddef.h>

#define SMA_CROSS_PERIOD_MIN 1
#define SMA_CROSS_PERIOD_MAX 10000
#define SMA_CROSS_REL_EPS 1e-10

/* Return codes of sma_cross_evaluate. */
#define SMA_CROSS_OK 0
#define SMA_CROSS_EPARAM (-1)	 /* periods out of range or misordered */
#define SMA_CROSS_EOVERFLOW (-2) /* an average is not finite */

/* Relation of the fast SMA to the slow SMA on one bar. */
typedef enum SmaCrossRelation
{
	SMA_CROSS_BELOW = -1,
	SMA_CROSS_EQUAL = 0,
	SMA_CROSS_ABOVE = 1
} SmaCrossRelation;

/* Outcome of one evaluation; the doubles are valid only when flagged. */
typedef struct SmaCrossResult
{
	int				 fast_period;
	int				 slow_period;
	size_t			 nbars;		 /* bars given */
	int				 have_last;	 /* fast, slow known (nbars >= slow) */
	int				 have_prev;	 /* fast_prev, slow_prev known */
	int				 have_close; /* last_close known (nbars >= 1) */
	double			 fast;		 /* SMAs on the last bar */
	double			 slow;
	double			 fast_prev; /* SMAs on the bar before the last */
	double			 slow_prev;
	double			 last_close;
	int				 has_target;	  /* 0: no opinion (JSON null) */
	int				 target;		  /* 1 long, 0 flat, when has_target */
	SmaCrossRelation relation;		  /* on the last bar, when have_prev */
	int				 crossed;		  /* relation began on the last bar */
	long			 since;			  /* index where the relation began, or -1 */
	long			 overflow_at;	  /* first non-finite average, or -1 */
	int				 overflow_period; /* its period (fast or slow) */
} SmaCrossResult;

extern int		   sma_cross_check_periods(long fast, long slow, char *detail,
										   size_t detail_len);
extern int		   sma_cross_bars_needed(int slow);
extern int		   sma_cross_evaluate(const double *close, size_t n,
									  int fast, int slow, double *work,
									  SmaCrossResult *res);
extern const char *sma_cross_signal(const SmaCrossResult *res);
extern int		   sma_cross_reason(const SmaCrossResult *res,
									const char			 *last_date,
									const char *since_date, char *buf,
									size_t len);

#endif /* PGTRADE_SMA_CROSS_H */
