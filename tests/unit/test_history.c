/*-------------------------------------------------------------------------
 *
 * test_history.c
 *	  Unit tests of the history request path and of the bars array the
 *	  listener hands to pgtrade.record_bars.
 *
 * Expected texts are written out by hand from the answers below: each
 * gateway number must come back as the same digits, never through a
 * float with 17 significant digits.
 *
 *-------------------------------------------------------------------------
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "tap.h"

/* Compare two optional strings, printing both when they differ. */
static void
is_str(const char *got, const char *want, const char *desc)
{
	int same = (got == NULL || want == NULL) ? got == want
											 : strcmp(got, want) == 0;

	ok(same, "%s", desc);
	if (!same)
		printf("#   got:      %s\n#   expected: %s\n", got ? got : "NULL",
			   want ? want : "NULL");
}

/* The request path: built from good words, refused from others. */
static void
test_path(void)
{
	char   buf[128];
	size_t i;
	static const struct
	{
		long long	conid;
		const char *period;
		const char *bar;
	} bad[] = {
		{0, "5d", "1d"},
		{-3, "5d", "1d"},
		{265598, "5d&x=1", "1d"},
		{265598, "", "1d"},
		{265598, "d", "1d"},
		{265598, "5d", NULL},
		{265598, "12345d", "1d"},
		{265598, "5D", "1d"},
	};

	ok(history_path(265598, "5d", "1d", buf, sizeof(buf)) == 0,
	   "a daily path is built");
	is_str(buf, "/iserver/marketdata/history?conid=265598&period=5d&bar=1d",
		   "daily path text");
	ok(history_path(8314, "20min", "5min", buf, sizeof(buf)) == 0,
	   "an intraday path is built");
	is_str(buf, "/iserver/marketdata/history?conid=8314&period=20min&bar=5min",
		   "intraday path text");
	ok(history_path(8314, "1000d", "1d", buf, 20) == -1,
	   "a path that does not fit is refused");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ok(history_path(bad[i].conid, bad[i].period, bad[i].bar, buf,
						sizeof(buf)) == -1,
		   "path refused: conid %lld, period \"%s\", bar \"%s\"",
		   bad[i].conid, bad[i].period ? bad[i].period : "NULL",
		   bad[i].bar ? bad[i].bar : "NULL");
}

/* An answer with integer, real and fractional values. */
static void
test_bars_json(void)
{
	const char *body =
		"{\"symbol\": \"AAPL\", \"priceFactor\": 100, \"data\": ["
		"{\"o\": 171.05, \"h\": 192.93, \"l\": 170.12, \"c\": 189.37, "
		"\"v\": 6942998.04, \"t\": 1698796800000},"
		"{\"o\": 190, \"h\": 191.5, \"l\": 165.01, \"c\": 0.5, \"v\": 12, "
		"\"t\": 1698883200000}]}";
	CpapiHistory h;
	char		 err[CPAPI_ERR_LEN];
	char		*json = NULL;

	ok(cpapi_parse_history(body, strlen(body), &h, err, sizeof(err)) == 0,
	   "a two-bar answer parses");
	ok(history_bars_json(&h, &json) == 2, "two bars are written");
	is_str(json,
		   "[{\"t\": 1698796800000, \"o\": 171.05, \"h\": 192.93, "
		   "\"l\": 170.12, \"c\": 189.37, \"v\": 6942998.04}, "
		   "{\"t\": 1698883200000, \"o\": 190, \"h\": 191.5, "
		   "\"l\": 165.01, \"c\": 0.5, \"v\": 12}]",
		   "bars keep the gateway's digits");
	free(json);
	cpapi_history_free(&h);

	body = "{\"symbol\": \"AAPL\", \"data\": []}";
	ok(cpapi_parse_history(body, strlen(body), &h, err, sizeof(err)) == 0 &&
		   history_bars_json(&h, &json) == 0,
	   "an empty data array gives no bars");
	is_str(json, "[]", "an empty array is written");
	free(json);
	cpapi_history_free(&h);

	body = "{\"symbol\": \"AAPL\", \"data\": [{\"o\": 1, \"h\": 1, "
		   "\"l\": 1, \"c\": 1, \"t\": 1698883200000}]}";
	ok(cpapi_parse_history(body, strlen(body), &h, err, sizeof(err)) == 0 &&
		   history_bars_json(&h, &json) == 1,
	   "a bar without volume is written");
	is_str(json,
		   "[{\"t\": 1698883200000, \"o\": 1, \"h\": 1, \"l\": 1, "
		   "\"c\": 1, \"v\": null}]",
		   "a missing volume becomes null for the database to refuse");
	free(json);
	cpapi_history_free(&h);
}

/* Error answers: "No data." is told apart from other errors. */
static void
test_errors(void)
{
	const char	*nodata = "{\"error\": \"No data.\", \"statusCode\": 500}";
	const char	*limit = "{\"error\": \"Too many history charts requests, "
						 "please try again later.\"}";
	CpapiHistory h;
	char		 err[CPAPI_ERR_LEN];
	char		*error = NULL;

	ok(cpapi_parse_history(nodata, strlen(nodata), &h, err,
						   sizeof(err)) == -1,
	   "a No data answer is not bars");
	ok(cpapi_parse_error(nodata, strlen(nodata), &error, NULL) == 1 &&
		   history_is_no_data(error),
	   "No data. is recognised");
	free(error);
	error = NULL;
	ok(cpapi_parse_error(limit, strlen(limit), &error, NULL) == 1 &&
		   !history_is_no_data(error),
	   "a rate-limit text is not No data");
	free(error);
	ok(!history_is_no_data(NULL), "no error text is not No data");
}

int
main(void)
{
	test_path();
	test_bars_json();
	test_errors();
	return tap_finish();
}
