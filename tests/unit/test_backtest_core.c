/*-------------------------------------------------------------------------
 *
 * test_backtest_core.c
 *	  TAP unit tests of a backtest loop's figures (backtest_core.c).
 *
 * bt_run is driven with scripted targets and fills in doubles, and its
 * drawdown, Sharpe and Sortino are set against the same figures computed
 * here from their definitions: the equity at every close marked from the
 * fills, each return from two equities in long double, mean and
 * deviations by two plain passes, the drawdown divided at every close.
 * The series are long enough for the loop's sums to span many runs of
 * returns, and cover a run's edges, returns that nearly cancel and
 * returns whose squares are beyond double precision.
 *
 *-------------------------------------------------------------------------
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "backtest_core.h"
#include "tap.h"

#define PPY 252.0

/* a scripted backtest: prices, the target at each close, the fills */
typedef struct Script
{
	size_t		  n;
	const double *open;
	const double *close;
	const int	 *target;	/* at each close: 1, 0 or -1 (none) */
	double		  quantity; /* shares held when long */
	double		  cash;
	double		  pos;
	int			  pending;
} Script;

static int
script_decide(void *arg, size_t i)
{
	return ((Script *) arg)->target[i];
}

static int
script_order(void *arg, size_t i, int target)
{
	((Script *) arg)->pending = target;
	return BT_PLACED;
}

static void
script_fill(void *arg, size_t i, double *cash, double *position,
			double *ret)
{
	Script *s = arg;
	double	next = s->pending ? s->quantity : 0.0;

	s->cash -= (next - s->pos) * s->open[i];
	s->pos = next;
	*cash = s->cash;
	*position = s->pos;
}

/* the figures from their definitions */
typedef struct Expected
{
	double		max_drawdown;
	long		trough_at;
	long		nreturns;
	long double sharpe;
	long double sortino;
} Expected;

static Expected
expected_figures(const Script *in, double capital)
{
	Expected	 e = {0.0, -1, 0, NAN, NAN};
	long double *r = malloc(sizeof(long double) * in->n);
	double		 cash = capital;
	double		 pos = 0.0;
	double		 peak = capital;
	double		 prev = 0.0;
	int			 held = 0;
	int			 pending = -1;
	long double	 eql;
	long double	 prevl = 0.0L;
	double		 prev_cash = capital;
	long double	 prev_value = 0.0L;
	long double	 value;
	long double	 mean = 0.0L;
	long double	 m2 = 0.0L;
	long double	 down = 0.0L;
	size_t		 i;
	long		 k;

	for (i = 0; i < in->n; i++)
	{
		double eq;
		double dd;

		if (pending >= 0)
		{
			double next = pending ? in->quantity : 0.0;

			cash -= (next - pos) * in->open[i];
			pos = next;
			held = pending;
			pending = -1;
		}
		/*
		 * Each return is the equity's change over the equity before, the
		 * change from the cash's and the position's value's own, so that
		 * a small position's moves in a large account keep their digits.
		 */
		value = (long double) pos * in->close[i];
		eq = cash + pos * in->close[i];
		eql = (long double) cash + value;
		if (i > 0 && prev > 0)
			r[e.nreturns++] =
				(((long double) cash - prev_cash) + (value - prev_value)) / prevl;
		prev = eq;
		prevl = eql;
		prev_cash = cash;
		prev_value = value;
		if (eq > peak)
			peak = eq;
		dd = eq / peak - 1;
		if (e.trough_at < 0 || dd < e.max_drawdown)
		{
			e.max_drawdown = dd;
			e.trough_at = (long) i;
		}
		if (in->target[i] >= 0 && in->target[i] != held)
			pending = in->target[i];
	}
	for (k = 0; k < e.nreturns; k++)
		mean += r[k];
	mean /= e.nreturns;
	for (k = 0; k < e.nreturns; k++)
	{
		m2 += (r[k] - mean) * (r[k] - mean);
		down += r[k] < 0 ? r[k] * r[k] : 0.0L;
	}
	if (e.nreturns > 1 && m2 > 0)
		e.sharpe = mean / sqrtl(m2 / (e.nreturns - 1)) * sqrtl(PPY);
	if (down > 0)
		e.sortino = mean / sqrtl(down / e.nreturns) * sqrtl(PPY);
	free(r);
	return e;
}

static int
near(double got, long double want, double rel)
{
	if (isnan(got) || isnan((double) want))
		return isnan(got) && isnan((double) want);
	return fabsl((long double) got - want) <= rel * fabsl(want);
}

/*
 * Run the loop over the script and check its figures against the
 * definitions': the drawdown exactly, Sharpe and Sortino within rel.
 */
static void
check(const char *label, Script *in, double capital, double rel)
{
	double	   *work = malloc(sizeof(double) * bt_work_doubles(in->n, 0));
	BtCallbacks cb = {in, script_order, script_fill, NULL, NULL, NULL, NULL};
	BtResult	res;
	Expected	e = expected_figures(in, capital);
	int			rc;

	in->cash = capital;
	in->pos = 0.0;
	in->pending = -1;
	rc = bt_run(in->close, in->n, 0, (long) in->n - 1, capital, PPY,
				script_decide, in, &cb, work, &res);
	ok(rc == BT_OK, "%s: the loop runs", label);
	ok(res.nreturns == e.nreturns, "%s: %ld returns (want %ld)", label,
	   res.nreturns, e.nreturns);
	ok(res.max_drawdown == e.max_drawdown && res.trough_at == e.trough_at,
	   "%s: drawdown %.17g at %ld (want %.17g at %ld)", label,
	   res.max_drawdown, res.trough_at, e.max_drawdown, e.trough_at);
	ok(near(res.sharpe, e.sharpe, rel), "%s: Sharpe %.17g (want %.17Lg)",
	   label, res.sharpe, e.sharpe);
	ok(near(res.sortino, e.sortino, rel), "%s: Sortino %.17g (want %.17Lg)",
	   label, res.sortino, e.sortino);
	free(work);
}

static uint64_t rng = 88172645463325252ULL;

/* xorshift64: a uniform double in [0, 1) */
static double
uniform(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double) (rng >> 11) / 9007199254740992.0;
}

/*
 * A random walk of n bars from start (each open the last close moved a
 * little), and targets that change now and then.
 */
static void
make_walk(size_t n, double start, double *open, double *close, int *target)
{
	double price = start;
	int	   want = 0;
	size_t i;

	for (i = 0; i < n; i++)
	{
		open[i] = price * (1 + (uniform() - 0.5) * 0.004);
		price = open[i] * (1 + (uniform() - 0.5) * 0.03);
		close[i] = price;
		if (uniform() < 0.08)
			want = !want;
		target[i] = uniform() < 0.1 ? -1 : want;
	}
}

int
main(void)
{
	size_t	sizes[] = {1, 2, 511, 512, 513, 1024, 1025, 20000};
	size_t	most = 20000;
	double *open = malloc(sizeof(double) * most);
	double *close = malloc(sizeof(double) * most);
	double *hopen = malloc(sizeof(double) * most);
	double *hclose = malloc(sizeof(double) * most);
	int	   *target = malloc(sizeof(int) * most);
	char	label[80];
	size_t	k;
	size_t	i;

	make_walk(most, 100.0, open, close, target);

	/* around a run of returns' edges (512), and across many runs */
	for (k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++)
	{
		Script s = {sizes[k], open, close, target, 100.0};

		snprintf(label, sizeof(label), "%zu bars", sizes[k]);
		check(label, &s, 100000.0, 1e-12);
	}

	/*
	 * One share at about 100 in an account of 1e7: returns near 1e-7 of
	 * the price's move, up and down, which nearly cancel in the mean.
	 */
	{
		Script s = {most, open, close, target, 1.0};

		check("1 share in 1e7", &s, 1e7, 1e-9);
	}

	/*
	 * Equity from almost nothing to a great deal: a capital of 1e-290
	 * puts half in 0.5e-292 shares at about 100.  At bar "at" the price
	 * is 1e200 times what it was, the equity about 5e-91, and that
	 * close's return about 5e199, whose square is beyond double
	 * precision.  Sharpe and Sortino are still computed: with the
	 * return inside a run of 512, as the 512th and 1024th (the last of
	 * a run), and as the very last return.
	 */
	{
		size_t at[] = {700, 512, 1024, 512};
		size_t len[] = {most, most, most, 513};
		int	  *held = malloc(sizeof(int) * most);

		for (i = 0; i < most; i++)
			held[i] = 1;
		for (k = 0; k < sizeof(at) / sizeof(at[0]); k++)
		{
			Script s = {len[k], hopen, hclose, held, 0.5e-292};

			for (i = 0; i < most; i++)
			{
				hopen[i] = i < at[k] ? open[i] : open[i] * 1e200;
				hclose[i] = i < at[k] ? close[i] : close[i] * 1e200;
			}
			snprintf(label, sizeof(label),
					 "a return beyond 1e150 at close %zu of %zu", at[k],
					 len[k]);
			check(label, &s, 1e-290, 1e-12);
		}
		free(held);
	}
	free(open);
	free(close);
	free(hopen);
	free(hclose);
	free(target);
	return tap_finish();
}
