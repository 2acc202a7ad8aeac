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
#include <limits.h>
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
 * The loop's steps are inlined into each loop, whatever the compiler
 * makes of their size: a call per bar costs more than they do.
 */
#if defined(__GNUC__)
#define BT_INLINE inline __attribute__((always_inline))
#else
#define BT_INLINE inline
#endif

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
 * x when it is below 0, else 0, for |x| below DBL_MAX / 2: x - |x| is 2x
 * or 0 exactly, and halving it is exact.
 */
static inline double
bt_below_zero(double x)
{
	return (x - fabs(x)) * 0.5;
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
 * Sharpe needs the returns' squared deviations from their mean, which is
 * known only at the end.  Rather than keep every return to read again
 * then (from memory: a million of them do not stay in cache), each run
 * of BT_CHUNK returns is summed up while it is in cache, around its own
 * centre: for any centre c, the deviations from the mean m add up as
 *
 *	 sum (r - m)^2 = sum (r - c)^2 + 2 (c - m) sum (r - c) + k (c - m)^2
 *
 * over a run's k returns.  With c the run's mean (as rounded), the middle
 * term is rounding's and every other is a sum of squares: nothing cancels.
 *
 * Returns beyond 1e150 (equity from almost nothing to a great deal) have
 * squares beyond double precision, and those of a run whose returns are
 * all below 1e-100 (a small position in a huge account) lose digits to
 * underflow or vanish: such a run keeps its sums of the returns times
 * 2^-scale, its largest return's binary exponent, which rounds as the
 * unscaled values do, and squares under 4.
 */
#define BT_CHUNK 512

/* how many bars ahead the loop fetches the fills' reads (BtCallbacks) */
#define BT_AHEAD 16
#define BT_HUGE 1e150
#define BT_TINY 1e-100

typedef struct BtChunk
{
	double centre; /* the run's mean */
	double dev2;   /* sum of (r - centre)^2 */
	double dev;	   /* sum of (r - centre) */
	double down;   /* sum of r^2 over r < 0 */
	long   count;
	long   scale;	   /* centre, dev2 and dev are of r * 2^-scale */
	long   down_scale; /* down is of r * 2^-down_scale */
} BtChunk;

/*
 * What a backtest's loop carries from bar to bar, apart from the
 * decision: the simulated account as the fill callback marks it, the
 * pending order, and the running figures.
 */
typedef struct BtLoop
{
	const BtCallbacks *cb;
	double			  *run;	   /* the returns since the last BtChunk */
	BtChunk			  *chunks; /* one for every BT_CHUNK returns */
	long			   first;
	double			   cash;
	double			   pos;
	int				   held;	/* 1 long, 0 flat: what fills made it */
	int				   pending; /* the target to fill at the next open */
	double			   prev;
	double			   prev_err; /* its bound (bt_equity_error) */
	double			   prev_close;
	bool			   have_prev;
	bool			   filled;	 /* a fill since the last close */
	double			   fill_ret; /* its exact return, or NaN */
	long			   nfills;
	long			   nbars;
	long			   in_market;

	/*
	 * The drawdown.  Each equity comes with a bound on how far its double
	 * may be from the exact value (bt_equity_error), and with the fills
	 * and the close it was marked with: between two closes without a
	 * fill only the close moved the equity.
	 */
	double peak;
	double peak_err;
	long   peak_at; /* -1: the capital */
	long   peak_fills;
	double peak_close;
	double low; /* the lowest equity since the peak whose fall was compared */
	double low_err;
	long   dd_peak_at; /* the deepest fall's peak (-1: the capital) */
	long   dd_fills;
	double dd_close;
	double dd_err; /* bound on res->max_drawdown's error */

	long   nreturns;
	long   nrun;		/* returns in run */
	long   nchunks;		/* runs summed up */
	double sum;			/* of the returns, with comp: */
	double comp;		/* a compensated sum (bt_neumaier_add) */
	double largest;		/* the largest return's magnitude, */
	double run_largest; /* and the run's */
	bool   scaled;		/* a run's sums are scaled (BtChunk) */
	bool   overflow;	/* an equity not finite: doubles do not do */
} BtLoop;

/*
 * Sum up the returns of the run into the next BtChunk.  Each pass keeps
 * two sums a side, so that consecutive additions need not wait.
 */
static void
bt_chunk_fold(BtLoop *L)
{
	const double *r = L->run;
	long		  k = L->nrun;
	BtChunk		 *c = &L->chunks[L->nchunks++];
	double		  m0 = 0.0;
	double		  neg0 = 0.0;
	double		  s0 = 0.0;
	double		  s1 = 0.0;
	double		  q0 = 0.0;
	double		  q1 = 0.0;
	double		  d0 = 0.0;
	double		  d1 = 0.0;
	double		  n0 = 0.0;
	double		  n1 = 0.0;
	double		  f = 1.0;
	double		  g = 1.0;
	int			  e = 0;
	int			  ed = 0;
	long		  j;

	if (L->run_largest > BT_HUGE ||
		(L->run_largest < BT_TINY && L->run_largest > 0))
	{
		/* the scales: the largest magnitudes, of all and of the negative */
		for (j = 0; j < k; j++)
		{
			m0 = bt_max(m0, fabs(r[j]));
			neg0 = bt_max(neg0, -bt_negative_part(r[j]));
		}
		(void) frexp(m0, &e);
		f = ldexp(1.0, -e);
		if (neg0 > BT_HUGE || (neg0 < BT_TINY && neg0 > 0))
		{
			(void) frexp(neg0, &ed);
			g = ldexp(1.0, -ed);
		}
		L->scaled = true;
	}
	L->largest = bt_max(L->largest, L->run_largest);
	L->run_largest = 0.0;
	for (j = 0; j + 1 < k; j += 2)
	{
		s0 += r[j] * f;
		s1 += r[j + 1] * f;
	}
	if (j < k)
		s0 += r[j] * f;
	c->centre = (s0 + s1) / (double) k;
	for (j = 0; j + 1 < k; j += 2)
	{
		double a = r[j] * f - c->centre;
		double b = r[j + 1] * f - c->centre;
		double na = bt_below_zero(r[j] * g);
		double nb = bt_below_zero(r[j + 1] * g);

		q0 += a * a;
		q1 += b * b;
		d0 += a;
		d1 += b;
		n0 += na * na;
		n1 += nb * nb;
	}
	if (j < k)
	{
		double a = r[j] * f - c->centre;
		double na = bt_below_zero(r[j] * g);

		q0 += a * a;
		d0 += a;
		n0 += na * na;
	}
	c->dev2 = q0 + q1;
	c->dev = d0 + d1;
	c->down = n0 + n1;
	c->count = k;
	c->scale = e;
	c->down_scale = ed;
	L->nrun = 0;
}

static inline void
bt_loop_start(BtLoop *L, const BtCallbacks *cb, double *work, long first,
			  double capital, BtResult *res)
{
	*L = (BtLoop){.cb = cb,
				  .run = work,
				  .chunks = (BtChunk *) (work + BT_CHUNK),
				  .first = first,
				  .cash = capital,
				  .pending = -1,
				  .fill_ret = NAN,
				  .peak = capital,
				  .peak_err = 4 * DBL_EPSILON * fabs(capital),
				  .peak_at = -1,
				  .low = capital,
				  .low_err = 4 * DBL_EPSILON * fabs(capital),
				  .dd_peak_at = -1};
	*res = (BtResult){0};
	res->peak_at = -1;
	res->trough_at = -1;
	res->sharpe = NAN;
	res->sortino = NAN;
}

/* what the last close decided fills at the open of bar i */
static BT_INLINE void
bt_loop_open(BtLoop *L, size_t i)
{
	if (L->pending >= 0)
	{
		/* through locals, so that the loop's state can stay in registers */
		double cash = L->cash;
		double pos = L->pos;
		double ret = NAN;

		L->cb->fill(L->cb->arg, i, &cash, &pos, &ret);
		L->cash = cash;
		L->pos = pos;
		L->fill_ret = ret;
		L->held = L->pending;
		L->pending = -1;
		L->filled = true;
		L->nfills++;
	}
}

/*
 * How far the double cash + pos * close may be from the exact equity the
 * reference marks (numeric cash and position, and the close as numeric
 * takes a double, to 15 significant digits): the cash and the position
 * rounded to doubles, the close's digits past the 15th (up to half a unit
 * in the 15th, 5e-15 of it), the product and the sum rounded.
 */
static inline double
bt_equity_error(double cash, double value)
{
	return 4 * DBL_EPSILON * fabs(cash) + 8e-15 * fabs(value);
}

/*
 * The sign of pos * (b - a) in the reference's exact arithmetic, b and a
 * two closes: 2 when it cannot tell (two closes so near that numeric may
 * take them as the same 15 digits, which keeps their order or makes them
 * equal).
 */
static inline int
bt_move_sign(double pos, double b, double a)
{
	if (pos == 0 || b == a)
		return 0;
	if (fabs(b - a) <= 1e-14 * bt_max(fabs(a), fabs(b)))
		return 2;
	return (b > a) == (pos > 0) ? 1 : -1;
}

/*
 * The sign of the equity at close i, eq, less the peak's: from the
 * doubles when they are farther apart than their errors, from the closes
 * when no fill came between, else from the caller's exact equities.
 */
static inline int
bt_above_peak(const BtLoop *L, size_t i, double close, double eq, double err)
{
	int s;

	if (eq - L->peak > err + L->peak_err)
		return 1;
	if (L->peak - eq > err + L->peak_err)
		return -1;
	if (L->nfills == L->peak_fills)
	{
		/* the same cash and position; the capital's were 0 */
		s = L->peak_at < 0 ? 0 : bt_move_sign(L->pos, close, L->peak_close);
		if (s != 2)
			return s;
	}
	if (L->cb->cmp_equity != NULL)
		return L->cb->cmp_equity(L->cb->arg, (long) i, L->peak_at);
	return eq > L->peak ? 1 : eq < L->peak ? -1
										   : 0;
}

/*
 * Whether the fall to eq at close i, dd (eq / peak - 1, within dd_err),
 * is deeper than the deepest so far, exactly: equal falls keep the first.
 */
static inline bool
bt_deeper(const BtLoop *L, size_t i, double close, double dd, double dd_err,
		  const BtResult *res)
{
	int s;

	if (dd < res->max_drawdown - (dd_err + L->dd_err))
		return true;
	if (dd > res->max_drawdown + (dd_err + L->dd_err))
		return false;
	if (L->peak_at == L->dd_peak_at && L->nfills == L->dd_fills)
	{
		/* the same peak, cash and position: the closes tell */
		s = bt_move_sign(L->pos, close, L->dd_close);
		if (s != 2)
			return s < 0;
	}
	if (L->cb->cmp_drawdown == NULL)
		return dd < res->max_drawdown;
	s = L->cb->cmp_drawdown(L->cb->arg, (long) i, L->peak_at, res->trough_at,
							L->dd_peak_at);
	return s < 0;
}

/*
 * The drawdown at close i, compared as the reference compares equities,
 * exactly.  At a new peak (eq at or above the peak) the fall is 0, as
 * eq / eq - 1.  Below it, the fall is eq / peak - 1, which does not
 * decrease as eq grows: an equity above the lowest since the peak (whose
 * fall was compared) cannot set a deeper drawdown, and is not divided.
 */
static BT_INLINE void
bt_loop_drawdown(BtLoop *L, size_t i, double close, double eq, double err,
				 BtResult *res)
{
	double dd;
	double dd_err;

	if (bt_above_peak(L, i, close, eq, err) >= 0)
	{
		L->peak = eq;
		L->peak_err = err;
		L->peak_at = (long) i;
		L->peak_fills = L->nfills;
		L->peak_close = close;
		L->low = eq;
		L->low_err = err;
		if (res->trough_at >= 0)
			return;
		dd = 0.0;
		dd_err = 0.0;
	}
	else
	{
		if (res->trough_at >= 0 && eq - L->low > err + L->low_err)
			return;
		if (eq < L->low)
		{
			L->low = eq;
			L->low_err = err;
		}
		dd = eq / L->peak - 1;
		/* the two equities' errors, and two roundings */
		dd_err = (err + fabs(eq / L->peak) * L->peak_err) / L->peak +
			2 * DBL_EPSILON * bt_max(1.0, fabs(dd));
		if (res->trough_at >= 0 && !bt_deeper(L, i, close, dd, dd_err, res))
			return;
	}
	res->max_drawdown = dd;
	res->peak_at = L->peak_at >= 0 ? L->peak_at : L->first;
	res->peak_capital = L->peak_at < 0;
	res->trough_at = (long) i;
	L->dd_peak_at = L->peak_at;
	L->dd_fills = L->nfills;
	L->dd_close = close;
	L->dd_err = dd_err;
}

/* count the return r of a close */
static BT_INLINE void
bt_loop_return(BtLoop *L, double r)
{
	L->nreturns++;
	L->run[L->nrun++] = r;
	bt_neumaier_add(&L->sum, &L->comp, r);
	L->run_largest = bt_max(L->run_largest, fabs(r));
	/* the run is summed up with every return of it counted above */
	if (L->nrun == BT_CHUNK)
		bt_chunk_fold(L);
}

/* the close of bar i: equity, returns, drawdown, exposure */
static BT_INLINE void
bt_loop_close(BtLoop *L, size_t i, double close, BtResult *res)
{
	double value = L->pos * close;
	double eq = L->cash + value;
	double err = bt_equity_error(L->cash, value);

	L->overflow |= !isfinite(eq);
	L->nbars++;
	if (L->have_prev && !(L->prev_err < 1e-12 * fabs(L->prev)) &&
		L->cb->exact_return != NULL)
	{
		/*
		 * The equity before is known to less than 12 digits (or its sign
		 * not at all): the caller's exact equities give the return, or
		 * say that none counts.
		 */
		double r = L->cb->exact_return(L->cb->arg, (long) i);

		if (!isnan(r))
			bt_loop_return(L, r);
	}
	else if (L->have_prev && L->prev > 0)
	{
		/*
		 * After a fill, the return the caller worked out from the exact
		 * equities, if it did.  Without a fill since the last close only
		 * the position's value moved: the change is taken from the two
		 * closes, whose difference is exact when they are near, instead
		 * of from two equities that cancel but for it.  Returns that
		 * nearly cancel each other (a small position in a large account)
		 * keep their digits so, for Sharpe and Sortino.
		 */
		double r;

		if (L->filled)
			r = isnan(L->fill_ret) ? eq / L->prev - 1 : L->fill_ret;
		else if (L->pos == 0)
			r = 0.0; /* flat: nothing moved (the formula's 0 or -0) */
		else
		{
			r = L->pos * (close - L->prev_close) / L->prev;
			if (!isfinite(r))
				r = eq / L->prev - 1;
		}
		bt_loop_return(L, r);
	}
	L->prev = eq;
	L->prev_err = err;
	L->prev_close = close;
	L->filled = false;
	L->have_prev = true;
	bt_loop_drawdown(L, i, close, eq, err, res);
	L->in_market += L->pos != 0;
}

/* the decision at close i (-1: none), and its order */
static BT_INLINE void
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
 * Sharpe and Sortino, before annualizing, when a run's sums are scaled:
 * the runs' sums each taken times 2^-2top (squares) or 2^-top, top the
 * largest run's scale, and the downside's own sum times 2^-2down, its
 * own largest run's, where the upside's may be so much larger that the
 * downside's would vanish at its scale.  With a return beyond BT_HUGE,
 * the returns' sum itself may be beyond double precision: the mean is
 * then the runs' mean.
 */
static void
bt_scaled_ratios(const BtLoop *L, double *sharpe, double *sortino)
{
	long   n = L->nreturns;
	long   top = LONG_MIN;
	long   dtop = LONG_MIN;
	double mean = 0.0;
	double m2 = 0.0;
	double down = 0.0;
	long   k;

	for (k = 0; k < L->nchunks; k++)
	{
		const BtChunk *c = &L->chunks[k];
		int			   x;
		long		   t;

		top = c->scale > top ? c->scale : top;
		if (c->down > 0)
		{
			/* the run's downside, c->down 2^2down_scale, is under 2^2t */
			(void) frexp(c->down, &x);
			t = c->down_scale + (x + 1) / 2;
			dtop = t > dtop ? t : dtop;
		}
	}
	if (L->largest > BT_HUGE)
	{
		for (k = 0; k < L->nchunks; k++)
			mean += ldexp(L->chunks[k].centre,
						  (int) (L->chunks[k].scale - top)) *
				(double) L->chunks[k].count;
		mean /= (double) n;
	}
	else
		mean = ldexp((L->sum + L->comp) / (double) n, (int) -top);
	for (k = 0; k < L->nchunks; k++)
	{
		const BtChunk *c = &L->chunks[k];
		int			   to = (int) (c->scale - top);
		double		   off = ldexp(c->centre, to) - mean;

		m2 += ldexp(c->dev2, 2 * to) + 2 * off * ldexp(c->dev, to) +
			(double) c->count * off * off;
		if (c->down > 0)
			down += ldexp(c->down, (int) (2 * (c->down_scale - dtop)));
	}
	*sharpe = n > 1 && m2 > 0 ? mean / sqrt(m2 / (double) (n - 1)) : NAN;
	*sortino = down > 0
		? ldexp(mean / sqrt(down / (double) n), (int) (top - dtop))
		: NAN;
}

/*
 * The counts, and Sharpe and Sortino from the runs' sums (BtChunk).  The
 * returns' mean is their compensated sum's: returns that nearly cancel
 * keep their mean.
 */
static void
bt_loop_finish(BtLoop *L, double periods_per_year, BtResult *res)
{
	long   n = L->nreturns;
	double mean;
	double m2 = 0.0;
	double down = 0.0;
	long   k;

	res->bars = L->nbars;
	res->in_market = L->in_market;
	res->nreturns = n;
	if (n == 0)
		return;
	if (L->nrun > 0)
		bt_chunk_fold(L);
	/* a return beyond double precision: both undefined, as in the loop */
	if (!isfinite(L->largest))
		return;
	if (L->scaled)
	{
		double sharpe;
		double sortino;

		bt_scaled_ratios(L, &sharpe, &sortino);
		if (!isnan(sharpe))
			res->sharpe = sharpe * sqrt(periods_per_year);
		if (!isnan(sortino))
			res->sortino = sortino * sqrt(periods_per_year);
		return;
	}
	mean = (L->sum + L->comp) / (double) n;
	for (k = 0; k < L->nchunks; k++)
	{
		const BtChunk *c = &L->chunks[k];
		double		   off = c->centre - mean;

		m2 += c->dev2 + 2 * off * c->dev + (double) c->count * off * off;
		down += c->down;
	}
	if (n > 1 && m2 > 0)
		res->sharpe = mean / sqrt(m2 / (double) (n - 1)) *
			sqrt(periods_per_year);
	if (down > 0)
		res->sortino = mean / sqrt(down / (double) n) *
			sqrt(periods_per_year);
}

size_t
bt_work_doubles(size_t n, int window)
{
	_Static_assert(sizeof(BtChunk) % sizeof(double) == 0,
				   "a BtChunk is a whole number of doubles");
	return 2 * (size_t) window + BT_CHUNK +
		(n / BT_CHUNK + 1) * (sizeof(BtChunk) / sizeof(double));
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

			if (cb->fill_reads != NULL && i + BT_AHEAD < end)
				__builtin_prefetch(cb->fill_reads + i + BT_AHEAD);
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
		if (cb->fill_reads != NULL && i + BT_AHEAD < end)
			__builtin_prefetch(cb->fill_reads + i + BT_AHEAD);
		bt_loop_open(&L, i);
		bt_loop_close(&L, i, close[i], res);
		bt_loop_decide(&L, i, decide(decide_arg, i), res);
	}
	if (L.overflow)
		return BT_ENOTFINITE;
	bt_loop_finish(&L, periods_per_year, res);
	return BT_OK;
}
