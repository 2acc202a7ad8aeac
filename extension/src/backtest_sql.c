/*-------------------------------------------------------------------------
 *
 * backtest_sql.c
 *	  The backtest engine in C: sma_cross and the other built-in kinds.
 *
 * pgtrade.backtest calls it for the strategies it can run (a built-in
 * kind with fixed sizing, result not kept) instead of its own PL/pgSQL
 * loop, which stays the reference: backtest_engine_read, which reads the
 * bars from the table straight into the engine, or, for a sweep that
 * read its bars once, backtest_sma_cross_engine and backtest_kind_engine
 * over them as arrays.  The bar loop is backtest_core.c's; this
 * file gives it the fills and orders the PL/pgSQL loop makes, in numeric
 * with the same operations in the same order as paper_price and
 * position_step, so prices, positions, cash and P&L come out equal to
 * the last digit.  Orders meet the risk checks through
 * pgtrade.backtest_order_check, the function the PL/pgSQL loop calls.
 *
 * The fills are first worked in exact mode: the same operations on the
 * same values, in 128-bit decimals (decimal.c), which give what numeric
 * gives, digit for digit and in scale, without numeric's allocations
 * and text conversions.  Should a value not fit in 128 bits, the run is
 * done again in numeric.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "nodes/value.h"
#include "parser/parse_func.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "backtest_core.h"
#include "bars_sql.h"
#include "decimal.h"
#include "indicators.h"
#include "kinds.h"

PG_FUNCTION_INFO_V1(pgtrade_backtest_sma_cross_engine);
PG_FUNCTION_INFO_V1(pgtrade_backtest_kind_engine);
PG_FUNCTION_INFO_V1(pgtrade_backtest_engine_read);
PG_FUNCTION_INFO_V1(pgtrade_backtest_trade_list);
PG_FUNCTION_INFO_V1(pgtrade_backtest);

/*
 * One fill, for the trade list and for marking equity at any close.  In
 * exact mode its figures are the Decs, and the numerics are made from
 * them when wanted (bt_fill_numerics).
 */
typedef struct BtFill
{
	long	decided;  /* the close it was decided at */
	long	filled;	  /* the bar at whose open it filled */
	Numeric quantity; /* signed: + bought, - sold */
	Numeric price;
	Numeric fee;
	Numeric position; /* after it */
	Numeric pnl;	  /* realized by it, less its fee */
	Numeric cash;	  /* after it */
	Dec		dquantity;
	Dec		dprice;
	Dec		dfee;
	Dec		dposition;
	Dec		dpnl;
	Dec		dcash;
} BtFill;

/* How a strategy sizes its positions (pgtrade.size_target). */
typedef enum BtSizing
{
	BT_FIXED,
	BT_EQUITY_FRACTION,
	BT_RISK
} BtSizing;

typedef struct BtState
{
	MemoryContext	   mcxt;	/* where results live (outside SPI's) */
	MemoryContext	   scratch; /* the exact comparisons' numerics */
	const double	  *open;
	const double	  *close;
	const TimestampTz *ts;
	Datum			   strategy;
	Oid				   strategy_type;
	Numeric			   quantity;
	Numeric			   commission;
	Numeric			   buy_factor;	/* 1 + slippage_bps / 10000 */
	Numeric			   sell_factor; /* 1 - slippage_bps / 10000 */
	Numeric			   tick;
	bool			   want_trades; /* the trade list's numeric columns */
	text			  *account_tz;
	bool			   risk;
	SPIPlanPtr		   check;

	/*
	 * Sizing other than fixed: a long target from flat takes the size
	 * size_target gives (equity x fraction / the close, or / the ATR's
	 * stop distance, down to whole lots).  fallback: an ATR beyond the
	 * doubles; the run's result is thrown away and the loop runs it.
	 */
	BtSizing	  sizing;
	Numeric		  capital;
	Numeric		  fraction;
	Numeric		  atr_multiple;
	int			  atr_period;
	Numeric		  lot;
	int			  window;
	const double *high;
	const double *low;
	double		 *atr; /* window doubles */
	bool		  fallback;

	/* the simulated account */
	Numeric pos;
	Numeric avg; /* NULL when flat */
	Numeric real;
	Numeric cash;
	long	pending_at;
	Numeric pending;
	bool	have_fill_day;
	DateADT fill_day;
	Numeric fill_day_real;
	bool	have_order_day;
	DateADT order_day;
	int		order_day_orders;

	/* trades and their tallies */
	BtFill		 *fills; /* in fill_pages */
	PgtradePages *fill_pages;
	long		  nfills;
	long		  maxfills;
	int			  wins;
	int			  closes;
	Numeric		  gain;
	Numeric		  loss;

	/*
	 * Exact mode: the account's figures above as Decs, the numerics left
	 * unset (but for the risk checks' arguments).  overflowed: a Dec did
	 * not fit; what the run decided is thrown away and it is done again
	 * in numeric.
	 */
	bool exact;
	bool overflowed;
	Dec	 dquantity;
	Dec	 dcommission;
	Dec	 dbuy_factor;
	Dec	 dsell_factor;
	Dec	 dtick;
	Dec	 dpos;
	Dec	 davg;
	bool have_davg; /* false when flat */
	Dec	 dreal;
	Dec	 dcash;
	Dec	 dpending;
	Dec	 dfill_day_real;
	Dec	 dgain;
	Dec	 dloss;
} BtState;

static Numeric num_zero;
static Numeric num_one;

#define N(d) DatumGetNumeric(d)
#define ND(n) NumericGetDatum(n)

static Numeric
num_add(Numeric a, Numeric b)
{
	return N(DirectFunctionCall2(numeric_add, ND(a), ND(b)));
}

static Numeric
num_sub(Numeric a, Numeric b)
{
	return N(DirectFunctionCall2(numeric_sub, ND(a), ND(b)));
}

static Numeric
num_mul(Numeric a, Numeric b)
{
	return N(DirectFunctionCall2(numeric_mul, ND(a), ND(b)));
}

static Numeric
num_div(Numeric a, Numeric b)
{
	return N(DirectFunctionCall2(numeric_div, ND(a), ND(b)));
}

static Numeric
num_abs(Numeric a)
{
	return N(DirectFunctionCall1(numeric_abs, ND(a)));
}

static Numeric
num_neg(Numeric a)
{
	return N(DirectFunctionCall1(numeric_uminus, ND(a)));
}

static int
num_cmp(Numeric a, Numeric b)
{
	return DatumGetInt32(DirectFunctionCall2(numeric_cmp, ND(a), ND(b)));
}

static Numeric
num_from_float8(double x)
{
	return N(DirectFunctionCall1(float8_numeric, Float8GetDatum(x)));
}

/*
 * numeric_float8, but a value beyond double precision's range gives an
 * infinity or 0 instead of an error: the engine then hands the backtest
 * to the loop, which works in numeric.
 */
static double
num_to_float8(Numeric a)
{
	return DatumGetFloat8(
		DirectFunctionCall1(numeric_float8_no_overflow, ND(a)));
}

/* greatest(a, b) and least(a, b) as SQL picks them: the first on a tie */
static Numeric
num_greatest(Numeric a, Numeric b)
{
	return num_cmp(b, a) > 0 ? b : a;
}

static Numeric
num_least(Numeric a, Numeric b)
{
	return num_cmp(b, a) < 0 ? b : a;
}

/* the numeric a Dec stands for, with its scale */
static Numeric
dec_numeric(Dec a)
{
	char	  buf[DEC_FORMAT_LEN];
	long long digits;

	if (dec_digits_int64(a, &digits))
		return int64_div_fast_to_numeric((int64) digits, a.scale);
	dec_format(a, buf, sizeof(buf));
	return N(DirectFunctionCall3(numeric_in, CStringGetDatum(buf),
								 ObjectIdGetDatum(InvalidOid),
								 Int32GetDatum(-1)));
}

/* a numeric as a Dec: false when it does not fit (or is NaN) */
static bool
numeric_dec(Numeric n, Dec *r)
{
	char *s = DatumGetCString(DirectFunctionCall1(numeric_out, ND(n)));
	bool  done = dec_parse(s, r);

	pfree(s);
	return done;
}

/* float8_numeric as a Dec: in integers when it can, else through it */
static bool
float8_dec(double x, Dec *r)
{
	return dec_from_double(x, r) || numeric_dec(num_from_float8(x), r);
}

/* greatest(a, b) as SQL picks it, in Decs */
static Dec
dec_greatest(Dec a, Dec b)
{
	return dec_cmp(b, a) > 0 ? b : a;
}

/*
 * paper_price(side, reference, bps, tick): buys
 * ceil(reference * (1 + bps / 10000) / tick) * tick, sells floor and
 * 1 - bps / 10000.  The factor, the same numeric at every fill, is
 * computed once (bt_engine).
 */
static Numeric
bt_paper_price(bool buy, Numeric reference, Numeric factor, Numeric tick)
{
	Numeric units = num_div(num_mul(reference, factor), tick);

	units = N(DirectFunctionCall1(buy ? numeric_ceil : numeric_floor,
								  ND(units)));
	return num_mul(units, tick);
}

/*
 * position_step: the new quantity, average cost and realized P&L after
 * a fill of qty (signed_qty with its sign: + bought), by its formulas.
 * sq is the sign of the position before it.  Multiplying by sign(pos),
 * 1 or -1 at scale 0, gives the numeric that keeping or negating gives.
 */
static void
bt_position_step(BtState *st, int sq, Numeric signed_qty, Numeric qty,
				 Numeric price)
{
	Numeric next = num_add(st->pos, signed_qty);
	int		ss = num_cmp(signed_qty, num_zero);

	if (sq == 0 || sq == ss)
	{
		Numeric held = num_mul(num_abs(st->pos),
							   st->avg ? st->avg : num_zero);

		st->avg = num_div(num_add(held, num_mul(qty, price)), num_abs(next));
	}
	else
	{
		Numeric closed = num_least(num_abs(st->pos), qty);
		Numeric gain = num_mul(closed, num_sub(price, st->avg));

		st->real = num_add(st->real, sq > 0 ? gain : num_neg(gain));
		if (num_cmp(next, num_zero) == 0)
			st->avg = NULL;
		else if (num_cmp(next, num_zero) != sq)
			st->avg = price;
	}
	st->pos = next;
}

/* bt_paper_price in Decs; false when a value does not fit */
static bool
bt_paper_price_exact(bool buy, Dec reference, Dec factor, Dec tick, Dec *price)
{
	Dec t;
	Dec units;

	if (!dec_mul(reference, factor, &t) || !dec_div(t, tick, &units))
		return false;
	units = buy ? dec_ceil(units) : dec_floor(units);
	return dec_mul(units, tick, price);
}

/* bt_position_step in Decs, operation for operation */
static bool
bt_position_step_exact(BtState *st, int sq, Dec signed_qty, Dec qty, Dec price)
{
	Dec next;
	Dec t;
	Dec u;
	int ss = dec_sign(signed_qty);

	if (!dec_add(st->dpos, signed_qty, &next))
		return false;
	if (sq == 0 || sq == ss)
	{
		Dec held;

		if (!dec_mul(dec_abs(st->dpos), st->have_davg ? st->davg : dec_int(0),
					 &held) ||
			!dec_mul(qty, price, &t) || !dec_add(held, t, &u) ||
			!dec_div(u, dec_abs(next), &st->davg))
			return false;
		st->have_davg = true;
	}
	else
	{
		Dec held = dec_abs(st->dpos);
		Dec closed = dec_cmp(qty, held) < 0 ? qty : held;
		Dec gain;

		if (!dec_sub(price, st->davg, &t) || !dec_mul(closed, t, &gain) ||
			!dec_add(st->dreal, sq > 0 ? gain : dec_neg(gain), &st->dreal))
			return false;
		if (dec_sign(next) == 0)
			st->have_davg = false;
		else if (dec_sign(next) != sq)
			st->davg = price;
	}
	st->dpos = next;
	return true;
}

static DateADT
bt_local_day(BtState *st, TimestampTz t)
{
	Datum zone = PointerGetDatum(st->account_tz);
	Datum local = DirectFunctionCall2(timestamptz_zone, zone,
									  TimestampTzGetDatum(t));

	return DatumGetDateADT(DirectFunctionCall1(timestamp_date, local));
}

/* the next fill, with room made for it */
static BtFill *
bt_new_fill(BtState *st)
{
	if (st->nfills == st->maxfills)
	{
		Size room = sizeof(BtFill) * (Size) st->maxfills * 2;

		st->fills = pgtrade_pages_resize(st->fill_pages, room);
		st->maxfills *= 2;
	}
	return &st->fills[st->nfills++];
}

static double bt_exact_return(void *arg, long i);

/*
 * The return from close i - 1 to close i across a fill at the open of i,
 * as the loop computes it, ((e(i) - e(i - 1)) / e(i - 1))::float8 of the
 * exact equities (cash plus position times the close as numeric): from
 * the Decs of exact mode, the equities and their change exactly and the
 * quotient to a unit in the last place (numeric's 16 or more digits,
 * then rounded to a double, may be a unit away), with the change's sign
 * and its zero; NaN when the equity before is not above 0 (the loop
 * counts no return then).  In numeric when a Dec does not hold a value.
 * The fill is among st's fills already.
 */
static void
bt_fill_return(BtState *st, size_t i, Dec cash_before, Dec pos_before,
			   double *ret)
{
	Dec before;
	Dec after;
	Dec c;
	Dec t;

	if (i == 0)
		return;
	if (float8_dec(st->close[i - 1], &c) && dec_mul(pos_before, c, &t) &&
		dec_add(cash_before, t, &before) && float8_dec(st->close[i], &c) &&
		dec_mul(st->dpos, c, &t) && dec_add(st->dcash, t, &after) &&
		dec_sub(after, before, &t))
		*ret = dec_sign(before) > 0 ? dec_ratio(t, before) : NAN;
	else
		*ret = bt_exact_return(st, (long) i);
}

/*
 * bt_fill in exact mode: the same steps in Decs.  When a value does not
 * fit it marks the run overflowed and stops; the run is then done again.
 */
static void
bt_fill_exact(BtState *st, size_t i, double *cash, double *position,
			  double *ret)
{
	Dec		cash_before = st->dcash;
	Dec		pos_before = st->dpos;
	bool	buy = dec_sign(st->dpending) > 0;
	Dec		qty = dec_abs(st->dpending);
	Dec		reference;
	Dec		price;
	Dec		fee;
	Dec		real_before = st->dreal;
	Dec		pnl;
	Dec		t;
	BtFill *f;
	int		sq;
	bool	closing;

	*cash = *position = 0;
	if (!float8_dec(st->open[i], &reference) ||
		!bt_paper_price_exact(buy, reference,
							  buy ? st->dbuy_factor : st->dsell_factor,
							  st->dtick, &price) ||
		!dec_mul(qty, st->dcommission, &fee))
	{
		st->overflowed = true;
		return;
	}
	if (st->risk)
	{
		DateADT day = bt_local_day(st, st->ts[i]);

		if (!st->have_fill_day || day != st->fill_day)
		{
			st->have_fill_day = true;
			st->fill_day = day;
			st->dfill_day_real = st->dreal;
		}
	}
	sq = dec_sign(st->dpos);
	closing = sq != 0 && sq != (buy ? 1 : -1);
	if (!bt_position_step_exact(st, sq, st->dpending, qty, price) ||
		!dec_sub(st->dreal, real_before, &t) || !dec_sub(t, fee, &pnl))
	{
		st->overflowed = true;
		return;
	}
	if (closing)
	{
		st->closes++;
		st->wins += dec_sign(pnl) > 0;
		if (!dec_add(st->dgain, dec_greatest(pnl, dec_int(0)), &st->dgain) ||
			!dec_add(st->dloss, dec_greatest(dec_neg(pnl), dec_int(0)),
					 &st->dloss))
		{
			st->overflowed = true;
			return;
		}
	}
	if (!dec_mul(st->dpending, price, &t) || !dec_sub(st->dcash, t, &t) ||
		!dec_sub(t, fee, &st->dcash))
	{
		st->overflowed = true;
		return;
	}

	f = bt_new_fill(st);
	memset(f, 0, sizeof(BtFill));
	f->decided = st->pending_at;
	f->filled = (long) i;
	f->dquantity = st->dpending;
	f->dprice = price;
	f->dfee = fee;
	f->dposition = st->dpos;
	f->dpnl = pnl;
	f->dcash = st->dcash;

	dec_to_double(st->dcash, cash);
	dec_to_double(st->dpos, position);
	bt_fill_return(st, i, cash_before, pos_before, ret);
}

/* an exact-mode fill's numerics, made once, where results live */
static void
bt_fill_numerics(const BtState *st, BtFill *f)
{
	MemoryContext old;

	if (!st->exact || f->quantity != NULL)
		return;
	old = MemoryContextSwitchTo(st->mcxt);
	f->quantity = dec_numeric(f->dquantity);
	f->price = dec_numeric(f->dprice);
	f->fee = dec_numeric(f->dfee);
	f->position = dec_numeric(f->dposition);
	f->pnl = dec_numeric(f->dpnl);
	f->cash = dec_numeric(f->dcash);
	MemoryContextSwitchTo(old);
}

static void
bt_fill(void *arg, size_t i, double *cash, double *position, double *ret)
{
	BtState		 *st = (BtState *) arg;
	MemoryContext old;
	bool		  buy;
	Numeric		  qty;
	Numeric		  price;
	Numeric		  fee;
	Numeric		  real_before;
	Numeric		  pnl;
	BtFill		 *f;
	Numeric		  factor;
	int			  sq;
	bool		  closing;

	if (st->exact)
	{
		if (!st->overflowed)
			bt_fill_exact(st, i, cash, position, ret);
		return;
	}
	old = MemoryContextSwitchTo(st->mcxt);
	buy = num_cmp(st->pending, num_zero) > 0;
	qty = num_abs(st->pending);
	real_before = st->real;
	factor = buy ? st->buy_factor : st->sell_factor;
	price = bt_paper_price(buy, num_from_float8(st->open[i]), factor,
						   st->tick);
	fee = num_mul(qty, st->commission);
	/* the day's realized P&L starts over on a new trading day */
	if (st->risk)
	{
		DateADT day = bt_local_day(st, st->ts[i]);

		if (!st->have_fill_day || day != st->fill_day)
		{
			st->have_fill_day = true;
			st->fill_day = day;
			st->fill_day_real = st->real;
		}
	}
	sq = num_cmp(st->pos, num_zero);
	closing = sq != 0 && sq != (buy ? 1 : -1);
	bt_position_step(st, sq, st->pending, qty, price);
	pnl = num_sub(num_sub(st->real, real_before), fee);
	/* a fill against the position closes some of it */
	if (closing)
	{
		st->closes++;
		st->wins += num_cmp(pnl, num_zero) > 0;
		st->gain = num_add(st->gain, num_greatest(pnl, num_zero));
		st->loss = num_add(st->loss, num_greatest(num_neg(pnl), num_zero));
	}
	st->cash = num_sub(num_sub(st->cash, num_mul(st->pending, price)), fee);

	f = bt_new_fill(st);
	f->decided = st->pending_at;
	f->filled = (long) i;
	f->quantity = st->pending;
	f->price = price;
	f->fee = fee;
	f->position = st->pos;
	f->pnl = pnl;
	f->cash = st->cash;

	*cash = num_to_float8(st->cash);
	*position = num_to_float8(st->pos);
	MemoryContextSwitchTo(old);
	if (i > 0)
		*ret = bt_exact_return(st, (long) i);
}

static Numeric	bt_equity_at(BtState *st, Numeric capital, long k);
static BtSizing bt_strategy_sizing(Datum strategy);

/*
 * The position a long target asks for from flat at close i, as
 * size_target gives it with the backtest's own equity at that close:
 * floor(equity x fraction / per / lot) x lot, per the close (as numeric)
 * for equity_fraction, or atr_multiple x the ATR of the window a live
 * run loads for risk.  NULL when there is nothing to size with (equity
 * not positive, no ATR yet or none above 0): the position stays flat.
 */
static Numeric
bt_size(BtState *st, size_t i)
{
	Numeric equity = bt_equity_at(st, st->capital, (long) i);
	Numeric per;
	Numeric units;

	if (num_cmp(equity, num_zero) <= 0)
		return NULL;
	if (st->sizing == BT_EQUITY_FRACTION)
		per = num_from_float8(st->close[i]);
	else
	{
		size_t lo = i + 1 > (size_t) st->window ? i + 1 - st->window : 0;
		size_t m = i + 1 - lo;
		double atr;

		if (ind_atr(st->high + lo, st->low + lo, st->close + lo, m,
					st->atr_period, st->atr) != IND_OK)
			elog(ERROR, "ATR refused its checked period");
		atr = st->atr[m - 1];
		/* NaN: its warm-up, NULL in SQL */
		if (isnan(atr))
			return NULL;
		if (!isfinite(atr))
		{
			st->fallback = true;
			return NULL;
		}
		if (atr <= 0)
			return NULL;
		per = num_mul(st->atr_multiple, num_from_float8(atr));
	}
	units = num_div(num_div(num_mul(equity, st->fraction), per), st->lot);
	units = DatumGetNumeric(DirectFunctionCall1(numeric_floor, ND(units)));
	/* target x size, as size_target multiplies them */
	return num_mul(num_one, num_mul(units, st->lot));
}

static int
bt_order(void *arg, size_t i, int target)
{
	BtState		 *st = (BtState *) arg;
	MemoryContext old;
	Numeric		  delta = NULL;
	Dec			  ddelta = {0, 0, 0};
	bool		  passed = true;
	Numeric		  tpos = NULL;

	if (st->overflowed || st->fallback)
		return BT_NO_ORDER;

	old = MemoryContextSwitchTo(st->mcxt);
	/* a sized long from flat: nothing to size with is no order at all */
	if (st->sizing != BT_FIXED && target == 1)
	{
		tpos = bt_size(st, i);
		if (tpos == NULL)
		{
			MemoryContextSwitchTo(old);
			return BT_NO_ORDER;
		}
	}
	if (st->exact)
	{
		Dec	 dtpos;
		bool fits;

		if (tpos != NULL)
			fits = numeric_dec(tpos, &dtpos);
		else
			fits = dec_mul(dec_int(target), st->dquantity, &dtpos);
		if (!fits || !dec_sub(dtpos, st->dpos, &ddelta))
		{
			st->overflowed = true;
			MemoryContextSwitchTo(old);
			return BT_NO_ORDER;
		}
		if (dec_sign(ddelta) == 0)
		{
			MemoryContextSwitchTo(old);
			return BT_NO_ORDER;
		}
		if (st->risk)
		{
			/* the checks take numerics */
			delta = dec_numeric(ddelta);
			st->pos = dec_numeric(st->dpos);
			st->avg = st->have_davg ? dec_numeric(st->davg) : NULL;
			st->real = dec_numeric(st->dreal);
			if (st->have_fill_day)
				st->fill_day_real = dec_numeric(st->dfill_day_real);
		}
	}
	else
	{
		if (tpos == NULL)
			tpos = num_mul(int64_to_numeric(target), st->quantity);
		delta = num_sub(tpos, st->pos);
		if (num_cmp(delta, num_zero) == 0)
		{
			MemoryContextSwitchTo(old);
			return BT_NO_ORDER;
		}
	}

	if (st->risk)
	{
		Datum	  values[12];
		HeapTuple row;
		TupleDesc desc;
		char	  nulls[12];
		bool	  isnull;
		DateADT	  day;
		int		  rc;

		memset(nulls, ' ', sizeof(nulls));
		values[0] = st->strategy;
		values[1] = CStringGetTextDatum(num_cmp(delta, num_zero) > 0 ? "buy" : "sell");
		values[2] = ND(num_abs(delta));
		values[3] = Float8GetDatum(st->close[i]);
		values[4] = ND(st->pos);
		values[5] = st->avg ? ND(st->avg) : (Datum) 0;
		nulls[5] = st->avg ? ' ' : 'n';
		values[6] = ND(st->real);
		values[7] = DateADTGetDatum(st->fill_day);
		nulls[7] = st->have_fill_day ? ' ' : 'n';
		values[8] = st->have_fill_day ? ND(st->fill_day_real) : (Datum) 0;
		nulls[8] = st->have_fill_day ? ' ' : 'n';
		values[9] = DateADTGetDatum(st->order_day);
		nulls[9] = st->have_order_day ? ' ' : 'n';
		values[10] = Int32GetDatum(st->order_day_orders);
		values[11] = TimestampTzGetDatum(st->ts[i]);
		rc = SPI_execute_plan(st->check, values, nulls, true, 1);
		if (rc != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "backtest_order_check failed: %s",
				 SPI_result_code_string(rc));
		row = SPI_tuptable->vals[0];
		desc = SPI_tuptable->tupdesc;
		passed = DatumGetBool(SPI_getbinval(row, desc, 1, &isnull));
		passed = passed && !isnull;
		day = DatumGetDateADT(SPI_getbinval(row, desc, 2, &isnull));
		if (!isnull && (!st->have_order_day || day != st->order_day))
		{
			st->have_order_day = true;
			st->order_day = day;
			st->order_day_orders = 0;
		}
		if (passed)
			st->order_day_orders++;
		SPI_freetuptable(SPI_tuptable);
	}
	if (passed)
	{
		st->pending = delta;
		st->dpending = ddelta;
		st->pending_at = (long) i;
	}
	MemoryContextSwitchTo(old);
	return passed ? BT_PLACED : BT_REFUSED;
}

/*
 * Argument k, a one-dimensional array of 8-byte by-value elements (float8
 * or timestamptz) without NULLs, as a C array of n elements.  An expanded
 * array (a PL/pgSQL variable's, or a sweep's bars passed on) is read
 * where it lies: flattening it would copy every bar on each call.
 */
static const void *
bt_array(FunctionCallInfo fcinfo, int k, Oid type, int *n, const char *name)
{
	AnyArrayType *any = PG_GETARG_ANY_ARRAY_P(k);
	ArrayType	 *a;

	/* the dvalues below are the values' own bits only if so */
	StaticAssertStmt(FLOAT8PASSBYVAL, "the engines need 64-bit Datums");

	if (VARATT_IS_EXPANDED_HEADER(any))
	{
		ExpandedArrayHeader *e = &any->xpn;

		if (e->element_type != type || e->ndims > 1)
			a = NULL; /* refused below */
		else if (e->fvalue != NULL)
			a = e->fvalue; /* its flat value, unchanged since */
		else
		{
			int j;

			deconstruct_expanded_array(e);
			for (j = 0; e->dnulls != NULL && j < e->nelems; j++)
				if (e->dnulls[j])
					break;
			if (e->dnulls == NULL || j == e->nelems)
			{
				/* by-value 8-byte Datums hold the values' own bits */
				*n = e->nelems;
				return e->dvalues;
			}
			a = NULL;
		}
	}
	else
		a = &any->flt;
	/* a bitmap may be left from NULLs since replaced: the elements count */
	if (a == NULL || ARR_ELEMTYPE(a) != type || ARR_NDIM(a) > 1 ||
		array_contains_nulls(a))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a one-dimensional array without NULLs",
						name)));
	*n = ARR_NDIM(a) == 0 ? 0 : ARR_DIMS(a)[0];
	/* ARR_DATA_PTR, written out for -Wsign-compare */
	if (ARR_HASNULL(a))
		return (char *) a + a->dataoffset;
	return (char *) a + ARR_OVERHEAD_NONULLS(ARR_NDIM(a));
}

/*
 * The trade list's keys, in the order a jsonb object keeps its keys
 * (shorter first, then bytewise), so that its objects are built already
 * in that order: pushJsonbValue would sort each one's keys again.
 */
enum
{
	TK_SIDE,
	TK_PRICE,
	TK_POSITION,
	TK_QUANTITY,
	TK_FILLED_AT,
	TK_COMMISSION,
	TK_DECIDED_AT,
	TK_REALIZED_PNL,
	TK_KEYS
};

static const char *const trade_keys[TK_KEYS] = {
	"side", "price", "position", "quantity", "filled_at", "commission",
	"decided_at", "realized_pnl"};

/* the keys' lengths added up */
#define TK_KEY_BYTES 66

/* how many fills ahead the trade list fetches their bars' times */
#define BT_TRADES_AHEAD 8

/* n as two digits at p */
static inline char *
bt_two_digits(char *p, int n)
{
	p[0] = (char) ('0' + n / 10);
	p[1] = (char) ('0' + n % 10);
	return p + 2;
}

/*
 * t at the offset tz (seconds west of Greenwich) as EncodeDateTime writes
 * it in XSD style, which to_jsonb uses: 2024-01-05T05:00:00+00:00, the
 * microseconds after the seconds without their trailing zeros when there
 * are any, the offset's seconds when it has some.  Years 1 to 9999 only
 * (false for others, written with more digits or BC); returns the end.
 */
static char *
bt_xsd_time(TimestampTz t, int tz, char *p)
{
	Timestamp local = t - (int64) tz * USECS_PER_SEC;
	int64	  day = local / USECS_PER_DAY - (local % USECS_PER_DAY < 0);
	int64	  usec = local - day * USECS_PER_DAY;
	int		  sec = (int) (usec / USECS_PER_SEC);
	int		  frac = (int) (usec % USECS_PER_SEC);
	int		  off = Abs(tz);
	int		  year;
	int		  month;
	int		  mday;
	int		  k;

	if (day + POSTGRES_EPOCH_JDATE < 0 || day + POSTGRES_EPOCH_JDATE > INT_MAX)
		return NULL;
	j2date((int) (day + POSTGRES_EPOCH_JDATE), &year, &month, &mday);
	if (year < 1 || year > 9999)
		return NULL;
	p = bt_two_digits(p, year / 100);
	p = bt_two_digits(p, year % 100);
	*p++ = '-';
	p = bt_two_digits(p, month);
	*p++ = '-';
	p = bt_two_digits(p, mday);
	*p++ = 'T';
	p = bt_two_digits(p, sec / 3600);
	*p++ = ':';
	p = bt_two_digits(p, sec / 60 % 60);
	*p++ = ':';
	p = bt_two_digits(p, sec % 60);
	if (frac != 0)
	{
		int digits = 6;

		while (frac % 10 == 0)
		{
			frac /= 10;
			digits--;
		}
		*p++ = '.';
		for (k = digits - 1; k >= 0; k--)
		{
			p[k] = (char) ('0' + frac % 10);
			frac /= 10;
		}
		p += digits;
	}
	/* the offset east, as the sign shows it: tz counts west */
	*p++ = tz <= 0 ? '+' : '-';
	p = bt_two_digits(p, off / 3600);
	*p++ = ':';
	p = bt_two_digits(p, off / 60 % 60);
	if (off % 60 != 0)
	{
		*p++ = ':';
		p = bt_two_digits(p, off % 60);
	}
	return p;
}

/*
 * t as to_jsonb writes a timestamptz, in the session's zone, into buf
 * (MAXDATELEN + 1 bytes); returns its length.  Trades come in time order,
 * so one lookup of the zone serves them until its next transition
 * (pgtrade_zone_offset); JsonEncodeDateTime writes what bt_xsd_time does
 * not.
 */
static int
bt_time_text(PgtradeZoneSpan *z, TimestampTz t, char *buf)
{
	int	  tz;
	char *end;

	if (!pgtrade_zone_offset(z, session_timezone, t, &tz))
	{
		JsonEncodeDateTime(buf, TimestampTzGetDatum(t), TIMESTAMPTZOID, NULL);
		return (int) strlen(buf);
	}
	end = bt_xsd_time(t, tz, buf);
	if (end == NULL)
	{
		JsonEncodeDateTime(buf, TimestampTzGetDatum(t), TIMESTAMPTZOID, &tz);
		return (int) strlen(buf);
	}
	*end = '\0';
	return (int) (end - buf);
}

/*
 * The trade list is written as jsonb's binary form directly, as
 * JsonbValueToJsonb would write the same values (utils/jsonb.h): an
 * array whose every JB_OFFSET_STRIDE'th entry holds its end offset and
 * the others their lengths, each element an object of TK_KEYS pairs,
 * keys in jsonb's order, a numeric padded to a 4-byte boundary of the
 * whole datum with the padding counted in its length.  Each object is
 * written at p, with room made for the most it can take first.
 */
#define BT_OBJECT_ROOM                                                      \
	(3 + sizeof(uint32) + 2 * TK_KEYS * sizeof(JEntry) + TK_KEY_BYTES + 4 + \
	 2 * MAXDATELEN + 6 * (3 + VARHDRSZ + DEC_NUMERIC_BODY))

/* a string value at *p: its JEntry */
static inline JEntry
bt_jsonb_string(char **p, const char *s, int len)
{
	memcpy(*p, s, len);
	*p += len;
	return JENTRY_ISSTRING | (JEntry) len;
}

/* the padding to a 4-byte boundary of the datum, whose start is base */
static inline int
bt_jsonb_pad(char **p, const char *base)
{
	int pad = (int) (INTALIGN((uintptr_t) (*p - base)) - (uintptr_t) (*p - base));

	memset(*p, 0, pad);
	*p += pad;
	return pad;
}

/* a numeric value at *p, padded: its JEntry */
static inline JEntry
bt_jsonb_numeric(char **p, const char *base, Numeric n)
{
	int	 pad = bt_jsonb_pad(p, base);
	Size len = VARSIZE_ANY(n);

	memcpy(*p, n, len);
	*p += len;
	return JENTRY_ISNUMERIC | (JEntry) (pad + len);
}

/* a Dec as a numeric value at *p, padded: its JEntry */
static inline JEntry
bt_jsonb_dec(char **p, const char *base, Dec d)
{
	int	   pad = bt_jsonb_pad(p, base);
	size_t len = VARHDRSZ + dec_numeric_body(d, (unsigned char *) *p + VARHDRSZ);

	SET_VARSIZE(*p, len);
	*p += len;
	return JENTRY_ISNUMERIC | (JEntry) (pad + len);
}

/*
 * The trade list, as backtest's PL/pgSQL loop writes it: one object per
 * fill, decided_at the end of the bar it was decided at (bar_end with
 * the instrument's bar size, zone and close), filled_at the start of the
 * bar at whose open it filled, side, quantity, price, commission,
 * position after and realized P&L less the fee.  In exact mode the
 * numerics are written from the fill's Decs; else they are the fill's,
 * the quantity's absolute value made in a context reset after each.
 */
static Datum
bt_trade_list(const BtState *st, const PgtradeBarEnd *bar_end)
{
	StringInfoData	b;
	PgtradeZoneSpan zone = {0};
	PgtradeBarEnd	be = *bar_end;
	MemoryContext	scratch;
	MemoryContext	old;
	JEntry			keys[TK_KEYS];
	char			key_bytes[TK_KEY_BYTES];
	int				entries;
	uint32			head;
	int				total = 0;
	int				at = 0;
	long			k;
	int				j;

	/* the keys' order is jsonb's: checked, as a wrong one reads wrong */
	for (j = 0; j < TK_KEYS; j++)
	{
		int	   len = (int) strlen(trade_keys[j]);
		size_t before = j > 0 ? strlen(trade_keys[j - 1]) : 0;

		bool ordered = j == 0 || before < (size_t) len ||
			(before == (size_t) len &&
			 memcmp(trade_keys[j - 1], trade_keys[j], len) < 0);

		if (!ordered)
			elog(ERROR, "the trade list's keys are out of jsonb's order");
		if (at + len > TK_KEY_BYTES)
			elog(ERROR, "the trade list's keys take more than their room");
		memcpy(key_bytes + at, trade_keys[j], len);
		at += len;
		/* the first entry of an object of TK_KEYS pairs holds its offset */
		keys[j] = JENTRY_ISSTRING | (JEntry) len | (j == 0 ? JENTRY_HAS_OFF : 0);
	}
	if (at != TK_KEY_BYTES)
		elog(ERROR, "the trade list's keys take less than their room");
	if (st->nfills > JB_CMASK)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("number of jsonb array elements exceeds the maximum "
						"allowed (%d)",
						JB_CMASK)));

	/* 240 bytes a trade or so; the buffer grows if 320 is short */
	initStringInfo(&b);
	enlargeStringInfo(&b, (int) Min((Size) MaxAllocSize / 2, 64 + (Size) st->nfills * 320));
	b.len = VARHDRSZ;
	head = (uint32) st->nfills | JB_FARRAY;
	appendBinaryStringInfo(&b, (const char *) &head, sizeof(head));
	entries = b.len;
	enlargeStringInfo(&b, (int) (sizeof(JEntry) * st->nfills));
	b.len += (int) (sizeof(JEntry) * st->nfills);

	scratch = AllocSetContextCreate(CurrentMemoryContext, "backtest trade",
									ALLOCSET_SMALL_SIZES);
	for (k = 0; k < st->nfills; k++)
	{
		const BtFill *f = &st->fills[k];
		JEntry		  e[TK_KEYS];
		char		  filled[MAXDATELEN + 1];
		char		  decided[MAXDATELEN + 1];
		int			  start = b.len;
		char		 *p;
		char		 *ents;
		JEntry		  meta;
		bool		  buy;
		TimestampTz	  end;
		int			  nfilled;
		int			  ndecided;

		/* the times of a fill some way ahead, scattered over the bars */
		if (k + BT_TRADES_AHEAD < st->nfills)
		{
			const BtFill *g = f + BT_TRADES_AHEAD;

			__builtin_prefetch(&st->ts[g->decided]);
			__builtin_prefetch(&st->ts[g->filled]);
		}
		nfilled = bt_time_text(&zone, st->ts[f->filled], filled);
		end = pgtrade_bar_end_span(&be, st->ts[f->decided]);
		ndecided = bt_time_text(&zone, end, decided);

		/* the object at p: its header, the keys' entries, the values' */
		enlargeStringInfo(&b, (int) BT_OBJECT_ROOM);
		p = b.data + b.len;
		bt_jsonb_pad(&p, b.data);
		head = TK_KEYS | JB_FOBJECT;
		memcpy(p, &head, sizeof(head));
		p += sizeof(head);
		memcpy(p, keys, sizeof(keys));
		ents = p + sizeof(keys);
		p = ents + sizeof(e);
		memcpy(p, key_bytes, TK_KEY_BYTES);
		p += TK_KEY_BYTES;
		if (st->exact && f->quantity == NULL)
		{
			buy = dec_sign(f->dquantity) > 0;
			e[TK_SIDE] = bt_jsonb_string(&p, buy ? "buy" : "sell", buy ? 3 : 4);
			e[TK_PRICE] = bt_jsonb_dec(&p, b.data, f->dprice);
			e[TK_POSITION] = bt_jsonb_dec(&p, b.data, f->dposition);
			e[TK_QUANTITY] = bt_jsonb_dec(&p, b.data, dec_abs(f->dquantity));
			e[TK_FILLED_AT] = bt_jsonb_string(&p, filled, nfilled);
			e[TK_COMMISSION] = bt_jsonb_dec(&p, b.data, f->dfee);
			e[TK_DECIDED_AT] = bt_jsonb_string(&p, decided, ndecided);
			e[TK_REALIZED_PNL] = bt_jsonb_dec(&p, b.data, f->dpnl);
		}
		else
		{
			old = MemoryContextSwitchTo(scratch);
			buy = num_cmp(f->quantity, num_zero) > 0;
			e[TK_SIDE] = bt_jsonb_string(&p, buy ? "buy" : "sell", buy ? 3 : 4);
			e[TK_PRICE] = bt_jsonb_numeric(&p, b.data, f->price);
			e[TK_POSITION] = bt_jsonb_numeric(&p, b.data, f->position);
			e[TK_QUANTITY] =
				bt_jsonb_numeric(&p, b.data, num_abs(f->quantity));
			e[TK_FILLED_AT] = bt_jsonb_string(&p, filled, nfilled);
			e[TK_COMMISSION] = bt_jsonb_numeric(&p, b.data, f->fee);
			e[TK_DECIDED_AT] = bt_jsonb_string(&p, decided, ndecided);
			e[TK_REALIZED_PNL] = bt_jsonb_numeric(&p, b.data, f->pnl);
			MemoryContextSwitchTo(old);
			MemoryContextReset(scratch);
		}
		memcpy(ents, e, sizeof(e));
		b.len = (int) (p - b.data);
		b.data[b.len] = '\0';

		meta = (JEntry) (b.len - start);
		if (meta > JENTRY_OFFLENMASK ||
			(Size) total + meta > JENTRY_OFFLENMASK)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("total size of jsonb array elements exceeds the "
							"maximum of %d bytes",
							JENTRY_OFFLENMASK)));
		total += (int) meta;
		if (k % JB_OFFSET_STRIDE == 0)
			meta = JENTRY_ISCONTAINER | (JEntry) total | JENTRY_HAS_OFF;
		else
			meta = JENTRY_ISCONTAINER | meta;
		memcpy(b.data + entries + sizeof(JEntry) * k, &meta, sizeof(meta));
	}
	MemoryContextDelete(scratch);
	if (b.len - VARHDRSZ > JENTRY_OFFLENMASK)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("total size of jsonb array elements exceeds the "
						"maximum of %d bytes",
						JENTRY_OFFLENMASK)));
	SET_VARSIZE(b.data, b.len);
	return PointerGetDatum(b.data);
}

/*
 * The numeric equity at close k: cash and position of the last fill
 * before it.  k < 0 is the start: the capital.
 */
static Numeric
bt_equity_at(BtState *st, Numeric capital, long k)
{
	long lo = 0;
	long hi = st->nfills;
	long j;

	if (k < 0)
		return capital;
	/* the last fill at or before k: fills are in bar order */
	while (lo < hi)
	{
		long mid = lo + (hi - lo) / 2;

		if (st->fills[mid].filled <= k)
			lo = mid + 1;
		else
			hi = mid;
	}
	j = lo - 1;
	/* as the loop: capital + 0 * close, at the close's scale too */
	if (j < 0)
		return num_add(capital,
					   num_mul(num_zero, num_from_float8(st->close[k])));
	bt_fill_numerics(st, &st->fills[j]);
	return num_add(st->fills[j].cash,
				   num_mul(st->fills[j].position,
						   num_from_float8(st->close[k])));
}

/*
 * The engine's exact comparisons of equities and its exact returns (see
 * BtCallbacks), in numeric, in a context of their own: they are rare,
 * where its doubles cannot tell.
 */
static int
bt_cmp_equity(void *arg, long i, long j)
{
	BtState		 *st = (BtState *) arg;
	MemoryContext old = MemoryContextSwitchTo(st->scratch);
	int			  c = num_cmp(bt_equity_at(st, st->capital, i),
							  bt_equity_at(st, st->capital, j));

	MemoryContextSwitchTo(old);
	MemoryContextReset(st->scratch);
	return c;
}

static int
bt_cmp_drawdown(void *arg, long i, long pi, long t, long pt)
{
	BtState		 *st = (BtState *) arg;
	MemoryContext old = MemoryContextSwitchTo(st->scratch);
	Numeric		  ei = bt_equity_at(st, st->capital, i);
	Numeric		  ept = bt_equity_at(st, st->capital, pt);
	Numeric		  et = bt_equity_at(st, st->capital, t);
	Numeric		  epi = bt_equity_at(st, st->capital, pi);
	int			  c = num_cmp(num_mul(ei, ept), num_mul(et, epi));

	MemoryContextSwitchTo(old);
	MemoryContextReset(st->scratch);
	return c;
}

static double
bt_exact_return(void *arg, long i)
{
	BtState		 *st = (BtState *) arg;
	MemoryContext old = MemoryContextSwitchTo(st->scratch);
	Numeric		  before = bt_equity_at(st, st->capital, i - 1);
	double		  r = NAN;

	if (num_cmp(before, num_zero) > 0)
		r = num_to_float8(
			num_div(num_sub(bt_equity_at(st, st->capital, i), before), before));
	MemoryContextSwitchTo(old);
	MemoryContextReset(st->scratch);
	return r;
}

/* Where each argument is, for the two SQL functions. */
typedef struct BtArgs
{
	const char *fn;
	int			window;
	int			ts;
	int			open;
	int			high; /* -1: not taken */
	int			low;
	int			close;
	/* then last, capital, quantity, commission, slippage_bps, tick_size,
	 * periods a year, risk, the account's zone, the bar size, the
	 * instrument's zone and session close (for the trades' decided_at)
	 * and whether to return the trade list, in order */
	int first;
	int nargs;
} BtArgs;

/* A built-in kind's decision over the window a live run loads. */
typedef struct BtKindDecide
{
	const KindSpec	  *spec;
	double			   p[KIND_MAX_PARAMS];
	int				   window;
	const TimestampTz *ts;
	const double	  *high;
	const double	  *low;
	const double	  *close;
	MemoryContext	   cxt; /* each evaluation's, reset after it */
} BtKindDecide;

static int
bt_kind_decide(void *arg, size_t i)
{
	BtKindDecide *d = (BtKindDecide *) arg;
	size_t		  lo = i + 1 > (size_t) d->window ? i + 1 - d->window : 0;
	MemoryContext old = MemoryContextSwitchTo(d->cxt);
	int			  target;

	target = pgtrade_kind_decide(
		d->spec, d->p, (int) (i + 1 - lo), d->ts + lo, d->high + lo,
		d->low + lo, d->close + lo);
	MemoryContextSwitchTo(old);
	MemoryContextReset(d->cxt);
	return target;
}

/* What an engine runs on, from its arguments or read from the table. */
typedef struct BtInput
{
	const char		  *fn;
	int				   fast; /* sma_cross's; 0 for the other kinds */
	int				   slow;
	int				   window;
	int				   first; /* the period's closes, 0-based */
	int				   last;
	int				   n;
	const TimestampTz *ts;
	const double	  *open;
	const double	  *close;
	const double	  *high; /* NULL when not read */
	const double	  *low;
	Datum			   strategy;
	Oid				   strategy_type;
	Numeric			   capital;
	Numeric			   quantity;
	Numeric			   commission;
	Numeric			   slippage_bps;
	Numeric			   tick;
	double			   ppy;
	bool			   risk;
	text			  *account_tz;
	Datum			   bar_size; /* for the trades' decided_at */
	Datum			   time_zone;
	Datum			   session_close;
	PgtradeBarEnd	   bar_end; /* the three prepared */
	bool			   want_trades;
	MemoryContext	   list_cxt; /* where the trade list goes (NULL: the
								  * current context) */
} BtInput;

/* the engines' result columns, as pgtrade.backtest_engine_result has them */
#define BT_COLUMNS 15

static bool	 bt_engine(BtInput *in, BtKindDecide *kind, Datum *values,
					   bool *nulls);
static Datum bt_engine_call(FunctionCallInfo fcinfo, const BtArgs *a,
							BtKindDecide *kind);

/*
 * pgtrade.backtest_sma_cross_engine(strategy, fast, slow, window, ts,
 * open, high, low, close, first, last, capital, quantity, commission,
 * slippage_bps, tick_size, periods_per_year, risk, account_time_zone,
 * bar_size, time_zone, session_close, trades): first and last are
 * 1-based; the highs and lows serve risk sizing's ATR only; the
 * trade list is NULL without trades (a sweep's call), their number is
 * always there; see backtest_core.h and pgtrade.backtest.  Returns NULL
 * when the closes, the capital or an equity are beyond its doubles (too
 * large, or a capital too small for a normal double): the caller then
 * runs the reference loop, which works in numeric or says why not.
 */
Datum
pgtrade_backtest_sma_cross_engine(PG_FUNCTION_ARGS)
{
	static const BtArgs a = {"backtest_sma_cross_engine", 3, 4, 5, 6, 7, 8, 9,
							 23};

	return bt_engine_call(fcinfo, &a, NULL);
}

/*
 * pgtrade.backtest_kind_engine(strategy, kind, params, window, ts, open,
 * high, low, close, first, last, capital, quantity, commission,
 * slippage_bps, tick_size, periods_per_year, risk, account_time_zone,
 * bar_size, time_zone, session_close, trades): the same for the
 * built-in kinds of kinds.c, whose evaluation over the window a live
 * run loads decides each close, as pgtrade.<kind>_eval decides a live
 * run.
 */
Datum
pgtrade_backtest_kind_engine(PG_FUNCTION_ARGS)
{
	static const BtArgs a = {"backtest_kind_engine", 3, 4, 5, 6, 7, 8, 9,
							 23};
	BtKindDecide		d = {0};
	char			   *name;

	if (PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("backtest_kind_engine takes no NULL")));
	name = text_to_cstring(PG_GETARG_TEXT_PP(1));
	d.spec = pgtrade_kind_lookup(name);
	if (d.spec == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("\"%s\" is not a built-in kind of the backtest engine",
						name)));
	pgtrade_kind_params(d.spec, PG_GETARG_JSONB_P(2), d.p);
	return bt_engine_call(fcinfo, &a, &d);
}

/*
 * The result row for a function declared to return BT_COLUMNS columns
 * plus "extra"; an error when a database whose pgtrade is older than this
 * library declares it with other arguments or columns, never read past
 * the ones it passes.
 */
static TupleDesc
bt_result_desc(FunctionCallInfo fcinfo, const char *fn, int nargs, int extra)
{
	TupleDesc tupdesc;
	int		  k;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "%s must return a record", fn);
	if (PG_NARGS() != nargs || tupdesc->natts != BT_COLUMNS + extra)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s is declared for another version of pgtrade's "
						"library",
						fn),
				 errhint("Run ALTER EXTENSION pgtrade UPDATE in this "
						 "database.")));
	for (k = 0; k < nargs; k++)
		if (PG_ARGISNULL(k))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("%s takes no NULL", fn)));
	return BlessTupleDesc(tupdesc);
}

/*
 * The arguments every engine takes in the same order, from argument k
 * on: capital, quantity, commission, slippage_bps, tick_size, periods a
 * year, risk, the account's zone, the bar size, the instrument's zone
 * and session close, whether to list the trades; and the strategy, the
 * first argument.
 */
static void
bt_input_args(FunctionCallInfo fcinfo, int k, BtInput *in)
{
	in->strategy = PG_GETARG_DATUM(0);
	in->strategy_type = get_fn_expr_argtype(fcinfo->flinfo, 0);
	in->capital = PG_GETARG_NUMERIC(k);
	in->quantity = PG_GETARG_NUMERIC(k + 1);
	in->commission = PG_GETARG_NUMERIC(k + 2);
	in->slippage_bps = PG_GETARG_NUMERIC(k + 3);
	in->tick = PG_GETARG_NUMERIC(k + 4);
	in->ppy = PG_GETARG_FLOAT8(k + 5);
	in->risk = PG_GETARG_BOOL(k + 6);
	in->account_tz = PG_GETARG_TEXT_PP(k + 7);
	in->bar_size = PG_GETARG_DATUM(k + 8);
	in->time_zone = PG_GETARG_DATUM(k + 9);
	in->session_close = PG_GETARG_DATUM(k + 10);
	pgtrade_bar_end_prepare(&in->bar_end, in->bar_size, in->time_zone,
							in->session_close);
	in->want_trades = PG_GETARG_BOOL(k + 11);
}

/*
 * The engines called with the bars as arrays: the arguments read, the
 * engine run, its row made.  With kind NULL, sma_cross's own loop.
 */
static Datum
bt_engine_call(FunctionCallInfo fcinfo, const BtArgs *a, BtKindDecide *kind)
{
	BtInput	  in = {0};
	TupleDesc tupdesc = bt_result_desc(fcinfo, a->fn, a->nargs, 0);
	int		  f = a->first;
	int		  nopen;
	int		  nclose;
	Datum	  values[BT_COLUMNS];
	bool	  nulls[BT_COLUMNS] = {0};

	in.fn = a->fn;
	in.fast = kind ? 0 : PG_GETARG_INT32(1);
	in.slow = kind ? 0 : PG_GETARG_INT32(2);
	in.window = PG_GETARG_INT32(a->window);
	in.first = PG_GETARG_INT32(f) - 1;
	in.last = PG_GETARG_INT32(f + 1) - 1;
	in.ts = bt_array(fcinfo, a->ts, TIMESTAMPTZOID, &in.n, "ts");
	in.open = bt_array(fcinfo, a->open, FLOAT8OID, &nopen, "open");
	in.close = bt_array(fcinfo, a->close, FLOAT8OID, &nclose, "close");
	if (a->high >= 0)
	{
		int nhigh;
		int nlow;

		in.high = bt_array(fcinfo, a->high, FLOAT8OID, &nhigh, "high");
		in.low = bt_array(fcinfo, a->low, FLOAT8OID, &nlow, "low");
		if (nhigh != in.n || nlow != in.n)
			nopen = -1;
		if (kind)
		{
			kind->high = in.high;
			kind->low = in.low;
		}
	}
	if (in.n != nopen || in.n != nclose)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("the bars' arrays must have as many elements")));
	bt_input_args(fcinfo, f + 2, &in);
	if (!bt_engine(&in, kind, values, nulls))
		PG_RETURN_NULL();
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* bar_end of a bar start, with the instrument's size, zone and close */
static TimestampTz
bt_bar_end(const BtInput *in, TimestampTz t)
{
	return pgtrade_bar_end_at(&in->bar_end, t);
}

/*
 * The first bar from lo on that ends after bound (at or after it, unless
 * inclusive), by bisection: a bar's end grows with its start.  in->n when
 * none does.
 */
static int
bt_first_end_past(const BtInput *in, int lo, TimestampTz bound,
				  bool inclusive)
{
	int hi = in->n;

	while (lo < hi)
	{
		int			mid = lo + (hi - lo) / 2;
		TimestampTz end = bt_bar_end(in, in->ts[mid]);

		if (end < bound || (inclusive && end == bound))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/*
 * pgtrade.backtest_engine_read(strategy, instrument_id, kind, params,
 * fast, slow, window, from_ts, to_ts, capital, quantity, commission,
 * slippage_bps, tick_size, periods_per_year, risk, account_time_zone,
 * bar_size, time_zone, session_close, trades): the engine for the kind
 * (sma_cross with fast and slow, or another built-in kind with params)
 * over the bars read here, straight from the table into the engine's
 * arrays: those starting by to_ts, back to the window before the
 * period's first close.  The closes within the period are found here, as backtest finds
 * them, and the row carries the drawdown's ends and the first and last
 * of those closes as times.  NULL when there is no bar, when the table
 * is not a plain one (recent_bars reads it by a query), or when the
 * engine's doubles cannot hold the run: backtest then reads the bars
 * itself.  Reading a million bars this way skips the arrays' three
 * copies (recent_bars' arrays, the row that carries them, PL/pgSQL's
 * variables) and the columns the engine does not read.
 */
/*
 * The trade list of the transaction's last backtest_engine_read, which
 * hands it on through pgtrade.backtest_trade_list instead of its row:
 * backtest's PL/pgSQL would otherwise copy it (megabytes for a long
 * history) into a record, then into variables, then into its result
 * row, on its way to the result.  It lives in a context of its own under
 * TopTransactionContext until backtest_trade_list takes it: the context
 * is then the caller's, made a child of the caller's current one, and
 * lives as long as the value it returned.  The next read drops a list
 * not taken; the end of the transaction drops it too, and the context's
 * callback then forgets it.
 */
static MemoryContext bt_kept_cxt = NULL;
static Datum		 bt_kept_list;

static void
bt_kept_forget(void *arg)
{
	if (bt_kept_cxt == (MemoryContext) arg)
		bt_kept_cxt = NULL;
}

/* a fresh context for the next trade list, one not taken dropped */
static MemoryContext
bt_kept_start(void)
{
	MemoryContextCallback *cb;
	MemoryContext		   cxt;

	if (bt_kept_cxt != NULL)
		MemoryContextDelete(bt_kept_cxt);
	Assert(bt_kept_cxt == NULL);
	cxt = AllocSetContextCreate(TopTransactionContext, "backtest trade list",
								ALLOCSET_SMALL_SIZES);
	cb = MemoryContextAlloc(cxt, sizeof(MemoryContextCallback));
	cb->func = bt_kept_forget;
	cb->arg = cxt;
	MemoryContextRegisterResetCallback(cxt, cb);
	bt_kept_cxt = cxt;
	bt_kept_list = (Datum) 0;
	return cxt;
}

/*
 * pgtrade.backtest_trade_list(): the trade list the transaction's last
 * backtest_engine_read kept, taken: its memory is the caller's from then
 * on (no copy), and a second call finds none.
 */
Datum
pgtrade_backtest_trade_list(PG_FUNCTION_ARGS)
{
	MemoryContext cxt = bt_kept_cxt;

	if (cxt == NULL || bt_kept_list == (Datum) 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no backtest has kept a trade list in this "
						"transaction")));
	bt_kept_cxt = NULL;
	MemoryContextSetParent(cxt, CurrentMemoryContext);
	PG_RETURN_DATUM(bt_kept_list);
}

Datum
pgtrade_backtest_engine_read(PG_FUNCTION_ARGS)
{
	const char	 *fn = "backtest_engine_read";
	TupleDesc	  tupdesc = bt_result_desc(fcinfo, fn, 21, 2);
	BtInput		  in = {0};
	BtKindDecide  d = {0};
	BtKindDecide *kind = NULL;
	char		 *name = text_to_cstring(PG_GETARG_TEXT_PP(2));
	TimestampTz	  from = PG_GETARG_TIMESTAMPTZ(7);
	TimestampTz	  to = PG_GETARG_TIMESTAMPTZ(8);
	Interval	 *size = PG_GETARG_INTERVAL_P(17);
	TimestampTz	  floor_ts;
	PgtradeBars	  bars;
	Datum		  values[BT_COLUMNS + 2];
	bool		  nulls[BT_COLUMNS + 2] = {0};
	int			  columns = BARS_TS | BARS_OPEN | BARS_CLOSE | BARS_OWN_PAGES;
	int			  lo;
	int			  hi;
	int			  k;

	if (strcmp(name, "sma_cross") != 0)
	{
		d.spec = pgtrade_kind_lookup(name);
		if (d.spec == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("\"%s\" is not a built-in kind of the backtest "
							"engine",
							name)));
		pgtrade_kind_params(d.spec, PG_GETARG_JSONB_P(3), d.p);
		kind = &d;
		columns |= BARS_HIGH | BARS_LOW;
	}
	/* risk sizing reads the ATR, for sma_cross too */
	if (bt_strategy_sizing(PG_GETARG_DATUM(0)) == BT_RISK)
		columns |= BARS_HIGH | BARS_LOW;
	if (TIMESTAMP_NOT_FINITE(from) || TIMESTAMP_NOT_FINITE(to) || from > to)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s needs finite from_ts <= to_ts", fn)));
	in.window = PG_GETARG_INT32(6);
	if (in.window < 1 || in.window > 1000000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: window %d out of range", fn, in.window)));
	/*
	 * Every bar that starts by to_ts (before it plus a microsecond), back
	 * to the window a live run would load at the first close of the
	 * period, and no further: a bar that starts before floor_ts has ended
	 * before from_ts, and the window bars before the first close are all
	 * any decision looks at (the engine decides each close over that
	 * window, as backtest's loop does).  A backtest of the last year of
	 * a long history reads a year of bars and a window, not all of them.
	 */
	floor_ts = pgtrade_bars_floor(from, size);
	if (!pgtrade_read_bars(PG_GETARG_INT64(1), size, to + 1, PG_INT32_MAX,
						   floor_ts, in.window, columns, &bars) ||
		bars.n == 0)
		PG_RETURN_NULL();

	in.fn = fn;
	in.fast = kind ? 0 : PG_GETARG_INT32(4);
	in.slow = kind ? 0 : PG_GETARG_INT32(5);
	in.n = bars.n;
	in.ts = (const TimestampTz *) bars.col[0];
	in.open = (const double *) bars.col[1];
	in.close = (const double *) bars.col[4];
	if (columns & BARS_HIGH)
	{
		in.high = (const double *) bars.col[2];
		in.low = (const double *) bars.col[3];
	}
	if (kind)
	{
		d.high = in.high;
		d.low = in.low;
	}
	bt_input_args(fcinfo, 9, &in);

	/*
	 * The closes within the period, found as backtest_run finds them:
	 * the first bar starting at or after floor_ts (by its start), then
	 * from there by bisection (a bar's end grows with its start) the
	 * first ending at or after from_ts, and the last ending by to_ts.
	 * Every bar before floor_ts ends before from_ts; starting there, the
	 * search looks at the same bars whatever was read before them, even
	 * where a bar's end does not grow with its start (a zone whose local
	 * date once went back, as Alaska's did in 1867).
	 */
	lo = 0;
	hi = in.n;
	while (lo < hi)
	{
		int mid = lo + (hi - lo) / 2;

		if (in.ts[mid] < floor_ts)
			lo = mid + 1;
		else
			hi = mid;
	}
	in.first = bt_first_end_past(&in, lo, from, false);
	in.last = bt_first_end_past(&in, in.first, to, true) - 1;

	/* the trade list is kept for backtest_trade_list, not returned */
	if (in.want_trades)
		in.list_cxt = bt_kept_start();
	if (!bt_engine(&in, kind, values, nulls))
		PG_RETURN_NULL();
	if (in.want_trades)
	{
		bt_kept_list = values[14];
		nulls[14] = true;
	}
	/* the drawdown's ends (1-based closes) as the closes' times */
	for (k = 5; k <= 6; k++)
	{
		int at = nulls[k] ? 0 : DatumGetInt32(values[k]);

		nulls[k] = at < 1 || at > in.n || DatumGetInt32(values[0]) == 0;
		if (!nulls[k])
			values[k] = TimestampTzGetDatum(bt_bar_end(&in, in.ts[at - 1]));
	}
	/* the first and last closes tested */
	nulls[BT_COLUMNS] = nulls[BT_COLUMNS + 1] = DatumGetInt32(values[0]) == 0;
	if (!nulls[BT_COLUMNS])
	{
		values[BT_COLUMNS] = TimestampTzGetDatum(
			bt_bar_end(&in, in.ts[in.first]));
		values[BT_COLUMNS + 1] = TimestampTzGetDatum(bt_bar_end(
			&in, in.ts[in.first + DatumGetInt32(values[0]) - 1]));
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/* The sizing of a pgtrade.strategy row. */
static BtSizing
bt_strategy_sizing(Datum strategy)
{
	bool  isnull;
	Datum d = GetAttributeByName(DatumGetHeapTupleHeader(strategy), "sizing",
								 &isnull);
	char *sizing;

	if (isnull)
		elog(ERROR, "a strategy without its sizing");
	sizing = TextDatumGetCString(d);
	if (strcmp(sizing, "fixed") == 0)
		return BT_FIXED;
	if (strcmp(sizing, "equity_fraction") == 0)
		return BT_EQUITY_FRACTION;
	if (strcmp(sizing, "risk") == 0)
		return BT_RISK;
	elog(ERROR, "unknown sizing \"%s\"", sizing);
	return BT_FIXED; /* keep the compiler quiet */
}

/* A strategy row's attribute that is never NULL where it is read. */
static Datum
bt_strategy_attr(Datum strategy, const char *name)
{
	bool  isnull;
	Datum d = GetAttributeByName(DatumGetHeapTupleHeader(strategy), name,
								 &isnull);

	if (isnull)
		elog(ERROR, "a sized strategy without its %s", name);
	return d;
}

/*
 * What sizing reads: the strategy's fraction, ATR period and multiple,
 * the instrument's lot size, and room for the ATR of a window.
 */
static void
bt_sizing_params(BtState *st, const BtInput *in)
{
	Oid	  type = INT8OID;
	Datum id = bt_strategy_attr(in->strategy, "instrument_id");
	Datum lot;
	bool  isnull;
	int	  rc;

	st->fraction = DatumGetNumeric(
		bt_strategy_attr(in->strategy, "sizing_fraction"));
	st->atr_multiple = DatumGetNumeric(
		bt_strategy_attr(in->strategy, "atr_multiple"));
	st->atr_period = DatumGetInt32(
		bt_strategy_attr(in->strategy, "atr_period"));
	st->window = in->window;
	st->high = in->high;
	st->low = in->low;
	st->atr = palloc(sizeof(double) * (size_t) in->window);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	rc = SPI_execute_with_args(
		"SELECT i.lot_size FROM pgtrade.instrument i "
		"WHERE i.instrument_id = $1",
		1, &type, &id, NULL, true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "the lot size of instrument %lld not found",
			 (long long) DatumGetInt64(id));
	lot = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
						&isnull);
	if (isnull)
		elog(ERROR, "instrument without a lot size");
	lot = SPI_datumTransfer(lot, false, -1);
	SPI_finish();
	/* unpacked (a short header) here, not in SPI's memory */
	st->lot = DatumGetNumeric(lot);
}

/*
 * The engine: the loop run with fills and orders in numeric, the result
 * columns made.  With kind NULL, sma_cross's own loop.  false when the
 * result is NULL: the closes, the capital or an equity are beyond its
 * doubles.
 */
static bool
bt_engine(BtInput *in, BtKindDecide *kind, Datum *values, bool *nulls)
{
	BtState		st = {0};
	BtCallbacks cb = {&st,
					  bt_order,
					  bt_fill,
					  bt_cmp_equity,
					  bt_cmp_drawdown,
					  bt_exact_return,
					  in->open};
	BtResult	res;
	int			nts = in->n;
	int			first = in->first;
	int			last = in->last;
	int			fast = in->fast;
	int			slow = in->slow;
	int			window = in->window;
	double		ppy = in->ppy;
	Dec			dcapital = {0, 0, 0};
	size_t		n;
	Numeric		frac;
	double		cap;
	double	   *work;
	int			rc;
	long		lastclose;

	cap = num_to_float8(in->capital);
	/* a capital the doubles cannot hold (1e-400, say): the loop's */
	if (!isnormal(cap))
		return false;

	if (in->window < 1 || in->window > 1000000 || first < 0 ||
		last < first - 1 || last >= nts)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: window %d, closes %d to %d of %d out of range",
						in->fn, in->window, first + 1, last + 1, nts)));

	num_zero = int64_to_numeric(0);
	num_one = int64_to_numeric(1);
	st.ts = in->ts;
	st.open = in->open;
	st.close = in->close;
	st.mcxt = CurrentMemoryContext;
	st.scratch = AllocSetContextCreate(st.mcxt, "pgtrade backtest exact",
									   ALLOCSET_SMALL_SIZES);
	st.strategy = in->strategy;
	st.strategy_type = in->strategy_type;
	st.quantity = in->quantity;
	st.commission = in->commission;
	frac = num_div(in->slippage_bps, int64_to_numeric(10000));
	st.buy_factor = num_add(num_one, frac);
	st.sell_factor = num_sub(num_one, frac);
	st.tick = in->tick;
	st.risk = in->risk;
	st.account_tz = in->account_tz;
	st.want_trades = in->want_trades;
	/* exact mode when every figure given fits in a Dec */
	st.exact = numeric_dec(in->capital, &dcapital) &&
		numeric_dec(st.quantity, &st.dquantity) &&
		numeric_dec(st.commission, &st.dcommission) &&
		numeric_dec(st.buy_factor, &st.dbuy_factor) &&
		numeric_dec(st.sell_factor, &st.dsell_factor) &&
		numeric_dec(st.tick, &st.dtick);
	st.capital = in->capital;
	st.sizing = bt_strategy_sizing(in->strategy);
	if (st.sizing != BT_FIXED)
	{
		/* risk sizing without the highs and lows: the loop's */
		if (st.sizing == BT_RISK && in->high == NULL)
			return false;
		bt_sizing_params(&st, in);
	}
	/* room for a fill at every bar, or for 65,536 (14 MB), from the start */
	st.maxfills = (long) Max(256, Min((long) last - first + 2, 65536));
	st.fill_pages = pgtrade_pages_create();
	st.fills = pgtrade_pages_resize(st.fill_pages, st.maxfills * sizeof(BtFill));
	work = palloc_extended(
		sizeof(double) * bt_work_doubles((size_t) nts, in->window),
		MCXT_ALLOC_HUGE);

	if (st.risk)
	{
		/* backtest_order_check's argument types, in order */
		Oid types[12] = {
			st.strategy_type, TEXTOID, NUMERICOID, FLOAT8OID, NUMERICOID,
			NUMERICOID, NUMERICOID, DATEOID, NUMERICOID, DATEOID, INT4OID,
			TIMESTAMPTZOID};

		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		st.check = SPI_prepare(
			"SELECT c.passed, c.day FROM pgtrade.backtest_order_check($1, $2, "
			"$3, $4, $5, $6, $7, $8, $9, $10, $11, $12) c",
			12, types);
		if (st.check == NULL)
			elog(ERROR, "SPI_prepare failed: %s",
				 SPI_result_code_string(SPI_result));
	}
	if (kind)
	{
		kind->window = in->window;
		kind->ts = st.ts;
		kind->close = st.close;
		kind->cxt = AllocSetContextCreate(
			CurrentMemoryContext, "backtest evaluation", ALLOCSET_DEFAULT_SIZES);
	}
	n = (size_t) nts;
	for (;;)
	{
		/* the account at the start, in numeric and (exact mode) in Decs */
		st.pos = num_zero;
		st.avg = NULL;
		st.real = num_zero;
		st.cash = in->capital;
		st.pending = NULL;
		st.pending_at = 0;
		st.have_fill_day = false;
		st.have_order_day = false;
		st.order_day_orders = 0;
		st.nfills = 0;
		st.wins = 0;
		st.closes = 0;
		st.gain = num_zero;
		st.loss = num_zero;
		st.overflowed = false;
		st.dpos = st.dreal = st.dgain = st.dloss = dec_int(0);
		st.dcash = dcapital;
		st.have_davg = false;
		if (kind)
			rc = bt_run(st.close, n, first, last, cap, ppy, bt_kind_decide,
						kind, &cb, work, &res);
		else
			rc = bt_sma_cross_run(st.close, n, first, last, fast, slow, window,
								  cap, ppy, &cb, work, &res);
		if (!st.exact || !st.overflowed)
			break;
		/* a value outgrew 128 bits: the whole run again, in numeric */
		st.exact = false;
	}
	if (st.risk)
		SPI_finish();
	if (rc == BT_ENOTFINITE || st.fallback)
		return false;
	if (st.exact)
	{
		st.gain = dec_numeric(st.dgain);
		st.loss = dec_numeric(st.dloss);
	}
	if (rc != BT_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s: fast %d, slow %d, window %d out of range",
						in->fn, in->fast, in->slow, in->window)));

	values[0] = Int32GetDatum((int32) res.bars);
	values[1] = Int32GetDatum((int32) res.in_market);
	values[2] = Int32GetDatum((int32) res.refused);
	/* final equity, and the drawdown's two ends, in numeric */
	lastclose = res.bars > 0 ? (nts - 1 < last ? nts - 1 : last) : -1;
	values[3] = ND(bt_equity_at(&st, in->capital, lastclose));
	if (res.trough_at >= 0)
	{
		long	peak_at = res.peak_capital ? -1 : res.peak_at;
		Numeric peak = bt_equity_at(&st, in->capital, peak_at);
		Numeric trough = bt_equity_at(&st, in->capital, res.trough_at);

		values[4] = ND(num_sub(num_div(trough, peak), num_one));
		values[5] = Int32GetDatum((int32) res.peak_at + 1);
		values[6] = Int32GetDatum((int32) res.trough_at + 1);
	}
	else
		nulls[4] = nulls[5] = nulls[6] = true;
	values[7] = Float8GetDatum(res.sharpe);
	nulls[7] = isnan(res.sharpe);
	values[8] = Float8GetDatum(res.sortino);
	nulls[8] = isnan(res.sortino);
	values[9] = Int32GetDatum(st.wins);
	values[10] = Int32GetDatum(st.closes);
	values[11] = ND(st.gain);
	values[12] = ND(st.loss);
	/* the trades: how many, and their list unless a sweep's */
	values[13] = Int32GetDatum((int32) st.nfills);
	if (st.want_trades)
	{
		MemoryContext old = MemoryContextSwitchTo(
			in->list_cxt ? in->list_cxt : CurrentMemoryContext);

		values[14] = bt_trade_list(&st, &in->bar_end);
		MemoryContextSwitchTo(old);
	}
	else
		nulls[14] = true;
	return true;
}

/*
 * pgtrade.backtest(strategy, from_ts, to_ts, capital, commission,
 * slippage_bps, params, store, risk): pgtrade.backtest_run with those,
 * no bars given and the trade list wanted, called with the caller's own
 * ReturnSetInfo: backtest_run's result (a tuplestore) is backtest's, not
 * copied into another by a wrapper's RETURN QUERY (a copy of the trade
 * list, megabytes for a long history).  backtest_run checks the
 * arguments, with its own rights and settings.
 */
#define BT_RUN_NARGS 16

typedef struct BtRunCall
{
	FmgrInfo flinfo;
} BtRunCall;

Datum
pgtrade_backtest(PG_FUNCTION_ARGS)
{
	BtRunCall *c = (BtRunCall *) fcinfo->flinfo->fn_extra;
	Datum	   result;
	int		   i;

	LOCAL_FCINFO(run, BT_RUN_NARGS);

	if (c == NULL)
	{
		Oid types[BT_RUN_NARGS] = {
			TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID, NUMERICOID, NUMERICOID,
			NUMERICOID, JSONBOID, BOOLOID, BOOLOID, TIMESTAMPTZARRAYOID,
			FLOAT8ARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID, FLOAT8ARRAYOID,
			FLOAT8ARRAYOID, BOOLOID};
		List *name = list_make2(makeString("pgtrade"),
								makeString("backtest_run"));
		Oid	  fn = LookupFuncName(name, BT_RUN_NARGS, types, false);

		c = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(BtRunCall));
		fmgr_info_cxt(fn, &c->flinfo, fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = c;
	}
	if (PG_NARGS() != 9)
		elog(ERROR, "backtest takes 9 arguments, not %d", PG_NARGS());
	InitFunctionCallInfoData(*run, &c->flinfo, BT_RUN_NARGS,
							 fcinfo->fncollation, fcinfo->context,
							 fcinfo->resultinfo);
	for (i = 0; i < 9; i++)
		run->args[i] = fcinfo->args[i];
	for (i = 9; i < BT_RUN_NARGS - 1; i++)
	{
		run->args[i].value = (Datum) 0;
		run->args[i].isnull = true;
	}
	run->args[BT_RUN_NARGS - 1].value = BoolGetDatum(true);
	run->args[BT_RUN_NARGS - 1].isnull = false;
	result = FunctionCallInvoke(run);
	fcinfo->isnull = run->isnull;
	return result;
}
