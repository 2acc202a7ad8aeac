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
#include <stdint.h>
#include <string.h>

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

/* add x to the sum kept as *sum + *comp (Neumaier's compensated sum) */
static inline void
bt_neumaier_add(double *sum, double *comp, double x)
{
	double t = *sum + x;

	*comp += fabs(*sum) >= fabs(x) ? (*sum - t) + x : (x - t) + *sum;
	*sum = t;
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
	double			   low; /* the lowest equity since the peak */
	long			   peak_at;
	long			   nbars;
	long			   in_market;
	long			   nreturns;
	double			   sum;		 /* of the returns, with comp: */
	double			   comp;	 /* a compensated sum (bt_neumaier_add) */
	double			   largest;	 /* the largest return's magnitude */
	bool			   overflow; /* an equity not finite: doubles do not do */
} BtLoop;

static inline void
bt_loop_start(BtLoop *L, const BtCallbacks *cb, double *returns, long first,
			  double capital, BtResult *res)
{
	*L = (BtLoop){cb, returns, first, capital, 0.0, 0, -1, 0.0, 0.0, false,
				  false, capital, capital, -1, 0, 0, 0, 0.0, 0.0, 0.0, false};
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
		/* through locals, so that the loop's state can stay in registers */
		double cash = L->cash;
		double pos = L->pos;

		L->cb->fill(L->cb->arg, i, &cash, &pos);
		L->cash = cash;
		L->pos = pos;
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
		double r;

		if (L->filled)
			r = eq / L->prev - 1;
		else if (L->pos == 0)
			r = 0.0; /* flat: nothing moved (the formula's 0 or -0) */
		else
		{
			r = L->pos * (close - L->prev_close) / L->prev;
			if (!isfinite(r))
				r = eq / L->prev - 1;
		}
		L->returns[L->nreturns++] = r;
		bt_neumaier_add(&L->sum, &L->comp, r);
		L->largest = bt_max(L->largest, fabs(r));
	}
	L->prev = eq;
	L->prev_close = close;
	L->filled = false;
	L->have_prev = true;
	/*
	 * At a new peak the fall is 0, exactly as eq / eq - 1.  Below it, the
	 * fall is rounded from eq / peak, which does not decrease as eq
	 * grows: an equity no lower than the lowest since the peak (whose
	 * fall was compared) cannot set a deeper drawdown, and is not divided.
	 */
	if (eq >= L->peak)
	{
		L->peak = eq;
		L->peak_at = (long) i;
		L->low = eq;
		dd = 0.0;
	}
	else if (eq < L->low)
	{
		L->low = eq;
		dd = eq / L->peak - 1;
	}
	else
		dd = 0.0;
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

/* x when it is below 0, else 0, without a branch: the sign bit as a mask */
static inline double
bt_negative_part(double x)
{
	uint64_t bits;

	memcpy(&bits, &x, sizeof(bits));
	bits &= (uint64_t) 0 - (bits >> 63);
	memcpy(&x, &bits, sizeof(x));
	return x;
}

/*
 * The counts, and Sharpe and Sortino.  The returns' mean comes from their
 * compensated sum (returns that nearly cancel keep their mean), and their
 * deviations from it by a second pass, which keeps two sums a side, the
 * even returns' and the odd ones', so that consecutive additions do not
 * wait on each other.
 */
static void
bt_loop_finish(BtLoop *L, double periods_per_year, BtResult *res)
{
	const double *r = L->returns;
	long		  n = L->nreturns;
	double		  m2a = 0.0;
	double		  m2b = 0.0;
	double		  downa = 0.0;
	double		  downb = 0.0;
	double		  mean;
	long		  k;

	res->bars = L->nbars;
	res->in_market = L->in_market;
	res->nreturns = n;
	if (n == 0)
		return;
	if (L->largest > 1e150)
	{
		double sharpe;
		double sortino;

		bt_huge_ratios(r, n, &sharpe, &sortino);
		if (!isnan(sharpe))
			res->sharpe = sharpe * sqrt(periods_per_year);
		if (!isnan(sortino))
			res->sortino = sortino * sqrt(periods_per_year);
		return;
	}
	mean = (L->sum + L->comp) / (double) n;
	for (k = 0; k + 1 < n; k += 2)
	{
		double da = r[k] - mean;
		double db = r[k + 1] - mean;
		double na = bt_negative_part(r[k]);
		double nb = bt_negative_part(r[k + 1]);

		m2a += da * da;
		m2b += db * db;
		downa += na * na;
		downb += nb * nb;
	}
	if (k < n)
	{
		double da = r[k] - mean;
		double na = bt_negative_part(r[k]);

		m2a += da * da;
		downa += na * na;
	}
	m2a += m2b;
	downa += downb;
	if (n > 1 && m2a > 0)
		res->sharpe = mean / sqrt(m2a / (double) (n - 1)) *
			sqrt(periods_per_year);
	if (downa > 0)
		res->sortino = mean / sqrt(downa / (double) n) *
			sqrt(periods_per_year);
}

int
bt_sma_cross_run(const double *close, size_t n, long first, long last,
				 int fast, int slow, int window, double capital,
				 double periods_per_year, const BtCallbacks *cb,
				 double *work, BtResult *res)
{
	BtSma  sf = {(size_t) fast, 0, 0.0};
	BtSma  ss = {(size_t) slow, 0, 0.0};
	BtLoop L;
	size_t block = 2 * (size_t) slow;
	double prevmax = 0.0; /* the largest close of the block before */
	double f = 0.0;
	double s = 0.0;
	size_t end;
	size_t b0;

	bt_loop_start(&L, cb, work + 2 * (size_t) window, first, capital, res);
	if (sma_cross_check_periods(fast, slow, (char[1]){0}, 1) != 0 ||
		window < 1 || first < 0 || last < first - 1)
		return BT_EPARAM;
	end = (size_t) last + 1 < n ? (size_t) last + 1 : n;

	/*
	 * The closes go by blocks of 2 slow.  The averages at close i, running
	 * or over a window, add only closes from i - 2 slow + 1 to i, so every
	 * partial sum is at most slow times the largest of those, which the
	 * block of i and the one before it hold.  A block's largest close is
	 * taken before its closes are used: the sums stay finite when that
	 * bound does, and the block is then in cache for the loop.
	 */
	for (b0 = 0; b0 < end; b0 += block)
	{
		size_t stop = end - b0 < block ? end : b0 + block;
		double m = 0.0;
		double tol;
		size_t i;

		/* !(x <= DBL_MAX) is true for infinities and NaN alike */
		for (i = b0; i < stop; i++)
		{
			if (!(fabs(close[i]) <= DBL_MAX))
				return BT_ENOTFINITE;
			m = bt_max(m, fabs(close[i]));
		}
		if (m > DBL_MAX / (4.0 * slow))
			return BT_ENOTFINITE;

		/*
		 * A window's average differs from the running one by at most
		 * (slow + 2) rounding steps of the largest partial sum for each
		 * average, twice over for their difference: tol allows twice that
		 * again.
		 */
		tol = 8.0 * (slow + 2) * DBL_EPSILON * bt_max(m, prevmax);
		prevmax = m;

		for (i = b0; i < stop; i++)
		{
			int target;

			if (i + 1 >= (size_t) fast)
				f = bt_sma_next(&sf, close, i);
			if (i + 1 >= (size_t) slow)
				s = bt_sma_next(&ss, close, i);

			bt_loop_open(&L, i);
			if ((long) i < first)
				continue;
			bt_loop_close(&L, i, close[i], res);

			/* the decision, and its order */
			target = bt_decide(close, i, fast, slow, (size_t) window, f, s,
							   tol, work, res);
			if (target == -2)
				return BT_ENOTFINITE;
			bt_loop_decide(&L, i, target, res);
		}
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
