/*-------------------------------------------------------------------------
 *
 * kinds.c
 *	  The built-in strategy kinds other than sma_cross: ema_cross,
 *	  macd_cross, rsi_reversion, bollinger_breakout and confirmations.
 *
 * Each kind is a table entry: its parameters (name, integer or not,
 * range, default) and two functions, the bars an evaluation needs and
 * the evaluation itself.  The SQL glue is shared: every kind has a
 * validator pgtrade.<kind>_validate(params jsonb) returning the bars it
 * needs, and an evaluator pgtrade.<kind>_eval(params, ts, open, high,
 * low, close, volume) returning
 *	 {"target", "signal", "reason", "values": {...}}
 * as sma_cross does.  Parameters are a JSON object whose keys must be
 * the kind's; a key left out takes its default.  A bad key, type or
 * value raises 22023 naming it.
 *
 * An evaluation looks at the last bar (and the one before it, for the
 * crosses).  With too few bars for its indicators it has no opinion
 * (target null) and says how many it needs.  Targets are 1 (long) and 0
 * (flat); a kind never asks to be short.  The indicators are those of
 * indicators.c, with their TA-Lib conventions.  Dates in reasons are
 * printed in the session's time zone (the scheduler sets the exchange's),
 * so the evaluators are STABLE.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/float.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

#include "indicators.h"
#include "kinds.h"
#include "strategy_sql.h"

/* two values closer than this times their size are equal (as sma_cross) */
#define KIND_REL_EPS 1e-10

typedef struct KindParam
{
	const char *key;
	bool		integer;
	double		min;
	double		max;
	double		def;
} KindParam;

/* The bars of one evaluation, oldest first. */
typedef struct KindBars
{
	int				   n;
	const TimestampTz *ts;
	const double	  *high;
	const double	  *low;
	const double	  *close;
} KindBars;

/* One member of an answer's "values": a number (NULL when unknown) or a flag. */
typedef struct KindValue
{
	const char *key;
	bool		is_flag;
	bool		known;
	double		x;
} KindValue;

#define KIND_MAX_VALUES 12

/*
 * What an evaluation found: target, reason and the values it used.  The
 * reason is written only when words is set: the backtest engines ask
 * each close for its target alone, and printing the reason was most of
 * their time.
 */
typedef struct KindResult
{
	bool		   words;
	bool		   has_target;
	int			   target;
	StringInfoData reason;
	int			   nvalues;
	KindValue	   values[KIND_MAX_VALUES];
} KindResult;

struct KindSpec
{
	const char *name;
	int			nparams;
	KindParam	params[KIND_MAX_PARAMS];
	int			less[2]; /* params[less[0]] < params[less[1]], or -1s */
	int (*bars_needed)(const double *p);
	void (*evaluate)(const double *p, const KindBars *b, KindResult *r);
};

static void kind_refuse(const KindSpec *spec, const char *detail)
	pg_attribute_noreturn();

/*
 * Raise 22023 for invalid parameters of a kind.
 */
static void
kind_refuse(const KindSpec *spec, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid parameters for strategy kind \"%s\"", spec->name),
			 errdetail_internal("%s", detail)));
}

/*
 * Return the keys of a kind, quoted and comma-separated, for messages.
 */
static char *
kind_keys(const KindSpec *spec)
{
	StringInfoData buf;
	int			   i;

	initStringInfo(&buf);
	for (i = 0; i < spec->nparams; i++)
		appendStringInfo(&buf, "%s\"%s\"", i == 0 ? "" : ", ",
						 spec->params[i].key);
	return buf.data;
}

/*
 * Return true when a number's text has no fraction but zeros ("10",
 * "10.00"), so that 12.00000000000000000001, which a double rounds to 12,
 * is no integer.
 */
static bool
kind_integral_text(const char *text)
{
	const char *dot = strchr(text, '.');

	if (dot == NULL)
		return strchr(text, 'e') == NULL && strchr(text, 'E') == NULL;
	for (dot++; *dot != '\0'; dot++)
		if (*dot != '0')
			return false;
	return true;
}

/*
 * Return true when the last count closes (of n) are all equal: RSI is 0
 * there by TA-Lib's convention, which is no move rather than all losses.
 */
static bool
kind_flat(const double *close, int n, int count)
{
	int i;

	for (i = Max(n - count, 0) + 1; i < n; i++)
		if (close[i] != close[i - 1])
			return false;
	return true;
}

/*
 * Read one parameter's JSON value into *out, refusing a non-number, a
 * fraction for an integer parameter and a value out of range.
 */
static void
kind_param_value(const KindSpec *spec, const KindParam *kp,
				 const JsonbValue *v, double *out)
{
	double x;
	char  *text;

	const char *want = kp->integer ? "an integer" : "a number";
	Datum		num;

	if (v->type != jbvNumeric)
	{
		const char *got = pgtrade_json_kind(v);

		kind_refuse(spec, psprintf("Key \"%s\" must be %s, got %s.", kp->key, want, got));
	}
	num = NumericGetDatum(v->val.numeric);
	text = DatumGetCString(DirectFunctionCall1(numeric_out, num));
	x = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow, num));
	if (kp->integer && (x != floor(x) || !kind_integral_text(text)))
		kind_refuse(spec, psprintf("Key \"%s\" must be an integer, "
								   "got %s.",
								   kp->key, text));
	if (!(x >= kp->min && x <= kp->max))
	{
		char *msg = psprintf("Key \"%s\" must be between %g and %g, got %s.",
							 kp->key, kp->min, kp->max, text);

		kind_refuse(spec, msg);
	}
	*out = x;
}

/*
 * Read a kind's parameters into p[0..nparams-1] (defaults for keys left
 * out), raising 22023 for anything the kind does not accept.
 */
static void
kind_params(const KindSpec *spec, Jsonb *params, double *p)
{
	JsonbIterator	  *it;
	JsonbIteratorToken tok;
	JsonbValue		   v;
	int				   at = -1;
	int				   i;

	for (i = 0; i < spec->nparams; i++)
		p[i] = spec->params[i].def;
	if (!JB_ROOT_IS_OBJECT(params))
	{
		if (JB_ROOT_IS_SCALAR(params) && JsonbExtractScalar(&params->root, &v))
			kind_refuse(spec, psprintf("Parameters must be a JSON object, "
									   "got %s.",
									   pgtrade_json_kind(&v)));
		kind_refuse(spec, "Parameters must be a JSON object, got an array.");
	}
	it = JsonbIteratorInit(&params->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			char *key = pnstrdup(v.val.string.val, v.val.string.len);

			for (at = 0; at < spec->nparams; at++)
				if (strcmp(key, spec->params[at].key) == 0)
					break;
			if (at == spec->nparams)
			{
				char *keys = kind_keys(spec);

				char *msg = psprintf("Key \"%s\" is not allowed; the keys "
									 "are %s.",
									 key, keys);

				kind_refuse(spec, msg);
			}
		}
		else if (tok == WJB_VALUE)
			kind_param_value(spec, &spec->params[at], &v, &p[at]);
	}
	if (spec->less[0] >= 0 && p[spec->less[0]] >= p[spec->less[1]])
	{
		int	  a = spec->less[0];
		int	  b = spec->less[1];
		char *msg;

		msg = psprintf("Key \"%s\" (%g) must be less than key \"%s\" (%g).",
					   spec->params[a].key, p[a], spec->params[b].key, p[b]);
		kind_refuse(spec, msg);
	}
}

/*
 * Add key: x (null when not known) to the answer's values.
 */
static void
kind_value(KindResult *r, const char *key, bool known, double x)
{
	KindValue *v;

	if (r->nvalues >= KIND_MAX_VALUES)
		elog(ERROR, "too many values in a strategy kind's answer");
	v = &r->values[r->nvalues++];
	v->key = key;
	v->is_flag = false;
	v->known = known;
	v->x = x;
}

/*
 * Add key: true or false to the answer's values.
 */
static void
kind_flag(KindResult *r, const char *key, bool flag)
{
	kind_value(r, key, true, flag ? 1.0 : 0.0);
	r->values[r->nvalues - 1].is_flag = true;
}

/*
 * Compare a and b: 1 above, -1 below, 0 equal within KIND_REL_EPS.
 */
static int
kind_compare(double a, double b)
{
	double scale = fmax(fabs(a), fabs(b));

	if (fabs(a - b) <= KIND_REL_EPS * scale)
		return 0;
	return a > b ? 1 : -1;
}

/*
 * Raise 22003 when one of the count indicator values the evaluation
 * reads (x) overflowed.
 */
static void
kind_check_finite(const KindSpec *spec, const char *what, const double *x,
				  int count)
{
	int i;

	for (i = 0; i < count; i++)
		if (!isfinite(x[i]))
			ereport(ERROR,
					(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
					 errmsg("%s out of range in strategy kind \"%s\"", what,
							spec->name),
					 errdetail("The input values are too large for double "
							   "precision arithmetic.")));
}

/*
 * Set "not enough bars" as the result: no opinion.
 */
static void
kind_too_few(KindResult *r, const char *what, int needed, int given)
{
	r->has_target = false;
	if (r->words)
		appendStringInfo(&r->reason, "not enough bars: %s needs %d bars, "
									 "%d given",
						 what, needed, given);
}

/*
 * Set the target from a relation (1: long, -1: flat, 0: no opinion).
 */
static void
kind_target(KindResult *r, int relation)
{
	r->has_target = relation != 0;
	r->target = relation > 0 ? 1 : 0;
}

static const char *kind_last_date(const KindBars *b);

/* ---------------------------------------------------------------------
 * ema_cross: long while the fast EMA is above the slow one, flat below
 * ---------------------------------------------------------------------
 */
static int
ema_cross_bars(const double *p)
{
	return (int) p[1] + 1;
}

/*
 * Describe a two-line relation on the last bar: crossed on it, or held.
 */
static void
kind_cross_reason(KindResult *r, const char *a, double av, const char *b,
				  double bv, int now, int before, const char *date)
{
	const char *side = now > 0 ? "above" : "below";

	if (now == 0)
		appendStringInfo(&r->reason, "%s %.4f equals %s %.4f on the last bar "
									 "(%s): no signal",
						 a, av, b, bv, date);
	else if (now != before)
		appendStringInfo(&r->reason, "%s %.4f crossed %s %s %.4f on the last "
									 "bar (%s)",
						 a, av, side, b, bv, date);
	else
		appendStringInfo(&r->reason, "%s %.4f is %s %s %.4f on the last bar "
									 "(%s)",
						 a, av, side, b, bv, date);
}

static void
ema_cross_evaluate(const double *p, const KindBars *b, KindResult *r);

/* ---------------------------------------------------------------------
 * macd_cross: long while the MACD line is above its signal, flat below
 * ---------------------------------------------------------------------
 */
static int
macd_cross_bars(const double *p)
{
	return (int) (p[1] + p[2]);
}

static void
macd_cross_evaluate(const double *p, const KindBars *b, KindResult *r);

/* ---------------------------------------------------------------------
 * rsi_reversion: long below the low threshold, flat above the high one
 * ---------------------------------------------------------------------
 */
static int
rsi_reversion_bars(const double *p)
{
	return (int) p[0] + 1;
}

static void
rsi_reversion_evaluate(const double *p, const KindBars *b, KindResult *r);

/* ---------------------------------------------------------------------
 * bollinger_breakout: long on a close above the upper band, flat on one
 * below the lower band
 * ---------------------------------------------------------------------
 */
static int
bollinger_breakout_bars(const double *p)
{
	return (int) p[0];
}

static void
bollinger_breakout_evaluate(const double *p, const KindBars *b,
							KindResult *r);

/* ---------------------------------------------------------------------
 * confirmations: long when at least k of four indicators say up, flat
 * when at least k say down
 * ---------------------------------------------------------------------
 */
static int
confirmations_bars(const double *p)
{
	int need = (int) p[1] + 1;

	need = Max(need, (int) p[3]);
	need = Max(need, (int) (p[5] + p[6] - 1));
	need = Max(need, (int) p[7] + 1);
	return need;
}

static void
confirmations_evaluate(const double *p, const KindBars *b, KindResult *r);

static const KindSpec kind_ema_cross = {
	.name = "ema_cross",
	.nparams = 2,
	.params = {{"fast", true, 1, 10000, 12}, {"slow", true, 2, 10000, 26}},
	.less = {0, 1},
	.bars_needed = ema_cross_bars,
	.evaluate = ema_cross_evaluate,
};

static const KindSpec kind_macd_cross = {
	.name = "macd_cross",
	.nparams = 3,
	.params = {{"fast", true, 1, 10000, 12},
			   {"slow", true, 2, 10000, 26},
			   {"signal", true, 1, 10000, 9}},
	.less = {0, 1},
	.bars_needed = macd_cross_bars,
	.evaluate = macd_cross_evaluate,
};

static const KindSpec kind_rsi_reversion = {
	.name = "rsi_reversion",
	.nparams = 3,
	.params = {{"period", true, 1, 10000, 14},
			   {"low", false, 0, 100, 30},
			   {"high", false, 0, 100, 70}},
	.less = {1, 2},
	.bars_needed = rsi_reversion_bars,
	.evaluate = rsi_reversion_evaluate,
};

static const KindSpec kind_bollinger_breakout = {
	.name = "bollinger_breakout",
	.nparams = 2,
	.params = {{"period", true, 1, 10000, 20}, {"k", false, 0, 100, 2}},
	.less = {-1, -1},
	.bars_needed = bollinger_breakout_bars,
	.evaluate = bollinger_breakout_evaluate,
};

static const KindSpec kind_confirmations = {
	.name = "confirmations",
	.nparams = 8,
	.params = {{"k", true, 1, 4, 3},
			   {"supertrend_period", true, 1, 10000, 10},
			   {"supertrend_multiplier", false, 0, 100, 3},
			   {"sma", true, 1, 10000, 20},
			   {"macd_fast", true, 1, 10000, 12},
			   {"macd_slow", true, 2, 10000, 26},
			   {"macd_signal", true, 1, 10000, 9},
			   {"rsi", true, 1, 10000, 14}},
	.less = {4, 5},
	.bars_needed = confirmations_bars,
	.evaluate = confirmations_evaluate,
};

/*
 * Return the last bar's time as reasons print it.
 */
static const char *
kind_last_date(const KindBars *b)
{
	return b->n > 0 ? pgtrade_format_ts(b->ts[b->n - 1]) : "";
}

/*
 * Return palloc'd space for n doubles (at least one).
 */
static double *
kind_buffer(int n)
{
	return palloc(sizeof(double) * (n > 0 ? n : 1));
}

static void
ema_cross_evaluate(const double *p, const KindBars *b, KindResult *r)
{
	int		fast = (int) p[0];
	int		slow = (int) p[1];
	int		n = b->n;
	double *f = kind_buffer(n);
	double *s = kind_buffer(n);
	int		now;
	int		before;
	double	last[4];

	if (n < ema_cross_bars(p))
	{
		kind_too_few(r, psprintf("EMA(%d) of the bar before the last", slow),
					 ema_cross_bars(p), n);
		return;
	}
	ind_ema(b->close, (size_t) n, fast, f);
	ind_ema(b->close, (size_t) n, slow, s);
	last[0] = f[n - 1];
	last[1] = s[n - 1];
	last[2] = f[n - 2];
	last[3] = s[n - 2];
	kind_check_finite(&kind_ema_cross, "an EMA", last, 4);
	now = kind_compare(f[n - 1], s[n - 1]);
	before = kind_compare(f[n - 2], s[n - 2]);
	kind_target(r, now);
	if (r->words)
		kind_cross_reason(r, psprintf("fast EMA(%d)", fast), f[n - 1],
						  psprintf("slow EMA(%d)", slow), s[n - 1], now,
						  before, kind_last_date(b));
	kind_value(r, "fast", true, f[n - 1]);
	kind_value(r, "slow", true, s[n - 1]);
	kind_value(r, "fast_prev", true, f[n - 2]);
	kind_value(r, "slow_prev", true, s[n - 2]);
	kind_flag(r, "crossed", now != 0 && now != before);
}

static void
macd_cross_evaluate(const double *p, const KindBars *b, KindResult *r)
{
	int		fast = (int) p[0];
	int		slow = (int) p[1];
	int		signal = (int) p[2];
	int		n = b->n;
	double *m = kind_buffer(n);
	double *sg = kind_buffer(n);
	double *h = kind_buffer(n);
	int		now;
	int		before;
	double	last[4];

	if (n < macd_cross_bars(p))
	{
		kind_too_few(r,
					 psprintf("the signal of MACD(%d,%d,%d) on the bar "
							  "before the last",
							  fast, slow, signal),
					 macd_cross_bars(p), n);
		return;
	}
	ind_macd(b->close, (size_t) n, fast, slow, signal, m, sg, h);
	last[0] = m[n - 1];
	last[1] = sg[n - 1];
	last[2] = m[n - 2];
	last[3] = sg[n - 2];
	kind_check_finite(&kind_macd_cross, "MACD", last, 4);
	now = kind_compare(m[n - 1], sg[n - 1]);
	before = kind_compare(m[n - 2], sg[n - 2]);
	kind_target(r, now);
	if (r->words)
		kind_cross_reason(r, psprintf("MACD(%d,%d,%d)", fast, slow, signal),
						  m[n - 1], "its signal", sg[n - 1], now, before,
						  kind_last_date(b));
	kind_value(r, "macd", true, m[n - 1]);
	kind_value(r, "signal", true, sg[n - 1]);
	kind_value(r, "hist", true, h[n - 1]);
	kind_value(r, "macd_prev", true, m[n - 2]);
	kind_value(r, "signal_prev", true, sg[n - 2]);
	kind_flag(r, "crossed", now != 0 && now != before);
}

static void
rsi_reversion_evaluate(const double *p, const KindBars *b, KindResult *r)
{
	StringInfo why = &r->reason;
	int		   period = (int) p[0];
	double	   low = p[1];
	double	   high = p[2];
	int		   n = b->n;
	double	  *v = kind_buffer(n);
	double	   x;

	if (n < rsi_reversion_bars(p))
	{
		kind_too_few(r, psprintf("RSI(%d)", period), rsi_reversion_bars(p), n);
		return;
	}
	ind_rsi(b->close, (size_t) n, period, v);
	x = v[n - 1];
	kind_check_finite(&kind_rsi_reversion, "RSI", &x, 1);
	if (kind_flat(b->close, n, n))
	{
		kind_target(r, 0);
		if (r->words)
			appendStringInfo(why, "RSI(%d): the %d closes given did not move "
								  "(last bar %s): no signal",
							 period, n, kind_last_date(b));
	}
	else if (x < low)
	{
		kind_target(r, 1);
		if (r->words)
			appendStringInfo(why, "RSI(%d) %.4f is below %g (oversold) on "
								  "the last bar (%s)",
							 period, x, low, kind_last_date(b));
	}
	else if (x > high)
	{
		kind_target(r, -1);
		if (r->words)
			appendStringInfo(why, "RSI(%d) %.4f is above %g (overbought) "
								  "on the last bar (%s)",
							 period, x, high, kind_last_date(b));
	}
	else
	{
		kind_target(r, 0);
		if (r->words)
			appendStringInfo(why, "RSI(%d) %.4f lies within %g to %g on "
								  "the last bar (%s): no signal",
							 period, x, low, high, kind_last_date(b));
	}
	kind_value(r, "rsi", true, x);
	kind_value(r, "low", true, low);
	kind_value(r, "high", true, high);
}

static void
bollinger_breakout_evaluate(const double *p, const KindBars *b,
							KindResult *r)
{
	StringInfo	why = &r->reason;
	int			period = (int) p[0];
	double		k = p[1];
	int			n = b->n;
	double	   *u = kind_buffer(n);
	double	   *m = kind_buffer(n);
	double	   *l = kind_buffer(n);
	double		c;
	const char *date;
	double		last[2];

	if (n < bollinger_breakout_bars(p))
	{
		kind_too_few(r, psprintf("Bollinger(%d)", period),
					 bollinger_breakout_bars(p), n);
		return;
	}
	ind_bollinger(b->close, (size_t) n, period, k, u, m, l);
	last[0] = u[n - 1];
	last[1] = l[n - 1];
	kind_check_finite(&kind_bollinger_breakout, "a Bollinger band", last, 2);
	c = b->close[n - 1];
	date = r->words ? kind_last_date(b) : NULL;
	if (kind_compare(c, u[n - 1]) > 0)
	{
		kind_target(r, 1);
		if (r->words)
			appendStringInfo(why,
							 "close %.4f is above the upper band %.4f "
							 "(SMA(%d) %.4f + %g sd) "
							 "on the last bar (%s)",
							 c, u[n - 1], period, m[n - 1], k, date);
	}
	else if (kind_compare(c, l[n - 1]) < 0)
	{
		kind_target(r, -1);
		if (r->words)
			appendStringInfo(why,
							 "close %.4f is below the lower band %.4f "
							 "(SMA(%d) %.4f - %g sd) "
							 "on the last bar (%s)",
							 c, l[n - 1], period, m[n - 1], k, date);
	}
	else
	{
		kind_target(r, 0);
		if (r->words)
			appendStringInfo(why,
							 "close %.4f lies within the bands "
							 "%.4f to %.4f "
							 "on the last bar (%s): no signal",
							 c, l[n - 1], u[n - 1], date);
	}
	kind_value(r, "upper", true, u[n - 1]);
	kind_value(r, "middle", true, m[n - 1]);
	kind_value(r, "lower", true, l[n - 1]);
}

/*
 * Return "above", "below" or "at" for a relation of kind_compare().
 */
static const char *
kind_side(int rel)
{
	if (rel > 0)
		return "above";
	return rel < 0 ? "below" : "at";
}

/*
 * One of confirmations' four tests: up (1), down (-1) or neither (0),
 * with the words for the reason (none when text is NULL).
 */
static int
confirmations_test(StringInfo words, int dir, const char *text)
{
	if (text == NULL)
		return dir;
	if (words->len > 0)
		appendStringInfoString(words, ", ");
	appendStringInfoString(words, text);
	return dir;
}

static void
confirmations_evaluate(const double *p, const KindBars *b, KindResult *r)
{
	int			   k = (int) p[0];
	int			   st_period = (int) p[1];
	double		   st_mult = p[2];
	int			   sma_period = (int) p[3];
	int			   mf = (int) p[4];
	int			   ms = (int) p[5];
	int			   mg = (int) p[6];
	int			   rsi_period = (int) p[7];
	int			   n = b->n;
	int			   L = n - 1;
	double		  *line = kind_buffer(n);
	double		  *trend = kind_buffer(n);
	double		  *sma = kind_buffer(n);
	double		  *m = kind_buffer(n);
	double		  *sg = kind_buffer(n);
	double		  *h = kind_buffer(n);
	double		  *rsi = kind_buffer(n);
	int			   dirs[4];
	int			   ups = 0;
	int			   downs = 0;
	int			   i;
	StringInfoData words;
	double		   c;
	int			   rel;
	char		  *text;
	double		   last[5];
	StringInfo	   why = &r->reason;

	if (n < confirmations_bars(p))
	{
		kind_too_few(r, "the slowest of its indicators", confirmations_bars(p),
					 n);
		return;
	}
	ind_supertrend(b->high, b->low, b->close, (size_t) n, st_period, st_mult,
				   line, trend);
	ind_sma(b->close, (size_t) n, sma_period, sma);
	ind_macd(b->close, (size_t) n, mf, ms, mg, m, sg, h);
	ind_rsi(b->close, (size_t) n, rsi_period, rsi);
	last[0] = line[L];
	last[1] = sma[L];
	last[2] = m[L];
	last[3] = sg[L];
	last[4] = rsi[L];
	kind_check_finite(&kind_confirmations, "an indicator", last, 5);
	c = b->close[L];
	initStringInfo(&words);
	rel = (int) trend[L];
	text = NULL;
	if (r->words)
		text = psprintf("SuperTrend(%d, %g) %s (line %.4f)", st_period,
						st_mult, rel > 0 ? "up" : "down", line[L]);
	dirs[0] = confirmations_test(&words, rel, text);
	rel = kind_compare(c, sma[L]);
	if (r->words)
		text = psprintf("close %.4f %s SMA(%d) %.4f", c, kind_side(rel),
						sma_period, sma[L]);
	dirs[1] = confirmations_test(&words, rel, text);
	rel = kind_compare(m[L], sg[L]);
	if (r->words)
		text = psprintf("MACD(%d,%d,%d) %.4f %s its signal %.4f", mf, ms, mg,
						m[L], kind_side(rel), sg[L]);
	dirs[2] = confirmations_test(&words, rel, text);
	rel = rsi[L] > 50.0 ? 1 : 0;
	if (rsi[L] < 50.0 && !kind_flat(b->close, n, n))
		rel = -1;
	if (!r->words)
		text = NULL;
	else if (rel == 0 && rsi[L] != 50.0)
		text = psprintf("RSI(%d) %.4f: no move", rsi_period, rsi[L]);
	else
		text = psprintf("RSI(%d) %.4f %s 50", rsi_period, rsi[L],
						kind_side(rel));
	dirs[3] = confirmations_test(&words, rel, text);
	for (i = 0; i < 4; i++)
	{
		ups += dirs[i] > 0;
		downs += dirs[i] < 0;
	}
	if (ups >= k && downs < k)
		kind_target(r, 1);
	else if (downs >= k && ups < k)
		kind_target(r, -1);
	else
		kind_target(r, 0);
	if (r->words)
		appendStringInfo(why, "%d of 4 say up and %d say down, %d needed, "
							  "on the last bar (%s): %s%s",
						 ups, downs, k, kind_last_date(b), words.data,
						 r->has_target ? "" : "; no signal");
	kind_value(r, "up", true, ups);
	kind_value(r, "down", true, downs);
	kind_value(r, "supertrend", true, line[L]);
	kind_value(r, "supertrend_direction", true, trend[L]);
	kind_value(r, "sma", true, sma[L]);
	kind_value(r, "macd", true, m[L]);
	kind_value(r, "macd_signal", true, sg[L]);
	kind_value(r, "rsi", true, rsi[L]);
}

/* ---------------------------------------------------------------------
 * SQL glue
 * ---------------------------------------------------------------------
 */

/*
 * The validator: check the parameters, return the bars needed.
 */
static Datum
kind_validate(FunctionCallInfo fcinfo, const KindSpec *spec)
{
	double p[KIND_MAX_PARAMS];

	kind_params(spec, PG_GETARG_JSONB_P(0), p);
	PG_RETURN_INT32(spec->bars_needed(p));
}

/*
 * The evaluator: read and check the bars, evaluate, build the jsonb.
 */
static Datum
kind_evaluate(FunctionCallInfo fcinfo, const KindSpec *spec)
{
	double			 p[KIND_MAX_PARAMS];
	KindBars		 b;
	KindResult		 r;
	int				 nh;
	int				 nl;
	int				 nc;
	JsonbParseState *st = NULL;
	JsonbValue		*top;
	const char		*signal;
	int				 i;

	kind_params(spec, PG_GETARG_JSONB_P(0), p);
	b.ts = pgtrade_bar_timestamps(PG_GETARG_ARRAYTYPE_P(1), &b.n);
	pgtrade_check_bar_length(PG_GETARG_ARRAYTYPE_P(2), "open", b.n);
	pgtrade_check_bar_length(PG_GETARG_ARRAYTYPE_P(6), "volume", b.n);
	b.high = pgtrade_array_values(PG_GETARG_ARRAYTYPE_P(3), "high", &nh);
	b.low = pgtrade_array_values(PG_GETARG_ARRAYTYPE_P(4), "low", &nl);
	b.close = pgtrade_array_values(PG_GETARG_ARRAYTYPE_P(5), "close", &nc);
	if (nh != b.n || nl != b.n || nc != b.n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bar arrays must have the same length"),
				 errdetail("\"ts\" has %d elements, \"high\" %d, \"low\" %d "
						   "and \"close\" %d.",
						   b.n, nh, nl, nc)));

	memset(&r, 0, sizeof(r));
	r.words = true;
	initStringInfo(&r.reason);
	spec->evaluate(p, &b, &r);

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	if (r.has_target)
		pgtrade_jb_int(&st, "target", r.target == 1 ? 1 : 0);
	else
		pgtrade_jb_string(&st, "target", NULL);
	signal = "none";
	if (r.has_target)
		signal = r.target == 1 ? "long" : "flat";
	pgtrade_jb_string(&st, "signal", signal);
	pgtrade_jb_string(&st, "reason", r.reason.data);
	pgtrade_jb_key(&st, "values");
	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	for (i = 0; i < r.nvalues; i++)
	{
		const KindValue *v = &r.values[i];

		if (v->is_flag)
			pgtrade_jb_bool(&st, v->key, v->x != 0.0);
		else
			pgtrade_jb_number(&st, v->key, v->known, v->x);
	}
	pgtrade_jb_number(&st, "last_close", b.n > 0,
					  b.n > 0 ? b.close[b.n - 1] : 0.0);
	pgtrade_jb_time(&st, "last_ts", b.n > 0, b.n > 0 ? b.ts[b.n - 1] : 0);
	pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	top = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(top));
}

/*
 * The kind of a name, or NULL when it is not one of this file's.
 */
const KindSpec *
pgtrade_kind_lookup(const char *name)
{
	static const KindSpec *const all[] = {
		&kind_ema_cross, &kind_macd_cross, &kind_rsi_reversion,
		&kind_bollinger_breakout, &kind_confirmations};
	size_t i;

	for (i = 0; i < lengthof(all); i++)
		if (strcmp(all[i]->name, name) == 0)
			return all[i];
	return NULL;
}

/*
 * Read a kind's params (KIND_MAX_PARAMS doubles), checked as the
 * validator checks them.
 */
void
pgtrade_kind_params(const KindSpec *spec, Jsonb *params, double *p)
{
	kind_params(spec, params, p);
}

/*
 * The target of one evaluation over n bars, oldest first: 1 long, 0
 * flat, -1 no opinion.  The same evaluation pgtrade.<kind>_eval makes,
 * without the words of its reason; what it allocates is left in
 * CurrentMemoryContext, for the caller to reset.
 */
int
pgtrade_kind_decide(const KindSpec *spec, const double *p, int n,
					const TimestampTz *ts, const double *high,
					const double *low, const double *close)
{
	KindBars   b = {n, ts, high, low, close};
	KindResult r;

	memset(&r, 0, sizeof(r));
	initStringInfo(&r.reason);
	spec->evaluate(p, &b, &r);
	return r.has_target ? r.target : -1;
}

PG_FUNCTION_INFO_V1(pgtrade_ema_cross_validate);
PG_FUNCTION_INFO_V1(pgtrade_ema_cross_eval);
PG_FUNCTION_INFO_V1(pgtrade_macd_cross_validate);
PG_FUNCTION_INFO_V1(pgtrade_macd_cross_eval);
PG_FUNCTION_INFO_V1(pgtrade_rsi_reversion_validate);
PG_FUNCTION_INFO_V1(pgtrade_rsi_reversion_eval);
PG_FUNCTION_INFO_V1(pgtrade_bollinger_breakout_validate);
PG_FUNCTION_INFO_V1(pgtrade_bollinger_breakout_eval);
PG_FUNCTION_INFO_V1(pgtrade_confirmations_validate);
PG_FUNCTION_INFO_V1(pgtrade_confirmations_eval);

Datum
pgtrade_ema_cross_validate(PG_FUNCTION_ARGS)
{
	return kind_validate(fcinfo, &kind_ema_cross);
}

Datum
pgtrade_ema_cross_eval(PG_FUNCTION_ARGS)
{
	return kind_evaluate(fcinfo, &kind_ema_cross);
}

Datum
pgtrade_macd_cross_validate(PG_FUNCTION_ARGS)
{
	return kind_validate(fcinfo, &kind_macd_cross);
}

Datum
pgtrade_macd_cross_eval(PG_FUNCTION_ARGS)
{
	return kind_evaluate(fcinfo, &kind_macd_cross);
}

Datum
pgtrade_rsi_reversion_validate(PG_FUNCTION_ARGS)
{
	return kind_validate(fcinfo, &kind_rsi_reversion);
}

Datum
pgtrade_rsi_reversion_eval(PG_FUNCTION_ARGS)
{
	return kind_evaluate(fcinfo, &kind_rsi_reversion);
}

Datum
pgtrade_bollinger_breakout_validate(PG_FUNCTION_ARGS)
{
	return kind_validate(fcinfo, &kind_bollinger_breakout);
}

Datum
pgtrade_bollinger_breakout_eval(PG_FUNCTION_ARGS)
{
	return kind_evaluate(fcinfo, &kind_bollinger_breakout);
}

Datum
pgtrade_confirmations_validate(PG_FUNCTION_ARGS)
{
	return kind_validate(fcinfo, &kind_confirmations);
}

Datum
pgtrade_confirmations_eval(PG_FUNCTION_ARGS)
{
	return kind_evaluate(fcinfo, &kind_confirmations);
}
