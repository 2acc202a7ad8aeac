/*-------------------------------------------------------------------------
 *
 * backtest_core.c
 *	  The bar loop of a backtest of sma_cross, over bars in memory.
 *
 * See backtest_core.h.  pgtrade.backtest's PL/pgSQL loop is the
 * reference this loop follows step for step; tests/e2e/test_backtest.py
 * holds them equal on real bars.
 *
 *-------------------------------------------------------------------------
 */
#include "backtest_core.h"

#include <float.h>
#include <math.h>

#include "indicators.h"
#include "sma_cross.h"

/*
 * A running SMA(p) computed with exactly ind_sma's operations, so that
 * over a prefix of the series it gives ind_sma's values bit for bit.
 */
/*
 * The larger of two finite values.  libm's fmax, which must also order
 * NaNs, is a call at -O2; every value here is finite.
 */
static inline double
bt_max(double a, double b)
{
	return a > b ? a : b;
}

typedef struct BtSma
{
	size_t p;
	size_t left; /* values until the sum is taken afresh: ind_sma's
				  * (i + 1 - p) % p == 0, counted down */
	double sum;
} BtSma;

static inline double
bt_sma_next(BtSma *s, const double *in, size_t i)
{
	if (s->left == 0)
	{
		s->sum = ind_window_sum(in, i + 1 - s->p, s->p);
		s->left = s->p;
	}
	else
		s->sum += in[i] - in[i - s->p];
	s->left--;
	return s->sum / (double) s->p;
}

/*
 * The decision of sma_cross at close i over the newest window bars:
 * 1 long, 0 flat, -1 no opinion.  f and s are the running averages at i.
 */
static inline int
bt_decide(const double *close, size_t i, int fast, int slow, size_t window,
		  double f, double s, double tol, double *work, BtResult *res)
{
	size_t nwin = i + 1 < window ? i + 1 : window;
	double scale;
	double band;
	double d;

	if (nwin < (size_t) slow + 1)
		return -1;
	scale = bt_max(fabs(f), fabs(s));
	band = SMA_CROSS_REL_EPS * scale;
	d = fabs(f - s);

	/*
	 * Over a window that is the series' prefix the running averages are
	 * the window's own.  Otherwise they may differ from the window's by
	 * rounding, at most tol: within that of the band's edge, the window
	 * decides.
	 */
	if (i + 1 > window && fabs(d - band) <= tol)
	{
		SmaCrossResult r;

		res->rechecked++;
		if (sma_cross_evaluate(close + (i + 1 - window), window, fast, slow,
							   work, &r) != SMA_CROSS_OK)
			return -2;
		return r.has_target ? r.target : -1;
	}
	if (d <= band)
		return -1;
	return f > s ? 1 : 0;
}

/*
 * What a backtest's loop carries from bar to bar, apart from the
 * decision: the simulated account as the fill callback marks it, the
 * pending order, and the running figures.
 */
typedef struct BtLoop
{
	const BtCallbacks *cb;
	double			  *returns;
	long			   first;
	double			   cash;
	double			   pos;
	int				   held;	/* 1 long, 0 flat: what fills made it */
	int				   pending; /* the target to fill at the next open */
	double			   prev;
	double			   prev_close;
	bool			   have_prev;
	bool			   filled; /* a fill since the last close */
	double			   peak;
	long			   peak_at;
	long			   nbars;
	long			   in_market;
	long			   nreturns;
	bool			   overflow; /* an equity not finite: doubles do not do */
} BtLoop;

static inline void
bt_loop_start(BtLoop *L, const BtCallbacks *cb, double *returns, long first,
			  double capital, BtResult *res)
{
	*L = (BtLoop){cb, returns, first, capital, 0.0, 0, -1, 0.0, 0.0, false,
				  false, capital, -1, 0, 0, 0, false};
	*res = (BtResult){0};
	res->peak_at = -1;
	res->trough_at = -1;
	res->sharpe = NAN;
	res->sortino = NAN;
}

/* what the last close decided fills at the open of bar i */
static inline void
bt_loop_open(BtLoop *L, size_t i)
{
	if (L->pending >= 0)
	{
		L->cb->fill(L->cb->arg, i, &L->cash, &L->pos);
		L->held = L->pending;
		L->pending = -1;
		L->filled = true;
	}
}

/* the close of bar i: equity, returns, drawdown, exposure */
static inline void
bt_loop_close(BtLoop *L, size_t i, double close, BtResult *res)
{
	double eq = L->cash + L->pos * close;
	double dd;

	L->overflow |= !isfinite(eq);
	L->nbars++;
	if (L->have_prev && L->prev > 0)
	{
		/*
		 * Without a fill since the last close only the position's value
		 * moved: the change is taken from the two closes, whose
		 * difference is exact when they are near, instead of from two
		 * equities that cancel but for it.  Returns that nearly cancel
		 * each other (a small position in a large account) keep their
		 * digits so, for Sharpe and Sortino.
		 */
		double r = L->pos * (close - L->prev_close) / L->prev;

		if (L->filled || !isfinite(r))
			r = eq / L->prev - 1;
		L->returns[L->nreturns++] = r;
	}
	L->prev = eq;
	L->prev_close = close;
	L->filled = false;
	L->have_prev = true;
	/* at a new peak the fall is 0, exactly as eq / eq - 1 */
	if (eq >= L->peak)
	{
		L->peak = eq;
		L->peak_at = (long) i;
		dd = 0.0;
	}
	else
		dd = eq / L->peak - 1;
	if (res->trough_at < 0 || dd < res->max_drawdown)
	{
		res->max_drawdown = dd;
		res->peak_at = L->peak_at >= 0 ? L->peak_at : L->first;
		res->peak_capital = L->peak_at < 0;
		res->trough_at = (long) i;
	}
	L->in_market += L->pos != 0;
}

/* the decision at close i (-1: none), and its order */
static inline void
bt_loop_decide(BtLoop *L, size_t i, int target, BtResult *res)
{
	if (target >= 0 && target != L->held)
	{
		int placed = L->cb->order(L->cb->arg, i, target);

		if (placed == BT_PLACED)
		{
			res->orders++;
			L->pending = target;
		}
		else if (placed == BT_REFUSED)
			res->refused++;
	}
}

/*
 * Add x to a sum of squares kept as scale^2 * ssq, scale the largest
 * magnitude so far (as LAPACK's dnrm2): neither overflows nor loses the
 * small terms however far apart the magnitudes are.
 */
static void
bt_ssq_add(double x, double *scale, double *ssq)
{
	double a = fabs(x);

	if (a == 0.0)
		return;
	if (a > *scale)
	{
		*ssq = 1.0 + *ssq * (*scale / a) * (*scale / a);
		*scale = a;
	}
	else
		*ssq += (a / *scale) * (a / *scale);
}

/*
 * Sharpe and Sortino (before annualizing) of returns some of which are
 * beyond 1e150 (equity from almost nothing to a great deal), whose
 * squares would overflow: the mean of the returns scaled by the largest,
 * and each sum of squares kept scaled (bt_ssq_add).  NaN where the plain
 * formula has none.
 */
static void
bt_huge_ratios(const double *r, long n, double *sharpe, double *sortino)
{
	double largest = 0.0;
	double mean = 0.0;
	double dev_scale = 0.0;
	double dev_ssq = 0.0;
	double down_scale = 0.0;
	double down_ssq = 0.0;
	long   k;

	for (k = 0; k < n; k++)
		if (fabs(r[k]) > largest)
			largest = fabs(r[k]);
	for (k = 0; k < n; k++)
		mean += r[k] / largest;
	mean = mean / (double) n * largest;
	for (k = 0; k < n; k++)
	{
		bt_ssq_add(r[k] - mean, &dev_scale, &dev_ssq);
		if (r[k] < 0)
			bt_ssq_add(r[k], &down_scale, &down_ssq);
	}
	*sharpe = n > 1 && dev_ssq > 0
		? mean / dev_scale / sqrt(dev_ssq / (double) (n - 1))
		: NAN;
	*sortino = down_ssq > 0
		? mean / down_scale / sqrt(down_ssq / (double) n)
		: NAN;
}

/* the counts, and Sharpe and Sortino by two passes over the returns */
static void
bt_loop_finish(BtLoop *L, double periods_per_year, BtResult *res)
{
	res->bars = L->nbars;
	res->in_market = L->in_market;
	res->nreturns = L->nreturns;
	if (res->nreturns > 0)
	{
		double mean = 0.0;
		double m2 = 0.0;
		double down = 0.0;
		bool   huge = false;
		long   k;

		double comp = 0.0;

		/* Neumaier's sum: returns that nearly cancel keep their mean */
		for (k = 0; k < res->nreturns; k++)
		{
			double r = L->returns[k];
			double t = mean + r;

			comp += fabs(mean) >= fabs(r) ? (mean - t) + r : (r - t) + mean;
			mean = t;
			huge |= fabs(r) > 1e150;
		}
		mean += comp;
		if (huge)
		{
			double sharpe;
			double sortino;

			bt_huge_ratios(L->returns, res->nreturns, &sharpe, &sortino);
			if (!isnan(sharpe))
				res->sharpe = sharpe * sqrt(periods_per_year);
			if (!isnan(sortino))
				res->sortino = sortino * sqrt(periods_per_year);
			return;
		}
		mean /= (double) res->nreturns;
		for (k = 0; k < res->nreturns; k++)
		{
			double r = L->returns[k];

			m2 += (r - mean) * (r - mean);
			down += r < 0 ? r * r : 0.0;
		}
		if (res->nreturns > 1 && m2 > 0)
			res->sharpe = mean / sqrt(m2 / (double) (res->nreturns - 1)) *
				sqrt(periods_per_year);
		if (down > 0)
			res->sortino = mean / sqrt(down / (double) res->nreturns) *
				sqrt(periods_per_year);
	}
}

int
bt_sma_cross_run(const double *close, size_t n, long first, long last,
				 int fast, int slow, int window, double capital,
				 double periods_per_year, const BtCallbacks *cb,
				 double *work, BtResult *res)
{
	BtSma	sf = {(size_t) fast, 0, 0.0};
	BtSma	ss = {(size_t) slow, 0, 0.0};
	BtLoop	L;
	size_t	b = 0;		  /* the block of close i */
	size_t	in_block = 0; /* close i's place in it */
	double *returns = work + 2 * (size_t) window;
	double *blockmax;
	size_t	block = 2 * (size_t) slow;
	double	tol;
	double	f = 0.0;
	double	s = 0.0;
	size_t	end;
	size_t	i;

	bt_loop_start(&L, cb, returns, first, capital, res);
	if (sma_cross_check_periods(fast, slow, (char[1]){0}, 1) != 0 ||
		window < 1 || first < 0 || last < first - 1)
		return BT_EPARAM;
	end = (size_t) last + 1 < n ? (size_t) last + 1 : n;

	/*
	 * The averages at close i, running or over a window, add only closes
	 * from i - 2 slow + 1 to i, so every partial sum is at most slow times
	 * the largest of those: blockmax keeps the largest close of each
	 * block of 2 slow closes, and a block and the one before it cover
	 * them.  The sums stay finite when that bound does.
	 */
	blockmax = returns + n;
	for (i = 0; i < end; i++)
	{
		if (!isfinite(close[i]))
			return BT_ENOTFINITE;
		if (i % block == 0)
			blockmax[i / block] = 0.0;
		blockmax[i / block] = bt_max(blockmax[i / block], fabs(close[i]));
	}
	for (i = 0; i * block < end; i++)
		if (blockmax[i] > DBL_MAX / (4.0 * slow))
			return BT_ENOTFINITE;

	for (i = 0; i < end; i++)
	{
		int target;

		if (in_block == block)
		{
			b++;
			in_block = 0;
		}
		in_block++;
		if (i + 1 >= (size_t) fast)
			f = bt_sma_next(&sf, close, i);
		if (i + 1 >= (size_t) slow)
			s = bt_sma_next(&ss, close, i);

		bt_loop_open(&L, i);
		if ((long) i < first)
			continue;
		bt_loop_close(&L, i, close[i], res);

		/*
		 * The decision, and its order.  A window's average differs from
		 * the running one by at most (slow + 2) rounding steps of the
		 * largest partial sum for each average, twice over for their
		 * difference: tol allows twice that again.
		 */
		tol = 8.0 * (slow + 2) * DBL_EPSILON *
			bt_max(blockmax[b], b > 0 ? blockmax[b - 1] : 0.0);
		target = bt_decide(close, i, fast, slow, (size_t) window, f, s, tol,
						   work, res);
		if (target == -2)
			return BT_ENOTFINITE;
		bt_loop_decide(&L, i, target, res);
	}
	if (L.overflow)
		return BT_ENOTFINITE;
	bt_loop_finish(&L, periods_per_year, res);
	return BT_OK;
}

int
bt_run(const double *close, size_t n, long first, long last,
	   double capital, double periods_per_year, BtDecide decide,
	   void *decide_arg, const BtCallbacks *cb, double *work, BtResult *res)
{
	BtLoop L;
	size_t end;
	size_t i;

	bt_loop_start(&L, cb, work, first, capital, res);
	if (first < 0 || last < first - 1)
		return BT_EPARAM;
	end = (size_t) last + 1 < n ? (size_t) last + 1 : n;
	for (i = (size_t) first; i < end; i++)
	{
		bt_loop_open(&L, i);
		bt_loop_close(&L, i, close[i], res);
		bt_loop_decide(&L, i, decide(decide_arg, i), res);
	}
	if (L.overflow)
		return BT_ENOTFINITE;
	bt_loop_finish(&L, periods_per_year, res);
	return BT_OK;
}
