/*-------------------------------------------------------------------------
 *
 * fuzz_cpapi.c
 *	  libFuzzer target over the listener's gateway answer parsers.
 *
 * Every input is handed, as the body of an HTTP answer, to each parser
 * of listener/src/cpapi.c the listener runs on gateway answers (order
 * replies, live orders, order status, trades, positions, auth status,
 * tickle, accounts, contract search, market data history, error
 * envelopes) and to the helpers of history.c that turn parsed bars into
 * what pgtrade.record_bars reads.  The same bytes, as a NUL-terminated
 * text, also go through the decimal and time helpers.
 *
 * Built with AddressSanitizer and UndefinedBehaviorSanitizer, so a read
 * past a buffer, a leak, an overflow or a use after free is a crash.
 * Beyond memory safety it checks what the listener relies on when it
 * acts on a parsed answer (check_* below): decimals are decimal text of
 * bounded length, times are ISO UTC texts, broker order ids are digits,
 * executions have a side and a positive size and price, and the JSON
 * built from parsed values is valid JSON.  A broken promise aborts with
 * a line on stderr saying which, and libFuzzer keeps the input.
 *
 * The parsers take (body, len) and must not read past len: the input is
 * passed as libFuzzer gives it, in a buffer of exactly that size.
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cpapi.h"
#include "history.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Report a broken promise of a parser and abort (libFuzzer saves it). */
static void
fail(const char *what, const char *value)
{
	fprintf(stderr, "fuzz_cpapi: %s: \"%s\"\n", what,
			value != NULL ? value : "(null)");
	abort();
}

/*
 * Check a decimal text a parser returned: NULL (absent), or valid
 * decimal text shorter than CPAPI_DECIMAL_LEN.
 */
static void
check_decimal(const char *s, const char *what)
{
	if (s == NULL)
		return;
	if (strlen(s) >= CPAPI_DECIMAL_LEN || !cpapi_decimal_valid(s))
		fail(what, s);
}

/* Check a decimal that must be present and above zero. */
static void
check_positive(const char *s, const char *what)
{
	check_decimal(s, what);
	if (s == NULL || cpapi_decimal_sign(s) != 1)
		fail(what, s);
}

/* Check a decimal that, when present, must not be below zero. */
static void
check_not_negative(const char *s, const char *what)
{
	check_decimal(s, what);
	if (s != NULL && cpapi_decimal_sign(s) < 0)
		fail(what, s);
}

/*
 * Check a time text: NULL, or "YYYY-MM-DD hh:mm:ss+00", optionally with
 * ".mmm" before the offset, as PostgreSQL reads timestamptz.
 */
static void
check_time(const char *s, const char *what)
{
	static const char layout[] = "dddd-dd-dd dd:dd:dd";
	size_t			  i;
	const char		 *tail;

	if (s == NULL)
		return;
	if (strlen(s) >= CPAPI_TIME_LEN || strlen(s) < sizeof(layout) - 1)
		fail(what, s);
	for (i = 0; i < sizeof(layout) - 1; i++)
		if (layout[i] == 'd' ? !isdigit((unsigned char) s[i])
							 : s[i] != layout[i])
			fail(what, s);
	tail = s + sizeof(layout) - 1;
	if (tail[0] == '.')
	{
		if (!isdigit((unsigned char) tail[1]) ||
			!isdigit((unsigned char) tail[2]) ||
			!isdigit((unsigned char) tail[3]))
			fail(what, s);
		tail += 4;
	}
	if (strcmp(tail, "+00") != 0)
		fail(what, s);
}

/* Check a broker order id the listener may put in a URL or record. */
static void
check_order_id(const char *s, const char *what)
{
	if (!cpapi_order_id_valid(s))
		fail(what, s);
}

/* Check that text is one JSON document, an array of n elements. */
static void
check_json_array(const char *text, size_t n, const char *what)
{
	json_error_t jerr;
	json_t		*v = json_loads(text, 0, &jerr);

	if (!json_is_array(v) || json_array_size(v) != n)
		fail(what, text);
	json_decref(v);
}

/* Order placement and reply answers. */
static void
fuzz_order_reply(const char *body, size_t len)
{
	CpapiOrderReply r;
	char			err[CPAPI_ERR_LEN];
	int				i;

	if (cpapi_parse_order_reply(body, len, &r, err, sizeof(err)) != 0)
	{
		if (r.kind != CPAPI_REPLY_INVALID || r.order_id != NULL)
			fail("a refused reply keeps fields", r.order_id);
		return;
	}
	if (r.kind == CPAPI_REPLY_ACCEPTED)
		check_order_id(r.order_id, "accepted reply order id");
	if (r.kind == CPAPI_REPLY_PROMPT)
	{
		if (!cpapi_reply_id_valid(r.reply_id))
			fail("prompt reply id", r.reply_id);
		for (i = 0; i < r.n_message_ids; i++)
			if (r.message_ids[i] == NULL)
				fail("prompt message id", NULL);
		for (i = 0; i < r.n_messages; i++)
			if (r.messages[i] == NULL)
				fail("prompt message", NULL);
	}
	if ((r.kind == CPAPI_REPLY_ERROR || r.kind == CPAPI_REPLY_SERVER_PROMPT) &&
		r.error == NULL)
		fail("error reply without text", NULL);
	(void) cpapi_classify_error(r.status_code, r.error);
	cpapi_order_reply_free(&r);
}

/* GET /iserver/account/orders. */
static void
fuzz_live_orders(const char *body, size_t len)
{
	CpapiLiveOrders l;
	char			err[CPAPI_ERR_LEN];
	int				i;

	if (cpapi_parse_live_orders(body, len, &l, err, sizeof(err)) != 0)
		return;
	for (i = 0; i < l.n; i++)
	{
		const CpapiLiveOrder *o = &l.orders[i];

		check_order_id(o->order_id, "live order id");
		check_not_negative(o->total_size, "live order totalSize");
		check_not_negative(o->filled, "live order filledQuantity");
		check_not_negative(o->remaining, "live order remainingQuantity");
		check_not_negative(o->avg_price, "live order avgPrice");
		check_not_negative(o->price, "live order price");
		check_time(o->last_execution_time, "live order time");
		if (o->payload == NULL)
			fail("live order without payload", o->order_id);
		if (o->has_conid != (o->conid > 0))
			fail("live order conid flag", o->order_id);
	}
	if (l.n_skipped > 0 && l.skip_reason == NULL)
		fail("skipped live orders without a reason", NULL);
	cpapi_live_orders_free(&l);
}

/* GET /iserver/account/order/status/{id}. */
static void
fuzz_order_status(const char *body, size_t len)
{
	CpapiOrderStatus s;
	char			 err[CPAPI_ERR_LEN];

	if (cpapi_parse_order_status(body, len, &s, err, sizeof(err)) != 0)
		return;
	check_order_id(s.order_id, "order status id");
	check_not_negative(s.total_size, "order status total_size");
	check_not_negative(s.remaining, "order status size");
	check_not_negative(s.cum_fill, "order status cum_fill");
	check_not_negative(s.avg_price, "order status average_price");
	check_not_negative(s.limit_price, "order status limit_price");
	check_not_negative(s.stop_price, "order status stop_price");
	check_time(s.order_time, "order status time");
	cpapi_order_status_free(&s);
}

/* GET /iserver/account/trades: what fills.c hands to record_fills. */
static void
fuzz_trades(const char *body, size_t len)
{
	CpapiTrades l;
	char		err[CPAPI_ERR_LEN];
	int			i;

	if (cpapi_parse_trades(body, len, &l, err, sizeof(err)) != 0)
		return;
	for (i = 0; i < l.n; i++)
	{
		const CpapiTrade *t = &l.trades[i];

		if (t->execution_id == NULL || t->execution_id[0] == '\0')
			fail("execution without id", NULL);
		if (cpapi_side_db(t->side) == NULL)
			fail("execution without side", t->execution_id);
		check_positive(t->size, "execution size");
		check_positive(t->price, "execution price");
		check_decimal(t->commission, "execution commission");
		if (t->trade_time == NULL)
			fail("execution without time", t->execution_id);
		check_time(t->trade_time, "execution time");
		if (t->payload == NULL)
			fail("execution without payload", t->execution_id);
	}
	if (l.n_skipped > 0 && l.skip_reason == NULL)
		fail("skipped executions without a reason", NULL);
	cpapi_trades_free(&l);
}

/* Two pages of positions, then the JSON for record_positions. */
static void
fuzz_positions(const char *body, size_t len)
{
	CpapiPositions l = {0};
	char		   err[CPAPI_ERR_LEN];
	char		  *json = NULL;
	int			   n_page;
	int			   i;

	if (cpapi_parse_positions(body, len, &l, &n_page, err,
							  sizeof(err)) == 0 &&
		cpapi_parse_positions(body, len, &l, &n_page, err,
							  sizeof(err)) == 0)
	{
		if (l.n != 2 * n_page)
			fail("positions pages do not add up", NULL);
		for (i = 0; i < l.n; i++)
		{
			check_decimal(l.items[i].position, "position");
			if (l.items[i].conid <= 0)
				fail("position without conid", l.items[i].position);
		}
		(void) cpapi_positions_to_json(&l, &json);
		check_json_array(json, (size_t) l.n, "positions JSON");
		free(json);
	}
	cpapi_positions_free(&l);
}

/* Auth status, tickle and accounts. */
static void
fuzz_session(const char *body, size_t len)
{
	CpapiAuthStatus a;
	CpapiTickle		t;
	CpapiAccounts	acc;
	char			err[CPAPI_ERR_LEN];
	int				i;

	if (cpapi_parse_auth_status(body, len, &a, err, sizeof(err)) == 0)
	{
		(void) cpapi_auth_healthy(&a);
		cpapi_auth_status_free(&a);
	}
	if (cpapi_parse_tickle(body, len, &t, err, sizeof(err)) == 0)
		cpapi_tickle_free(&t);
	if (cpapi_parse_accounts(body, len, &acc, err, sizeof(err)) == 0)
	{
		for (i = 0; i < acc.n; i++)
			if (acc.accounts[i] == NULL || acc.accounts[i][0] == '\0')
				fail("empty account", NULL);
		cpapi_accounts_free(&acc);
	}
}

/* GET /iserver/secdef/search and the choice of a listing. */
static void
fuzz_secdef(const char *body, size_t len)
{
	CpapiContracts c;
	char		   err[CPAPI_ERR_LEN];
	int64_t		   conid;
	bool		   seen = false;
	int			   i;

	if (cpapi_parse_secdef_search(body, len, &c, err, sizeof(err)) != 0)
		return;
	if (c.n > 0 && c.items[0].symbol != NULL)
	{
		(void) cpapi_choose_stock(&c, c.items[0].symbol, &conid);
		for (i = 0; i < c.n; i++)
			seen |= c.items[i].conid == conid;
		if (conid < 0 || (conid > 0 && !seen))
			fail("chosen conid is not a search result", NULL);
	}
	cpapi_contracts_free(&c);
}

/* GET /iserver/marketdata/history, then the record_bars array. */
static void
fuzz_history(const char *body, size_t len)
{
	CpapiHistory h;
	char		 err[CPAPI_ERR_LEN];
	char		*json = NULL;
	int			 i;

	if (cpapi_parse_history(body, len, &h, err, sizeof(err)) != 0)
		return;
	for (i = 0; i < h.n; i++)
	{
		check_decimal(h.bars[i].open, "bar open");
		check_decimal(h.bars[i].high, "bar high");
		check_decimal(h.bars[i].low, "bar low");
		check_decimal(h.bars[i].close, "bar close");
		check_decimal(h.bars[i].volume, "bar volume");
		check_time(h.bars[i].time, "bar time");
	}
	if (history_bars_json(&h, &json) >= 0)
		check_json_array(json, (size_t) h.n, "bars JSON");
	free(json);
	cpapi_history_free(&h);
}

/* Error envelopes and the cheap accounts-first test. */
static void
fuzz_error(const char *body, size_t len)
{
	char *error = NULL;
	int	  code = 0;

	if (cpapi_parse_error(body, len, &error, &code) == 1)
	{
		if (error == NULL)
			fail("envelope without text", NULL);
		(void) cpapi_classify_error(code, error);
		(void) history_is_no_data(error);
	}
	free(error);
	(void) cpapi_may_ask_accounts(body, len);
}

/*
 * The decimal and time helpers on the input as text.  The text is cut
 * at its first NUL, and at a ',' into two decimals for equality.
 */
static void
fuzz_text(const uint8_t *data, size_t size)
{
	char   *s = malloc(size + 1);
	char   *comma;
	char	out[CPAPI_DECIMAL_LEN];
	char	tbuf[CPAPI_TIME_LEN];
	double	v;
	int64_t ms;

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	if (cpapi_decimal_to_json(s, out, sizeof(out)) == 0 &&
		!cpapi_decimal_valid(out))
		fail("decimal_to_json output", out);
	(void) cpapi_decimal_sign(s);
	if (cpapi_time_from_trade(s, tbuf, sizeof(tbuf)) == 0)
		check_time(tbuf, "trade time");
	if (cpapi_time_from_compact(s, tbuf, sizeof(tbuf)) == 0)
		check_time(tbuf, "compact time");
	if ((comma = strchr(s, ',')) != NULL)
	{
		*comma = '\0';
		if (cpapi_decimal_equal(s, comma + 1) !=
			cpapi_decimal_equal(comma + 1, s))
			fail("decimal_equal is not symmetric", s);
	}
	if (size >= sizeof(double))
	{
		memcpy(&v, data, sizeof(v));
		if (cpapi_format_real(v, out, sizeof(out)) == 0 &&
			(!cpapi_decimal_valid(out) || strtod(out, NULL) != v))
			fail("format_real does not read back", out);
		memcpy(&ms, data, sizeof(ms));
		if (cpapi_time_from_epoch_ms(ms, tbuf, sizeof(tbuf)) == 0)
			check_time(tbuf, "epoch time");
	}
	free(s);
}

/* libFuzzer's entry point: one input through every parser. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *) data;

	fuzz_order_reply(body, size);
	fuzz_live_orders(body, size);
	fuzz_order_status(body, size);
	fuzz_trades(body, size);
	fuzz_positions(body, size);
	fuzz_session(body, size);
	fuzz_secdef(body, size);
	fuzz_history(body, size);
	fuzz_error(body, size);
	fuzz_text(data, size);
	return 0;
}
