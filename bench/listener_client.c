/*-------------------------------------------------------------------------
 *
 * listener_client.c
 *	  The client side of the listener benchmark: commit orders, or POST
 *	  order bodies straight to the simulator, and print when.
 *
 * Two modes, both printing one line per order, "<cOID>\t<epoch ms>",
 * the time taken on CLOCK_REALTIME, the clock the simulator stamps
 * received_at_us with (both run on this machine):
 *
 * KIND is "market" (day market orders, which the simulator fills at
 * once) or "ioc" (immediate-or-cancel limit orders priced away from the
 * market, which it cancels at once: no fills to record).
 *
 *	place	commits N orders through pgtrade.place_order, one order per
 *			transaction (autocommit), at RATE orders a second (0: as fast
 *			as the database takes them); the time is taken right after
 *			the COMMIT returned.  The database comes from the PG*
 *			variables.
 *	post	the baseline: POSTs N order bodies shaped like the
 *			listener's to URL over one kept-alive TLS connection, at RATE
 *			a second (0: back to back); the time is taken right before
 *			the request is sent.  No database is involved.
 *
 * Pacing is open-loop: order i is due at start + i / RATE, whatever
 * became of order i - 1, so a slow phase shows up as latency instead of
 * being hidden by a slower client.
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <libpq-fe.h>

/* Return CLOCK_REALTIME in milliseconds since the epoch. */
static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double) ts.tv_sec * 1000.0 + (double) ts.tv_nsec / 1e6;
}

/* Sleep until the epoch time due_ms (returns at once when it is past). */
static void
sleep_until(double due_ms)
{
	double			left = due_ms - now_ms();
	struct timespec ts;

	if (left <= 0)
		return;
	ts.tv_sec = (time_t) (left / 1000.0);
	ts.tv_nsec = (long) ((left - (double) ts.tv_sec * 1000.0) * 1e6);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Commit n orders of account and symbol through place_order. */
static int
run_place(const char *account, const char *symbol, bool ioc, int n,
		  double rate)
{
	const char *sql = ioc ? "SELECT client_order_id, status "
							"FROM pgtrade.place_order($1, $2, $3, 1, "
							"'limit', CASE $3 WHEN 'buy' THEN 1 ELSE "
							"100000 END, tif => 'ioc')"
						  : "SELECT client_order_id, status "
							"FROM pgtrade.place_order($1, $2, $3, 1)";
	PGconn	   *conn = PQconnectdb("application_name=pgtrade-bench");
	double		start;
	int			i;

	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "listener_client: could not connect: %s",
				PQerrorMessage(conn));
		PQfinish(conn);
		return 1;
	}
	start = now_ms() + 10.0;
	for (i = 0; i < n; i++)
	{
		/* alternate sides so the position stays near zero */
		const char *params[3] = {account, symbol, i % 2 ? "sell" : "buy"};
		PGresult   *res;
		double		committed;

		if (rate > 0)
			sleep_until(start + (double) i * 1000.0 / rate);
		res = PQexecParams(conn, sql, 3, NULL, params, NULL, NULL, 0);
		committed = now_ms();
		if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
			strcmp(PQgetvalue(res, 0, 1), "pending") != 0)
		{
			fprintf(stderr, "listener_client: order %d not placed: %s%s\n",
					i + 1, PQresultErrorMessage(res),
					PQntuples(res) == 1 ? PQgetvalue(res, 0, 1) : "");
			PQclear(res);
			PQfinish(conn);
			return 1;
		}
		printf("%s\t%.3f\n", PQgetvalue(res, 0, 0), committed);
		PQclear(res);
	}
	PQfinish(conn);
	return 0;
}

/* libcurl write callback: the answer is read by the caller's log. */
static size_t
discard(char *data, size_t size, size_t nmemb, void *arg)
{
	(void) data;
	(void) arg;
	return size * nmemb;
}

/* POST n order bodies to url (.../iserver/account/<account>/orders). */
static int
run_post(const char *url, const char *cacert, const char *account,
		 long conid, bool ioc, int n, double rate)
{
	CURL			  *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char			   body[512];
	char			   coid[64];
	double			   start;
	int				   i;

	if (c == NULL)
		return 1;
	h = curl_slist_append(h, "Content-Type: application/json");
	h = curl_slist_append(h, "Expect:");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_CAINFO, cacert);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	start = now_ms() + 10.0;
	for (i = 0; i < n; i++)
	{
		CURLcode cc;
		double	 sent;

		snprintf(coid, sizeof(coid), "bench-base-%d", i + 1);
		snprintf(body, sizeof(body),
				 "{\"orders\":[{\"acctId\":\"%s\",\"conid\":%ld,"
				 "\"secType\":\"%ld:STK\",\"cOID\":\"%s\","
				 "\"orderType\":\"%s\"%s,\"side\":\"%s\","
				 "\"quantity\":1,\"tif\":\"%s\",\"outsideRTH\":false}]}",
				 account, conid, conid, coid, ioc ? "LMT" : "MKT",
				 !ioc		 ? ""
					 : i % 2 ? ",\"price\":100000"
							 : ",\"price\":1",
				 i % 2 ? "SELL" : "BUY", ioc ? "IOC" : "DAY");
		curl_easy_setopt(c, CURLOPT_COPYPOSTFIELDS, body);
		if (rate > 0)
			sleep_until(start + (double) i * 1000.0 / rate);
		sent = now_ms();
		cc = curl_easy_perform(c);
		if (cc != CURLE_OK)
		{
			fprintf(stderr, "listener_client: POST %d failed: %s\n", i + 1,
					curl_easy_strerror(cc));
			break;
		}
		printf("%s\t%.3f\n", coid, sent);
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return i == n ? 0 : 1;
}

/* Run the mode named by argv[1]; see the usage line. */
int
main(int argc, char **argv)
{
	int	   rc;
	double rate;

	if (argc == 7 && strcmp(argv[1], "place") == 0)
	{
		rate = atof(argv[6]);
		rc = run_place(argv[2], argv[3], strcmp(argv[4], "ioc") == 0,
					   atoi(argv[5]), rate);
	}
	else if (argc == 9 && strcmp(argv[1], "post") == 0)
	{
		curl_global_init(CURL_GLOBAL_DEFAULT);
		rate = atof(argv[8]);
		rc = run_post(argv[2], argv[3], argv[4], atol(argv[5]),
					  strcmp(argv[6], "ioc") == 0, atoi(argv[7]), rate);
		curl_global_cleanup();
	}
	else
	{
		fprintf(stderr,
				"usage: listener_client place ACCOUNT SYMBOL KIND N RATE\n"
				"       listener_client post URL CACERT ACCOUNT CONID KIND N "
				"RATE\n");
		return 2;
	}
	fflush(stdout);
	return rc;
}
