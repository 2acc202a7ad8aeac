/*-------------------------------------------------------------------------
 *
 * test_decimal.c
 *	  TAP unit tests of the exact decimals (decimal.c).
 *
 * Conversions are checked against the C library, which is what
 * PostgreSQL's own conversions call: from a double against the text of
 * printf's "%.15g" read as numeric reads it (float8_numeric), to a
 * double against strtod of the value's text (numeric_float8), over a
 * million doubles and decimals drawn from a fixed seed, with the
 * boundaries and the ties among them.  Division is checked against
 * quotients PostgreSQL 15 printed for numeric (psql, SELECT a / b),
 * which fix both the rounding and the result scale.
 *
 *-------------------------------------------------------------------------
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "tap.h"

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t
next_random(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1DULL;
}

static const char *
show(Dec a)
{
	static char buf[4][DEC_FORMAT_LEN];
	static int	k;

	k = (k + 1) % 4;
	dec_format(a, buf[k], sizeof(buf[k]));
	return buf[k];
}

/*
 * What float8_numeric makes of x: the digits of "%.15g", its exponent,
 * and a scale of the digits after the point less the exponent (none
 * below zero), as numeric's reader counts them.
 */
static bool
reference_from_double(double x, Dec *r)
{
	char			  buf[64];
	char			 *p = buf;
	unsigned __int128 u = 0;
	int				  frac = 0;
	int				  exp10 = 0;
	bool			  point = false;
	bool			  negative = false;
	int				  scale;

	snprintf(buf, sizeof(buf), "%.*g", DBL_DIG, x);
	if (*p == '-')
	{
		negative = true;
		p++;
	}
	for (; *p && *p != 'e'; p++)
	{
		if (*p == '.')
		{
			point = true;
			continue;
		}
		u = u * 10 + (unsigned) (*p - '0');
		if (point)
			frac++;
	}
	if (*p == 'e')
		exp10 = atoi(p + 1);
	scale = frac - exp10 > 0 ? frac - exp10 : 0;
	/* value u * 10^(exp10 - frac), as m * 10^-scale */
	for (int i = 0; i < exp10 - frac + scale; i++)
		u *= 10;
	if (scale > DEC_MAX_EXP)
		return false;
	r->m = negative ? -(__int128) u : (__int128) u;
	r->exp = scale; /* "%g" leaves no trailing zeros in a fraction */
	r->scale = scale;
	return true;
}

static void
check_from_double(void)
{
	static const double cases[] = {
		101.5, 0.1, 0.3, 0.30000000000000004, 1.0, 9.999999999999999,
		99.99999999999999, 1e-8, 1.5e-5, 123456789012345.6,
		999999999999999.9, 100000000000000.5, 100000000000001.5,
		100000000000002.5, 0.0001, 0.00001, 1e14, 5e-324 /* too small */,
		2.675, 1.005, 1234.5678, 33.33, 4503599627370495.5 /* too big */};
	long mismatches = 0;
	long fast = 0;
	long tried = 0;
	Dec	 got;
	Dec	 want;
	char first[200] = "";

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]) * 2 + 3000000;
		 i++)
	{
		size_t nc = sizeof(cases) / sizeof(cases[0]);
		double x;

		if (i < nc)
			x = cases[i];
		else if (i < 2 * nc)
			x = -cases[i - nc];
		else
		{
			uint64_t r = next_random();

			switch (r % 4)
			{
				case 0: /* a price in cents */
					x = (double) (r >> 8 & 0xFFFFFFF) / 100.0;
					break;
				case 1: /* a price in ten-thousandths, either sign */
					x = (double) (int64_t) (r >> 20) / 10000.0;
					break;
				case 2: /* any bits, exponent within the fast range */
				{
					uint64_t e = 1023 - 27 + (r >> 52) % 77;
					uint64_t bits = (r & 0x800FFFFFFFFFFFFFULL) | e << 52;

					memcpy(&x, &bits, sizeof(x));
					break;
				}
				default: /* next to a power of ten */
					x = nextafter(pow(10, (int) (r % 23) - 8),
								  (r >> 40) & 1 ? 0 : INFINITY);
					break;
			}
		}
		tried++;
		if (!dec_from_double(x, &got))
			continue;
		fast++;
		if (!reference_from_double(x, &want) || got.m != want.m ||
			got.exp != want.exp || got.scale != want.scale)
		{
			if (mismatches++ == 0)
				snprintf(first, sizeof(first), "%.17g: got %s, want %s", x,
						 show(got), show(want));
		}
	}
	ok(mismatches == 0,
	   "dec_from_double gives float8_numeric's value and scale (%ld doubles, "
	   "%ld in its range)",
	   tried, fast);
	if (mismatches)
		printf("#   %ld differ, first %s\n", mismatches, first);
	ok(fast > tried * 9 / 10, "most doubles drawn are in its range");

	ok(dec_from_double(101.5, &got) && got.m == 1015 && got.scale == 1,
	   "101.5 is 1015 at scale 1");
	ok(dec_from_double(100000000000000.5, &got) &&
		   got.m == (__int128) 100000000000000LL && got.scale == 0,
	   "a tie rounds to the even digit: 100000000000000.5 is 100000000000000");
	ok(dec_from_double(100000000000001.5, &got) &&
		   got.m == (__int128) 100000000000002LL && got.scale == 0,
	   "and 100000000000001.5 is 100000000000002");
	ok(dec_from_double(999999999999999.9, &got) &&
		   got.m == (__int128) 1000000000000000LL && got.scale == 0,
	   "999999999999999.9 rounds up to 1000000000000000, scale 0");
	ok(!dec_from_double(NAN, &got) && !dec_from_double(INFINITY, &got) &&
		   !dec_from_double(1e15, &got) && !dec_from_double(1e-9, &got),
	   "NaN, infinity and doubles outside 1e-8 to 1e15 are left to numeric");
	ok(dec_from_double(-0.0, &got) && got.m == 0 && got.scale == 0,
	   "-0 is 0 at scale 0");
}

static void
check_to_double(void)
{
	long mismatches = 0;
	char first[DEC_FORMAT_LEN + 100] = "";

	for (int i = 0; i < 1000000; i++)
	{
		uint64_t r = next_random();
		Dec		 a;
		char	 buf[DEC_FORMAT_LEN];
		double	 got;
		double	 want;

		a.exp = (int) (r % 30);
		a.scale = a.exp + (int) (r >> 50 & 7);
		a.m = (__int128) (r >> 5 & ((1ULL << (r >> 60 & 1 ? 54 : 40)) - 1));
		if (r >> 61 & 1)
			a.m = a.m * (__int128) next_random(); /* wider than 53 bits */
		if (r >> 62 & 1)
			a.m = -a.m;
		dec_format(a, buf, sizeof(buf));
		want = strtod(buf, NULL);
		if (!dec_to_double(a, &got) || got != want)
		{
			if (mismatches++ == 0)
				snprintf(first, sizeof(first), "%s: got %.17g, want %.17g",
						 buf, got, want);
		}
	}
	ok(mismatches == 0,
	   "dec_to_double is strtod of the value's text (1,000,000 decimals)");
	if (mismatches)
		printf("#   %ld differ, first %s\n", mismatches, first);
}

static Dec
parse(const char *s)
{
	Dec d = {0, 0, 0};

	if (!dec_parse(s, &d))
		printf("# cannot parse %s\n", s);
	return d;
}

static void
is_div(const char *a, const char *b, const char *want)
{
	Dec	 q;
	bool done = dec_div(parse(a), parse(b), &q);

	ok(done && strcmp(show(q), want) == 0, "%s / %s = %s", a, b, want);
	if (!done || strcmp(show(q), want) != 0)
		printf("#   got %s\n", done ? show(q) : "(left to numeric)");
}

static void
check_arithmetic(void)
{
	Dec r;

	/* PostgreSQL 15: SELECT a::numeric / b::numeric */
	is_div("1", "3", "0.33333333333333333333");
	is_div("10", "4", "2.5000000000000000");
	is_div("101.23", "0.01", "10123.000000000000");
	is_div("2", "3", "0.66666666666666666667");
	is_div("-2", "3", "-0.66666666666666666667");
	is_div("-7", "2", "-3.5000000000000000");
	is_div("1", "8", "0.12500000000000000000");
	is_div("123456789.123456789", "0.000001", "123456789123456.789000000");
	is_div("0.5", "0.25", "2.0000000000000000");
	is_div("9999", "9999", "1.00000000000000000000");
	is_div("100.00", "7", "14.2857142857142857");
	is_div("0", "5.5", "0.00000000000000000000");
	is_div("100000000000000000000", "3", "33333333333333333333");
	is_div("2.5", "1", "2.5000000000000000");
	is_div("0.00001", "3", "0.000003333333333333333333");
	/* a slippage factor of 1 (0 / 10000 is at scale 24) */
	ok(dec_parse("1.000000000000000000000000", &r) && r.m == 1 &&
		   r.exp == 0 && r.scale == 24 &&
		   strcmp(show(r), "1.000000000000000000000000") == 0,
	   "1 at scale 24 is one digit, and prints with its scale");
	{
		Dec t;

		ok(dec_mul(parse("93.9567867366922"),
				   parse("1.000000000000000000000000"), &t) &&
			   strcmp(show(t), "93.9567867366922000000000000000000000000") == 0,
		   "93.9567867366922 * 1.000000000000000000000000, at scale 37");
		is_div("93.9567867366922000000000000000000000000", "0.01",
			   "9395.6786736692200000000000000000000000000");
		ok(dec_div(parse("1"), parse("7"), &t) && dec_mul(t, parse("7"), &t) &&
			   strcmp(show(t), "0.99999999999999999998") == 0,
		   "1 / 7 * 7 = 0.99999999999999999998");
	}
	/* the largest quotient that ends within 128 bits, but only signed */
	is_div("33.8830939985906000000000000000000000000", "0.01",
		   "3388.3093998590600000000000000000000000000");
	is_div("0.0133992392583953000000000", "0.01",
		   "1.3399239258395300000000000");
	ok(!dec_div(parse("1"), parse("3.00000000000000000000000000000000000000000"),
				&r),
	   "a quotient that does not end, wanted at 41 digits, is left to numeric");
	ok(!dec_div(parse("1"), parse("0.00"), &r),
	   "division by zero is left to numeric, which raises it");

	ok(dec_add(parse("1.5"), parse("-0.25"), &r) &&
		   strcmp(show(r), "1.25") == 0,
	   "1.5 + -0.25 = 1.25: the larger scale");
	ok(dec_sub(parse("1.50"), parse("1.5"), &r) &&
		   strcmp(show(r), "0.00") == 0,
	   "1.50 - 1.5 = 0.00");
	ok(dec_mul(parse("1.50"), parse("-0.2"), &r) &&
		   strcmp(show(r), "-0.300") == 0,
	   "1.50 * -0.2 = -0.300: the scales add");
	ok(!dec_mul(parse("10000000000000000000"), parse("100000000000000000000"),
				&r),
	   "a product past 127 bits is left to numeric");
	ok(strcmp(show(dec_ceil(parse("-1.5"))), "-1") == 0 &&
		   strcmp(show(dec_ceil(parse("1.01"))), "2") == 0 &&
		   strcmp(show(dec_floor(parse("-1.01"))), "-2") == 0 &&
		   strcmp(show(dec_floor(parse("3.99"))), "3") == 0 &&
		   strcmp(show(dec_ceil(parse("-0.5"))), "0") == 0,
	   "ceil and floor, either sign, at scale 0");
	ok(dec_cmp(parse("1.50"), parse("1.5")) == 0 &&
		   dec_cmp(parse("-2"), parse("1")) < 0 &&
		   dec_cmp(parse("0.000000000000000000000000000001"),
				   parse("100000000000000000000")) < 0 &&
		   dec_cmp(parse("-100000000000000000000"),
				   parse("-0.000000000000000000000000000001")) < 0,
	   "comparison across scales, including where scaling up would overflow");
	{
		long long digits;

		ok(dec_digits_int64(parse("1.000000000000000000"), &digits) &&
			   digits == 1000000000000000000LL &&
			   !dec_digits_int64(parse("1.0000000000000000000"), &digits) &&
			   dec_digits_int64(parse("-92233720368547.75807"), &digits) &&
			   digits == -9223372036854775807LL &&
			   !dec_digits_int64(parse("92233720368547.75808"), &digits),
		   "digits at the scale: 10^18 and -(2^63 - 1) fit, 10^19 and 2^63 "
		   "do not");
	}
	ok(!dec_parse("NaN", &r) && !dec_parse("Infinity", &r) &&
		   !dec_parse("1e5", &r) && !dec_parse("", &r),
	   "NaN, infinities and exponents are not read");
}

/*
 * dec_ratio against dec_div's quotient (numeric's 16 or more digits)
 * made a double by dec_to_double: within two units in the last place,
 * over random values of many scales and signs; exact where the quotient
 * is a double; its sign and zero exact.
 */
static void
check_ratio(void)
{
	int	 tried = 0;
	int	 far = 0;
	int	 sign = 0;
	int	 k;
	char a[64];
	char b[64];

	for (k = 0; k < 200000; k++)
	{
		unsigned long long ma = next_random() % 1000000000000000000ULL;
		unsigned long long mb = next_random() % 1000000000000000000ULL + 1;
		Dec				   da;
		Dec				   db;
		Dec				   q;
		double			   got;
		double			   want;

		snprintf(a, sizeof(a), "%s%llu.%0*llu", next_random() % 2 ? "-" : "",
				 ma / 1000000, 6, ma % 1000000);
		snprintf(b, sizeof(b), "%llu.%0*llu", mb / 1000, 3, mb % 1000);
		da = parse(a);
		db = parse(b);
		if (!dec_div(da, db, &q) || !dec_to_double(q, &want))
			continue;
		tried++;
		got = dec_ratio(da, db);
		if (fabs(got - want) > 2 * fabs(nextafter(want, INFINITY) - want))
		{
			if (far++ < 5)
				printf("# %s / %s: %.17g, want %.17g\n", a, b, got, want);
		}
		if ((got < 0) != (da.m < 0) || (got == 0) != (da.m == 0))
			sign++;
	}
	ok(tried > 190000 && far == 0,
	   "dec_ratio within 2 ulp of the quotient over %d values (%d not)",
	   tried, far);
	ok(sign == 0, "dec_ratio keeps the sign and the zero (%d not)", sign);
	ok(dec_ratio(parse("1"), parse("3")) == 1.0 / 3.0 &&
		   dec_ratio(parse("10"), parse("4")) == 2.5 &&
		   dec_ratio(parse("-7.00"), parse("2")) == -3.5 &&
		   dec_ratio(parse("0.14"), parse("1000.00")) == 1.4e-4,
	   "dec_ratio: 1/3, 10/4, -7.00/2 and 0.14/1000.00 to the nearest "
	   "double");
	ok(dec_ratio(parse("0"), parse("5")) == 0 &&
		   !signbit(dec_ratio(parse("0"), parse("5"))),
	   "dec_ratio: 0 / 5 is 0");
}

/*
 * numeric's binary form, the digits worked out by hand: base-10,000
 * digits most significant first, the weight that of the first, behind a
 * two-byte header (0x8000, 0x2000 for a minus, the scale shifted left by
 * 7, the weight in six bits with 0x40 for its sign) or, for a scale above
 * 63, a four-byte one (0x4000 for a minus, the scale; the weight).
 */
static void
check_numeric_bytes(const char *text, const uint16_t *want, size_t nwant)
{
	unsigned char out[DEC_NUMERIC_BODY];
	Dec			  d;
	size_t		  len = 0;

	if (dec_parse(text, &d))
		len = dec_numeric_body(d, out);
	ok(len == nwant * 2 && memcmp(out, want, len) == 0,
	   "numeric's bytes of %s", text);
}

#define NSHORT 0x8000		 /* a two-byte header */
#define NMINUS 0x2000		 /* its minus */
#define NSCALE(s) ((s) << 7) /* its scale */
#define NWEIGHT(w) ((w) < 0 ? 0x40 | ((w) &0x3F) : (w))

/* the bytes, as numeric's two-byte units */
typedef const uint16_t Nb;

static Nb nb_zero[] = {NSHORT | NSCALE(2)};
static Nb nb_half[] = {NSHORT | NSCALE(1), 1, 5000};
static Nb nb_neg[] = {NSHORT | NMINUS | NSCALE(3) | NWEIGHT(1),
					  12, 3456, 7890};
static Nb nb_tiny[] = {NSHORT | NSCALE(5) | NWEIGHT(-2), 5000};
static Nb nb_hundred[] = {NSHORT, 100};
static Nb nb_ten_k[] = {NSHORT | NWEIGHT(1), 1};
static Nb nb_fee[] = {NSHORT | NMINUS | NSCALE(16) | NWEIGHT(-1),
					  910};
/* a scale of 64: the four-byte header, scale then weight */
static Nb nb_wide[] = {64, 0, 1};
static Nb nb_big[] = {NSHORT | NMINUS | NSCALE(15) | NWEIGHT(5),
					  123, 4567, 8901, 2345, 6789, 123, 4567,
					  8901, 2345, 6780};

static void
check_numeric_body(void)
{
	check_numeric_bytes("0.00", nb_zero, 1);
	check_numeric_bytes("1.5", nb_half, 3);
	check_numeric_bytes("-123456.789", nb_neg, 4);
	check_numeric_bytes("0.00005", nb_tiny, 2);
	check_numeric_bytes("100", nb_hundred, 2);
	check_numeric_bytes("10000", nb_ten_k, 2);
	check_numeric_bytes("-0.0910000000000000", nb_fee, 2);
	/* 1 and sixty-four zeros after the point */
	check_numeric_bytes("1.00000000000000000000000000000000"
						"00000000000000000000000000000000",
						nb_wide, 3);
	check_numeric_bytes("-12345678901234567890123.456789012345678", nb_big,
						11);
}

int
main(void)
{
	check_from_double();
	check_to_double();
	check_arithmetic();
	check_ratio();
	check_numeric_body();
	return tap_finish();
}
