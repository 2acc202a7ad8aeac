/*-------------------------------------------------------------------------
 *
 * test_gateway.c
 *	  TAP unit test of the gateway client's answer size limit
 *	  (listener/src/gateway.c, GW_BODY_MAX).
 *
 * A thread of this program serves HTTP on 127.0.0.1 (a port the kernel
 * picks) and answers each connection with the body the test set up:
 * of a given size, with an honest, a false or no Content-Length.  The
 * gateway client calls it as the listener calls the gateway.  An answer
 * of GW_BODY_MAX bytes is read whole and parses; one byte more is a
 * transport failure that says so, whether the length was announced or
 * not, and so is an announced length far beyond the limit, before any
 * of the body is read.  The callers treat a transport failure as "no
 * answer": an order stays submitting and is looked up by cOID.
 *
 * It also checks which gateway URLs the listener accepts, which needs no
 * connection: https anywhere, plain http and --insecure (certificate
 * checks off) only for this machine.
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cpapi.h"
#include "gateway.h"
#include "tap.h"

/* Number of test points this file emits. */
#define TEST_PLAN 22

/* What the server answers to the next connection. */
typedef struct Answer
{
	size_t		body_len; /* bytes of body sent */
	long long	announce; /* Content-Length sent; -1: none */
	const char *body;	  /* at least body_len bytes */
} Answer;

static pthread_mutex_t answer_lock = PTHREAD_MUTEX_INITIALIZER;
static Answer		   answer;
static int			   listen_fd = -1;

/* Set what the server answers next. */
static void
answer_set(const char *body, size_t body_len, long long announce)
{
	pthread_mutex_lock(&answer_lock);
	answer.body = body;
	answer.body_len = body_len;
	answer.announce = announce;
	pthread_mutex_unlock(&answer_lock);
}

/* Read the request head (up to the blank line); false on EOF. */
static int
read_head(int fd)
{
	char   buf[8192];
	size_t n = 0;

	while (n < sizeof(buf) - 1)
	{
		ssize_t r = recv(fd, buf + n, sizeof(buf) - 1 - n, 0);

		if (r <= 0)
			return 0;
		n += (size_t) r;
		buf[n] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL)
			return 1;
	}
	return 0;
}

/* Send len bytes, stopping quietly when the client hangs up. */
static void
send_all(int fd, const char *p, size_t len)
{
	while (len > 0)
	{
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		p += w;
		len -= (size_t) w;
	}
}

/* The server thread: one answer per connection, then close. */
static void *
serve(void *arg)
{
	(void) arg;
	for (;;)
	{
		int	   fd = accept(listen_fd, NULL, NULL);
		Answer a;
		char   head[256];

		if (fd < 0)
			return NULL;
		pthread_mutex_lock(&answer_lock);
		a = answer;
		pthread_mutex_unlock(&answer_lock);
		if (read_head(fd))
		{
			if (a.announce >= 0)
				snprintf(head, sizeof(head),
						 "HTTP/1.1 200 OK\r\nContent-Type: application/json"
						 "\r\nContent-Length: %lld\r\nConnection: close"
						 "\r\n\r\n",
						 a.announce);
			else
				snprintf(head, sizeof(head),
						 "HTTP/1.1 200 OK\r\nContent-Type: application/json"
						 "\r\nConnection: close\r\n\r\n");
			send_all(fd, head, strlen(head));
			send_all(fd, a.body, a.body_len);
		}
		close(fd);
	}
}

/* Listen on 127.0.0.1 and start the server; returns the port or -1. */
static int
server_start(void)
{
	struct sockaddr_in sa;
	socklen_t		   sl = sizeof(sa);
	pthread_t		   t;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *) &sa, sl) != 0 ||
		listen(listen_fd, 4) != 0 ||
		getsockname(listen_fd, (struct sockaddr *) &sa, &sl) != 0 ||
		pthread_create(&t, NULL, serve, NULL) != 0)
		return -1;
	pthread_detach(t);
	return ntohs(sa.sin_port);
}

/*
 * A body of exactly len bytes that is a valid live-orders answer:
 * {"orders": []} padded with blanks (malloc'ed).
 */
static char *
padded_orders(size_t len)
{
	static const char doc[] = "{\"orders\": []}";
	char			 *b = malloc(len + 1);

	if (b == NULL)
		abort();
	memset(b, ' ', len);
	memcpy(b, doc, sizeof(doc) - 1);
	b[len] = '\0';
	return b;
}

/* Call GET /iserver/account/orders on gw into resp. */
static GwResult
call(Gateway *gw, GwResponse *resp)
{
	return gateway_call(gw, "GET", "/iserver/account/orders", NULL,
						GW_PACE_NONE, resp);
}

/* The refusals: one byte over, announced or not, and a false length. */
static void
test_refusals(Gateway *gw, const char *big)
{
	GwResponse resp;
	GwResult   r;

	answer_set(big, GW_BODY_MAX + 1, GW_BODY_MAX + 1);
	r = call(gw, &resp);
	ok(r == GW_TRANSPORT && resp.too_large,
	   "an announced answer of GW_BODY_MAX + 1 bytes is refused");
	ok(strstr(resp.error, "answer larger than 16777216 bytes refused") !=
		   NULL,
	   "the refusal says why: %s", resp.error);
	ok(resp.len == 0, "none of it was read (%zu bytes)", resp.len);
	gateway_response_free(&resp);

	answer_set(big, GW_BODY_MAX + 1, -1);
	r = call(gw, &resp);
	ok(r == GW_TRANSPORT && resp.too_large,
	   "an unannounced answer of GW_BODY_MAX + 1 bytes is refused");
	ok(resp.len <= GW_BODY_MAX, "at most GW_BODY_MAX bytes were kept");
	ok(strstr(resp.error, "larger than") != NULL,
	   "the refusal says why: %s", resp.error);
	gateway_response_free(&resp);

	/* a 1 TiB length, 14 bytes sent: refused before reading */
	answer_set("{\"orders\": []}", 14, 1LL << 40);
	r = call(gw, &resp);
	ok(r == GW_TRANSPORT && resp.too_large && resp.len == 0,
	   "an announced 1 TiB answer is refused before any byte is read");
	gateway_response_free(&resp);
}

/* Return 0 when url passes gateway_check_url; err gets the reason. */
static int
check(const char *url, bool insecure, char *err, size_t len)
{
	err[0] = '\0';
	return gateway_check_url(url, insecure, err, len);
}

/* Which gateway URLs are accepted (no connection is made). */
static void
url_checks(void)
{
	char err[256];

	ok(check("https://gw.example.com:5000/v1/api", false, err,
			 sizeof(err)) == 0,
	   "https to another host, certificate checked: accepted");
	ok(check("https://gw.example.com:5000/v1/api", true, err, sizeof(err)) !=
			   0 &&
		   strstr(err, "--insecure is allowed only for a gateway on "
					   "localhost or 127.0.0.1") != NULL,
	   "--insecure for another host: refused, saying why (%s)", err);
	ok(check("https://10.0.0.7:5000/v1/api", true, err, sizeof(err)) != 0,
	   "--insecure for a private address: refused");
	ok(check("https://127.0.0.1:5000/v1/api", true, err, sizeof(err)) == 0 &&
		   check("https://localhost:5000/v1/api", true, err, sizeof(err)) ==
			   0 &&
		   check("https://[::1]:5000/v1/api", true, err, sizeof(err)) == 0,
	   "--insecure for 127.0.0.1, localhost and ::1: accepted");
	ok(check("http://gw.example.com:5000/v1/api", false, err, sizeof(err)) !=
			   0 &&
		   strstr(err, "must use https") != NULL,
	   "plain http to another host: refused (%s)", err);
	ok(check("https://127.0.0.1.example.com/v1/api", true, err,
			 sizeof(err)) != 0,
	   "--insecure for a name that only begins like 127.0.0.1: refused");
	ok(check("not a url", false, err, sizeof(err)) != 0 && err[0] != '\0',
	   "a malformed URL: refused with a reason (%s)", err);
}

int
main(void)
{
	GatewaySettings s = {0};
	GwResponse		resp;
	CpapiLiveOrders l;
	char			url[64];
	char			err[256];
	char		   *big = padded_orders(GW_BODY_MAX + 1);
	Gateway		   *gw;
	int				port = server_start();

	printf("1..%d\n", TEST_PLAN);
	url_checks();
	if (port < 0 || gateway_global_init() != 0)
	{
		printf("Bail out! could not start a server on 127.0.0.1\n");
		return 1;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/api", port);
	s.base_url = url;
	s.connect_timeout = 5;
	s.request_timeout = 30;
	s.time_scale = 1;
	gw = gateway_create(&s, err, sizeof(err));
	ok(gw != NULL, "gateway client for the local server");
	if (gw == NULL)
		return 1;

	/* the largest answer read: GW_BODY_MAX bytes, and it parses */
	answer_set(big, GW_BODY_MAX, GW_BODY_MAX);
	ok(call(gw, &resp) == GW_OK && resp.status == 200,
	   "an answer of GW_BODY_MAX bytes is read");
	ok(resp.len == GW_BODY_MAX && !resp.too_large,
	   "all %d bytes of it", GW_BODY_MAX);
	ok(cpapi_parse_live_orders(resp.body, resp.len, &l, err,
							   sizeof(err)) == 0 &&
		   l.n == 0,
	   "and it parses as live orders");
	cpapi_live_orders_free(&l);
	gateway_response_free(&resp);

	answer_set(big, GW_BODY_MAX, -1);
	ok(call(gw, &resp) == GW_OK && resp.len == GW_BODY_MAX,
	   "so is one of GW_BODY_MAX bytes without a length");
	gateway_response_free(&resp);

	test_refusals(gw, big);

	/* a body shorter than its announced length is cut off: no answer */
	answer_set("{\"orders\": []}", 14, 100);
	ok(call(gw, &resp) == GW_TRANSPORT && !resp.too_large,
	   "an answer shorter than its length is a transport failure");
	gateway_response_free(&resp);

	/* the same client goes on working after a refusal */
	answer_set("{\"orders\": []}", 14, 14);
	ok(call(gw, &resp) == GW_OK && resp.len == 14,
	   "a small answer after the refusals is read");
	ok(strcmp(resp.body, "{\"orders\": []}") == 0,
	   "with its body intact");
	gateway_response_free(&resp);

	gateway_destroy(gw);
	gateway_global_cleanup();
	free(big);
	if (tests_run != TEST_PLAN)
	{
		printf("# planned %d tests but ran %d\n", TEST_PLAN, tests_run);
		return 1;
	}
	return tests_failed == 0 ? 0 : 1;
}
