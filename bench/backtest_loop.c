/*-------------------------------------------------------------------------
 *
 * backtest_loop.c
 *	  The backtest engine over bars already in memory: bars a second.
 *
 * It runs bt_sma_cross_run (extension/src/backtest_core.c, the loop that
 * pgtrade.backtest calls for sma_cross) over a seeded random walk of n
 * bars held in C arrays, five times, and prints the median in
 * nanoseconds a bar and bars a second.  Orders always pass and fill in
 * doubles at the next open here: what is timed is the engine's own work
 * per bar (two running averages, the decision, equity, drawdown and
 * returns), which pgtrade's numeric fills and risk checks add to only at
 * each trade.  bench/run.sh times the same backtests end to end from SQL.
 *
 *	  backtest_loop [n [fast slow]]		(default 10000000 10 30)
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "backtest_core.h"

#define RUNS 5

typedef struct LoopFills
{
	const double *open;
	double		  cash;
	double		  pos;
	int			  pending;
	long		  fills;
} LoopFills;

static int
loop_order(void *arg, size_t i, int target)
{
	LoopFills *lf = arg;

	(void) i;
	lf->pending = target;
	return BT_PLACED;
}

static void
loop_fill(void *arg, size_t i, double *cash, double *position,
		  double *ret)
{
	LoopFills *lf = arg;
	double	   next = lf->pending ? 100.0 : 0.0;

	lf->cash -= (next - lf->pos) * lf->open[i];
	lf->pos = next;
	lf->fills++;
	*cash = lf->cash;
	*position = lf->pos;
	(void) ret; /* no exact equities here: the engine's doubles decide */
}

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *) a;
	double y = *(const double *) b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	size_t	  n = argc > 1 ? strtoul(argv[1], NULL, 10) : 10000000;
	int		  fast = argc > 3 ? atoi(argv[2]) : 10;
	int		  slow = argc > 3 ? atoi(argv[3]) : 30;
	int		  window = 2 * (slow + 1);
	double	 *open = malloc(sizeof(double) * n);
	double	 *close = malloc(sizeof(double) * n);
	double	 *work = malloc(sizeof(double) * bt_work_doubles(n, window));
	double	  t[RUNS];
	uint64_t  seed = 42;
	double	  price = 100.0;
	BtResult  res;
	LoopFills lf;
	size_t	  i;
	int		  r;
	int		  rc;

	if (!open || !close || !work || n < 2)
	{
		fprintf(stderr, "backtest_loop: cannot allocate %zu bars\n", n);
		return 1;
	}
	/* a seeded random walk: each bar opens at the last close */
	for (i = 0; i < n; i++)
	{
		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		open[i] = price;
		price *= 1.0 + ((double) (seed >> 11) / 9007199254740992.0 - 0.5) * 0.02;
		close[i] = price;
	}
	for (r = 0; r < RUNS; r++)
	{
		BtCallbacks cb = {&lf, loop_order, loop_fill, NULL, NULL, NULL, open};
		double		t0;

		lf = (LoopFills){open, 1e9, 0.0, 0, 0};
		t0 = now_ns();
		rc = bt_sma_cross_run(close, n, 0, (long) n - 1, fast, slow, window,
							  1e9, 252, &cb, work, &res);
		if (rc != BT_OK)
		{
			fprintf(stderr, "backtest_loop: the engine refused the bars\n");
			return 1;
		}
		t[r] = now_ns() - t0;
	}
	qsort(t, RUNS, sizeof(double), cmp_double);
	printf("sma_cross %d/%d over %zu bars: %.2f ns a bar, %.1f million bars "
		   "a second (median of %d; %ld fills, %ld closes decided over "
		   "their window)\n",
		   fast, slow, n, t[RUNS / 2] / (double) n,
		   (double) n / t[RUNS / 2] * 1e3, RUNS, lf.fills, res.rechecked);
	free(open);
	free(close);
	free(work);
	return 0;
}
