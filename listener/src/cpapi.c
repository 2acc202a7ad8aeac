/*-------------------------------------------------------------------------
 *
 * cpapi.c
 *	  Parsing and building of IBKR Client Portal Web API JSON documents.
 *
 * The gateway is loose about types (an order id is a string in one reply
 * and a number in the next, quantities are numbers in live orders and
 * strings in order status) and about spellings (BUY or B, Limit or LMT).
 * This file absorbs all of that: every getter accepts a JSON string or a
 * JSON number for ids, conids, quantities and prices, and hands back
 * text.  Nothing here does arithmetic on money.
 *
 * Ownership: every char * stored in a result struct is malloc'ed here
 * and released by the matching *_free function.  Running out of memory
 * ends the process (see cp_oom); the daemon is built to be restarted
 * at any point.
 *
 * Answers are untrusted input.  Decimals are accepted only when zero or
 * within [1e-30, 1e15), broker order ids only as digits, reply ids only
 * as words safe in a URL path, times only from 1970 to 9999, executions
 * only with a positive size and price; a document that breaks its shape
 * is refused and a list element that does is skipped and counted.  The
 * libFuzzer target tests/fuzz/fuzz_cpapi.c holds every parser to this.
 *
 * This file uses jansson only, so the unit test links it alone.
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L

#include "cpapi.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

/* Flags used whenever a parsed element is written back out as jsonb. */
#define CP_DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

/* Integers a double holds exactly: used for ids sent as JSON reals. */
#define CP_EXACT_INT_MAX 9007199254740992.0

/* The last millisecond of 9999 UTC (date -u -d 9999-12-31T23:59:59 +%s) */
#define CP_EPOCH_MS_MAX INT64_C(253402300799999)

/*
 * Magnitudes of the decimals accepted from the gateway, as the position
 * of the decimal point in 0.d1d2... x 10^point: a decimal is zero or
 * lies in [1e-30, 1e15).  No quantity, price or volume comes near
 * either end; a value beyond them is an answer gone wrong, and one past
 * numeric's range would make the database refuse a whole batch.
 */
#define CP_DECIMAL_POINT_MIN (-29)
#define CP_DECIMAL_POINT_MAX 15

/* Longest broker order id (digits) and reply id accepted. */
#define CP_ORDER_ID_MAX 19
#define CP_REPLY_ID_MAX 128

/* A growable text buffer for the request bodies. */
typedef struct CpBuf
{
	char  *data;
	size_t len;
	size_t cap;
} CpBuf;

/* ---------------------------------------------------------------------
 * Small utilities
 * ---------------------------------------------------------------------
 */

/*
 * Stop the process after a failed allocation.  There is no sensible way
 * to carry on parsing, and nothing is lost: orders are claimed in
 * committed transactions and reconciled on the next start.
 */
static void
cp_oom(void)
{
	fputs("pgtrade-listener: out of memory\n", stderr);
	exit(1);
}

/* Duplicate a string, ending the process if memory is exhausted. */
static char *
cp_strdup(const char *s)
{
	char *r = strdup(s);

	if (r == NULL)
		cp_oom();
	return r;
}

/* Allocate zeroed memory for n elements of size sz, or end the process. */
static void *
cp_calloc(size_t n, size_t sz)
{
	void *p = calloc(n == 0 ? 1 : n, sz);

	if (p == NULL)
		cp_oom();
	return p;
}

/* Free *p and set it to NULL. */
static void
cp_free(char **p)
{
	free(*p);
	*p = NULL;
}

/*
 * Write a formatted message into err (errlen bytes), when err is set.
 * Returns -1, so that a failing function can end with return cp_err().
 */
static int
cp_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Return true when needle occurs in hay, ignoring ASCII case. */
static bool
cp_contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	if (hay == NULL)
		return false;
	for (; *hay; hay++)
	{
		if (strncasecmp(hay, needle, n) == 0)
			return true;
	}
	return false;
}

/*
 * Return true when body may be the "Please query /accounts first" error:
 * it contains "/accounts first", ignoring case.  A cheap test that lets
 * callers skip parsing every answer, however large, as an error.
 */
bool
cpapi_may_ask_accounts(const char *body, size_t len)
{
	static const char needle[] = "/accounts first";
	const char		 *end = body + len;
	const char		 *p = body;

	if (body == NULL)
		return false;
	while ((p = memchr(p, '/', (size_t) (end - p))) != NULL)
	{
		if ((size_t) (end - p) >= sizeof(needle) - 1 &&
			strncasecmp(p, needle, sizeof(needle) - 1) == 0)
			return true;
		p++;
	}
	return false;
}

/* Append n bytes of s to the buffer, growing it as needed. */
static void
buf_append(CpBuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap)
	{
		size_t cap = b->cap ? b->cap : 256;
		char  *d;

		while (b->len + n + 1 > cap)
			cap *= 2;
		d = realloc(b->data, cap);
		if (d == NULL)
			cp_oom();
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/* Append a NUL-terminated string to the buffer. */
static void
buf_puts(CpBuf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

/* Append s as a JSON string literal, quotes included. */
static void
buf_put_quoted(CpBuf *b, const char *s)
{
	char esc[8];

	buf_append(b, "\"", 1);
	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		if (c == '"' || c == '\\')
		{
			esc[0] = '\\';
			esc[1] = (char) c;
			buf_append(b, esc, 2);
		}
		else if (c < 0x20)
		{
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			buf_puts(b, esc);
		}
		else
			buf_append(b, s, 1);
	}
	buf_append(b, "\"", 1);
}

/* Load a JSON document of any top-level type, or explain why not. */
static json_t *
cp_load(const char *body, size_t len, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t		*root;

	if (body == NULL || len == 0)
	{
		cp_err(err, errlen, "empty response body");
		return NULL;
	}
	root = json_loadb(body, len, JSON_DECODE_ANY, &jerr);
	if (root == NULL)
		cp_err(err, errlen, "invalid JSON at line %d column %d: %s",
			   jerr.line, jerr.column, jerr.text);
	return root;
}

/* Return the compact JSON text of v (malloc'ed). */
static char *
cp_dump(const json_t *v)
{
	char *s = json_dumps(v, CP_DUMP_FLAGS | JSON_ENCODE_ANY);

	if (s == NULL)
		cp_oom();
	return s;
}

/* ---------------------------------------------------------------------
 * Decimals
 * ---------------------------------------------------------------------
 */

/*
 * Lay out the scientific text sci ("-1.6501e+02", as "%.*e" prints it)
 * as a plain decimal without exponent ("-165.01") into buf.  Trailing
 * zeros of the fraction are dropped.  Returns 0, or -1 when buf is too
 * small.
 */
static int
cp_plain_from_sci(const char *sci, char *buf, size_t len)
{
	char		digits[32];
	size_t		n = 0;
	long		point;
	CpBuf		b = {0};
	const char *p = sci;
	int			rc = -1;

	if (*p == '-')
		buf_append(&b, p++, 1);
	for (; *p && *p != 'e' && n + 1 < sizeof(digits); p++)
		if (*p != '.')
			digits[n++] = *p;
	digits[n] = '\0';
	point = (*p == 'e' ? strtol(p + 1, NULL, 10) : 0) + 1;
	while (n > 1 && digits[n - 1] == '0')
		digits[--n] = '\0';
	if (point <= 0)
	{
		buf_puts(&b, "0.");
		for (; point < 0; point++)
			buf_append(&b, "0", 1);
		buf_puts(&b, digits);
	}
	else if ((size_t) point >= n)
	{
		buf_puts(&b, digits);
		for (; (size_t) point > n; point--)
			buf_append(&b, "0", 1);
	}
	else
	{
		buf_append(&b, digits, (size_t) point);
		buf_append(&b, ".", 1);
		buf_puts(&b, digits + point);
	}
	if (b.len + 1 <= len)
	{
		memcpy(buf, b.data, b.len + 1);
		rc = 0;
	}
	free(b.data);
	return rc;
}

/*
 * Print v with the fewest significant digits that read back as the same
 * double, into buf, as a plain decimal: 0.5 gives "0.5", 100.0 gives
 * "100", 165.01 gives "165.01" (where a fixed 17 digits would print
 * 165.00999999999999), 1e-7 gives "0.0000001".  There is never an
 * exponent, so the text reads the same in a log line as in numeric.
 * Returns 0, or -1 for NaN, infinity or a buffer too small (len of
 * CPAPI_DECIMAL_LEN holds any value from 1e-40 to below 1e62).
 */
int
cpapi_format_real(double v, char *buf, size_t len)
{
	char sci[40];
	int	 prec;

	if (!isfinite(v))
		return -1;
	if (v == 0.0)
		v = 0.0; /* print negative zero as "0" */
	/* %.16e has 17 significant digits, which always read back exactly */
	for (prec = 0; prec <= 16; prec++)
	{
		snprintf(sci, sizeof(sci), "%.*e", prec, v);
		if (strtod(sci, NULL) == v)
			break;
	}
	return cp_plain_from_sci(sci, buf, len);
}

/*
 * Return true when s is a plain decimal number: an optional sign, digits
 * with an optional fraction (at least one digit in all), and an optional
 * exponent.  NaN, infinities, blanks and thousands separators are not.
 */
bool
cpapi_decimal_valid(const char *s)
{
	int digits = 0;

	if (s == NULL)
		return false;
	if (*s == '+' || *s == '-')
		s++;
	while (isdigit((unsigned char) *s))
	{
		s++;
		digits++;
	}
	if (*s == '.')
	{
		s++;
		while (isdigit((unsigned char) *s))
		{
			s++;
			digits++;
		}
	}
	if (digits == 0)
		return false;
	if (*s == 'e' || *s == 'E')
	{
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!isdigit((unsigned char) *s))
			return false;
		while (isdigit((unsigned char) *s))
			s++;
	}
	return *s == '\0';
}

/*
 * Rewrite a decimal text (as PostgreSQL prints numeric) as a JSON number
 * with exactly the same digits: "+" dropped, leading zeros dropped
 * ("007" -> "7", ".5" -> "0.5"), a bare trailing point dropped.
 * Returns 0, or -1 when in is not a decimal or out is too small.
 */
int
cpapi_decimal_to_json(const char *in, char *out, size_t len)
{
	CpBuf		b = {0};
	const char *p = in;

	if (!cpapi_decimal_valid(in))
		return -1;
	if (*p == '-')
		buf_append(&b, p++, 1);
	else if (*p == '+')
		p++;
	while (*p == '0' && isdigit((unsigned char) p[1]))
		p++;
	if (*p == '.')
		buf_append(&b, "0", 1);
	while (isdigit((unsigned char) *p))
		buf_append(&b, p++, 1);
	if (*p == '.')
	{
		if (isdigit((unsigned char) p[1]))
		{
			buf_append(&b, p++, 1);
			while (isdigit((unsigned char) *p))
				buf_append(&b, p++, 1);
		}
		else
			p++;
	}
	buf_puts(&b, p); /* the exponent, if any, as written */
	if (b.len + 1 > len)
	{
		free(b.data);
		return -1;
	}
	memcpy(out, b.data, b.len + 1);
	free(b.data);
	return 0;
}

/*
 * A decimal reduced to sign, significant digits and the position of the
 * decimal point: value = sign * 0.d1d2d3... * 10^point.
 */
typedef struct CpCanon
{
	int	 sign; /* -1, 0, 1 */
	char digits[2 * CPAPI_DECIMAL_LEN];
	long point;
} CpCanon;

/* Reduce a valid decimal text to canonical form; -1 when too long. */
static int
cp_canon(const char *s, CpCanon *c)
{
	size_t n = 0;
	long   point = 0;
	bool   neg = false;
	bool   in_frac = false;
	size_t start = 0;

	memset(c, 0, sizeof(*c));
	if (*s == '-' || *s == '+')
		neg = (*s++ == '-');
	for (; *s && *s != 'e' && *s != 'E'; s++)
	{
		if (*s == '.')
		{
			in_frac = true;
			continue;
		}
		if (n + 1 >= sizeof(c->digits))
			return -1;
		c->digits[n++] = *s;
		if (!in_frac)
			point++;
	}
	if (*s)
	{
		long e = strtol(s + 1, NULL, 10);

		if (e > 100000 || e < -100000)
			return -1;
		point += e;
	}
	while (start < n && c->digits[start] == '0')
	{
		start++;
		point--;
	}
	while (n > start && c->digits[n - 1] == '0')
		n--;
	memmove(c->digits, c->digits + start, n - start);
	c->digits[n - start] = '\0';
	if (c->digits[0] == '\0')
		return 0; /* zero: sign 0, point 0 */
	c->sign = neg ? -1 : 1;
	c->point = point;
	return 0;
}

/*
 * Return the sign of a decimal text: -1, 0 or 1; -2 when it is not a
 * decimal.
 */
int
cpapi_decimal_sign(const char *s)
{
	CpCanon c;

	if (!cpapi_decimal_valid(s) || cp_canon(s, &c) != 0)
		return -2;
	return c.sign;
}

/*
 * Return true when two decimal texts denote the same number ("100" and
 * "100.0", "0.5" and "5e-1").  Invalid texts are never equal.
 */
bool
cpapi_decimal_equal(const char *a, const char *b)
{
	CpCanon ca;
	CpCanon cb;

	if (!cpapi_decimal_valid(a) || !cpapi_decimal_valid(b))
		return false;
	if (cp_canon(a, &ca) != 0 || cp_canon(b, &cb) != 0)
		return false;
	return ca.sign == cb.sign && ca.point == cb.point &&
		strcmp(ca.digits, cb.digits) == 0;
}

/*
 * Return true when a valid decimal text is zero or its magnitude lies in
 * [1e-30, 1e15): see CP_DECIMAL_POINT_MIN.
 */
static bool
cp_decimal_in_range(const char *s)
{
	CpCanon c;

	if (cp_canon(s, &c) != 0)
		return false;
	return c.sign == 0 ||
		(c.point >= CP_DECIMAL_POINT_MIN && c.point <= CP_DECIMAL_POINT_MAX);
}

/* ---------------------------------------------------------------------
 * Times
 * ---------------------------------------------------------------------
 */

/* Return true when y-m-d h:mi:s is a real UTC calendar time. */
static bool
cp_time_valid(int y, int m, int d, int h, int mi, int s)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30,
								  31, 31, 30, 31, 30, 31};
	int				 dim;

	if (y < 1970 || y > 9999 || m < 1 || m > 12)
		return false;
	dim = mdays[m - 1];
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		dim = 29;
	return d >= 1 && d <= dim && h >= 0 && h <= 23 &&
		mi >= 0 && mi <= 59 && s >= 0 && s <= 59;
}

/* Read n decimal digits at s as an int; -1 when any is not a digit. */
static int
cp_digits(const char *s, int n)
{
	int v = 0;

	while (n-- > 0)
	{
		if (!isdigit((unsigned char) *s))
			return -1;
		v = v * 10 + (*s++ - '0');
	}
	return v;
}

/* Print a validated UTC time as "YYYY-MM-DD hh:mm:ss+00". */
static int
cp_time_print(int y, int m, int d, int h, int mi, int s,
			  char *out, size_t len)
{
	int n;

	if (!cp_time_valid(y, m, d, h, mi, s))
		return -1;
	n = snprintf(out, len, "%04d-%02d-%02d %02d:%02d:%02d+00",
				 y, m, d, h, mi, s);
	return (n < 0 || (size_t) n >= len) ? -1 : 0;
}

/*
 * Convert a trade time "YYYYMMDD-hh:mm:ss" (UTC) to ISO text.
 * Returns 0, or -1 when s is not such a time.
 */
int
cpapi_time_from_trade(const char *s, char *out, size_t len)
{
	if (s == NULL || strlen(s) != 17 || s[8] != '-' || s[11] != ':' ||
		s[14] != ':')
		return -1;
	return cp_time_print(cp_digits(s, 4), cp_digits(s + 4, 2),
						 cp_digits(s + 6, 2), cp_digits(s + 9, 2),
						 cp_digits(s + 12, 2), cp_digits(s + 15, 2),
						 out, len);
}

/*
 * Convert a compact time "YYMMDDhhmmss" (UTC, years 2000-2099), as in
 * lastExecutionTime and order_time, to ISO text.  Returns 0 or -1.
 */
int
cpapi_time_from_compact(const char *s, char *out, size_t len)
{
	int yy;

	if (s == NULL || strlen(s) != 12)
		return -1;
	yy = cp_digits(s, 2);
	if (yy < 0)
		return -1;
	return cp_time_print(2000 + yy, cp_digits(s + 2, 2),
						 cp_digits(s + 4, 2), cp_digits(s + 6, 2),
						 cp_digits(s + 8, 2), cp_digits(s + 10, 2),
						 out, len);
}

/*
 * Convert epoch milliseconds to ISO text in UTC; milliseconds are
 * printed only when not zero.  Returns 0, or -1 for a time before 1970
 * or after 9999, as the other time texts (a year of five digits or a
 * negative one would not read back as the same instant).
 */
int
cpapi_time_from_epoch_ms(int64_t ms, char *out, size_t len)
{
	int64_t	  secs;
	int		  frac;
	time_t	  t;
	struct tm tm;
	int		  n;

	if (ms < 0 || ms > CP_EPOCH_MS_MAX)
		return -1;
	secs = ms / 1000;
	frac = (int) (ms % 1000);
	t = (time_t) secs;
	if (gmtime_r(&t, &tm) == NULL)
		return -1;
	if (frac == 0)
		n = snprintf(out, len, "%04d-%02d-%02d %02d:%02d:%02d+00",
					 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
					 tm.tm_hour, tm.tm_min, tm.tm_sec);
	else
		n = snprintf(out, len, "%04d-%02d-%02d %02d:%02d:%02d.%03d+00",
					 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
					 tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
	return (n < 0 || (size_t) n >= len) ? -1 : 0;
}

/* ---------------------------------------------------------------------
 * Words
 * ---------------------------------------------------------------------
 */

/*
 * Map the side spellings of the gateway (BUY, B, Buy, BOT on one side;
 * SELL, S, Sell, SLD, SSHORT on the other) to a CpapiSide.
 */
CpapiSide
cpapi_side_parse(const char *s)
{
	static const char *const buys[] = {"BUY", "B", "BOT", "BOUGHT"};
	static const char *const sells[] = {"SELL", "S", "SLD", "SOLD",
										"SSHORT"};
	size_t					 i;

	if (s == NULL)
		return CPAPI_SIDE_NONE;
	for (i = 0; i < sizeof(buys) / sizeof(buys[0]); i++)
		if (strcasecmp(s, buys[i]) == 0)
			return CPAPI_SIDE_BUY;
	for (i = 0; i < sizeof(sells) / sizeof(sells[0]); i++)
		if (strcasecmp(s, sells[i]) == 0)
			return CPAPI_SIDE_SELL;
	return CPAPI_SIDE_NONE;
}

/* Return the database spelling of a side ("buy", "sell"), or NULL. */
const char *
cpapi_side_db(CpapiSide side)
{
	switch (side)
	{
		case CPAPI_SIDE_BUY:
			return "buy";
		case CPAPI_SIDE_SELL:
			return "sell";
		default:
			return NULL;
	}
}

/*
 * Return true for the order statuses after which the broker will not
 * work the order any more: Filled, Cancelled, Inactive.  (An Inactive
 * order can in theory revive after a short-sale locate; its trades are
 * still collected while they come.)
 */
bool
cpapi_status_is_terminal(const char *status)
{
	return status != NULL &&
		(strcasecmp(status, "Filled") == 0 ||
		 strcasecmp(status, "Cancelled") == 0 ||
		 strcasecmp(status, "Inactive") == 0);
}

/*
 * Return true when s can be a broker order id: 1 to 19 digits, not all
 * zeros.  The id goes into the path of cancels and modifications, where
 * "-1" would cancel every open order of the account, and into the
 * database; anything else the gateway sends as an order id is refused.
 */
bool
cpapi_order_id_valid(const char *s)
{
	size_t n = 0;
	bool   nonzero = false;

	if (s == NULL)
		return false;
	for (; s[n] != '\0'; n++)
	{
		if (!isdigit((unsigned char) s[n]) || n >= CP_ORDER_ID_MAX)
			return false;
		nonzero |= s[n] != '0';
	}
	return nonzero;
}

/*
 * Return true when s can be a reply id (a UUID in the gateway's answers):
 * 1 to 128 letters, digits, '-' or '_'.  It becomes a path segment of
 * /iserver/reply/, where "." or ".." would name another endpoint.
 */
bool
cpapi_reply_id_valid(const char *s)
{
	size_t n = 0;

	if (s == NULL || s[0] == '\0')
		return false;
	for (; s[n] != '\0'; n++)
		if (n >= CP_REPLY_ID_MAX ||
			!(isalnum((unsigned char) s[n]) || s[n] == '-' || s[n] == '_'))
			return false;
	return true;
}

/*
 * Classify an answer by HTTP status and error text.  Texts are checked
 * before status codes because the gateway reports the same condition
 * with different codes ("Please query /accounts first" comes as 400
 * or 500).
 */
CpapiErrorKind
cpapi_classify_error(long http_status, const char *error_text)
{
	if (http_status == 429)
		return CPAPI_ERR_RATE_LIMITED;
	if (cp_contains_ci(error_text, "no bridge"))
		return CPAPI_ERR_NO_BRIDGE;
	if (cp_contains_ci(error_text, "query /accounts first"))
		return CPAPI_ERR_QUERY_ACCOUNTS;
	if (cp_contains_ci(error_text, "is already registered"))
		return CPAPI_ERR_DUPLICATE_COID;
	if (cp_contains_ci(error_text, "reply id not found"))
		return CPAPI_ERR_REPLY_NOT_FOUND;
	if (http_status == 401 ||
		cp_contains_ci(error_text, "not authenticated"))
		return CPAPI_ERR_NOT_AUTHENTICATED;
	if (http_status >= 500)
		return CPAPI_ERR_TRANSIENT;
	if (error_text != NULL || http_status >= 400 || http_status < 200)
		return CPAPI_ERR_OTHER;
	return CPAPI_ERR_NONE;
}

/* Return a short lower-case name for an error kind, for log lines. */
const char *
cpapi_error_kind_name(CpapiErrorKind kind)
{
	switch (kind)
	{
		case CPAPI_ERR_NONE:
			return "none";
		case CPAPI_ERR_NOT_AUTHENTICATED:
			return "not authenticated";
		case CPAPI_ERR_NO_BRIDGE:
			return "no bridge";
		case CPAPI_ERR_QUERY_ACCOUNTS:
			return "accounts not queried";
		case CPAPI_ERR_RATE_LIMITED:
			return "rate limited";
		case CPAPI_ERR_DUPLICATE_COID:
			return "duplicate cOID";
		case CPAPI_ERR_REPLY_NOT_FOUND:
			return "reply id not found";
		case CPAPI_ERR_TRANSIENT:
			return "transient server error";
		case CPAPI_ERR_OTHER:
			return "error";
	}
	return "error";
}

/* ---------------------------------------------------------------------
 * Field getters.  Each returns 1 when the field was set, 0 when it was
 * absent (missing, null or an empty string), -1 when it had a type or
 * value the field cannot take.
 * ---------------------------------------------------------------------
 */

/* Get a text field; numbers are accepted and printed. */
static int
get_text(const json_t *obj, const char *key, char **out)
{
	json_t *v = json_object_get(obj, key);
	char	buf[CPAPI_DECIMAL_LEN];

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_string(v))
	{
		if (json_string_value(v)[0] == '\0')
			return 0;
		*out = cp_strdup(json_string_value(v));
		return 1;
	}
	if (json_is_integer(v))
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
				 json_integer_value(v));
	else if (!json_is_real(v) ||
			 cpapi_format_real(json_real_value(v), buf, sizeof(buf)) != 0)
		return -1;
	*out = cp_strdup(buf);
	return 1;
}

/* Get a decimal field (quantity, price) as validated decimal text. */
static int
get_decimal(const json_t *obj, const char *key, char **out)
{
	json_t	   *v = json_object_get(obj, key);
	char		buf[CPAPI_DECIMAL_LEN];
	const char *s;

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_string(v))
	{
		s = json_string_value(v);
		if (*s == '\0')
			return 0;
		if (strlen(s) >= CPAPI_DECIMAL_LEN || !cpapi_decimal_valid(s))
			return -1;
	}
	else if (json_is_integer(v))
	{
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
				 json_integer_value(v));
		s = buf;
	}
	else if (json_is_real(v) &&
			 cpapi_format_real(json_real_value(v), buf, sizeof(buf)) == 0)
		s = buf;
	else
		return -1;
	if (!cp_decimal_in_range(s))
		return -1;
	*out = cp_strdup(s);
	return 1;
}

/*
 * Get a decimal that must not be below zero (a quantity or price of an
 * order).  Returns as get_decimal; a negative value is invalid.
 */
static int
get_unsigned(const json_t *obj, const char *key, char **out)
{
	int r = get_decimal(obj, key, out);

	if (r == 1 && cpapi_decimal_sign(*out) < 0)
	{
		cp_free(out);
		return -1;
	}
	return r;
}

/*
 * Return true when v is a whole number a double holds exactly.  Written
 * without libm so that this file links on its own.
 */
static bool
cp_real_is_exact_int(double v)
{
	return v > -CP_EXACT_INT_MAX && v < CP_EXACT_INT_MAX &&
		(double) (long long) v == v;
}

/* Get an identifier: any non-empty string, or an integral number. */
static int
get_id(const json_t *obj, const char *key, char **out)
{
	json_t *v = json_object_get(obj, key);
	char	buf[CPAPI_DECIMAL_LEN];

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_string(v))
		return get_text(obj, key, out);
	if (json_is_integer(v))
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
				 json_integer_value(v));
	else if (json_is_real(v) && cp_real_is_exact_int(json_real_value(v)))
		snprintf(buf, sizeof(buf), "%.0f", json_real_value(v));
	else
		return -1;
	*out = cp_strdup(buf);
	return 1;
}

/* Get a conid: a positive integer given as a number or digit string. */
static int
get_conid(const json_t *obj, const char *key, int64_t *out, bool *has)
{
	char	 *s;
	char	 *end;
	int		  r;
	long long v;

	*out = 0;
	*has = false;
	r = get_id(obj, key, &s);
	if (r <= 0)
		return r;
	errno = 0;
	v = strtoll(s, &end, 10);
	r = (errno == 0 && *end == '\0' && isdigit((unsigned char) s[0]) &&
		 v > 0)
		? 1
		: -1;
	free(s);
	if (r == 1)
	{
		*out = (int64_t) v;
		*has = true;
	}
	return r;
}

/*
 * Get a boolean: true/false, an integer (0 is false), or the strings
 * "true"/"false".  Absent or null reads as false; any other value reads
 * as other, so that a flag can fail closed.
 */
static bool
get_bool_or(const json_t *obj, const char *key, bool other)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL || json_is_null(v))
		return false;
	if (json_is_boolean(v))
		return json_is_true(v);
	if (json_is_integer(v))
		return json_integer_value(v) != 0;
	if (json_is_string(v) && strcasecmp(json_string_value(v), "true") == 0)
		return true;
	if (json_is_string(v) && strcasecmp(json_string_value(v), "false") == 0)
		return false;
	return other;
}

/* Get a boolean that reads as false unless it says true. */
static bool
get_bool(const json_t *obj, const char *key)
{
	return get_bool_or(obj, key, false);
}

/* Get the side field and map its spelling. */
static CpapiSide
get_side(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? cpapi_side_parse(json_string_value(v))
							 : CPAPI_SIDE_NONE;
}

/*
 * Copy the array of strings at key into a malloc'ed vector; a single
 * string counts as an array of one.  Returns the count, -1 on bad types.
 */
static int
get_string_list(const json_t *obj, const char *key, char ***out)
{
	json_t *v = json_object_get(obj, key);
	size_t	i;

	*out = NULL;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_string(v))
	{
		*out = cp_calloc(1, sizeof(char *));
		(*out)[0] = cp_strdup(json_string_value(v));
		return 1;
	}
	if (!json_is_array(v))
		return -1;
	*out = cp_calloc(json_array_size(v), sizeof(char *));
	for (i = 0; i < json_array_size(v); i++)
	{
		json_t *e = json_array_get(v, i);

		(*out)[i] = cp_strdup(json_is_string(e) ? json_string_value(e) : "");
	}
	return (int) json_array_size(v);
}

/* Free a vector of n strings. */
static void
free_string_list(char ***list, int n)
{
	int i;

	if (*list == NULL)
		return;
	for (i = 0; i < n; i++)
		free((*list)[i]);
	free(*list);
	*list = NULL;
}

/*
 * Read the error envelope of obj, if it has one: the "error" text (a
 * non-string error value is kept as its JSON text) and "statusCode".
 * Returns true when obj carries an "error" key with a non-null value.
 */
static bool
get_envelope(const json_t *obj, char **error, int *status_code)
{
	json_t *e = json_object_get(obj, "error");
	json_t *c = json_object_get(obj, "statusCode");

	*error = NULL;
	if (status_code)
		*status_code = json_is_integer(c) ? (int) json_integer_value(c) : 0;
	if (e == NULL || json_is_null(e))
		return false;
	*error = json_is_string(e) ? cp_strdup(json_string_value(e))
							   : cp_dump(e);
	return true;
}

/*
 * Parse an error envelope {"error": "...", "statusCode": n}, also when
 * it is the first element of an array.  Returns 1 and sets *error
 * (malloc'ed) when there is one, 0 when the body is JSON without one,
 * -1 when the body is not JSON.
 */
int
cpapi_parse_error(const char *body, size_t len, char **error,
				  int *status_code)
{
	json_t *root = cp_load(body, len, NULL, 0);
	json_t *obj = root;
	int		r;

	*error = NULL;
	if (status_code)
		*status_code = 0;
	if (root == NULL)
		return -1;
	if (json_is_array(root) && json_array_size(root) > 0)
		obj = json_array_get(root, 0);
	r = json_is_object(obj) && get_envelope(obj, error, status_code);
	json_decref(root);
	return r;
}

/* ---------------------------------------------------------------------
 * Order placement and reply answers
 * ---------------------------------------------------------------------
 */

/* Return true when obj looks like shape (d), a server prompt. */
static bool
reply_is_server_prompt(const json_t *obj)
{
	return json_object_get(obj, "order_id") != NULL &&
		(json_object_get(obj, "req_id") != NULL ||
		 json_object_get(obj, "options") != NULL ||
		 json_object_get(obj, "prompt") != NULL ||
		 json_object_get(obj, "messageId") != NULL);
}

/* Fill r from a shape (a) element.  Returns 0 or -1 with err set. */
static int
reply_accepted(const json_t *obj, CpapiOrderReply *r,
			   char *err, size_t errlen)
{
	r->kind = CPAPI_REPLY_ACCEPTED;
	if (get_id(obj, "order_id", &r->order_id) != 1 ||
		!cpapi_order_id_valid(r->order_id))
	{
		cp_err(err, errlen, "accepted reply without a valid order_id");
		return -1;
	}
	(void) get_text(obj, "local_order_id", &r->local_order_id);
	(void) get_text(obj, "order_status", &r->order_status);
	if (get_text(obj, "text", &r->text) != 1)
		(void) get_text(obj, "warning_message", &r->text);
	return 0;
}

/* Fill r from a shape (b) element.  Returns 0 or -1 with err set. */
static int
reply_prompt(const json_t *obj, CpapiOrderReply *r,
			 char *err, size_t errlen)
{
	r->kind = CPAPI_REPLY_PROMPT;
	if (get_id(obj, "id", &r->reply_id) != 1 ||
		!cpapi_reply_id_valid(r->reply_id))
	{
		cp_err(err, errlen, "prompt without a valid reply id");
		return -1;
	}
	r->n_messages = get_string_list(obj, "message", &r->messages);
	r->n_message_ids = get_string_list(obj, "messageIds", &r->message_ids);
	if (r->n_messages < 0 || r->n_message_ids < 0)
	{
		cp_err(err, errlen, "prompt with malformed message or messageIds");
		return -1;
	}
	return 0;
}

/* Fill r from a shape (d) object.  Always succeeds. */
static int
reply_server_prompt(const json_t *obj, CpapiOrderReply *r)
{
	r->kind = CPAPI_REPLY_SERVER_PROMPT;
	(void) get_id(obj, "order_id", &r->order_id);
	if (get_text(obj, "text", &r->error) != 1 &&
		get_text(obj, "prompt", &r->error) != 1)
		r->error = cp_strdup("server prompt without text");
	(void) get_text(obj, "messageId", &r->message_id);
	return 0;
}

/* Classify one object of a reply and fill r from it. */
static int
reply_classify(const json_t *obj, CpapiOrderReply *r,
			   char *err, size_t errlen)
{
	if (get_envelope(obj, &r->error, &r->status_code))
	{
		r->kind = CPAPI_REPLY_ERROR;
		return 0;
	}
	if (json_object_get(obj, "id") != NULL &&
		(json_object_get(obj, "message") != NULL ||
		 json_object_get(obj, "messageIds") != NULL))
		return reply_prompt(obj, r, err, errlen);
	if (reply_is_server_prompt(obj))
		return reply_server_prompt(obj, r);
	if (json_object_get(obj, "order_id") != NULL)
		return reply_accepted(obj, r, err, errlen);
	cp_err(err, errlen, "reply of unknown shape");
	return -1;
}

/*
 * Parse the answer to an order placement or to a reply confirmation
 * into one of the shapes (a)-(d).  Arrays are read by their first
 * element: the daemon sends one order body per request.  Returns 0, or -1
 * with r->kind CPAPI_REPLY_INVALID and err set.
 */
int
cpapi_parse_order_reply(const char *body, size_t len, CpapiOrderReply *r,
						char *err, size_t errlen)
{
	json_t *root;
	json_t *obj;
	int		rc = -1;

	memset(r, 0, sizeof(*r));
	root = cp_load(body, len, err, errlen);
	if (root == NULL)
		return -1;
	obj = root;
	if (json_is_array(root))
		obj = json_array_size(root) > 0 ? json_array_get(root, 0) : NULL;
	if (obj == NULL)
		cp_err(err, errlen, "empty reply array");
	else if (!json_is_object(obj))
		cp_err(err, errlen, "reply is neither an object nor objects");
	else
		rc = reply_classify(obj, r, err, errlen);
	json_decref(root);
	if (rc != 0)
	{
		cpapi_order_reply_free(r);
		r->kind = CPAPI_REPLY_INVALID;
	}
	return rc;
}

/* Release the fields of an order reply and zero it. */
void
cpapi_order_reply_free(CpapiOrderReply *r)
{
	cp_free(&r->order_id);
	cp_free(&r->local_order_id);
	cp_free(&r->order_status);
	cp_free(&r->text);
	cp_free(&r->reply_id);
	free_string_list(&r->messages, r->n_messages);
	free_string_list(&r->message_ids, r->n_message_ids);
	cp_free(&r->error);
	cp_free(&r->message_id);
	memset(r, 0, sizeof(*r));
}

/* ---------------------------------------------------------------------
 * Live orders
 * ---------------------------------------------------------------------
 */

/* Release the fields of one live order. */
static void
live_order_free(CpapiLiveOrder *o)
{
	cp_free(&o->order_id);
	cp_free(&o->order_ref);
	cp_free(&o->account);
	cp_free(&o->status);
	cp_free(&o->order_type);
	cp_free(&o->tif);
	cp_free(&o->total_size);
	cp_free(&o->filled);
	cp_free(&o->remaining);
	cp_free(&o->avg_price);
	cp_free(&o->price);
	cp_free(&o->last_execution_time);
	cp_free(&o->payload);
}

/* Fill o from one element; -1 with err set when it is malformed. */
static int
live_order_parse(const json_t *e, CpapiLiveOrder *o, char *err,
				 size_t errlen)
{
	char *t = NULL;
	char  iso[CPAPI_TIME_LEN];

	if (!json_is_object(e))
		return cp_err(err, errlen, "element is not an object");
	if (get_id(e, "orderId", &o->order_id) != 1 ||
		!cpapi_order_id_valid(o->order_id))
		return cp_err(err, errlen, "missing or invalid orderId");
	if (get_conid(e, "conid", &o->conid, &o->has_conid) < 0 ||
		get_unsigned(e, "totalSize", &o->total_size) < 0 ||
		get_unsigned(e, "filledQuantity", &o->filled) < 0 ||
		get_unsigned(e, "remainingQuantity", &o->remaining) < 0 ||
		get_unsigned(e, "avgPrice", &o->avg_price) < 0 ||
		get_unsigned(e, "price", &o->price) < 0)
	{
		cp_err(err, errlen, "order %s has an invalid or negative number",
			   o->order_id);
		return -1;
	}
	(void) get_text(e, "order_ref", &o->order_ref);
	if (get_text(e, "account", &o->account) != 1)
		(void) get_text(e, "acct", &o->account);
	(void) get_text(e, "status", &o->status);
	(void) get_text(e, "orderType", &o->order_type);
	(void) get_text(e, "timeInForce", &o->tif);
	o->side = get_side(e, "side");
	if (get_text(e, "lastExecutionTime", &t) == 1 &&
		cpapi_time_from_compact(t, iso, sizeof(iso)) == 0)
		o->last_execution_time = cp_strdup(iso);
	free(t);
	o->payload = cp_dump(e);
	return 0;
}

/*
 * Parse GET /iserver/account/orders.  An object without "orders" (the
 * pre-flight answer) is an empty list; a bare array is read as the list.
 * Malformed elements are skipped and counted.  Returns 0, or -1 with err
 * set for an error envelope or a document of the wrong shape.
 */
int
cpapi_parse_live_orders(const char *body, size_t len, CpapiLiveOrders *l,
						char *err, size_t errlen)
{
	json_t *root;
	json_t *list;
	char   *error = NULL;
	char	why[CPAPI_ERR_LEN];
	size_t	i;

	memset(l, 0, sizeof(*l));
	root = cp_load(body, len, err, errlen);
	if (root == NULL)
		return -1;
	list = root;
	if (json_is_object(root))
	{
		if (get_envelope(root, &error, NULL))
		{
			cp_err(err, errlen, "gateway error: %s", error);
			free(error);
			json_decref(root);
			return -1;
		}
		list = json_object_get(root, "orders");
		l->snapshot = get_bool(root, "snapshot");
	}
	if (list != NULL && !json_is_array(list))
	{
		cp_err(err, errlen, "live orders are not a list");
		json_decref(root);
		return -1;
	}
	l->orders = cp_calloc(json_array_size(list), sizeof(CpapiLiveOrder));
	for (i = 0; i < json_array_size(list); i++)
	{
		CpapiLiveOrder *o = &l->orders[l->n];

		if (live_order_parse(json_array_get(list, i), o, why,
							 sizeof(why)) == 0)
			l->n++;
		else
		{
			live_order_free(o);
			if (l->n_skipped++ == 0)
				l->skip_reason = cp_strdup(why);
		}
	}
	json_decref(root);
	return 0;
}

/* Release a live order list and zero it. */
void
cpapi_live_orders_free(CpapiLiveOrders *l)
{
	int i;

	for (i = 0; i < l->n; i++)
		live_order_free(&l->orders[i]);
	free(l->orders);
	free(l->skip_reason);
	memset(l, 0, sizeof(*l));
}

/* ---------------------------------------------------------------------
 * Order status
 * ---------------------------------------------------------------------
 */

/*
 * Parse GET /iserver/account/order/status/{orderId} (snake_case keys,
 * quantities as strings, side B/S).  Returns 0, or -1 with err set.
 */
int
cpapi_parse_order_status(const char *body, size_t len, CpapiOrderStatus *s,
						 char *err, size_t errlen)
{
	json_t *root;
	char   *t = NULL;
	char	iso[CPAPI_TIME_LEN];
	int		rc = -1;

	memset(s, 0, sizeof(*s));
	root = cp_load(body, len, err, errlen);
	if (root == NULL)
		return -1;
	if (!json_is_object(root))
		cp_err(err, errlen, "order status is not an object");
	else if (get_envelope(root, &t, NULL))
		cp_err(err, errlen, "gateway error: %s", t);
	else if (get_id(root, "order_id", &s->order_id) != 1 ||
			 !cpapi_order_id_valid(s->order_id))
		cp_err(err, errlen, "missing or invalid order_id");
	else if (get_conid(root, "conid", &s->conid, &s->has_conid) < 0 ||
			 get_unsigned(root, "total_size", &s->total_size) < 0 ||
			 get_unsigned(root, "size", &s->remaining) < 0 ||
			 get_unsigned(root, "cum_fill", &s->cum_fill) < 0 ||
			 get_unsigned(root, "average_price", &s->avg_price) < 0 ||
			 get_unsigned(root, "limit_price", &s->limit_price) < 0 ||
			 get_unsigned(root, "stop_price", &s->stop_price) < 0)
		cp_err(err, errlen, "order %s has an invalid or negative number",
			   s->order_id);
	else
		rc = 0;
	cp_free(&t);
	if (rc == 0)
	{
		(void) get_text(root, "account", &s->account);
		(void) get_text(root, "symbol", &s->symbol);
		(void) get_text(root, "order_status", &s->status);
		(void) get_text(root, "order_ccp_status", &s->ccp_status);
		(void) get_text(root, "order_type", &s->order_type);
		(void) get_text(root, "tif", &s->tif);
		s->side = get_side(root, "side");
		if (get_text(root, "order_time", &t) == 1 &&
			cpapi_time_from_compact(t, iso, sizeof(iso)) == 0)
			s->order_time = cp_strdup(iso);
		free(t);
	}
	else
		cpapi_order_status_free(s);
	json_decref(root);
	return rc;
}

/* Release an order status and zero it. */
void
cpapi_order_status_free(CpapiOrderStatus *s)
{
	cp_free(&s->order_id);
	cp_free(&s->account);
	cp_free(&s->symbol);
	cp_free(&s->status);
	cp_free(&s->ccp_status);
	cp_free(&s->order_type);
	cp_free(&s->tif);
	cp_free(&s->total_size);
	cp_free(&s->remaining);
	cp_free(&s->cum_fill);
	cp_free(&s->avg_price);
	cp_free(&s->limit_price);
	cp_free(&s->stop_price);
	cp_free(&s->order_time);
	memset(s, 0, sizeof(*s));
}

/* ---------------------------------------------------------------------
 * Trades
 * ---------------------------------------------------------------------
 */

/* Release the fields of one trade. */
static void
trade_free(CpapiTrade *t)
{
	cp_free(&t->execution_id);
	cp_free(&t->order_ref);
	cp_free(&t->account);
	cp_free(&t->symbol);
	cp_free(&t->size);
	cp_free(&t->price);
	cp_free(&t->commission);
	cp_free(&t->trade_time);
	cp_free(&t->payload);
}

/*
 * Set t->trade_time from "trade_time" (YYYYMMDD-hh:mm:ss), or else from
 * "trade_time_r" (epoch ms).  Returns 0 or -1.
 */
static int
trade_time_parse(const json_t *e, CpapiTrade *t)
{
	char   *s = NULL;
	char	iso[CPAPI_TIME_LEN];
	json_t *r = json_object_get(e, "trade_time_r");
	int		rc = -1;

	if (get_text(e, "trade_time", &s) == 1 &&
		cpapi_time_from_trade(s, iso, sizeof(iso)) == 0)
		rc = 0;
	else if (json_is_integer(r) &&
			 cpapi_time_from_epoch_ms(json_integer_value(r), iso,
									  sizeof(iso)) == 0)
		rc = 0;
	free(s);
	if (rc == 0)
		t->trade_time = cp_strdup(iso);
	return rc;
}

/* Fill t from one element; -1 with err set when it is malformed. */
static int
trade_parse(const json_t *e, CpapiTrade *t, char *err, size_t errlen)
{
	if (!json_is_object(e))
		return cp_err(err, errlen, "element is not an object");
	if (get_id(e, "execution_id", &t->execution_id) != 1)
		return cp_err(err, errlen, "missing or invalid execution_id");
	t->side = get_side(e, "side");
	if (t->side == CPAPI_SIDE_NONE)
		return cp_err(err, errlen, "execution %s has no known side",
					  t->execution_id);
	if (get_decimal(e, "size", &t->size) != 1 ||
		get_decimal(e, "price", &t->price) != 1 ||
		get_conid(e, "conid", &t->conid, &t->has_conid) < 0)
		return cp_err(err, errlen, "execution %s has an invalid size, "
								   "price or conid",
					  t->execution_id);
	/* an execution always moves a positive size at a positive price */
	if (cpapi_decimal_sign(t->size) != 1 || cpapi_decimal_sign(t->price) != 1)
		return cp_err(err, errlen, "execution %s has a size %s or price %s "
								   "that is not positive",
					  t->execution_id, t->size, t->price);
	if (trade_time_parse(e, t) != 0)
		return cp_err(err, errlen, "execution %s has no valid trade time",
					  t->execution_id);
	if (get_decimal(e, "commission", &t->commission) < 0)
		t->commission = NULL; /* unreadable now; it may come later */
	(void) get_text(e, "order_ref", &t->order_ref);
	if (get_text(e, "account", &t->account) != 1)
		(void) get_text(e, "accountCode", &t->account);
	(void) get_text(e, "symbol", &t->symbol);
	t->payload = cp_dump(e);
	return 0;
}

/*
 * Parse GET /iserver/account/trades: an array of executions.  Malformed
 * elements are skipped and counted.  Returns 0, or -1 with err set.
 */
int
cpapi_parse_trades(const char *body, size_t len, CpapiTrades *l,
				   char *err, size_t errlen)
{
	json_t *root;
	char   *error = NULL;
	char	why[CPAPI_ERR_LEN];
	size_t	i;

	memset(l, 0, sizeof(*l));
	root = cp_load(body, len, err, errlen);
	if (root == NULL)
		return -1;
	if (!json_is_array(root))
	{
		if (json_is_object(root) && get_envelope(root, &error, NULL))
			cp_err(err, errlen, "gateway error: %s", error);
		else
			cp_err(err, errlen, "trades are not a list");
		free(error);
		json_decref(root);
		return -1;
	}
	l->trades = cp_calloc(json_array_size(root), sizeof(CpapiTrade));
	for (i = 0; i < json_array_size(root); i++)
	{
		CpapiTrade *t = &l->trades[l->n];

		if (trade_parse(json_array_get(root, i), t, why, sizeof(why)) == 0)
			l->n++;
		else
		{
			trade_free(t);
			if (l->n_skipped++ == 0)
				l->skip_reason = cp_strdup(why);
		}
	}
	json_decref(root);
	return 0;
}

/* Release a trade list and zero it. */
void
cpapi_trades_free(CpapiTrades *l)
{
	int i;

	for (i = 0; i < l->n; i++)
		trade_free(&l->trades[i]);
	free(l->trades);
	free(l->skip_reason);
	memset(l, 0, sizeof(*l));
}

/* ---------------------------------------------------------------------
 * Session: auth status, tickle, accounts
 * ---------------------------------------------------------------------
 */

/* Fill a from the keys of an auth status object. */
static void
auth_fill(const json_t *obj, CpapiAuthStatus *a)
{
	a->authenticated = get_bool(obj, "authenticated");
	a->connected = get_bool(obj, "connected");
	/* a competing flag that says neither yes nor no stops trading */
	a->competing = get_bool_or(obj, "competing", true);
	(void) get_text(obj, "fail", &a->fail);
	(void) get_text(obj, "message", &a->message);
}

/*
 * Parse the answer of /iserver/auth/status or /iserver/auth/ssodh/init.
 * Missing flags read as false.  Returns 0, or -1 with err set.
 */
int
cpapi_parse_auth_status(const char *body, size_t len, CpapiAuthStatus *a,
						char *err, size_t errlen)
{
	json_t *root;
	char   *error = NULL;
	int		rc = -1;

	memset(a, 0, sizeof(*a));
	root = cp_load(body, len, err, errlen);
	if (root == NULL)
		return -1;
	if (!json_is_object(root))
		cp_err(err, errlen, "auth status is not an object");
	else if (get_envelope(root, &error, NULL))
		cp_err(err, errlen, "gateway error: %s", error);
	else
	{
		auth_fill(root, a);
		rc = 0;
	}
	free(error);
	json_decref(root);
	return rc;
}

/* Release an auth status and zero it. */
void
cpapi_auth_status_free(CpapiAuthStatus *a)
{
	cp_free(&a->fail);
	cp_free(&a->message);
	memset(a, 0, sizeof(*a));
}

/* Return true for a brokerage session the daemon may trade on. */
bool
cpapi_auth_healthy(const CpapiAuthStatus *a)
{
	return a->authenticated && a->connected && !a->competing;
}

/*
 * Parse the answer of /tickle.  An error envelope is not a parse error:
 * it sets t->error.  Returns 0, or -1 with err set when the body is not
 * a JSON object.
 */
int
cpapi_parse_tickle(const char *body, size_t len, CpapiTickle *t,
				   char *err, size_t errlen)
{
	json_t *root;
	json_t *auth;

	memset(t, 0, sizeof(*t));
	root = cp_load(body, len, err, errlen);
	if (root == NULL)
		return -1;
	if (!json_is_object(root))
	{
		cp_err(err, errlen, "tickle answer is not an object");
		json_decref(root);
		return -1;
	}
	(void) get_envelope(root, &t->error, NULL);
	t->has_session = json_object_get(root, "session") != NULL;
	auth = json_object_get(json_object_get(root, "iserver"), "authStatus");
	if (json_is_object(auth))
	{
		t->has_auth = true;
		auth_fill(auth, &t->auth);
	}
	json_decref(root);
	return 0;
}

/* Release a tickle answer and zero it. */
void
cpapi_tickle_free(CpapiTickle *t)
{
	cpapi_auth_status_free(&t->auth);
	cp_free(&t->error);
	memset(t, 0, sizeof(*t));
}

/*
 * Parse GET /iserver/accounts; only "accounts" is required.  Returns 0,
 * or -1 with err set.
 */
int
cpapi_parse_accounts(const char *body, size_t len, CpapiAccounts *a,
					 char *err, size_t errlen)
{
	json_t *root;
	char   *error = NULL;
	int		rc = -1;
	int		i;

	memset(a, 0, sizeof(*a));
	root = cp_load(body, len, err, errlen);
	if (root == NULL)
		return -1;
	if (!json_is_object(root))
		cp_err(err, errlen, "accounts answer is not an object");
	else if (get_envelope(root, &error, NULL))
		cp_err(err, errlen, "gateway error: %s", error);
	else if (!json_is_array(json_object_get(root, "accounts")))
		cp_err(err, errlen, "accounts answer without an accounts list");
	else
	{
		a->n = get_string_list(root, "accounts", &a->accounts);
		(void) get_text(root, "selectedAccount", &a->selected);
		rc = 0;
		for (i = 0; i < a->n; i++)
			if (a->accounts[i][0] == '\0')
			{
				cp_err(err, errlen, "accounts list holds a non-string");
				cpapi_accounts_free(a);
				rc = -1;
				break;
			}
	}
	free(error);
	json_decref(root);
	return rc;
}

/* Release an account list and zero it. */
void
cpapi_accounts_free(CpapiAccounts *a)
{
	free_string_list(&a->accounts, a->n);
	cp_free(&a->selected);
	memset(a, 0, sizeof(*a));
}

/* ---------------------------------------------------------------------
 * Market data history and contract search
 * ---------------------------------------------------------------------
 */

/* Release the fields of one bar. */
static void
bar_free(CpapiBar *b)
{
	cp_free(&b->open);
	cp_free(&b->high);
	cp_free(&b->low);
	cp_free(&b->close);
	cp_free(&b->volume);
}

/* Fill b from one element of "data"; -1 when it is malformed. */
static int
bar_parse(const json_t *e, CpapiBar *b)
{
	json_t *t = json_object_get(e, "t");

	if (!json_is_integer(t))
		return -1;
	b->t_ms = json_integer_value(t);
	if (cpapi_time_from_epoch_ms(b->t_ms, b->time, sizeof(b->time)) != 0)
		return -1;
	if (get_decimal(e, "o", &b->open) != 1 ||
		get_decimal(e, "h", &b->high) != 1 ||
		get_decimal(e, "l", &b->low) != 1 ||
		get_decimal(e, "c", &b->close) != 1 ||
		get_decimal(e, "v", &b->volume) < 0)
		return -1;
	return 0;
}

/*
 * Parse GET /iserver/marketdata/history.  Prices are real prices (not
 * scaled by priceFactor).  Returns 0, or -1 with err set; a malformed
 * bar fails the whole document, since a gap would be silent.
 */
int
cpapi_parse_history(const char *body, size_t len, CpapiHistory *h,
					char *err, size_t errlen)
{
	json_t *root;
	json_t *data;
	char   *error = NULL;
	size_t	i;

	memset(h, 0, sizeof(*h));
	root = cp_load(body, len, err, errlen);
	if (root == NULL)
		return -1;
	data = json_object_get(root, "data");
	if (!json_is_object(root) || get_envelope(root, &error, NULL) ||
		(data != NULL && !json_is_array(data)))
	{
		if (error != NULL)
			cp_err(err, errlen, "gateway error: %s", error);
		else
			cp_err(err, errlen, "history answer of unknown shape");
		free(error);
		json_decref(root);
		return -1;
	}
	(void) get_text(root, "symbol", &h->symbol);
	h->bars = cp_calloc(json_array_size(data), sizeof(CpapiBar));
	for (i = 0; i < json_array_size(data); i++)
	{
		h->n = (int) i + 1; /* so that a failure frees this bar too */
		if (bar_parse(json_array_get(data, i), &h->bars[i]) != 0)
		{
			cp_err(err, errlen, "bar %zu is malformed", i);
			cpapi_history_free(h);
			json_decref(root);
			return -1;
		}
	}
	json_decref(root);
	return 0;
}

/* Release a history answer and zero it. */
void
cpapi_history_free(CpapiHistory *h)
{
	int i;

	for (i = 0; i < h->n; i++)
		bar_free(&h->bars[i]);
	free(h->bars);
	cp_free(&h->symbol);
	memset(h, 0, sizeof(*h));
}

/* Return true when the "sections" array of e lists secType STK. */
static bool
contract_has_stk(const json_t *e)
{
	json_t *sections = json_object_get(e, "sections");
	size_t	i;

	for (i = 0; i < json_array_size(sections); i++)
	{
		json_t *t = json_object_get(json_array_get(sections, i),
									"secType");

		if (json_is_string(t) && strcmp(json_string_value(t), "STK") == 0)
			return true;
	}
	return false;
}

/*
 * Parse GET /iserver/secdef/search (conid is a string there; a number
 * is accepted too).  An element with an unreadable conid is kept with
 * conid 0; elements that are not objects are counted in n_skipped.  An
 * error envelope, or anything but a list, fails.  Returns 0, or -1
 * with err set.
 */
int
cpapi_parse_secdef_search(const char *body, size_t len, CpapiContracts *c,
						  char *err, size_t errlen)
{
	json_t *root;
	char   *error = NULL;
	size_t	i;

	memset(c, 0, sizeof(*c));
	root = cp_load(body, len, err, errlen);
	if (root == NULL)
		return -1;
	if (!json_is_array(root))
	{
		if (json_is_object(root) && get_envelope(root, &error, NULL))
			cp_err(err, errlen, "gateway error: %s", error);
		else
			cp_err(err, errlen, "search answer is not a list");
		free(error);
		json_decref(root);
		return -1;
	}
	c->items = cp_calloc(json_array_size(root), sizeof(CpapiContract));
	for (i = 0; i < json_array_size(root); i++)
	{
		json_t		  *e = json_array_get(root, i);
		CpapiContract *k = &c->items[c->n];
		bool		   has;

		if (!json_is_object(e))
		{
			c->n_skipped++;
			continue;
		}
		if (get_conid(e, "conid", &k->conid, &has) != 1)
			k->conid = 0;
		(void) get_text(e, "symbol", &k->symbol);
		(void) get_text(e, "companyName", &k->company_name);
		(void) get_text(e, "companyHeader", &k->company_header);
		(void) get_text(e, "description", &k->description);
		k->has_stk = contract_has_stk(e);
		c->n++;
	}
	json_decref(root);
	return 0;
}

/* Release a contract list and zero it. */
void
cpapi_contracts_free(CpapiContracts *c)
{
	int i;

	for (i = 0; i < c->n; i++)
	{
		cp_free(&c->items[i].symbol);
		cp_free(&c->items[i].company_name);
		cp_free(&c->items[i].company_header);
		cp_free(&c->items[i].description);
	}
	free(c->items);
	memset(c, 0, sizeof(*c));
}

/*
 * Return true when a search result is a stock listing of symbol: its
 * symbol equals symbol exactly and it has a section with secType STK.
 */
bool
cpapi_contract_is_match(const CpapiContract *k, const char *symbol)
{
	return k->has_stk && k->symbol != NULL && symbol != NULL &&
		strcmp(k->symbol, symbol) == 0;
}

/* Return true when a description names a US listing exchange. */
static bool
contract_is_us_listing(const CpapiContract *k)
{
	static const char *const us[] = {"NASDAQ", "NYSE", "ARCA", "AMEX",
									 "BATS"};
	size_t					 i;

	if (k->description == NULL)
		return false;
	for (i = 0; i < sizeof(us) / sizeof(us[0]); i++)
		if (strcmp(k->description, us[i]) == 0)
			return true;
	return false;
}

/*
 * Choose the stock listing of symbol among search results, never
 * guessing: one match (cpapi_contract_is_match) is taken; among several,
 * the one listed on a US exchange, if exactly one is.  Returns the
 * number of matches and sets *conid to the chosen conid, or to 0 when
 * there is no match, no unique one, or the chosen one has no readable
 * conid.
 */
int
cpapi_choose_stock(const CpapiContracts *c, const char *symbol,
				   int64_t *conid)
{
	const CpapiContract *only = NULL;
	const CpapiContract *us = NULL;
	int					 n = 0;
	int					 n_us = 0;
	int					 i;

	*conid = 0;
	for (i = 0; i < c->n; i++)
	{
		if (!cpapi_contract_is_match(&c->items[i], symbol))
			continue;
		n++;
		only = &c->items[i];
		if (contract_is_us_listing(only))
		{
			n_us++;
			us = only;
		}
	}
	if (n == 1)
		*conid = only->conid;
	else if (n > 1 && n_us == 1)
		*conid = us->conid;
	return n;
}

/* ---------------------------------------------------------------------
 * Request bodies
 * ---------------------------------------------------------------------
 */

/* Set *out to s as a JSON string literal (malloc'ed).  Returns 0. */
int
cpapi_json_quote(const char *s, char **out)
{
	CpBuf b = {0};

	buf_put_quoted(&b, s);
	*out = b.data;
	return 0;
}

/* Map a database word to its wire word through a two-column table. */
static const char *
cp_map_word(const char *const (*table)[2], size_t n, const char *word)
{
	size_t i;

	for (i = 0; word != NULL && i < n; i++)
		if (strcmp(table[i][0], word) == 0)
			return table[i][1];
	return NULL;
}

/*
 * Append ,"key":<decimal> for a price that must be a positive decimal.
 * Returns 0, or -1 with err set.
 */
static int
ticket_put_price(CpBuf *b, const char *key, const char *what,
				 const char *value, char *err, size_t errlen)
{
	char num[CPAPI_DECIMAL_LEN];

	if (value == NULL)
		return cp_err(err, errlen, "%s is missing", what);
	if (cpapi_decimal_to_json(value, num, sizeof(num)) != 0 ||
		cpapi_decimal_sign(value) <= 0)
		return cp_err(err, errlen, "%s \"%s\" is not a positive decimal",
					  what, value);
	buf_puts(b, ",\"");
	buf_puts(b, key);
	buf_puts(b, "\":");
	buf_puts(b, num);
	return 0;
}

/* Append the price fields the order type needs.  Returns 0 or -1. */
static int
ticket_put_prices(CpBuf *b, const CpapiTicket *t, char *err, size_t errlen)
{
	if (strcmp(t->order_type, "limit") == 0)
		return ticket_put_price(b, "price", "limit price", t->limit_price,
								err, errlen);
	if (strcmp(t->order_type, "stop") == 0)
		return ticket_put_price(b, "price", "stop price", t->stop_price,
								err, errlen);
	if (strcmp(t->order_type, "stop_limit") == 0)
		return ticket_put_price(b, "price", "limit price", t->limit_price,
								err, errlen) ||
			ticket_put_price(b, "auxPrice", "stop price", t->stop_price,
							 err, errlen);
	return 0;
}

/*
 * Append one order object to b.  The text is written here rather than
 * through jansson so that prices and quantity carry exactly the digits
 * of the database's numeric.  cOID and parentId are written only when
 * set.  Returns 0, or -1 with err set.
 */
static int
ticket_put(CpBuf *b, const CpapiTicket *t, char *err, size_t errlen)
{
	static const char *const types[][2] = {{"market", "MKT"},
										   {"limit", "LMT"},
										   {"stop", "STP"},
										   {"stop_limit", "STOP_LIMIT"}};
	static const char *const tifs[][2] = {{"day", "DAY"},
										  {"gtc", "GTC"},
										  {"ioc", "IOC"}};
	static const char *const sides[][2] = {{"buy", "BUY"}, {"sell", "SELL"}};
	const char				*type = cp_map_word(types, 4, t->order_type);
	const char				*tif = cp_map_word(tifs, 3, t->tif);
	const char				*side = cp_map_word(sides, 2, t->side);
	char					 num[CPAPI_DECIMAL_LEN];
	char					 conid[24];
	char					 sectype[32];

	if (type == NULL || tif == NULL || side == NULL)
		return cp_err(err, errlen, "unsupported order type, time in force "
								   "or side: %s, %s, %s",
					  t->order_type ? t->order_type : "(null)",
					  t->tif ? t->tif : "(null)",
					  t->side ? t->side : "(null)");
	if (t->account == NULL || t->conid <= 0)
		return cp_err(err, errlen, "account and conid are required");
	if (t->quantity == NULL ||
		cpapi_decimal_to_json(t->quantity, num, sizeof(num)) != 0 ||
		cpapi_decimal_sign(t->quantity) <= 0)
		return cp_err(err, errlen, "quantity \"%s\" is not a positive "
								   "decimal",
					  t->quantity ? t->quantity : "(null)");
	snprintf(conid, sizeof(conid), "%" PRId64, t->conid);
	snprintf(sectype, sizeof(sectype), "%s:STK", conid);
	buf_puts(b, "{\"acctId\":");
	buf_put_quoted(b, t->account);
	buf_puts(b, ",\"conid\":");
	buf_puts(b, conid);
	buf_puts(b, ",\"secType\":");
	buf_put_quoted(b, sectype);
	if (t->coid != NULL)
	{
		buf_puts(b, ",\"cOID\":");
		buf_put_quoted(b, t->coid);
	}
	if (t->parent_id != NULL)
	{
		buf_puts(b, ",\"parentId\":");
		buf_put_quoted(b, t->parent_id);
	}
	buf_puts(b, ",\"orderType\":");
	buf_put_quoted(b, type);
	if (ticket_put_prices(b, t, err, errlen) != 0)
		return -1;
	buf_puts(b, ",\"side\":");
	buf_put_quoted(b, side);
	buf_puts(b, ",\"quantity\":");
	buf_puts(b, num);
	buf_puts(b, ",\"tif\":");
	buf_put_quoted(b, tif);
	buf_puts(b, ",\"outsideRTH\":");
	buf_puts(b, t->outside_rth ? "true}" : "false}");
	return 0;
}

/*
 * Build the body of POST /iserver/account/{acct}/orders for n order bodies
 * sent in one request (one order, or a bracket's parent and children):
 * {"orders":[...]}.  Every order body needs its cOID.  Returns 0 with *out
 * malloc'ed, or -1 with err set.
 */
int
cpapi_build_orders_body(const CpapiTicket *t, int n, char **out,
						char *err, size_t errlen)
{
	CpBuf b = {0};
	int	  i;

	*out = NULL;
	buf_puts(&b, "{\"orders\":[");
	for (i = 0; i < n; i++)
	{
		if (t[i].coid == NULL)
		{
			free(b.data);
			return cp_err(err, errlen, "account, cOID and conid are "
									   "required");
		}
		if (i > 0)
			buf_puts(&b, ",");
		if (ticket_put(&b, &t[i], err, errlen) != 0)
		{
			free(b.data);
			return -1;
		}
	}
	buf_puts(&b, "]}");
	*out = b.data;
	return 0;
}

/* Build the body of POST .../orders for one order body; see above. */
int
cpapi_build_order_body(const CpapiTicket *t, char **out,
					   char *err, size_t errlen)
{
	return cpapi_build_orders_body(t, 1, out, err, errlen);
}

/*
 * Build the body of POST /iserver/account/{acct}/order/{id} (modify):
 * the single order object, without the "orders" wrapper.  Returns 0
 * with *out malloc'ed, or -1 with err set.
 */
int
cpapi_build_ticket(const CpapiTicket *t, char **out, char *err,
				   size_t errlen)
{
	CpBuf b = {0};

	*out = NULL;
	if (ticket_put(&b, t, err, errlen) != 0)
	{
		free(b.data);
		return -1;
	}
	*out = b.data;
	return 0;
}

/*
 * Build {"<key>":["id1","id2",...]}, the body of questions/suppress.
 * Returns 0 with *out malloc'ed.
 */
int
cpapi_build_id_list_body(const char *key, char *const *ids, int n,
						 char **out)
{
	CpBuf b = {0};
	int	  i;

	buf_puts(&b, "{");
	buf_put_quoted(&b, key);
	buf_puts(&b, ":[");
	for (i = 0; i < n; i++)
	{
		if (i > 0)
			buf_puts(&b, ",");
		buf_put_quoted(&b, ids[i]);
	}
	buf_puts(&b, "]}");
	*out = b.data;
	return 0;
}

/* ---------------------------------------------------------------------
 * Portfolio positions
 * ---------------------------------------------------------------------
 */

/* Fill p from one element; -1 with err set when it is malformed. */
static int
position_parse(const json_t *e, CpapiPosition *p, char *err, size_t errlen)
{
	bool has_conid = false;

	if (!json_is_object(e))
		return cp_err(err, errlen, "element is not an object");
	if (get_conid(e, "conid", &p->conid, &has_conid) != 1 || !has_conid)
		return cp_err(err, errlen, "missing or invalid conid");
	if (get_decimal(e, "position", &p->position) != 1)
		return cp_err(err, errlen, "conid %lld has a missing or invalid "
								   "position",
					  (long long) p->conid);
	(void) get_text(e, "acctId", &p->account);
	if (get_text(e, "contractDesc", &p->symbol) != 1)
		(void) get_text(e, "ticker", &p->symbol);
	return 0;
}

/* Release one position's fields. */
static void
position_free(CpapiPosition *p)
{
	cp_free(&p->account);
	cp_free(&p->symbol);
	cp_free(&p->position);
}

/*
 * Parse one page of GET /portfolio/{acct}/positions/{page} (or the
 * answer of .../positions/invalidate) and append its elements to l,
 * which starts zeroed.  Unlike the order lists, a malformed element
 * fails the whole page: a comparison must see every position or none.
 * *n_page gets the number of elements of this page (0: the last page).
 * Returns 0, or -1 with err set.
 */
int
cpapi_parse_positions(const char *body, size_t len, CpapiPositions *l,
					  int *n_page, char *err, size_t errlen)
{
	json_t *root;
	char   *error = NULL;
	size_t	n;
	size_t	i;

	*n_page = 0;
	root = cp_load(body, len, err, errlen);
	if (root == NULL)
		return -1;
	if (!json_is_array(root))
	{
		if (json_is_object(root) && get_envelope(root, &error, NULL))
			cp_err(err, errlen, "gateway error: %s", error);
		else
			cp_err(err, errlen, "positions are not a list");
		free(error);
		json_decref(root);
		return -1;
	}
	n = json_array_size(root);
	l->items = realloc(l->items, sizeof(CpapiPosition) * ((size_t) l->n + n + 1));
	if (l->items == NULL)
		cp_oom();
	for (i = 0; i < n; i++)
	{
		CpapiPosition *p = &l->items[l->n];

		memset(p, 0, sizeof(*p));
		if (position_parse(json_array_get(root, i), p, err, errlen) != 0)
		{
			position_free(p);
			json_decref(root);
			return -1;
		}
		l->n++;
	}
	*n_page = (int) n;
	json_decref(root);
	return 0;
}

/* Release a position list and zero it. */
void
cpapi_positions_free(CpapiPositions *l)
{
	int i;

	for (i = 0; i < l->n; i++)
		position_free(&l->items[i]);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

/*
 * Build the JSON array pgtrade.record_positions reads:
 * [{"conid": 265598, "symbol": "AAPL", "position": "100"}, ...], the
 * quantity as decimal text so that it reaches numeric exactly.
 * *out is malloc'ed.  Returns 0.
 */
int
cpapi_positions_to_json(const CpapiPositions *l, char **out)
{
	CpBuf b = {0};
	char  num[32];
	int	  i;

	buf_puts(&b, "[");
	for (i = 0; i < l->n; i++)
	{
		const CpapiPosition *p = &l->items[i];

		snprintf(num, sizeof(num), "%lld", (long long) p->conid);
		buf_puts(&b, i > 0 ? ",{\"conid\":" : "{\"conid\":");
		buf_puts(&b, num);
		buf_puts(&b, ",\"symbol\":");
		if (p->symbol != NULL)
			buf_put_quoted(&b, p->symbol);
		else
			buf_puts(&b, "null");
		buf_puts(&b, ",\"position\":");
		buf_put_quoted(&b, p->position);
		buf_puts(&b, "}");
	}
	buf_puts(&b, "]");
	*out = b.data;
	return 0;
}
