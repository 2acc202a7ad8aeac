/*-------------------------------------------------------------------------
 *
 * decimal.c
 *	  Exact decimals in a 128-bit integer, computed as PostgreSQL's
 *	  numeric computes them (see decimal.h).
 *
 * The backtest engine's fills take a dozen numeric operations each; on
 * numeric they cost a microsecond a fill, mostly in allocation and in
 * the printf and strtod that float8_numeric and numeric_float8 go
 * through.  Here they are integer operations on the same values, with
 * the same result scales and the same rounding, so a figure computed
 * either way is the same numeric to the last digit and scale.
 *
 *-------------------------------------------------------------------------
 */
#include "decimal.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef unsigned __int128 u128;

/* numeric's constants, from PostgreSQL's numeric.c */
#define NUMERIC_MIN_SIG_DIGITS 16
#define NUMERIC_MAX_DISPLAY_SCALE 1000
#define NBASE 10000
#define NBASE_DIGITS 4

#define U128_TOP ((u128) 1 << 127)

static u128
pow10u(int k)
{
	static u128 table[DEC_MAX_EXP + 1];

	if (table[0] == 0)
	{
		u128 p = 1;
		int	 i;

		for (i = 0; i <= DEC_MAX_EXP; i++)
		{
			table[i] = p;
			p *= 10;
		}
	}
	return table[k];
}

/* a / b and a % b, in 64 bits when both fit (far faster) */
static inline u128
udivmod(u128 a, u128 b, u128 *rem)
{
	if ((a >> 64) == 0 && (b >> 64) == 0)
	{
		uint64_t x = (uint64_t) a;
		uint64_t y = (uint64_t) b;

		*rem = x % y;
		return x / y;
	}
	*rem = a % b;
	return a / b;
}

static u128
uabs(__int128 m)
{
	return m < 0 ? -(u128) m : (u128) m;
}

/* m within a 64-bit integer's range */
static inline bool
fits_int64(__int128 m)
{
	return m >= INT64_MIN && m <= INT64_MAX;
}

/* m with the sign asked, false when it does not fit */
static bool
signed_of(u128 u, bool negative, dec_int128 *m)
{
	if (u >= U128_TOP)
		return false;
	*m = negative ? -(__int128) u : (__int128) u;
	return true;
}

#define lengthof(a) (sizeof(a) / sizeof((a)[0]))

/* the trailing zeros of m dropped from its digits (exp) */
static void
normalize(Dec *a)
{
	static const int steps[] = {16, 8, 4, 2, 1};
	u128			 u = uabs(a->m);
	u128			 rem;
	u128			 q;
	int				 i;

	if (u == 0)
	{
		a->exp = 0;
		return;
	}

	/*
	 * Trailing zeros sixteen at a time, then eight, four, two and one: a
	 * quotient's scale often ends in a dozen or more of them, and each
	 * division of a 128-bit value costs as much as the rest of an
	 * operation.
	 */
	for (i = 0; i < (int) lengthof(steps); i++)
	{
		while (a->exp >= steps[i])
		{
			q = udivmod(u, pow10u(steps[i]), &rem);
			if (rem != 0)
				break;
			u = q;
			a->exp -= steps[i];
		}
	}
	a->m = a->m < 0 ? -(__int128) u : (__int128) u;
}

Dec
dec_int(long long v)
{
	Dec r = {v, 0, 0};

	return r;
}

int
dec_sign(Dec a)
{
	return (a.m > 0) - (a.m < 0);
}

Dec
dec_abs(Dec a)
{
	if (a.m < 0)
		a.m = -a.m;
	return a;
}

Dec
dec_neg(Dec a)
{
	a.m = -a.m;
	return a;
}

#if defined(__GNUC__)
#define DEC_NOINLINE __attribute__((noinline))
#else
#define DEC_NOINLINE
#endif

/* m * 10^k the long way, false when it does not fit (kept out of line) */
static DEC_NOINLINE bool
scale_up_checked(__int128 m, int k, __int128 *r)
{
	if (k > DEC_MAX_EXP)
		return m == 0 ? (*r = 0, true) : false;
	return !__builtin_mul_overflow(m, (__int128) pow10u(k), r);
}

/*
 * m * 10^k, false when it does not fit.  Below 2^63 times below 10^19
 * is below 2^126: no overflow to check, the common case, inlined.
 */
static inline bool
scale_up(__int128 m, int k, __int128 *r)
{
	if (k == 0)
	{
		*r = m;
		return true;
	}
	if (k <= 18 && fits_int64(m))
	{
		*r = m * (__int128) pow10u(k);
		return true;
	}
	return scale_up_checked(m, k, r);
}

bool
dec_add(Dec a, Dec b, Dec *r)
{
	int		 x = a.exp > b.exp ? a.exp : b.exp;
	__int128 p;
	__int128 q;
	__int128 sum;

	if (!scale_up(a.m, x - a.exp, &p) || !scale_up(b.m, x - b.exp, &q) ||
		__builtin_add_overflow(p, q, &sum) || uabs(sum) >= U128_TOP)
		return false;
	r->m = sum;
	r->exp = x;
	r->scale = a.scale > b.scale ? a.scale : b.scale;
	return true;
}

bool
dec_sub(Dec a, Dec b, Dec *r)
{
	return dec_add(a, dec_neg(b), r);
}

bool
dec_mul(Dec a, Dec b, Dec *r)
{
	__int128 p;

	if (a.exp + b.exp > DEC_MAX_EXP || a.scale + b.scale > DEC_MAX_SCALE)
		return false;
	/* two factors below 2^63: a product below 2^126, no overflow */
	if (fits_int64(a.m) && fits_int64(b.m))
		p = a.m * b.m;
	else if (__builtin_mul_overflow(a.m, b.m, &p) || uabs(p) >= U128_TOP)
		return false;
	r->m = p;
	r->exp = a.exp + b.exp;
	r->scale = a.scale + b.scale;
	return true;
}

int
dec_cmp(Dec a, Dec b)
{
	int		 sa = dec_sign(a);
	int		 sb = dec_sign(b);
	__int128 x;

	if (sa != sb || sa == 0)
		return (sa > sb) - (sa < sb);
	/* same sign: the one scaled up, unless that overflows (then larger) */
	if (a.exp < b.exp)
	{
		if (!scale_up(a.m, b.exp - a.exp, &x))
			return sa;
		return (x > b.m) - (x < b.m);
	}
	if (!scale_up(b.m, a.exp - b.exp, &x))
		return -sa;
	return (a.m > x) - (a.m < x);
}

static int
udigits(u128 u)
{
	int d = 1;

	while (d <= DEC_MAX_EXP && u >= pow10u(d))
		d++;
	return d;
}

/*
 * The weight and first digit numeric stores for a: its value in base
 * 10000 digits, aligned on the decimal point, the weight being the
 * power of 10000 of the first nonzero digit.  Zero: 0 and 0.
 */
static void
nbase_lead(Dec a, int *weight, int *first)
{
	u128 u = uabs(a.m);
	int	 e;
	int	 w;
	int	 t;

	if (u == 0)
	{
		*weight = 0;
		*first = 0;
		return;
	}
	e = udigits(u) - 1 - a.exp; /* the leading digit's power of ten */
	w = e >= 0 ? e / NBASE_DIGITS : -((-e + NBASE_DIGITS - 1) / NBASE_DIGITS);
	t = a.exp + NBASE_DIGITS * w;
	*weight = w;
	if (t >= 0)
	{
		u128 rem;

		*first = (int) udivmod(u, pow10u(t), &rem);
	}
	else
		*first = (int) (u * pow10u(-t));
}

/*
 * numeric_div: the result scale is select_div_scale's (at least 16
 * significant digits by the first digits' estimate of the quotient's
 * weight, and no less than either scale), and the quotient is rounded
 * half away from zero at it.  When that scale takes more digits than
 * fit, the quotient is still exact if the division ends sooner: a price
 * at a slippage factor of 1 (at scale 24) over a tick, say.
 */
bool
dec_div(Dec a, Dec b, Dec *r)
{
	int	 w1, f1, w2, f2;
	int	 qweight;
	int	 rscale;
	int	 k;
	int	 exp;
	u128 d = uabs(b.m);
	u128 n;
	u128 q;
	u128 rem;
	bool rounded = true;

	if (d == 0)
		return false;
	nbase_lead(a, &w1, &f1);
	nbase_lead(b, &w2, &f2);
	qweight = w1 - w2;
	if (f1 <= f2)
		qweight--;
	rscale = NUMERIC_MIN_SIG_DIGITS - qweight * NBASE_DIGITS;
	if (rscale < a.scale)
		rscale = a.scale;
	if (rscale < b.scale)
		rscale = b.scale;
	if (rscale < 0)
		rscale = 0;
	if (rscale > NUMERIC_MAX_DISPLAY_SCALE)
		rscale = NUMERIC_MAX_DISPLAY_SCALE;
	/* a / b = (ma / mb) * 10^(exp_b - exp_a); the quotient's digits to k */
	k = rscale - a.exp + b.exp;
	while (k > DEC_MAX_EXP ||
		   __builtin_mul_overflow(uabs(a.m), pow10u(k), &n) || n >= U128_TOP)
	{
		/* fewer digits: exact only if nothing is left over */
		if (--k < 0)
			return false;
		rounded = false;
	}
	q = udivmod(n, d, &rem);
	if (rounded)
	{
		if (rem >= d - rem)
			q++;
	}
	else if (rem != 0)
		return false;
	exp = k + a.exp - b.exp;
	if (exp < 0)
	{
		if (__builtin_mul_overflow(q, pow10u(-exp), &q))
			return false;
		exp = 0;
	}
	if (exp > DEC_MAX_EXP || !signed_of(q, (a.m < 0) != (b.m < 0), &r->m))
		return false;
	r->exp = exp;
	r->scale = rscale;
	normalize(r);
	return true;
}

/* a truncated to an integer, and whether a fraction was dropped */
static Dec
dec_trunc(Dec a, bool *fraction)
{
	Dec	 r = {0, 0, 0};
	u128 rem;
	u128 q;

	q = udivmod(uabs(a.m), pow10u(a.exp), &rem);
	r.m = a.m < 0 ? -(__int128) q : (__int128) q;
	*fraction = rem != 0;
	return r;
}

Dec
dec_ceil(Dec a)
{
	bool fraction;
	Dec	 r = dec_trunc(a, &fraction);

	if (fraction && a.m > 0)
		r.m++;
	return r;
}

Dec
dec_floor(Dec a)
{
	bool fraction;
	Dec	 r = dec_trunc(a, &fraction);

	if (fraction && a.m < 0)
		r.m--;
	return r;
}

/*
 * float8_numeric: the double printed by "%.15g", read back.  That is the
 * exact binary value rounded half to even at its 15th significant digit,
 * with the trailing zeros of its fraction dropped (they set no scale).
 * Done here in integers for doubles from 1e-8 to 1e15, the range where
 * mant * 10^k below fits in 128 bits; other values return false.
 */
bool
dec_from_double(double x, Dec *r)
{
	double			   a = fabs(x);
	uint64_t		   bits;
	int				   ex;
	unsigned long long mant;
	int				   shift;
	int				   e;
	int				   tries;

	if (x == 0)
	{
		*r = dec_int(0);
		return true;
	}
	if (!(a >= 1e-8 && a < 1e15))
		return false; /* NaN, infinities and the rest */
	/*
	 * a = mant * 2^-shift exactly, mant below 2^53, from the bits of a
	 * normal double (a is at least 1e-8): the 52 stored bits of the
	 * mantissa and its leading 1, and the biased exponent.
	 */
	memcpy(&bits, &a, sizeof(bits));
	mant = (bits & (((uint64_t) 1 << 52) - 1)) | ((uint64_t) 1 << 52);
	ex = (int) ((bits >> 52) & 0x7FF) - 1022; /* a = 0.mant * 2^ex */
	shift = 53 - ex;

	/*
	 * a's power of ten is -8 to 14: from its power of two, (ex - 1)
	 * log10(2), 1233 / 4096 near enough that the loop below need correct
	 * it by one at most
	 */
	e = (ex - 1) * 1233;
	e = e >= 0 ? e >> 12 : -((-e + 4095) >> 12);
	e = e < -8 ? -8 : e > 14 ? 14
							 : e;
	for (tries = 0; tries < 4; tries++)
	{
		int		 k = 14 - e; /* a * 10^k has 15 digits before its point */
		u128	 n;
		u128	 q;
		u128	 rem;
		u128	 half;
		int		 scale;
		uint64_t digits;

		if (k < 0 || k > 22)
			return false;
		n = (u128) mant * pow10u(k);
		q = n >> shift;
		if (q < pow10u(14))
		{
			e--; /* log10 rounded up across a power of ten */
			continue;
		}
		if (q >= pow10u(15))
		{
			e++;
			continue;
		}
		rem = n - (q << shift);
		half = (u128) 1 << (shift - 1);
		if (rem > half || (rem == half && (q & 1)))
			q++;
		if (q == pow10u(15))
		{
			q = pow10u(14);
			e++;
		}
		scale = 14 - e;
		if (scale < 0)
		{
			q *= pow10u(-scale);
			scale = 0;
		}
		/* q is below 10^16 here: 64-bit divisions, eight zeros at a time */
		digits = (uint64_t) q;
		while (scale >= 8 && digits % 100000000 == 0)
		{
			digits /= 100000000;
			scale -= 8;
		}
		while (scale >= 4 && digits % 10000 == 0)
		{
			digits /= 10000;
			scale -= 4;
		}
		while (scale > 0 && digits % 10 == 0)
		{
			digits /= 10;
			scale--;
		}
		r->m = x < 0 ? -(__int128) digits : (__int128) digits;
		r->exp = scale;
		r->scale = scale;
		return true;
	}
	return false;
}

/*
 * The value times 10^scale (its digits and the scale's zeros) when that
 * fits in 64 bits: with the scale, what int64_div_fast_to_numeric takes.
 */
bool
dec_digits_int64(Dec a, long long *digits)
{
	__int128 m;

	if (a.scale - a.exp > 18 || !scale_up(a.m, a.scale - a.exp, &m) ||
		m < INT64_MIN || m > INT64_MAX)
		return false;
	*digits = (long long) m;
	return true;
}

/*
 * numeric's binary form of a, as make_result builds it, less the varlena
 * header: base-10,000 digits, most significant first, without leading or
 * trailing zero digits (zero has none, weight 0 and a positive sign),
 * behind a two-byte header (sign, display scale and weight) when they
 * fit in it, else a four-byte one.  The layout is numeric's on disk
 * (src/backend/utils/adt/numeric.c), which pg_upgrade keeps from one
 * release to the next.  out must hold DEC_NUMERIC_BODY bytes; returns
 * how many were written.
 */
#define NUMERIC_SHORT 0x8000
#define NUMERIC_SHORT_SIGN_MASK 0x2000
#define NUMERIC_SHORT_DSCALE_SHIFT 7
#define NUMERIC_SHORT_DSCALE_MAX 0x3F
#define NUMERIC_SHORT_WEIGHT_SIGN_MASK 0x0040
#define NUMERIC_SHORT_WEIGHT_MASK 0x003F
#define NUMERIC_SHORT_WEIGHT_MAX 63
#define NUMERIC_SHORT_WEIGHT_MIN (-64)
#define NUMERIC_NEG 0x4000
#define NUMERIC_DSCALE_MASK 0x3FFF

size_t
dec_numeric_body(Dec a, unsigned char *out)
{
	int16_t	 groups[DEC_MAX_EXP / NBASE_DIGITS + 4]; /* least significant first */
	u128	 u = uabs(a.m);
	bool	 negative = a.m < 0;
	int		 frac = (a.exp + NBASE_DIGITS - 1) / NBASE_DIGITS;
	int		 pad = frac * NBASE_DIGITS - a.exp;
	int		 n = 0;
	int		 low = 0;
	int		 weight;
	uint16_t head[2];
	size_t	 len;
	int		 i;

	if (u != 0 && pad > 0)
	{
		u128 rem;

		/* the lowest group: the digits left of the pad, shifted up */
		u = udivmod(u, pow10u(NBASE_DIGITS - pad), &rem);
		groups[n++] = (int16_t) ((int) rem * (int) pow10u(pad));
	}
	while (u != 0)
	{
		u128 rem;

		u = udivmod(u, NBASE, &rem);
		groups[n++] = (int16_t) rem;
	}
	/* trailing zero digits dropped; a leading one there is none */
	while (low < n && groups[low] == 0)
		low++;
	weight = n - 1 - frac;
	if (low == n)
	{
		n = low = 0;
		weight = 0;
		negative = false;
	}
	if (a.scale <= NUMERIC_SHORT_DSCALE_MAX &&
		weight <= NUMERIC_SHORT_WEIGHT_MAX && weight >= NUMERIC_SHORT_WEIGHT_MIN)
	{
		int sign = negative ? NUMERIC_SHORT_SIGN_MASK : 0;
		int w = (weight < 0 ? NUMERIC_SHORT_WEIGHT_SIGN_MASK : 0) |
			(weight & NUMERIC_SHORT_WEIGHT_MASK);
		int scale = a.scale << NUMERIC_SHORT_DSCALE_SHIFT;

		head[0] = (uint16_t) (NUMERIC_SHORT | sign | scale | w);
		len = sizeof(uint16_t);
	}
	else
	{
		head[0] = (uint16_t) ((negative ? NUMERIC_NEG : 0) |
							  (a.scale & NUMERIC_DSCALE_MASK));
		head[1] = (uint16_t) (int16_t) weight;
		len = 2 * sizeof(uint16_t);
	}
	memcpy(out, head, len);
	for (i = n - 1; i >= low; i--)
	{
		memcpy(out + len, &groups[i], sizeof(int16_t));
		len += sizeof(int16_t);
	}
	return len;
}

/* numeric_out's text: the value's digits and the scale's zeros */
size_t
dec_format(Dec a, char *buf, size_t len)
{
	char  digits[DEC_MAX_EXP + 2];
	u128  u = uabs(a.m);
	int	  n = 0;
	int	  i;
	char *p = buf;

	do
	{
		u128 rem;

		u = udivmod(u, 10, &rem);
		digits[n++] = (char) ('0' + (int) rem);
	} while (u > 0);
	while (n <= a.exp)
		digits[n++] = '0';
	if (len < (size_t) n + (size_t) (a.scale - a.exp) + 3)
	{
		if (len > 0)
			buf[0] = '\0';
		return 0;
	}
	if (a.m < 0)
		*p++ = '-';
	for (i = n - 1; i >= 0; i--)
	{
		*p++ = digits[i];
		if (i == a.exp && i > 0)
			*p++ = '.';
	}
	if (a.scale > a.exp)
	{
		if (a.exp == 0)
			*p++ = '.';
		for (i = a.exp; i < a.scale; i++)
			*p++ = '0';
	}
	*p = '\0';
	return (size_t) (p - buf);
}

/*
 * a / b to within a unit in the last place, b not 0: each made a long
 * double (64 bits of mantissa; powers of ten exact up to 10^27), the
 * quotient rounded to a double once.  Faster than dec_div and
 * dec_to_double, which round to numeric's digits and then through text;
 * it keeps a's sign, and is 0 only when a is.
 */
double
dec_ratio(Dec a, Dec b)
{
	static long double p10[DEC_MAX_EXP + 1];
	long double		   x;
	long double		   y;

	if (p10[0] == 0)
	{
		int k;

		p10[0] = 1;
		for (k = 1; k <= DEC_MAX_EXP; k++)
			p10[k] = p10[k - 1] * 10;
	}
	x = (long double) a.m / p10[a.exp];
	y = (long double) b.m / p10[b.exp];
	return (double) (x / y);
}

/*
 * numeric_float8: the nearest double to the value (numeric_out read by
 * strtod).  A value of up to 2^53 over a power of ten up to 10^22 is one
 * correctly rounded division of two exact doubles; others go through
 * the text, as numeric's own conversion does.
 */
bool
dec_to_double(Dec a, double *r)
{
	static const double p10[] = {
		1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
		1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
	u128 u = uabs(a.m);
	char buf[DEC_FORMAT_LEN];
	Dec	 v = a;

	if (u <= ((u128) 1 << 53) && a.exp <= 22)
	{
		double d = (double) (unsigned long long) u / p10[a.exp];

		*r = a.m < 0 ? -d : d;
		return true;
	}
	v.scale = v.exp; /* the same value, without the scale's zeros */
	if (dec_format(v, buf, sizeof(buf)) == 0)
		return false;
	*r = strtod(buf, NULL);
	return true;
}

/*
 * numeric_out's text: an optional minus, digits, a point and digits.
 * The fraction's trailing zeros count in the scale, not in the digits.
 */
bool
dec_parse(const char *s, Dec *r)
{
	u128 u = 0;
	bool negative = false;
	bool point = false;
	int	 scale = 0;
	int	 zeros = 0; /* fraction zeros not yet taken into u */
	int	 digits = 0;

	if (*s == '-')
	{
		negative = true;
		s++;
	}
	for (; *s; s++)
	{
		if (*s == '.' && !point)
		{
			point = true;
			continue;
		}
		if (*s < '0' || *s > '9')
			return false;
		digits++;
		if (point)
		{
			scale++;
			if (*s == '0')
			{
				zeros++;
				continue;
			}
		}
		/* u * 10^(zeros + 1) + digit, when it fits */
		if (zeros + 1 > DEC_MAX_EXP - 1 ||
			__builtin_mul_overflow(u, pow10u(zeros + 1), &u) ||
			u + 9 >= U128_TOP)
			return false;
		u += (u128) (*s - '0');
		zeros = 0;
	}
	if (digits == 0 || scale > DEC_MAX_SCALE || scale - zeros > DEC_MAX_EXP ||
		!signed_of(u, negative, &r->m))
		return false;
	r->exp = scale - zeros;
	r->scale = scale;
	return true;
}
