/*-------------------------------------------------------------------------
 *
 * history.c
 *	  Pure helpers for the gateway's history endpoint: the request path
 *	  and the bars array handed to pgtrade.record_bars.
 *
 * The database chooses the bar and the period (pgtrade.bars_to_refresh);
 * this file only checks that they are the short words the gateway takes
 * (digits then letters) before they go into a URL.  The bars array is
 * [{"t": ms, "o": ..., "h": ..., "l": ..., "c": ..., "v": ...}, ...]
 * with the decimal text of each value written as a JSON number; a
 * volume the gateway left out becomes null, which record_bars refuses.
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L

#include "history.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Return true for a word of 1-4 digits then 1-3 lower-case letters. */
static bool
history_word_valid(const char *s)
{
	size_t digits = 0;
	size_t letters = 0;

	if (s == NULL)
		return false;
	while (isdigit((unsigned char) s[digits]))
		digits++;
	while (islower((unsigned char) s[digits + letters]))
		letters++;
	return digits >= 1 && digits <= 4 && letters >= 1 && letters <= 3 &&
		s[digits + letters] == '\0';
}

/*
 * Write the path of a history request for conid into out (len bytes):
 * /iserver/marketdata/history?conid=N&period=P&bar=B.  Returns 0, or -1
 * when conid is not positive, period or bar is not a gateway word, or
 * the path does not fit.
 */
int
history_path(int64_t conid, const char *period, const char *bar, char *out,
			 size_t len)
{
	int n;

	if (conid <= 0 || !history_word_valid(period) ||
		!history_word_valid(bar))
		return -1;
	n = snprintf(out, len, "/iserver/marketdata/history?conid=%lld"
						   "&period=%s&bar=%s",
				 (long long) conid, period, bar);
	return (n < 0 || (size_t) n >= len) ? -1 : 0;
}

/* Append s to the growing buffer *buf of *len bytes used, *cap bytes. */
static void
history_append(char **buf, size_t *len, size_t *cap, const char *s)
{
	size_t n = strlen(s);

	while (*len + n + 1 > *cap)
	{
		*cap = *cap ? *cap * 2 : 256;
		*buf = realloc(*buf, *cap);
		if (*buf == NULL)
			abort();
	}
	memcpy(*buf + *len, s, n + 1);
	*len += n;
}

/*
 * Write decimal text as a JSON number into out (CPAPI_DECIMAL_LEN
 * bytes); NULL becomes null.  Returns 0, or -1 when it is not decimal.
 */
static int
history_number(const char *in, char *out)
{
	if (in == NULL)
	{
		snprintf(out, CPAPI_DECIMAL_LEN, "null");
		return 0;
	}
	return cpapi_decimal_to_json(in, out, CPAPI_DECIMAL_LEN);
}

/*
 * Build the JSON array of the bars of h for pgtrade.record_bars into
 * *out (malloc'ed; the caller frees it).  Returns the number of bars,
 * or -1 when a price is missing or a value is not decimal text (*out is
 * then NULL).
 */
int
history_bars_json(const CpapiHistory *h, char **out)
{
	char  *buf = NULL;
	size_t len = 0;
	size_t cap = 0;
	int	   i;

	*out = NULL;
	history_append(&buf, &len, &cap, "[");
	for (i = 0; i < h->n; i++)
	{
		const CpapiBar *b = &h->bars[i];
		char			v[5][CPAPI_DECIMAL_LEN];
		char			item[64 + 5 * CPAPI_DECIMAL_LEN];

		if (b->open == NULL || b->high == NULL || b->low == NULL ||
			b->close == NULL || history_number(b->open, v[0]) != 0 ||
			history_number(b->high, v[1]) != 0 ||
			history_number(b->low, v[2]) != 0 ||
			history_number(b->close, v[3]) != 0 ||
			history_number(b->volume, v[4]) != 0)
		{
			free(buf);
			return -1;
		}
		snprintf(item, sizeof(item),
				 "%s{\"t\": %lld, \"o\": %s, \"h\": %s, \"l\": %s, "
				 "\"c\": %s, \"v\": %s}",
				 i > 0 ? ", " : "", (long long) b->t_ms, v[0], v[1], v[2],
				 v[3], v[4]);
		history_append(&buf, &len, &cap, item);
	}
	history_append(&buf, &len, &cap, "]");
	*out = buf;
	return h->n;
}

/*
 * Return true when a gateway error text says the history has no bars
 * ("No data."): an instrument without data, not a failure.
 */
bool
history_is_no_data(const char *error)
{
	return error != NULL && strstr(error, "No data") != NULL;
}
