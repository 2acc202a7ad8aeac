/*-------------------------------------------------------------------------
 *
 * decimal.h
 *	  Exact decimals in a 128-bit integer, computed as PostgreSQL's
 *	  numeric computes them.
 *
 * A Dec is a value, m * 10^-exp, and the display scale a numeric of that
 * value would carry (at least exp; a numeric's trailing zeros are scale,
 * not digits of m).  Addition, subtraction and multiplication are exact,
 * with numeric's result scales (the larger scale; the sum of the
 * scales); division picks numeric's result scale and rounds half away
 * from zero at it, as numeric_div does; ceil and floor give scale 0.
 * Conversion from a double gives what float8_numeric gives (the double
 * printed with 15 significant digits), and to a double what
 * numeric_float8 gives (the nearest double).  An operation whose result
 * does not fit, or that a numeric would refuse (division by zero),
 * returns false and leaves the caller to do it in numeric, which gives
 * the same answer or the same error.
 *
 * Pure C: no PostgreSQL headers, so that the unit tests can check it
 * against the C library's own conversions.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTRADE_DECIMAL_H
#define PGTRADE_DECIMAL_H

#include <stdbool.h>
#include <stddef.h>

/* the largest exp: 10^38 still fits in 127 bits */
#define DEC_MAX_EXP 38
/* the largest display scale, numeric's for a quotient */
#define DEC_MAX_SCALE 1000

/*
 * Aligned to 8 bytes, not 16: palloc gives 8, and a Dec lives in palloc'd
 * arrays (PostgreSQL's own int128 is declared so, for the same reason).
 */
typedef __int128 dec_int128 __attribute__((aligned(8)));

typedef struct Dec
{
	dec_int128 m;
	int		   exp;	  /* 0 to DEC_MAX_EXP */
	int		   scale; /* exp to DEC_MAX_SCALE */
} Dec;

extern Dec	  dec_int(long long v);
extern bool	  dec_from_double(double x, Dec *r);
extern bool	  dec_to_double(Dec a, double *r);
extern bool	  dec_parse(const char *s, Dec *r);
extern size_t dec_format(Dec a, char *buf, size_t len);
extern bool	  dec_digits_int64(Dec a, long long *digits);
extern size_t dec_numeric_body(Dec a, unsigned char *out);

extern bool	  dec_add(Dec a, Dec b, Dec *r);
extern bool	  dec_sub(Dec a, Dec b, Dec *r);
extern bool	  dec_mul(Dec a, Dec b, Dec *r);
extern bool	  dec_div(Dec a, Dec b, Dec *r);
extern double dec_ratio(Dec a, Dec b);
extern Dec	  dec_ceil(Dec a);
extern Dec	  dec_floor(Dec a);
extern int	  dec_cmp(Dec a, Dec b);
extern int	  dec_sign(Dec a);
extern Dec	  dec_abs(Dec a);
extern Dec	  dec_neg(Dec a);

/* room dec_numeric_body needs: a 4-byte header, 11 base-10,000 digits */
#define DEC_NUMERIC_BODY 32

/* room dec_format needs: sign, digits, point, the scale's zeros, NUL */
#define DEC_FORMAT_LEN (DEC_MAX_SCALE + DEC_MAX_EXP + 8)

#endif
