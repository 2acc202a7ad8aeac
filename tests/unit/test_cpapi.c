/*-------------------------------------------------------------------------
 *
 * test_cpapi.c
 *	  TAP unit test of the listener's CPAPI parsers (listener/src/cpapi.c).
 *
 * Two parts: hand-written edge documents (numbers given as strings and
 * strings given as numbers, missing keys, error envelopes, the four
 * reply shapes), then every recorded payload of the shared folder
 * (PGTRADE_SHARED, default ../shared beside the repository).  When that
 * folder is absent the second part is skipped with a reason.
 *
 * Expected values are copied from the payload files themselves or
 * computed by hand; each case says which.  Times given as epoch seconds
 * were converted with `date -u -d @SECONDS` (GNU coreutils).
 *
 * Build: cc -I listener/src tests/unit/test_cpapi.c listener/src/cpapi.c \
 *			$(pkg-config --cflags --libs jansson)
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>

#include <jansson.h>

#include "cpapi.h"
#include "tap.h"

/* Number of test points this file emits; checked at the end. */
#define TEST_PLAN 420

/* Number of test points of the shared-payload part (skipped as one). */
#define TEST_PLAN_SHARED 71

/* Test that got equals want; either may be NULL (meaning "absent"). */
static void
is_str(const char *got, const char *want, const char *desc)
{
	int same = (got == NULL || want == NULL) ? got == want
											 : strcmp(got, want) == 0;

	ok(same, "%s", desc);
	if (!same)
		printf("#   got:      %s%s%s\n#   expected: %s%s%s\n",
			   got ? "\"" : "", got ? got : "NULL", got ? "\"" : "",
			   want ? "\"" : "", want ? want : "NULL", want ? "\"" : "");
}

/* Test that two integers are equal. */
static void
is_int(long long got, long long want, const char *desc)
{
	ok(got == want, "%s", desc);
	if (got != want)
		printf("#   got: %lld, expected: %lld\n", got, want);
}

/* Length of a string, for the parse calls. */
#define LEN(s) strlen(s)

/* ---------------------------------------------------------------------
 * Decimals, times, words
 * ---------------------------------------------------------------------
 */

/* Shortest round-trip printing of doubles, without exponent. */
static void
test_format_real(void)
{
	/*
	 * Expected texts: the digits of Python's repr() of the same doubles
	 * (the shortest text that reads back as the same double), written
	 * out without exponent by format(Decimal(repr(v)), 'f').  A NULL
	 * want means the text cannot fit CPAPI_DECIMAL_LEN and the call
	 * must fail: 1e300 has 301 digits, 5e-324 has 323 zeros after the
	 * point.
	 */
	static const struct
	{
		double		v;
		const char *want;
	} cases[] = {
		{0.5, "0.5"},
		{9.0, "9"},
		{165.01, "165.01"},
		{420.08, "420.08"},
		{0.1 + 0.2, "0.30000000000000004"},
		{1e-7, "0.0000001"},
		{-0.0, "0"},
		{6942998.04, "6942998.04"},
		{100.0, "100"},		/* repr 100.0 */
		{494.72, "494.72"}, /* repr 494.72 */
		{-2.5, "-2.5"},		/* repr -2.5 */
		/* repr 1e+21 */
		{1e21, "1000000000000000000000"},
		/* repr 1.23e+29 */
		{1.23e29, "123000000000000000000000000000"},
		/* repr 1.2345678901234568e+17 */
		{123456789012345678.0, "123456789012345680"},
		{1e300, NULL},
		{5e-324, NULL},
	};
	char   buf[CPAPI_DECIMAL_LEN];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		int rc = cpapi_format_real(cases[i].v, buf, sizeof(buf));

		if (cases[i].want == NULL)
			ok(rc == -1, "format_real refuses case %zu, too long", i);
		else
			ok(rc == 0 && strcmp(buf, cases[i].want) == 0,
			   "format_real prints %s", cases[i].want);
	}
}

/* Decimal grammar, JSON rewriting, sign and equality. */
static void
test_decimals(void)
{
	/* Grammar: optional sign, digits with optional fraction, exponent. */
	static const struct
	{
		const char *s;
		int			valid;
	} grammar[] = {
		{"457.00", 1},
		{"-1.5", 1},
		{".5", 1},
		{"5.", 1},
		{"1e5", 1},
		{"NaN", 0},
		{"Infinity", 0},
		{"1,300", 0},
		{"", 0},
		{" 1", 0},
		{"+", 0},
		{"1e", 0},
		{"0x10", 0},
	};
	/* Rewrites worked out by hand from the JSON number grammar. */
	static const struct
	{
		const char *in;
		const char *out;
	} json[] = {
		{"+007.50", "7.50"},
		{".5", "0.5"},
		{"5.", "5"},
		{"-0.00", "-0.00"},
		{"100", "100"},
		{"165.01", "165.01"},
		{"0.000001", "0.000001"},
	};
	char   buf[CPAPI_DECIMAL_LEN];
	size_t i;

	for (i = 0; i < sizeof(grammar) / sizeof(grammar[0]); i++)
		ok(cpapi_decimal_valid(grammar[i].s) == grammar[i].valid,
		   "decimal_valid(\"%s\") is %s", grammar[i].s,
		   grammar[i].valid ? "true" : "false");
	for (i = 0; i < sizeof(json) / sizeof(json[0]); i++)
		ok(cpapi_decimal_to_json(json[i].in, buf, sizeof(buf)) == 0 &&
			   strcmp(buf, json[i].out) == 0,
		   "decimal_to_json(\"%s\") is %s", json[i].in, json[i].out);
	ok(cpapi_decimal_to_json("NaN", buf, sizeof(buf)) == -1,
	   "decimal_to_json refuses NaN");
	ok(cpapi_decimal_to_json("-Infinity", buf, sizeof(buf)) == -1,
	   "decimal_to_json refuses -Infinity");
	ok(cpapi_decimal_to_json("123456", buf, 4) == -1,
	   "decimal_to_json refuses a buffer too small");

	/* Signs and equalities by hand. */
	is_int(cpapi_decimal_sign("-0.00"), 0, "sign of -0.00 is 0");
	is_int(cpapi_decimal_sign("0.001"), 1, "sign of 0.001 is 1");
	is_int(cpapi_decimal_sign("-2"), -1, "sign of -2 is -1");
	is_int(cpapi_decimal_sign("x"), -2, "sign of x is invalid");
	ok(cpapi_decimal_equal("100", "100.00"), "100 equals 100.00");
	ok(cpapi_decimal_equal("0.5", "5e-1"), "0.5 equals 5e-1");
	ok(cpapi_decimal_equal("0", "-0.0"), "0 equals -0.0");
	ok(cpapi_decimal_equal("007", "7"), "007 equals 7");
	ok(!cpapi_decimal_equal("1", "10"), "1 differs from 10");
	ok(!cpapi_decimal_equal("1.5", "-1.5"), "1.5 differs from -1.5");
	ok(!cpapi_decimal_equal("0.1", "0.01"), "0.1 differs from 0.01");
	ok(!cpapi_decimal_equal("abc", "abc"), "invalid texts are never equal");
}

/* Time conversions. */
static void
test_times(void)
{
	char buf[CPAPI_TIME_LEN];

	/* Field by field rewrites, checked against the calendar by hand. */
	ok(cpapi_time_from_trade("20240229-12:00:00", buf, sizeof(buf)) == 0 &&
		   strcmp(buf, "2024-02-29 12:00:00+00") == 0,
	   "trade time on a leap day");
	ok(cpapi_time_from_trade("20230229-12:00:00", buf, sizeof(buf)) == -1,
	   "trade time on 29 February of a common year is refused");
	ok(cpapi_time_from_trade("20220902-24:00:00", buf, sizeof(buf)) == -1,
	   "trade time at hour 24 is refused");
	ok(cpapi_time_from_trade("2022-09-02 18:59", buf, sizeof(buf)) == -1,
	   "trade time in another layout is refused");
	ok(cpapi_time_from_compact("240103201041", buf, sizeof(buf)) == 0 &&
		   strcmp(buf, "2024-01-03 20:10:41+00") == 0,
	   "compact time 240103201041");
	ok(cpapi_time_from_compact("241303201041", buf, sizeof(buf)) == -1,
	   "compact time in month 13 is refused");
	/* date -u -d @1704312641 prints Wed Jan 3 20:10:41 UTC 2024. */
	ok(cpapi_time_from_epoch_ms(1704312641123LL, buf, sizeof(buf)) == 0 &&
		   strcmp(buf, "2024-01-03 20:10:41.123+00") == 0,
	   "epoch milliseconds keep their fraction");
	ok(cpapi_time_from_epoch_ms(1704312641000LL, buf, sizeof(buf)) == 0 &&
		   strcmp(buf, "2024-01-03 20:10:41+00") == 0,
	   "whole epoch seconds print without a fraction");
}

/* Side spellings, terminal statuses and error classification. */
static void
test_words(void)
{
	/* Spellings listed in ibkr-cpapi.md section 9, item 11. */
	is_int(cpapi_side_parse("BUY"), CPAPI_SIDE_BUY, "side BUY");
	is_int(cpapi_side_parse("B"), CPAPI_SIDE_BUY, "side B");
	is_int(cpapi_side_parse("Buy"), CPAPI_SIDE_BUY, "side Buy");
	is_int(cpapi_side_parse("SELL"), CPAPI_SIDE_SELL, "side SELL");
	is_int(cpapi_side_parse("S"), CPAPI_SIDE_SELL, "side S");
	is_int(cpapi_side_parse("Sell"), CPAPI_SIDE_SELL, "side Sell");
	is_int(cpapi_side_parse("X"), CPAPI_SIDE_NONE, "side X is unknown");
	is_int(cpapi_side_parse(NULL), CPAPI_SIDE_NONE, "no side is unknown");
	is_str(cpapi_side_db(CPAPI_SIDE_SELL), "sell", "database side sell");

	/* Terminal statuses from ibkr-cpapi.md section 7. */
	ok(cpapi_status_is_terminal("Filled"), "Filled is terminal");
	ok(cpapi_status_is_terminal("Cancelled"), "Cancelled is terminal");
	ok(cpapi_status_is_terminal("Inactive"), "Inactive is terminal");
	ok(!cpapi_status_is_terminal("PreSubmitted"),
	   "PreSubmitted is not terminal");
	ok(!cpapi_status_is_terminal("PendingCancel"),
	   "PendingCancel is not terminal");

	/* Texts and codes from ibkr-cpapi.md sections 1, 6.1 and 6.2. */
	is_int(cpapi_classify_error(429, NULL), CPAPI_ERR_RATE_LIMITED,
		   "429 is rate limited");
	is_int(cpapi_classify_error(400, "Bad Request: no bridge"),
		   CPAPI_ERR_NO_BRIDGE, "no bridge");
	is_int(cpapi_classify_error(500, "Please query /accounts first"),
		   CPAPI_ERR_QUERY_ACCOUNTS, "accounts first with 500");
	is_int(cpapi_classify_error(400, "Please query /accounts first"),
		   CPAPI_ERR_QUERY_ACCOUNTS, "accounts first with 400");
	is_int(cpapi_classify_error(200, "Order couldn't be submitted: Local "
									 "order ID=d-1 is already registered."),
		   CPAPI_ERR_DUPLICATE_COID, "duplicate cOID");
	is_int(cpapi_classify_error(401, NULL), CPAPI_ERR_NOT_AUTHENTICATED,
		   "401 is not authenticated");
	is_int(cpapi_classify_error(200, "not authenticated"),
		   CPAPI_ERR_NOT_AUTHENTICATED, "not authenticated text");
	is_int(cpapi_classify_error(400, "reply id not found: 'x'"),
		   CPAPI_ERR_REPLY_NOT_FOUND, "reply id not found");
	is_int(cpapi_classify_error(503, "Service Unavailable"),
		   CPAPI_ERR_TRANSIENT, "503 is transient");
	is_int(cpapi_classify_error(200, "No trading permissions."),
		   CPAPI_ERR_OTHER, "other error text");
	is_int(cpapi_classify_error(200, NULL), CPAPI_ERR_NONE,
		   "200 without error text");

	/* the cheap test that spares parsing every answer as an error */
	ok(cpapi_may_ask_accounts("{\"error\": \"Please query /accounts "
							  "first\"}",
							  41),
	   "the accounts-first envelope is caught");
	ok(cpapi_may_ask_accounts("{\"error\":\"please QUERY /ACCOUNTS FIRST\"}",
							  40),
	   "in any case");
	ok(!cpapi_may_ask_accounts("{\"orders\": [{\"acct\": \"DU1\", "
							   "\"account\": \"DU1\"}]}",
							   47),
	   "a list naming accounts is not");
	ok(!cpapi_may_ask_accounts("query /accounts first", 20),
	   "a match cut off by the length is not");
	ok(!cpapi_may_ask_accounts("/accounts firs", 14),
	   "nor a partial one at the end");
}

/* ---------------------------------------------------------------------
 * Hand-written documents
 * ---------------------------------------------------------------------
 */

/* The four reply shapes and malformed replies. */
static void
test_replies(void)
{
	CpapiOrderReply r;
	char			err[CPAPI_ERR_LEN];
	const char	   *doc;

	/* (a) with order_id as a JSON number instead of a digit string */
	doc = "[{\"order_id\": 1483841810, \"order_status\": \"PreSubmitted\"}]";
	ok(cpapi_parse_order_reply(doc, LEN(doc), &r, err, sizeof(err)) == 0 &&
		   r.kind == CPAPI_REPLY_ACCEPTED,
	   "numeric order_id is accepted shape");
	is_str(r.order_id, "1483841810", "numeric order_id becomes digits");
	is_str(r.order_status, "PreSubmitted", "accepted status");
	cpapi_order_reply_free(&r);

	/* (a) with the id as a real and a warning text */
	doc = "[{\"order_id\": 1483841810.0, \"order_status\": \"Submitted\", "
		  "\"warning_message\": \"odd lot\"}]";
	ok(cpapi_parse_order_reply(doc, LEN(doc), &r, err, sizeof(err)) == 0,
	   "real order_id parses");
	is_str(r.order_id, "1483841810", "real order_id becomes digits");
	is_str(r.text, "odd lot", "warning_message is kept as text");
	cpapi_order_reply_free(&r);

	/* (b) with two messages */
	doc = "[{\"id\": \"r1\", \"message\": [\"m1\", \"m2\"], "
		  "\"isSuppressed\": false, \"messageIds\": [\"o163\", \"o354\"]}]";
	ok(cpapi_parse_order_reply(doc, LEN(doc), &r, err, sizeof(err)) == 0 &&
		   r.kind == CPAPI_REPLY_PROMPT,
	   "two-message prompt");
	is_int(r.n_message_ids, 2, "prompt has two message ids");
	is_str(r.n_message_ids == 2 ? r.message_ids[1] : NULL, "o354",
		   "second message id");
	is_str(r.n_messages == 2 ? r.messages[1] : NULL, "m2",
		   "second message");
	cpapi_order_reply_free(&r);

	/* (c), the duplicate cOID text of ibkr-cpapi.md section 6.1 */
	doc = "{\"error\": \"Order couldn't be submitted: Local order ID=d-1 "
		  "is already registered.\"}";
	ok(cpapi_parse_order_reply(doc, LEN(doc), &r, err, sizeof(err)) == 0 &&
		   r.kind == CPAPI_REPLY_ERROR,
	   "error envelope is shape (c)");
	is_int(cpapi_classify_error(200, r.error), CPAPI_ERR_DUPLICATE_COID,
		   "its text classifies as duplicate cOID");
	cpapi_order_reply_free(&r);

	/* (c) inside an array, with a statusCode */
	doc = "[{\"error\": \"order not confirmed\", \"statusCode\": 400}]";
	ok(cpapi_parse_order_reply(doc, LEN(doc), &r, err, sizeof(err)) == 0 &&
		   r.kind == CPAPI_REPLY_ERROR,
	   "error inside an array is shape (c)");
	is_int(r.status_code, 400, "statusCode is read");
	cpapi_order_reply_free(&r);

	/* (d), keys from the model named in ibkr-cpapi.md section 6.1 */
	doc = "{\"order_id\": 123, \"req_id\": \"abc\", \"text\": \"Confirm?\", "
		  "\"options\": [\"Yes\", \"No\"], \"type\": \"acknowledge\", "
		  "\"messageId\": \"o10151\", \"prompt\": true, \"dismissable\": []}";
	ok(cpapi_parse_order_reply(doc, LEN(doc), &r, err, sizeof(err)) == 0 &&
		   r.kind == CPAPI_REPLY_SERVER_PROMPT,
	   "server prompt is shape (d)");
	is_str(r.error, "Confirm?", "server prompt text");
	is_str(r.message_id, "o10151", "server prompt message id");
	is_str(r.order_id, "123", "server prompt order id");
	cpapi_order_reply_free(&r);

	/* malformed */
	doc = "[]";
	ok(cpapi_parse_order_reply(doc, LEN(doc), &r, err, sizeof(err)) == -1 &&
		   r.kind == CPAPI_REPLY_INVALID,
	   "empty array is invalid");
	doc = "not json";
	ok(cpapi_parse_order_reply(doc, LEN(doc), &r, err, sizeof(err)) == -1,
	   "non-JSON is invalid");
	doc = "[{\"foo\": 1}]";
	ok(cpapi_parse_order_reply(doc, LEN(doc), &r, err, sizeof(err)) == -1,
	   "object of unknown shape is invalid");
	ok(cpapi_parse_order_reply("", 0, &r, err, sizeof(err)) == -1,
	   "empty body is invalid");
}

/* Live orders with strings for numbers, skips and envelopes. */
static void
test_live_orders(void)
{
	CpapiLiveOrders l;
	char			err[CPAPI_ERR_LEN];
	char		   *e = NULL;
	int				code;
	const char	   *doc;

	doc = "{}";
	ok(cpapi_parse_live_orders(doc, LEN(doc), &l, err, sizeof(err)) == 0 &&
		   l.n == 0,
	   "pre-flight answer without orders is an empty list");
	cpapi_live_orders_free(&l);

	doc = "{\"orders\": [{\"orderId\": \"5\", \"filledQuantity\": \"40\", "
		  "\"totalSize\": \"100\", \"avgPrice\": \"164.98\", \"price\": 165, "
		  "\"side\": \"B\", \"conid\": \"265598\", \"status\": \"Submitted\", "
		  "\"order_ref\": \"x\"}], \"snapshot\": true}";
	ok(cpapi_parse_live_orders(doc, LEN(doc), &l, err, sizeof(err)) == 0 &&
		   l.n == 1,
	   "live order with string quantities parses");
	if (l.n == 1)
	{
		is_str(l.orders[0].order_id, "5", "string orderId");
		is_str(l.orders[0].filled, "40", "string filledQuantity");
		is_str(l.orders[0].price, "165", "integer price becomes text");
		is_int(l.orders[0].conid, 265598, "string conid");
		is_int(l.orders[0].side, CPAPI_SIDE_BUY, "side B in live orders");
		is_str(l.orders[0].account, NULL, "no account keys gives NULL");
	}
	else
		skip(6, "live order did not parse");
	cpapi_live_orders_free(&l);

	doc = "{\"orders\": [{\"orderId\": 1, \"filledQuantity\": \"abc\"}, "
		  "{\"orderId\": 2}, \"junk\"]}";
	ok(cpapi_parse_live_orders(doc, LEN(doc), &l, err, sizeof(err)) == 0,
	   "list with malformed elements parses");
	is_int(l.n, 1, "one good element is kept");
	is_int(l.n_skipped, 2, "two malformed elements are skipped");
	is_str(l.n == 1 ? l.orders[0].order_id : NULL, "2", "the kept one");
	cpapi_live_orders_free(&l);

	doc = "{\"error\": \"Please query /accounts first\"}";
	ok(cpapi_parse_live_orders(doc, LEN(doc), &l, err, sizeof(err)) == -1,
	   "error envelope is not a live order list");
	ok(cpapi_parse_error(doc, LEN(doc), &e, &code) == 1,
	   "error envelope is found");
	is_str(e, "Please query /accounts first", "error envelope text");
	free(e);
	doc = "{\"orders\": []}";
	ok(cpapi_parse_error(doc, LEN(doc), &e, &code) == 0 && e == NULL,
	   "a list answer has no error envelope");
	ok(cpapi_parse_error("<html>", 6, &e, &code) == -1,
	   "HTML is not JSON");
}

/* Trades with epoch times, missing keys and bad rows. */
static void
test_trades(void)
{
	CpapiTrades l;
	char		err[CPAPI_ERR_LEN];
	const char *doc;

	/* date -u -d @1702317649 prints Mon Dec 11 18:00:49 UTC 2023. */
	doc = "[{\"execution_id\": \"e.1\", \"side\": \"SELL\", \"size\": \"5.0\", "
		  "\"price\": 192.26, \"trade_time_r\": 1702317649000, "
		  "\"conid\": 265598, \"accountCode\": \"DU1\"}, "
		  "{\"execution_id\": \"e.2\", \"size\": 1, \"price\": \"1\", "
		  "\"trade_time\": \"20231211-18:00:49\"}]";
	ok(cpapi_parse_trades(doc, LEN(doc), &l, err, sizeof(err)) == 0,
	   "trades with edge rows parse");
	is_int(l.n, 1, "the row without a side is dropped");
	is_int(l.n_skipped, 1, "and counted");
	if (l.n == 1)
	{
		is_str(l.trades[0].size, "5.0", "string size kept as written");
		is_str(l.trades[0].price, "192.26", "real price printed shortest");
		is_str(l.trades[0].trade_time, "2023-12-11 18:00:49+00",
			   "trade_time_r used when trade_time is absent");
		is_str(l.trades[0].commission, NULL, "missing commission is NULL");
		is_str(l.trades[0].order_ref, NULL, "missing order_ref is NULL");
		is_str(l.trades[0].account, "DU1", "accountCode as account");
	}
	else
		skip(6, "trade did not parse");
	cpapi_trades_free(&l);

	/*
	 * The simulator sends whole quantities as JSON reals ("size": 100.0):
	 * they must come out as "100", the text numeric prints, never with
	 * an exponent.  Hand computation: 100.0 is exactly one hundred.
	 */
	doc = "[{\"execution_id\": \"e.3\", \"side\": \"B\", "
		  "\"size\": 100.0, \"price\": 494.72, \"conid\": 756733, "
		  "\"trade_time\": \"20231211-18:00:49\"}]";
	ok(cpapi_parse_trades(doc, LEN(doc), &l, err, sizeof(err)) == 0 &&
		   l.n == 1,
	   "trade with real size parses");
	is_str(l.n == 1 ? l.trades[0].size : NULL, "100",
		   "real size 100.0 printed as 100");
	is_str(l.n == 1 ? l.trades[0].price : NULL, "494.72",
		   "real price 494.72 printed as written");
	cpapi_trades_free(&l);

	doc = "{\"error\": \"not authenticated\", \"statusCode\": 401}";
	ok(cpapi_parse_trades(doc, LEN(doc), &l, err, sizeof(err)) == -1 &&
		   strstr(err, "not authenticated") != NULL,
	   "trades error envelope is reported");
}

/*
 * Portfolio positions: pages append, quantities stay exact decimal
 * text, any malformed element fails the page.  The element keys follow
 * ibkr-cpapi.md 3.3; the expected texts are the numbers as written.
 */
static void
test_positions(void)
{
	CpapiPositions l = {0};
	char		   err[CPAPI_ERR_LEN];
	const char	  *doc;
	char		  *json = NULL;
	int			   n_page = -1;

	doc = "[{\"acctId\": \"DU1\", \"conid\": 756733, "
		  "\"contractDesc\": \"SPY\", \"position\": 100.0}, "
		  "{\"conid\": \"8314\", \"ticker\": \"IBM\", "
		  "\"position\": \"-0.25\"}]";
	ok(cpapi_parse_positions(doc, LEN(doc), &l, &n_page, err,
							 sizeof(err)) == 0,
	   "a page of positions parses");
	is_int(n_page, 2, "the page had 2 elements");
	is_int(l.n == 2 ? l.items[0].conid : 0, 756733, "numeric conid");
	is_str(l.n == 2 ? l.items[0].position : NULL, "100",
		   "real position 100.0 printed as 100");
	is_str(l.n == 2 ? l.items[1].position : NULL, "-0.25",
		   "fractional short position kept as written");
	is_str(l.n == 2 ? l.items[1].symbol : NULL, "IBM",
		   "ticker when contractDesc is absent");
	is_str(l.n == 2 ? l.items[1].account : NULL, NULL,
		   "missing acctId is NULL");
	doc = "[]";
	ok(cpapi_parse_positions(doc, LEN(doc), &l, &n_page, err,
							 sizeof(err)) == 0 &&
		   n_page == 0 && l.n == 2,
	   "an empty page ends the list and keeps what came before");
	(void) cpapi_positions_to_json(&l, &json);
	is_str(json,
		   "[{\"conid\":756733,\"symbol\":\"SPY\",\"position\":\"100\"},"
		   "{\"conid\":8314,\"symbol\":\"IBM\",\"position\":\"-0.25\"}]",
		   "positions become JSON with quantities as strings");
	free(json);
	doc = "[{\"conid\": 265598, \"position\": 1}]";
	ok(cpapi_parse_positions(doc, LEN(doc), &l, &n_page, err,
							 sizeof(err)) == 0 &&
		   l.n == 3,
	   "a second page appends");
	cpapi_positions_free(&l);

	doc = "[{\"conid\": 265598, \"position\": 1}, {\"conid\": 1}]";
	ok(cpapi_parse_positions(doc, LEN(doc), &l, &n_page, err,
							 sizeof(err)) == -1 &&
		   strstr(err, "position") != NULL,
	   "an element without a position fails the whole page");
	cpapi_positions_free(&l);
	doc = "[{\"conid\": \"x1\", \"position\": 1}]";
	ok(cpapi_parse_positions(doc, LEN(doc), &l, &n_page, err,
							 sizeof(err)) == -1,
	   "an unreadable conid fails the page");
	cpapi_positions_free(&l);
	doc = "{\"error\": \"not authenticated\", \"statusCode\": 401}";
	ok(cpapi_parse_positions(doc, LEN(doc), &l, &n_page, err,
							 sizeof(err)) == -1 &&
		   strstr(err, "not authenticated") != NULL,
	   "positions error envelope is reported");
	cpapi_positions_free(&l);
}

/* Auth status, tickle and accounts. */
static void
test_session_docs(void)
{
	CpapiAuthStatus a;
	CpapiTickle		t;
	CpapiAccounts	acc;
	char			err[CPAPI_ERR_LEN];
	const char	   *doc;

	/* The documented answers of ibkr-cpapi.md sections 2.1 and 2.3. */
	doc = "{\"authenticated\": true, \"competing\": false, \"connected\": "
		  "true, \"message\": \"\", \"MAC\": \"98:F2:B3:23:BF:A0\", "
		  "\"fail\": \"\"}";
	ok(cpapi_parse_auth_status(doc, LEN(doc), &a, err, sizeof(err)) == 0 &&
		   cpapi_auth_healthy(&a),
	   "authenticated session is healthy");
	is_str(a.message, NULL, "empty message reads as absent");
	cpapi_auth_status_free(&a);
	doc = "{\"authenticated\": true, \"competing\": true, \"connected\": true}";
	ok(cpapi_parse_auth_status(doc, LEN(doc), &a, err, sizeof(err)) == 0 &&
		   !cpapi_auth_healthy(&a),
	   "competing session is not healthy");
	cpapi_auth_status_free(&a);
	doc = "{\"authenticated\": false, \"competing\": false, "
		  "\"connected\": false, \"fail\": \"Force compete\"}";
	ok(cpapi_parse_auth_status(doc, LEN(doc), &a, err, sizeof(err)) == 0 &&
		   !cpapi_auth_healthy(&a),
	   "logged-out session is not healthy");
	is_str(a.fail, "Force compete", "fail text is kept");
	cpapi_auth_status_free(&a);

	doc = "{\"session\": \"bb66\", \"ssoExpires\": 460311, \"collission\": "
		  "false, \"userId\": 12345678, \"hmds\": {\"error\": \"no bridge\"}, "
		  "\"iserver\": {\"authStatus\": {\"authenticated\": true, "
		  "\"competing\": false, \"connected\": true, \"message\": \"\"}}}";
	ok(cpapi_parse_tickle(doc, LEN(doc), &t, err, sizeof(err)) == 0 &&
		   t.has_session && t.has_auth && cpapi_auth_healthy(&t.auth),
	   "documented tickle answer is a healthy session");
	is_str(t.error, NULL, "hmds no bridge is not a session error");
	cpapi_tickle_free(&t);
	doc = "{\"session\": \"bb66\", \"iserver\": {}}";
	ok(cpapi_parse_tickle(doc, LEN(doc), &t, err, sizeof(err)) == 0 &&
		   !t.has_auth,
	   "tickle without authStatus has no brokerage session");
	cpapi_tickle_free(&t);
	doc = "{\"error\": \"not authenticated\"}";
	ok(cpapi_parse_tickle(doc, LEN(doc), &t, err, sizeof(err)) == 0,
	   "tickle error envelope parses");
	is_str(t.error, "not authenticated", "tickle error text");
	cpapi_tickle_free(&t);

	doc = "{\"accounts\": [\"DU1234567\", \"DU7654321\"], "
		  "\"selectedAccount\": \"DU1234567\", \"isPaper\": true}";
	ok(cpapi_parse_accounts(doc, LEN(doc), &acc, err, sizeof(err)) == 0 &&
		   acc.n == 2,
	   "two accounts");
	is_str(acc.n == 2 ? acc.accounts[1] : NULL, "DU7654321",
		   "second account");
	is_str(acc.selected, "DU1234567", "selected account");
	cpapi_accounts_free(&acc);
	doc = "{\"selectedAccount\": \"DU1234567\"}";
	ok(cpapi_parse_accounts(doc, LEN(doc), &acc, err, sizeof(err)) == -1,
	   "accounts answer without a list is refused");
}

/*
 * Parse the search answer "doc" and choose the stock listing of symbol;
 * returns the number of matches, or -1 when the answer did not parse.
 */
static int
choose(const char *doc, const char *symbol, int64_t *conid)
{
	CpapiContracts c;
	char		   err[CPAPI_ERR_LEN];
	int			   n;

	*conid = -1;
	if (cpapi_parse_secdef_search(doc, LEN(doc), &c, err, sizeof(err)) != 0)
		return -1;
	n = cpapi_choose_stock(&c, symbol, conid);
	cpapi_contracts_free(&c);
	return n;
}

/*
 * Contract search (ibkr-cpapi.md section 4.1) and the choice of a
 * listing.  The documents are written by hand in the documented shape;
 * the expected matches and conids are read off each document.
 */
static void
test_secdef_search(void)
{
	CpapiContracts c;
	char		   err[CPAPI_ERR_LEN];
	const char	  *doc;
	int64_t		   conid;

	/* One match, the documented AAPL element: conid given as a string. */
	doc = "[{\"conid\": \"265598\", \"companyHeader\": \"APPLE INC - NASDAQ\","
		  " \"companyName\": \"APPLE INC\", \"symbol\": \"AAPL\", "
		  "\"description\": \"NASDAQ\", \"restricted\": null, \"sections\": "
		  "[{\"secType\": \"STK\"}, {\"secType\": \"OPT\"}]}]";
	ok(cpapi_parse_secdef_search(doc, LEN(doc), &c, err, sizeof(err)) == 0 &&
		   c.n == 1,
	   "search answer with one element parses");
	is_int(c.n == 1 ? c.items[0].conid : 0, 265598, "string conid");
	ok(c.n == 1 && c.items[0].has_stk, "STK section found");
	is_str(c.n == 1 ? c.items[0].description : NULL, "NASDAQ",
		   "description");
	is_str(c.n == 1 ? c.items[0].company_name : NULL, "APPLE INC",
		   "company name");
	cpapi_contracts_free(&c);
	is_int(choose(doc, "AAPL", &conid), 1, "one match counted");
	is_int(conid, 265598, "the one match is chosen");

	/* The same element with conid as a JSON number. */
	doc = "[{\"conid\": 8314, \"symbol\": \"IBM\", \"description\": \"NYSE\","
		  " \"sections\": [{\"secType\": \"STK\"}]}]";
	is_int(choose(doc, "IBM", &conid), 1, "numeric conid: one match");
	is_int(conid, 8314, "numeric conid is accepted");

	/* Two listings on different exchanges: only NYSE is a US listing. */
	doc = "[{\"conid\": \"8314\", \"symbol\": \"IBM\", \"description\": "
		  "\"NYSE\", \"sections\": [{\"secType\": \"STK\"}]}, "
		  "{\"conid\": \"1411\", \"symbol\": \"IBM\", \"description\": "
		  "\"LSE\", \"sections\": [{\"secType\": \"STK\"}]}]";
	is_int(choose(doc, "IBM", &conid), 2, "two listings: two matches");
	is_int(conid, 8314, "the one US listing is chosen");

	/* Two US listings: still ambiguous, nothing chosen. */
	doc = "[{\"conid\": \"8314\", \"symbol\": \"IBM\", \"description\": "
		  "\"NYSE\", \"sections\": [{\"secType\": \"STK\"}]}, "
		  "{\"conid\": \"9999\", \"symbol\": \"IBM\", \"description\": "
		  "\"NASDAQ\", \"sections\": [{\"secType\": \"STK\"}]}]";
	is_int(choose(doc, "IBM", &conid), 2, "two US listings: two matches");
	is_int(conid, 0, "two US listings: none chosen");

	/* Two foreign listings: ambiguous as well. */
	doc = "[{\"conid\": \"1411\", \"symbol\": \"IBM\", \"description\": "
		  "\"LSE\", \"sections\": [{\"secType\": \"STK\"}]}, "
		  "{\"conid\": \"1412\", \"symbol\": \"IBM\", \"description\": "
		  "\"EBS\", \"sections\": [{\"secType\": \"STK\"}]}]";
	is_int(choose(doc, "IBM", &conid), 2, "two foreign listings: two "
										  "matches");
	is_int(conid, 0, "two foreign listings: none chosen");

	/* Symbols that differ (case, suffix) and a listing without STK. */
	doc = "[{\"conid\": \"1\", \"symbol\": \"IBMX\", \"description\": "
		  "\"NYSE\", \"sections\": [{\"secType\": \"STK\"}]}, "
		  "{\"conid\": \"2\", \"symbol\": \"ibm\", \"description\": "
		  "\"NYSE\", \"sections\": [{\"secType\": \"STK\"}]}, "
		  "{\"conid\": \"3\", \"symbol\": \"IBM\", \"description\": "
		  "\"CBOE\", \"sections\": [{\"secType\": \"OPT\"}]}]";
	is_int(choose(doc, "IBM", &conid), 0, "other symbols and non-stocks "
										  "are no match");
	is_int(conid, 0, "no match: none chosen");
	is_int(choose(doc, "IBMX", &conid), 1, "exact symbol IBMX matches");
	is_int(conid, 1, "IBMX is chosen");

	/* No match at all: the gateway answers []. */
	doc = "[]";
	ok(cpapi_parse_secdef_search(doc, LEN(doc), &c, err, sizeof(err)) == 0 &&
		   c.n == 0 && c.n_skipped == 0,
	   "empty search answer parses to no element");
	cpapi_contracts_free(&c);
	is_int(choose(doc, "ZZZQ", &conid), 0, "empty answer: no match");
	is_int(conid, 0, "empty answer: none chosen");

	/* Error envelope (section 4.1: failure is 500 {"error": ...}). */
	doc = "{\"error\": \"symbol required\", \"statusCode\": 500}";
	ok(cpapi_parse_secdef_search(doc, LEN(doc), &c, err, sizeof(err)) ==
			   -1 &&
		   strstr(err, "symbol required") != NULL,
	   "search error envelope is reported with its text");
	doc = "{\"conid\": \"8314\"}";
	ok(cpapi_parse_secdef_search(doc, LEN(doc), &c, err, sizeof(err)) == -1,
	   "search answer that is not a list is refused");

	/*
	 * An element with an unreadable conid still counts as a match, so a
	 * second listing cannot make the first look unique; it is never
	 * chosen itself.  A non-object element is counted as skipped.
	 */
	doc = "[{\"conid\": \"x\", \"symbol\": \"IBM\", \"description\": "
		  "\"NYSE\", \"sections\": [{\"secType\": \"STK\"}]}, 7]";
	ok(cpapi_parse_secdef_search(doc, LEN(doc), &c, err, sizeof(err)) == 0 &&
		   c.n == 1 && c.items[0].conid == 0 && c.n_skipped == 1,
	   "unreadable conid kept as 0, non-object skipped");
	cpapi_contracts_free(&c);
	is_int(choose(doc, "IBM", &conid), 1, "unreadable conid is a match");
	is_int(conid, 0, "unreadable conid is never chosen");
	doc = "[{\"conid\": \"x\", \"symbol\": \"IBM\", \"description\": "
		  "\"LSE\", \"sections\": [{\"secType\": \"STK\"}]}, "
		  "{\"conid\": \"8314\", \"symbol\": \"IBM\", \"description\": "
		  "\"LSE\", \"sections\": [{\"secType\": \"STK\"}]}]";
	is_int(choose(doc, "IBM", &conid), 2, "unreadable conid keeps the "
										  "count at two");
	is_int(conid, 0, "a second, unreadable match leaves none chosen");
}

/* ---------------------------------------------------------------------
 * Hostile answers
 *
 * The gateway's answers are untrusted input.  Whatever they hold, a
 * parser either refuses the document, skips the element (counted, with
 * a reason), or hands back a value the listener may act on: decimals
 * within [1e-30, 1e15) or zero, executions with a positive size and
 * price, broker order ids of digits.  Each case below names what the
 * listener does with the outcome.
 * ---------------------------------------------------------------------
 */

/*
 * Run every document parser on doc; return the name of the first that
 * accepted it, or NULL when all ten refused.
 */
static const char *
first_accepting(const char *doc, size_t len)
{
	CpapiOrderReply	 r;
	CpapiLiveOrders	 lo;
	CpapiOrderStatus st;
	CpapiTrades		 tr;
	CpapiPositions	 pos = {0};
	CpapiAuthStatus	 a;
	CpapiTickle		 tk;
	CpapiAccounts	 acc;
	CpapiContracts	 c;
	CpapiHistory	 h;
	char			 err[CPAPI_ERR_LEN];
	int				 n_page;
	const char		*who = NULL;

	if (cpapi_parse_order_reply(doc, len, &r, err, sizeof(err)) == 0)
		who = "order reply";
	cpapi_order_reply_free(&r);
	if (cpapi_parse_live_orders(doc, len, &lo, err, sizeof(err)) == 0)
	{
		who = "live orders";
		cpapi_live_orders_free(&lo);
	}
	if (cpapi_parse_order_status(doc, len, &st, err, sizeof(err)) == 0)
	{
		who = "order status";
		cpapi_order_status_free(&st);
	}
	if (cpapi_parse_trades(doc, len, &tr, err, sizeof(err)) == 0)
	{
		who = "trades";
		cpapi_trades_free(&tr);
	}
	if (cpapi_parse_positions(doc, len, &pos, &n_page, err,
							  sizeof(err)) == 0)
		who = "positions";
	cpapi_positions_free(&pos);
	if (cpapi_parse_auth_status(doc, len, &a, err, sizeof(err)) == 0)
	{
		who = "auth status";
		cpapi_auth_status_free(&a);
	}
	if (cpapi_parse_tickle(doc, len, &tk, err, sizeof(err)) == 0)
	{
		who = "tickle";
		cpapi_tickle_free(&tk);
	}
	if (cpapi_parse_accounts(doc, len, &acc, err, sizeof(err)) == 0)
	{
		who = "accounts";
		cpapi_accounts_free(&acc);
	}
	if (cpapi_parse_secdef_search(doc, len, &c, err, sizeof(err)) == 0)
	{
		who = "secdef search";
		cpapi_contracts_free(&c);
	}
	if (cpapi_parse_history(doc, len, &h, err, sizeof(err)) == 0)
	{
		who = "history";
		cpapi_history_free(&h);
	}
	return who;
}

/* Return n copies of open, then core, then n of close (malloc'ed). */
static char *
nested(int n, const char *open, const char *core, const char *close)
{
	size_t lo = strlen(open);
	size_t lc = strlen(close);
	size_t lk = strlen(core);
	char  *s = malloc((size_t) n * (lo + lc) + lk + 1);
	char  *p = s;
	int	   i;

	if (s == NULL)
		abort();
	for (i = 0; i < n; i++, p += lo)
		memcpy(p, open, lo);
	memcpy(p, core, lk);
	p += lk;
	for (i = 0; i < n; i++, p += lc)
		memcpy(p, close, lc);
	*p = '\0';
	return s;
}

/* Return a, b and c joined (malloc'ed). */
static char *
xjoin(const char *a, const char *b, const char *c)
{
	size_t la = strlen(a);
	size_t lb = strlen(b);
	char  *s = malloc(la + lb + strlen(c) + 1);

	if (s == NULL)
		abort();
	memcpy(s, a, la);
	memcpy(s + la, b, lb);
	strcpy(s + la + lb, c);
	return s;
}

/*
 * Documents that are not JSON, or JSON jansson refuses: every parser
 * refuses them as a whole.  The listener then treats the answer as
 * unreadable: an order stays submitting and is looked up by cOID, a
 * tracking read is logged and made again, nothing is recorded.
 */
static void
test_hostile_documents(void)
{
	static const struct
	{
		const char *desc;
		const char *doc;
	} cases[] = {
		{"a truncated document", "{\"orders\": [{\"orderId\": 1"},
		{"trailing garbage", "[{\"order_id\": \"1\"}] x"},
		{"two documents", "{\"authenticated\": true} {}"},
		{"a bare word", "Submitted"},
		{"an HTML error page", "<html><body>502 Bad Gateway</body></html>"},
		{"invalid UTF-8", "[{\"execution_id\": \"\xff\xfe\"}]"},
		{"a lone surrogate escape", "[{\"execution_id\": \"\\ud800\"}]"},
		{"a NUL escape in a string", "{\"error\": \"a\\u0000b\"}"},
		{"a real that overflows (1e400)",
		 "[{\"execution_id\": \"e\", \"size\": 1e400}]"},
		{"an integer past 64 bits (99999999999999999999)",
		 "{\"orders\": [{\"orderId\": 99999999999999999999}]}"},
		{"a NaN literal", "[{\"price\": NaN}]"},
		{"single quotes", "{'error': 'x'}"},
	};
	static const char nul_inside[] = "{\"error\": \"a\0b\"}";
	char			 *deep;
	const char		 *who;
	size_t			  i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		who = first_accepting(cases[i].doc, LEN(cases[i].doc));
		ok(who == NULL, "every parser refuses %s", cases[i].desc);
		if (who != NULL)
			printf("#   accepted by the %s parser\n", who);
	}
	who = first_accepting(nul_inside, sizeof(nul_inside) - 1);
	ok(who == NULL, "every parser refuses a raw NUL inside the body");

	/* jansson stops at depth 2048 (JSON_PARSER_MAX_DEPTH) */
	deep = nested(100000, "[", "", "]");
	ok(first_accepting(deep, strlen(deep)) == NULL,
	   "every parser refuses arrays nested 100000 deep");
	free(deep);
	deep = nested(100000, "{\"a\":", "1", "}");
	ok(first_accepting(deep, strlen(deep)) == NULL,
	   "every parser refuses objects nested 100000 deep");
	free(deep);
}

/*
 * Deep nesting jansson accepts (below its limit of 2048) inside the
 * lists: the element is skipped, or kept with its payload when the
 * nesting sits in a key nobody reads.
 */
static void
test_hostile_nesting(void)
{
	CpapiLiveOrders l;
	CpapiTrades		t;
	char			err[CPAPI_ERR_LEN];
	char		   *inner = nested(2000, "[", "1", "]");
	char		   *doc;

	doc = xjoin("{\"orders\": [", inner, "]}");
	ok(cpapi_parse_live_orders(doc, strlen(doc), &l, err, sizeof(err)) == 0 &&
		   l.n == 0 && l.n_skipped == 1,
	   "a live order nested 2000 deep is skipped");
	cpapi_live_orders_free(&l);
	free(doc);
	doc = xjoin("[{\"execution_id\": \"e.9\", \"side\": \"B\", \"size\": 1, "
				"\"price\": 2, \"trade_time\": \"20231211-18:00:49\", "
				"\"extra\": ",
				inner, "}]");
	ok(cpapi_parse_trades(doc, strlen(doc), &t, err, sizeof(err)) == 0 &&
		   t.n == 1 && t.trades[0].payload != NULL &&
		   strlen(t.trades[0].payload) > 4000,
	   "an execution with 2000-deep extra data keeps all of it as payload");
	cpapi_trades_free(&t);
	free(doc);
	free(inner);
}

/*
 * One execution element, written with its size and price as given:
 * used by the trade cases.  *doc is malloc'ed.
 */
static void
trade_doc(char **doc, const char *id, const char *side, const char *size,
		  const char *price, const char *extra)
{
	size_t n = 256 + strlen(id) + strlen(side) + strlen(size) +
		strlen(price) + strlen(extra);

	*doc = malloc(n);
	if (*doc == NULL)
		abort();
	snprintf(*doc, n,
			 "[{\"execution_id\": %s, \"side\": %s, \"size\": %s, "
			 "\"price\": %s, \"conid\": 265598, \"trade_time\": "
			 "\"20231211-18:00:49\"%s}]",
			 id, side, size, price, extra);
}

/*
 * Executions with wrong types and values that cannot be a fill: each is
 * skipped with a reason, so fills.c never hands it to record_fills.  The
 * first case, the same template with sound values, shows that the
 * template itself parses.
 */
static void
test_hostile_trades(void)
{
	static const struct
	{
		const char *desc;
		const char *id;
		const char *side;
		const char *size;
		const char *price;
		const char *extra;
		int			kept; /* 1: a fill, 0: skipped */
	} cases[] = {
		{"sound values", "\"e.1\"", "\"B\"", "5", "\"192.26\"", "", 1},
		{"15-digit size", "\"e.1\"", "\"B\"", "999999999999999",
		 "\"0.01\"", "", 1},
		{"negative size", "\"e.1\"", "\"B\"", "-5", "\"192.26\"", "", 0},
		{"zero size", "\"e.1\"", "\"B\"", "0", "\"192.26\"", "", 0},
		{"size \"-0.0\"", "\"e.1\"", "\"S\"", "\"-0.0\"", "\"1\"", "", 0},
		{"negative price", "\"e.1\"", "\"S\"", "5", "\"-192.26\"", "", 0},
		{"zero price", "\"e.1\"", "\"S\"", "5", "0", "", 0},
		{"price 1e-400, a real that underflows to 0", "\"e.1\"", "\"S\"",
		 "5", "1e-400", "", 0},
		{"price \"1e-400\"", "\"e.1\"", "\"S\"", "5", "\"1e-400\"", "", 0},
		{"size \"99999999999999999999\"", "\"e.1\"", "\"B\"",
		 "\"99999999999999999999\"", "\"1\"", "", 0},
		{"size 1e15", "\"e.1\"", "\"B\"", "1e15", "\"1\"", "", 0},
		{"price \"1e4005\"", "\"e.1\"", "\"B\"", "1", "\"1e4005\"", "", 0},
		{"size as a word", "\"e.1\"", "\"B\"", "\"abc\"", "\"1\"", "", 0},
		{"size \"NaN\"", "\"e.1\"", "\"B\"", "\"NaN\"", "\"1\"", "", 0},
		{"size \"Infinity\"", "\"e.1\"", "\"B\"", "\"Infinity\"", "\"1\"",
		 "", 0},
		{"size \"1,000\"", "\"e.1\"", "\"B\"", "\"1,000\"", "\"1\"", "", 0},
		{"size as true", "\"e.1\"", "\"B\"", "true", "\"1\"", "", 0},
		{"price as an object", "\"e.1\"", "\"B\"", "1", "{}", "", 0},
		{"price as an array", "\"e.1\"", "\"B\"", "1", "[1]", "", 0},
		{"execution id as an object", "{}", "\"B\"", "1", "\"1\"", "", 0},
		{"execution id as true", "true", "\"B\"", "1", "\"1\"", "", 0},
		{"execution id 1.5", "1.5", "\"B\"", "1", "\"1\"", "", 0},
		{"side as a number", "\"e.1\"", "1", "1", "\"1\"", "", 0},
		{"unknown side", "\"e.1\"", "\"SHORT\"", "1", "\"1\"", "", 0},
		{"conid \"-5\"", "\"e.1\"", "\"B\"", "1", "\"1\"",
		 ", \"conid\": \"-5\"", 0},
		{"conid past 64 bits as text", "\"e.1\"", "\"B\"", "1", "\"1\"",
		 ", \"conid\": \"99999999999999999999\"", 0},
		{"conid 1.5", "\"e.1\"", "\"B\"", "1", "\"1\"",
		 ", \"conid\": 1.5", 0},
	};
	CpapiTrades l;
	char		err[CPAPI_ERR_LEN];
	char	   *doc;
	size_t		i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		int rc;

		trade_doc(&doc, cases[i].id, cases[i].side, cases[i].size,
				  cases[i].price, cases[i].extra);
		rc = cpapi_parse_trades(doc, strlen(doc), &l, err, sizeof(err));
		if (cases[i].kept)
			ok(rc == 0 && l.n == 1 && l.n_skipped == 0,
			   "execution with %s is a fill", cases[i].desc);
		else
			ok(rc == 0 && l.n == 0 && l.n_skipped == 1 &&
				   l.skip_reason != NULL,
			   "execution with %s is skipped with a reason",
			   cases[i].desc);
		if (rc == 0)
			cpapi_trades_free(&l);
		free(doc);
	}

	/* the reason names the execution and the values (for the log) */
	trade_doc(&doc, "\"e.7\"", "\"B\"", "-5", "\"192.26\"", "");
	ok(cpapi_parse_trades(doc, strlen(doc), &l, err, sizeof(err)) == 0,
	   "a list with a negative size parses");
	is_str(l.skip_reason,
		   "execution e.7 has a size -5 or price 192.26 that is not positive",
		   "a negative size is reported with the execution and its values");
	cpapi_trades_free(&l);
	free(doc);
	/* a late commission that does not read is left for later, not fatal */
	trade_doc(&doc, "\"e.8\"", "\"B\"", "1", "\"1\"",
			  ", \"commission\": \"n/a\"");
	ok(cpapi_parse_trades(doc, strlen(doc), &l, err, sizeof(err)) == 0 &&
		   l.n == 1 && l.trades[0].commission == NULL,
	   "an unreadable commission is left out, the fill kept");
	cpapi_trades_free(&l);
	free(doc);
}

/*
 * Live orders with wrong types and values.  A malformed element is
 * skipped (track.c logs it and does not use it); an unknown status is
 * kept as the text it came as, which pgtrade.broker_status_target maps
 * to nothing, so the order does not move.
 */
static void
test_hostile_live_orders(void)
{
	static const struct
	{
		const char *desc;
		const char *fields;
		int			kept;
	} cases[] = {
		{"sound values", "\"orderId\": 7, \"totalSize\": 10", 1},
		{"orderId -1, the gateway's cancel-all id",
		 "\"orderId\": \"-1\"", 0},
		{"orderId 0", "\"orderId\": 0", 0},
		{"orderId as a word", "\"orderId\": \"abc\"", 0},
		{"orderId with a slash", "\"orderId\": \"12/34\"", 0},
		{"orderId of 20 digits", "\"orderId\": \"12345678901234567890\"",
		 0},
		{"orderId 1.5", "\"orderId\": 1.5", 0},
		{"orderId true", "\"orderId\": true", 0},
		{"negative totalSize", "\"orderId\": 7, \"totalSize\": \"-10\"", 0},
		{"negative filledQuantity",
		 "\"orderId\": 7, \"filledQuantity\": -40", 0},
		{"negative remainingQuantity",
		 "\"orderId\": 7, \"remainingQuantity\": -1", 0},
		{"negative avgPrice", "\"orderId\": 7, \"avgPrice\": \"-1.5\"", 0},
		{"negative price", "\"orderId\": 7, \"price\": -165", 0},
		{"filledQuantity as a word",
		 "\"orderId\": 7, \"filledQuantity\": \"forty\"", 0},
		{"totalSize 1e20", "\"orderId\": 7, \"totalSize\": 1e20", 0},
	};
	CpapiLiveOrders l;
	char			err[CPAPI_ERR_LEN];
	char			doc[512];
	size_t			i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
	{
		int rc;

		snprintf(doc, sizeof(doc), "{\"orders\": [{%s, \"order_ref\": "
								   "\"pgt-1-7\"}]}",
				 cases[i].fields);
		rc = cpapi_parse_live_orders(doc, strlen(doc), &l, err, sizeof(err));
		if (cases[i].kept)
			ok(rc == 0 && l.n == 1 && l.n_skipped == 0,
			   "live order with %s is kept", cases[i].desc);
		else
			ok(rc == 0 && l.n == 0 && l.n_skipped == 1,
			   "live order with %s is skipped", cases[i].desc);
		cpapi_live_orders_free(&l);
	}

	snprintf(doc, sizeof(doc), "%s",
			 "{\"orders\": [{\"orderId\": 7, \"status\": \"Exploded\"}, "
			 "{\"orderId\": 8, \"status\": 2}, "
			 "{\"orderId\": 9, \"status\": {\"s\": \"Filled\"}, "
			 "\"side\": 1}]}");
	ok(cpapi_parse_live_orders(doc, strlen(doc), &l, err, sizeof(err)) == 0 &&
		   l.n == 3,
	   "live orders with odd statuses are kept");
	if (l.n == 3)
	{
		is_str(l.orders[0].status, "Exploded", "unknown status kept as is");
		ok(!cpapi_status_is_terminal(l.orders[0].status),
		   "an unknown status is not terminal");
		is_str(l.orders[1].status, "2", "numeric status kept as its text");
		is_str(l.orders[2].status, NULL, "object status reads as absent");
		is_int(l.orders[2].side, CPAPI_SIDE_NONE,
			   "numeric side reads as unknown");
	}
	else
		skip(5, "live orders did not parse");
	cpapi_live_orders_free(&l);
}

/* Order placement replies whose ids must not reach a URL or the rows. */
static void
test_hostile_replies(void)
{
	static const struct
	{
		const char *desc;
		const char *doc;
	} refused[] = {
		{"order_id -1", "[{\"order_id\": \"-1\", \"order_status\": "
						"\"Submitted\"}]"},
		{"order_id 0", "[{\"order_id\": 0}]"},
		{"empty order_id", "[{\"order_id\": \"\"}]"},
		{"order_id with a path", "[{\"order_id\": \"1/../../logout\"}]"},
		{"order_id as an object", "[{\"order_id\": {}}]"},
		{"order_id 1e3", "[{\"order_id\": \"1e3\"}]"},
		{"reply id ..", "[{\"id\": \"..\", \"message\": [\"m\"], "
						"\"messageIds\": [\"o163\"]}]"},
		{"reply id with a slash", "[{\"id\": \"a/b\", \"message\": "
								  "[\"m\"]}]"},
		{"reply id with a query", "[{\"id\": \"a?x=1\", \"message\": "
								  "[\"m\"]}]"},
		{"reply id with a blank", "[{\"id\": \"a b\", \"message\": "
								  "[\"m\"]}]"},
		{"reply id as true", "[{\"id\": true, \"message\": [\"m\"]}]"},
		{"prompt message as a number", "[{\"id\": \"r1\", \"message\": 5}]"},
		{"prompt messageIds as an object",
		 "[{\"id\": \"r1\", \"messageIds\": {}}]"},
	};
	CpapiOrderReply r;
	char			err[CPAPI_ERR_LEN];
	char			id[160];
	char			doc[256];
	size_t			i;

	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++)
	{
		ok(cpapi_parse_order_reply(refused[i].doc, LEN(refused[i].doc), &r,
								   err, sizeof(err)) == -1 &&
			   r.kind == CPAPI_REPLY_INVALID && r.order_id == NULL &&
			   r.reply_id == NULL,
		   "a reply with %s is refused", refused[i].desc);
		cpapi_order_reply_free(&r);
	}

	/* 129 characters: one past CP_REPLY_ID_MAX */
	memset(id, 'a', 129);
	id[129] = '\0';
	snprintf(doc, sizeof(doc), "[{\"id\": \"%s\", \"message\": [\"m\"]}]",
			 id);
	ok(cpapi_parse_order_reply(doc, strlen(doc), &r, err, sizeof(err)) == -1,
	   "a reply id of 129 characters is refused");
	cpapi_order_reply_free(&r);
	id[128] = '\0';
	snprintf(doc, sizeof(doc), "[{\"id\": \"%s\", \"message\": [\"m\"]}]",
			 id);
	ok(cpapi_parse_order_reply(doc, strlen(doc), &r, err, sizeof(err)) == 0 &&
		   r.kind == CPAPI_REPLY_PROMPT,
	   "a reply id of 128 characters is a prompt");
	cpapi_order_reply_free(&r);

	/* message ids that are not strings become "", never on an allow list */
	snprintf(doc, sizeof(doc), "%s",
			 "[{\"id\": \"r1\", \"message\": [\"m\", 7], "
			 "\"messageIds\": [1, null]}]");
	ok(cpapi_parse_order_reply(doc, strlen(doc), &r, err, sizeof(err)) == 0 &&
		   r.n_message_ids == 2 && strcmp(r.message_ids[0], "") == 0 &&
		   strcmp(r.message_ids[1], "") == 0 && strcmp(r.messages[1], "") == 0,
	   "non-string message ids read as empty ids");
	cpapi_order_reply_free(&r);

	/* an unknown order status is kept as text; track.c maps it to none */
	snprintf(doc, sizeof(doc), "%s",
			 "[{\"order_id\": \"12\", \"order_status\": \"Teleported\"}]");
	ok(cpapi_parse_order_reply(doc, strlen(doc), &r, err, sizeof(err)) == 0 &&
		   r.kind == CPAPI_REPLY_ACCEPTED &&
		   strcmp(r.order_status, "Teleported") == 0,
	   "an unknown order status is kept as written");
	cpapi_order_reply_free(&r);
}

/* Order status, positions, history, session: wrong types and values. */
static void
test_hostile_other_docs(void)
{
	CpapiOrderStatus s;
	CpapiPositions	 pos = {0};
	CpapiHistory	 h;
	CpapiAuthStatus	 a;
	CpapiAccounts	 acc;
	char			 err[CPAPI_ERR_LEN];
	int				 n_page;
	const char		*doc;

	doc = "{\"order_id\": 5, \"cum_fill\": \"-1.0\", \"size\": \"1\"}";
	ok(cpapi_parse_order_status(doc, LEN(doc), &s, err, sizeof(err)) == -1,
	   "order status with a negative cum_fill is refused");
	doc = "{\"order_id\": \"-1\", \"cum_fill\": \"1.0\"}";
	ok(cpapi_parse_order_status(doc, LEN(doc), &s, err, sizeof(err)) == -1,
	   "order status of order -1 is refused");
	doc = "{\"order_id\": 5, \"average_price\": \"1e16\"}";
	ok(cpapi_parse_order_status(doc, LEN(doc), &s, err, sizeof(err)) == -1,
	   "order status with an average price of 1e16 is refused");

	doc = "[{\"conid\": 756733, \"position\": \"-99999999999999999999\"}]";
	ok(cpapi_parse_positions(doc, LEN(doc), &pos, &n_page, err,
							 sizeof(err)) == -1,
	   "a position of -99999999999999999999 fails the page");
	cpapi_positions_free(&pos);
	doc = "[{\"conid\": 756733, \"position\": \"-25.5\"}]";
	ok(cpapi_parse_positions(doc, LEN(doc), &pos, &n_page, err,
							 sizeof(err)) == 0 &&
		   pos.n == 1 && strcmp(pos.items[0].position, "-25.5") == 0,
	   "a short position stays negative");
	cpapi_positions_free(&pos);
	doc = "[{\"conid\": -756733, \"position\": 1}]";
	ok(cpapi_parse_positions(doc, LEN(doc), &pos, &n_page, err,
							 sizeof(err)) == -1,
	   "a negative conid fails the page");
	cpapi_positions_free(&pos);

	/* bars: t must be an integer of 1970-9999; prices within range */
	doc = "{\"data\": [{\"o\": 1, \"h\": 1, \"l\": 1, \"c\": 1, "
		  "\"t\": -86400000}]}";
	ok(cpapi_parse_history(doc, LEN(doc), &h, err, sizeof(err)) == -1,
	   "a bar before 1970 fails the answer");
	/* 253402300800000 ms is 10000-01-01 00:00:00 UTC (date -u -d @...) */
	doc = "{\"data\": [{\"o\": 1, \"h\": 1, \"l\": 1, \"c\": 1, "
		  "\"t\": 253402300800000}]}";
	ok(cpapi_parse_history(doc, LEN(doc), &h, err, sizeof(err)) == -1,
	   "a bar in the year 10000 fails the answer");
	doc = "{\"data\": [{\"o\": 1, \"h\": 1, \"l\": 1, \"c\": 1, "
		  "\"t\": \"1698796800000\"}]}";
	ok(cpapi_parse_history(doc, LEN(doc), &h, err, sizeof(err)) == -1,
	   "a bar whose time is a string fails the answer");
	doc = "{\"data\": [{\"o\": \"1e16\", \"h\": 1, \"l\": 1, \"c\": 1, "
		  "\"t\": 1698796800000}]}";
	ok(cpapi_parse_history(doc, LEN(doc), &h, err, sizeof(err)) == -1,
	   "a bar with an open of 1e16 fails the answer");
	doc = "{\"data\": {\"o\": 1}}";
	ok(cpapi_parse_history(doc, LEN(doc), &h, err, sizeof(err)) == -1,
	   "history data that is not a list fails the answer");

	/* only true booleans (or 1, or "true") make a session healthy */
	doc = "{\"authenticated\": \"yes\", \"connected\": {}, "
		  "\"competing\": false}";
	ok(cpapi_parse_auth_status(doc, LEN(doc), &a, err, sizeof(err)) == 0 &&
		   !a.authenticated && !a.connected && !cpapi_auth_healthy(&a),
	   "auth flags of other types read as false");
	cpapi_auth_status_free(&a);
	/* competing fails closed: only a clear "no" lets the session trade */
	doc = "{\"authenticated\": true, \"connected\": true, "
		  "\"competing\": \"maybe\"}";
	ok(cpapi_parse_auth_status(doc, LEN(doc), &a, err, sizeof(err)) == 0 &&
		   a.competing && !cpapi_auth_healthy(&a),
	   "a competing flag that is neither true nor false reads as true");
	cpapi_auth_status_free(&a);
	doc = "{\"authenticated\": 1, \"connected\": \"true\", "
		  "\"competing\": \"false\"}";
	ok(cpapi_parse_auth_status(doc, LEN(doc), &a, err, sizeof(err)) == 0 &&
		   cpapi_auth_healthy(&a),
	   "1, \"true\" and \"false\" read as the booleans they spell");
	cpapi_auth_status_free(&a);
	doc = "[true]";
	ok(cpapi_parse_auth_status(doc, LEN(doc), &a, err, sizeof(err)) == -1,
	   "an auth status that is a list is refused");

	doc = "{\"accounts\": [\"DU1\", 5]}";
	ok(cpapi_parse_accounts(doc, LEN(doc), &acc, err, sizeof(err)) == -1,
	   "an accounts list holding a number is refused");
	doc = "{\"accounts\": \"DU1\"}";
	ok(cpapi_parse_accounts(doc, LEN(doc), &acc, err, sizeof(err)) == -1,
	   "accounts given as one string are refused");
}

/* The id checks and time bounds on their own, at their edges. */
static void
test_hostile_ids_and_times(void)
{
	static const struct
	{
		const char *s;
		int			order_id;
		int			reply_id;
	} ids[] = {
		{"1483841810", 1, 1},
		{"1234567890123456789", 1, 1}, /* 19 digits */
		{"12345678901234567890", 0, 1},
		{"0", 0, 1},
		{"000", 0, 1},
		{"-1", 0, 1},
		{"07a13a5a-4a48-44a5-bb25-5ab37b79186c", 0, 1},
		{"r_1", 0, 1},
		{"", 0, 0},
		{".", 0, 0},
		{"..", 0, 0},
		{"a/b", 0, 0},
		{"a%2e", 0, 0},
		{"1 ", 0, 0},
	};
	char   buf[CPAPI_TIME_LEN];
	size_t i;

	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
	{
		ok(cpapi_order_id_valid(ids[i].s) == ids[i].order_id,
		   "\"%s\" is %sa broker order id", ids[i].s,
		   ids[i].order_id ? "" : "not ");
		ok(cpapi_reply_id_valid(ids[i].s) == ids[i].reply_id,
		   "\"%s\" is %sa reply id", ids[i].s, ids[i].reply_id ? "" : "not ");
	}
	ok(!cpapi_order_id_valid(NULL) && !cpapi_reply_id_valid(NULL),
	   "NULL is no id");

	/* date -u -d @0 and date -u -d @253402300799 */
	ok(cpapi_time_from_epoch_ms(0, buf, sizeof(buf)) == 0 &&
		   strcmp(buf, "1970-01-01 00:00:00+00") == 0,
	   "epoch 0 is the first time accepted");
	ok(cpapi_time_from_epoch_ms(253402300799999LL, buf, sizeof(buf)) == 0 &&
		   strcmp(buf, "9999-12-31 23:59:59.999+00") == 0,
	   "the last millisecond of 9999 is the last time accepted");
	ok(cpapi_time_from_epoch_ms(253402300800000LL, buf, sizeof(buf)) == -1,
	   "the year 10000 is refused");
	ok(cpapi_time_from_epoch_ms(-1, buf, sizeof(buf)) == -1,
	   "a time before 1970 is refused");
	ok(cpapi_time_from_epoch_ms(INT64_MIN, buf, sizeof(buf)) == -1 &&
		   cpapi_time_from_epoch_ms(INT64_MAX, buf, sizeof(buf)) == -1,
	   "the ends of int64 are refused");
}

/* Order bodies: exact text, escaping, refusals. */
static void
test_order_body(void)
{
	CpapiTicket t = {
		.account = "DU1234567",
		.coid = "d-1",
		.conid = 265598,
		.side = "buy",
		.quantity = "100",
		.order_type = "limit",
		.limit_price = "165.00",
		.tif = "day",
		.outside_rth = false,
	};
	char			  err[CPAPI_ERR_LEN];
	static const char limit_body[] =
		"{\"orders\":[{\"acctId\":\"DU1234567\",\"conid\":265598,"
		"\"secType\":\"265598:STK\",\"cOID\":\"d-1\","
		"\"orderType\":\"LMT\",\"price\":165.00,\"side\":\"BUY\","
		"\"quantity\":100,\"tif\":\"DAY\",\"outsideRTH\":false}]}";
	char   *body = NULL;
	char   *ids[] = {"o163", "o354"};
	json_t *j;

	/* Expected: the example order body of ibkr-cpapi.md section 6.1, written
	 * with the numeric's own digits (165.00, not 165.0). */
	ok(cpapi_build_order_body(&t, &body, err, sizeof(err)) == 0,
	   "limit order body builds");
	is_str(body, limit_body, "limit order body text");
	j = body ? json_loads(body, 0, NULL) : NULL;
	ok(j != NULL, "limit order body is valid JSON");
	json_decref(j);
	free(body);

	t.order_type = "stop_limit";
	t.stop_price = "164.5";
	t.side = "sell";
	t.tif = "gtc";
	t.outside_rth = true;
	ok(cpapi_build_order_body(&t, &body, err, sizeof(err)) == 0 &&
		   strstr(body, "\"orderType\":\"STOP_LIMIT\",\"price\":165.00,"
						"\"auxPrice\":164.5,\"side\":\"SELL\"") != NULL &&
		   strstr(body, "\"tif\":\"GTC\",\"outsideRTH\":true") != NULL,
	   "stop-limit sends limit as price and stop as auxPrice");
	free(body);

	t.order_type = "stop";
	ok(cpapi_build_order_body(&t, &body, err, sizeof(err)) == 0 &&
		   strstr(body, "\"orderType\":\"STP\",\"price\":164.5,") != NULL &&
		   strstr(body, "auxPrice") == NULL,
	   "stop sends the stop as price");
	free(body);

	t.order_type = "market";
	ok(cpapi_build_order_body(&t, &body, err, sizeof(err)) == 0 &&
		   strstr(body, "\"orderType\":\"MKT\",\"side\"") != NULL,
	   "market order has no price");
	free(body);

	t.coid = "a\"b\\c";
	ok(cpapi_build_order_body(&t, &body, err, sizeof(err)) == 0 &&
		   strstr(body, "\"cOID\":\"a\\\"b\\\\c\"") != NULL,
	   "cOID is escaped");
	free(body);
	t.coid = "d-1";

	t.order_type = "limit";
	t.limit_price = NULL;
	ok(cpapi_build_order_body(&t, &body, err, sizeof(err)) == -1 &&
		   body == NULL,
	   "limit order without a limit price is refused");
	t.limit_price = "165";
	t.quantity = "0";
	ok(cpapi_build_order_body(&t, &body, err, sizeof(err)) == -1,
	   "zero quantity is refused");
	t.quantity = "NaN";
	ok(cpapi_build_order_body(&t, &body, err, sizeof(err)) == -1,
	   "NaN quantity is refused");
	t.quantity = "1";
	t.order_type = "trail";
	ok(cpapi_build_order_body(&t, &body, err, sizeof(err)) == -1,
	   "unsupported order type is refused");

	/* modify (ibkr-cpapi.md 6.5): the single order body, no wrapper, no cOID */
	t.coid = NULL;
	t.order_type = "limit";
	t.quantity = "120";
	ok(cpapi_build_ticket(&t, &body, err, sizeof(err)) == 0, "modify body "
															 "builds");
	is_str(body,
		   "{\"acctId\":\"DU1234567\",\"conid\":265598,"
		   "\"secType\":\"265598:STK\",\"orderType\":\"LMT\","
		   "\"price\":165,\"side\":\"SELL\",\"quantity\":120,"
		   "\"tif\":\"GTC\",\"outsideRTH\":true}",
		   "modify body text: every field, new quantity, no cOID");
	free(body);

	/* bracket (6.1): parent then children with parentId = parent cOID */
	{
		CpapiTicket b[2];

		b[0] = t;
		b[0].coid = "p-1";
		b[1] = t;
		b[1].coid = "p-2";
		b[1].parent_id = "p-1";
		b[1].side = "buy";
		b[1].limit_price = "170";
		ok(cpapi_build_orders_body(b, 2, &body, err, sizeof(err)) == 0 &&
			   strstr(body, "\"cOID\":\"p-1\",\"orderType\"") != NULL &&
			   strstr(body, "},{\"acctId\"") != NULL &&
			   strstr(body, "\"cOID\":\"p-2\",\"parentId\":\"p-1\","
							"\"orderType\":\"LMT\",\"price\":170,"
							"\"side\":\"BUY\"") != NULL,
		   "bracket body: the child carries its cOID and parentId");
		free(body);
		b[1].coid = NULL;
		ok(cpapi_build_orders_body(b, 2, &body, err, sizeof(err)) == -1,
		   "an order without cOID is refused in an orders body");
	}
	t.coid = "d-1";

	cpapi_build_id_list_body("messageIds", ids, 2, &body);
	is_str(body, "{\"messageIds\":[\"o163\",\"o354\"]}",
		   "suppress body text");
	free(body);
}

/* ---------------------------------------------------------------------
 * Recorded payloads of the shared folder
 * ---------------------------------------------------------------------
 */

/* Read a whole file into a malloc'ed buffer; NULL when unreadable. */
static char *
read_file(const char *dir, const char *name, size_t *len)
{
	char  path[4096];
	FILE *f;
	char *buf;
	long  n;

	snprintf(path, sizeof(path), "%s/cpapi-payloads/%s", dir, name);
	f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
		fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t) n + 1)) == NULL)
	{
		fclose(f);
		return NULL;
	}
	*len = fread(buf, 1, (size_t) n, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

/* live_orders.json: values copied from the file. */
static void
payload_live_orders(const char *body, size_t len)
{
	CpapiLiveOrders l;
	char			err[CPAPI_ERR_LEN];
	CpapiLiveOrder *o;

	ok(cpapi_parse_live_orders(body, len, &l, err, sizeof(err)) == 0,
	   "live_orders.json parses");
	is_int(l.n, 4, "live_orders.json holds 4 orders");
	is_int(l.n_skipped, 0, "live_orders.json has no malformed order");
	ok(l.snapshot, "live_orders.json snapshot is true");
	if (l.n != 4)
	{
		skip(16, "live_orders.json did not give 4 orders");
		cpapi_live_orders_free(&l);
		return;
	}
	o = &l.orders[0];
	is_str(o->order_id, "1210386759", "orders[0] orderId");
	is_str(o->order_ref, "240103-SPY-1-BUY-L@457-bxv8", "orders[0] order_ref");
	is_str(o->status, "PreSubmitted", "orders[0] status");
	is_str(o->price, "457.00", "orders[0] price keeps its digits");
	/* 0.0 printed shortest is "0"; 1.0 is "1" */
	is_str(o->filled, "0", "orders[0] filledQuantity");
	is_str(o->total_size, "1", "orders[0] totalSize");
	is_str(o->avg_price, NULL, "orders[0] has no avgPrice before a fill");
	is_int(o->side, CPAPI_SIDE_BUY, "orders[0] side BUY");
	is_int(o->conid, 756733, "orders[0] conid");
	is_str(o->account, "DU1234567", "orders[0] account");
	/* agrees with lastExecutionTime_r 1704312641000 (date -u) */
	is_str(o->last_execution_time, "2024-01-03 20:10:41+00",
		   "orders[0] lastExecutionTime");
	ok(o->payload != NULL && strstr(o->payload, "\"orderId\":1210386759"),
	   "orders[0] payload keeps the element");
	o = &l.orders[2];
	is_str(o->account, "DU1234567", "orders[2] account from acct");
	is_str(o->avg_price, "160.03", "orders[2] avgPrice");
	is_str(o->tif, "CLOSE", "orders[2] DAY shown as CLOSE");
	o = &l.orders[3];
	ok(o->side == CPAPI_SIDE_SELL && strcmp(o->order_ref, "Order123") == 0,
	   "orders[3] is the SELL of Order123");
	cpapi_live_orders_free(&l);
}

/* trades.json: values copied from the file. */
static void
payload_trades(const char *body, size_t len)
{
	CpapiTrades l;
	char		err[CPAPI_ERR_LEN];

	ok(cpapi_parse_trades(body, len, &l, err, sizeof(err)) == 0 &&
		   l.n == 2 && l.n_skipped == 0,
	   "trades.json gives 2 executions");
	if (l.n != 2)
	{
		skip(15, "trades.json did not give 2 executions");
		cpapi_trades_free(&l);
		return;
	}
	is_str(l.trades[0].execution_id, "00012735.6311860f.01.01",
		   "trades[0] execution_id");
	is_str(l.trades[0].size, "0.5", "trades[0] size");
	is_str(l.trades[0].price, "420.08", "trades[0] price");
	is_int(l.trades[0].side, CPAPI_SIDE_BUY, "trades[0] side B");
	/* agrees with trade_time_r 1662145171000 (date -u) */
	is_str(l.trades[0].trade_time, "2022-09-02 18:59:31+00",
		   "trades[0] trade_time in ISO UTC");
	is_str(l.trades[0].commission, "1.0", "trades[0] commission");
	is_str(l.trades[0].order_ref, "d8f3af16-8505-4491-b7b2-86d56c627f61",
		   "trades[0] order_ref");
	is_int(l.trades[0].conid, 270662, "trades[0] conid");
	is_str(l.trades[0].account, "DU1234567", "trades[0] account");
	is_str(l.trades[1].execution_id, "0000e22a.64bb6708.01.01",
		   "trades[1] execution_id");
	/* 9.0 printed shortest is "9" */
	is_str(l.trades[1].size, "9", "trades[1] size");
	is_str(l.trades[1].price, "86.41", "trades[1] price");
	is_int(l.trades[1].side, CPAPI_SIDE_SELL, "trades[1] side S");
	/* agrees with trade_time_r 1662144086000 (date -u) */
	is_str(l.trades[1].trade_time, "2022-09-02 18:41:26+00",
		   "trades[1] trade_time in ISO UTC");
	is_str(l.trades[1].commission, "1.02", "trades[1] commission");
	cpapi_trades_free(&l);
}

/* order_status.json: values copied from the file. */
static void
payload_order_status(const char *body, size_t len)
{
	CpapiOrderStatus s;
	char			 err[CPAPI_ERR_LEN];

	ok(cpapi_parse_order_status(body, len, &s, err, sizeof(err)) == 0,
	   "order_status.json parses");
	is_str(s.order_id, "1210386759", "order status order_id");
	is_str(s.status, "PreSubmitted", "order status order_status");
	is_int(s.side, CPAPI_SIDE_BUY, "order status side B");
	is_str(s.cum_fill, "0.0", "order status cum_fill keeps its digits");
	is_str(s.total_size, "1.0", "order status total_size");
	is_str(s.limit_price, "457.00", "order status limit_price");
	is_str(s.avg_price, NULL, "order status has no average_price");
	is_str(s.ccp_status, "0", "order status order_ccp_status");
	is_int(s.conid, 756733, "order status conid");
	/* 240103201041 read as YYMMDDhhmmss */
	is_str(s.order_time, "2024-01-03 20:10:41+00", "order status order_time");
	cpapi_order_status_free(&s);
}

/* place_order_reply_prompt.json: values copied from the file. */
static void
payload_prompt(const char *body, size_t len)
{
	static const char prefix[] =
		"You are submitting an order without market data.";
	CpapiOrderReply r;
	char			err[CPAPI_ERR_LEN];

	ok(cpapi_parse_order_reply(body, len, &r, err, sizeof(err)) == 0 &&
		   r.kind == CPAPI_REPLY_PROMPT,
	   "reply prompt is shape (b)");
	is_str(r.reply_id, "dd0227af-2de0-46fe-947d-1fd83f314e20",
		   "prompt reply id");
	is_int(r.n_message_ids, 1, "prompt has one message id");
	is_str(r.n_message_ids == 1 ? r.message_ids[0] : NULL, "o354",
		   "prompt message id o354");
	ok(r.n_messages == 1 &&
		   strncmp(r.messages[0], prefix, strlen(prefix)) == 0,
	   "prompt message text");
	cpapi_order_reply_free(&r);
}

/* reply_success.json: values copied from the file. */
static void
payload_reply_success(const char *body, size_t len)
{
	CpapiOrderReply r;
	char			err[CPAPI_ERR_LEN];

	ok(cpapi_parse_order_reply(body, len, &r, err, sizeof(err)) == 0 &&
		   r.kind == CPAPI_REPLY_ACCEPTED,
	   "reply success is shape (a)");
	is_str(r.order_id, "1483841810", "reply success order_id");
	is_str(r.order_status, "Filled", "reply success order_status");
	is_str(r.local_order_id, "f5d5b15a-fdf1-4059-b7ed-3a72b973694d",
		   "reply success local_order_id");
	cpapi_order_reply_free(&r);
}

/* marketdata_history.json: values copied from the file. */
static void
payload_history(const char *body, size_t len)
{
	CpapiHistory h;
	char		 err[CPAPI_ERR_LEN];

	ok(cpapi_parse_history(body, len, &h, err, sizeof(err)) == 0 &&
		   h.n == 1,
	   "marketdata_history.json gives one bar");
	if (h.n != 1)
	{
		skip(8, "marketdata_history.json did not give one bar");
		cpapi_history_free(&h);
		return;
	}
	is_str(h.symbol, "AAPL", "history symbol");
	is_int(h.bars[0].t_ms, 1698796800000LL, "bar t in epoch ms");
	/* date -u -d @1698796800 prints Wed Nov 1 00:00:00 UTC 2023 */
	is_str(h.bars[0].time, "2023-11-01 00:00:00+00", "bar time ISO UTC");
	is_str(h.bars[0].open, "171.05", "bar open");
	is_str(h.bars[0].high, "192.93", "bar high");
	is_str(h.bars[0].low, "170.12", "bar low");
	is_str(h.bars[0].close, "189.37", "bar close");
	is_str(h.bars[0].volume, "6942998.04", "bar volume");
	cpapi_history_free(&h);
}

/* One payload file and the function that checks it. */
typedef struct PayloadCase
{
	const char *file;
	void (*check)(const char *body, size_t len);
	int points; /* test points check emits */
} PayloadCase;

static const PayloadCase payloads[] = {
	{"live_orders.json", payload_live_orders, 20},
	{"trades.json", payload_trades, 16},
	{"order_status.json", payload_order_status, 11},
	{"place_order_reply_prompt.json", payload_prompt, 5},
	{"reply_success.json", payload_reply_success, 4},
	{"marketdata_history.json", payload_history, 9},
};

#define N_PAYLOADS (int) (sizeof(payloads) / sizeof(payloads[0]))

/* Return true when dir holds the payload folder. */
static int
shared_dir_ok(const char *dir)
{
	char		path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/cpapi-payloads", dir);
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * Find the shared folder: PGTRADE_SHARED, else ../shared beside the
 * repository, found from this file's path or from the working directory.
 */
static const char *
find_shared(void)
{
	static char				 from_file[4096];
	const char				*env = getenv("PGTRADE_SHARED");
	const char				*slash = strrchr(__FILE__, '/');
	static const char *const guesses[] = {"../shared", "../../../shared"};
	size_t					 i;

	if (env != NULL && env[0] != '\0')
		return env;
	if (slash != NULL)
	{
		snprintf(from_file, sizeof(from_file), "%.*s/../../../shared",
				 (int) (slash - __FILE__), __FILE__);
		if (shared_dir_ok(from_file))
			return from_file;
	}
	for (i = 0; i < sizeof(guesses) / sizeof(guesses[0]); i++)
		if (shared_dir_ok(guesses[i]))
			return guesses[i];
	return NULL;
}

/* Note payload files that no case covers, so new files get a check. */
static void
note_uncovered(const char *dir)
{
	char		   path[4096];
	DIR			  *d;
	struct dirent *e;
	int			   i;

	snprintf(path, sizeof(path), "%s/cpapi-payloads", dir);
	d = opendir(path);
	while (d != NULL && (e = readdir(d)) != NULL)
	{
		size_t n = strlen(e->d_name);
		int	   covered = 0;

		if (n < 5 || strcmp(e->d_name + n - 5, ".json") != 0)
			continue;
		for (i = 0; i < N_PAYLOADS; i++)
			covered |= strcmp(payloads[i].file, e->d_name) == 0;
		if (!covered)
			printf("# payload %s has no check in this test\n", e->d_name);
	}
	if (d != NULL)
		closedir(d);
}

/* Feed every recorded payload through its parser. */
static void
test_payloads(void)
{
	const char *dir = find_shared();
	int			i;

	if (dir == NULL || !shared_dir_ok(dir))
	{
		skip(TEST_PLAN_SHARED, "shared payload folder not found (set "
							   "PGTRADE_SHARED)");
		return;
	}
	printf("# payloads from %s/cpapi-payloads\n", dir);
	note_uncovered(dir);
	for (i = 0; i < N_PAYLOADS; i++)
	{
		size_t len = 0;
		char  *body = read_file(dir, payloads[i].file, &len);

		ok(body != NULL, "payload %s is readable", payloads[i].file);
		if (body == NULL)
			skip(payloads[i].points, "payload file missing");
		else
			payloads[i].check(body, len);
		free(body);
	}
}

int
main(void)
{
	printf("1..%d\n", TEST_PLAN);
	test_format_real();
	test_decimals();
	test_times();
	test_words();
	test_replies();
	test_live_orders();
	test_trades();
	test_positions();
	test_session_docs();
	test_secdef_search();
	test_hostile_documents();
	test_hostile_nesting();
	test_hostile_trades();
	test_hostile_live_orders();
	test_hostile_replies();
	test_hostile_other_docs();
	test_hostile_ids_and_times();
	test_order_body();
	test_payloads();
	if (tests_run != TEST_PLAN)
	{
		printf("# planned %d tests but ran %d\n", TEST_PLAN, tests_run);
		return 1;
	}
	return tests_failed == 0 ? 0 : 1;
}
