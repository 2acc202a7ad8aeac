/*-------------------------------------------------------------------------
 *
 * cpapi.h
 *	  Parsing and building of IBKR Client Portal Web API JSON documents.
 *
 * Everything here is pure: no I/O, no libpq, no libcurl; only jansson.
 * Parsed documents become plain C structs whose text fields are
 * malloc'ed strings (NULL when the key was absent, null or empty); each
 * struct has a *_free function that releases them and leaves the struct
 * zeroed.
 *
 * Money and quantities stay decimal text from end to end: a JSON string
 * is validated and kept as written ("457.00"), a JSON integer is printed
 * in full, and a JSON real is printed with the fewest significant digits
 * that read back as the same double, as a plain decimal without
 * exponent ("9", "100", "0.5", "165.01").  No arithmetic is ever done on
 * them in floating point.
 *
 * Times become ISO 8601 text in UTC that PostgreSQL reads as timestamptz
 * ("2022-09-02 18:59:31+00").
 *
 *-------------------------------------------------------------------------
 */
#ifndef CPAPI_H
#define CPAPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Size of the error buffers the parse functions fill. */
#define CPAPI_ERR_LEN 256

/* Largest decimal text we produce or accept, including the NUL. */
#define CPAPI_DECIMAL_LEN 64

/* Length of an ISO time text, including the NUL. */
#define CPAPI_TIME_LEN 32

typedef enum CpapiSide
{
	CPAPI_SIDE_NONE = 0, /* absent or unrecognised */
	CPAPI_SIDE_BUY,
	CPAPI_SIDE_SELL
} CpapiSide;

/* The four shapes of an order placement or reply answer. */
typedef enum CpapiReplyKind
{
	CPAPI_REPLY_INVALID = 0,  /* none of the shapes below */
	CPAPI_REPLY_ACCEPTED,	  /* (a) [{"order_id", "order_status", ...}] */
	CPAPI_REPLY_PROMPT,		  /* (b) [{"id", "message", "messageIds"}] */
	CPAPI_REPLY_ERROR,		  /* (c) {"error": "..."} */
	CPAPI_REPLY_SERVER_PROMPT /* (d) {"order_id", "req_id", "options"..} */
} CpapiReplyKind;

/* What a session-level or order-level error text means to the daemon. */
typedef enum CpapiErrorKind
{
	CPAPI_ERR_NONE = 0,			 /* 2xx without an error text */
	CPAPI_ERR_NOT_AUTHENTICATED, /* 401, "not authenticated" */
	CPAPI_ERR_NO_BRIDGE,		 /* brokerage session not initialised */
	CPAPI_ERR_QUERY_ACCOUNTS,	 /* "Please query /accounts first" */
	CPAPI_ERR_RATE_LIMITED,		 /* 429 */
	CPAPI_ERR_DUPLICATE_COID,	 /* "... is already registered" */
	CPAPI_ERR_REPLY_NOT_FOUND,	 /* "reply id not found" */
	CPAPI_ERR_TRANSIENT,		 /* other 5xx: maintenance, system error */
	CPAPI_ERR_OTHER				 /* any other error text or 4xx */
} CpapiErrorKind;

/* Answer to POST /iserver/account/{acct}/orders or /iserver/reply/{id}. */
typedef struct CpapiOrderReply
{
	CpapiReplyKind kind;
	/* (a) accepted */
	char *order_id;		  /* broker order id, digits */
	char *local_order_id; /* echo of the cOID, when present */
	char *order_status;	  /* PreSubmitted, Submitted, Filled, ... */
	char *text;			  /* text or warning_message, if any */
	/* (b) prompt */
	char  *reply_id; /* the id to answer at /iserver/reply/ */
	int	   n_messages;
	char **messages; /* parallel to message_ids */
	int	   n_message_ids;
	char **message_ids; /* "o163", "o354", ... */
	/* (c) error and (d) server prompt */
	char *error;	   /* error text, or the server prompt text */
	int	  status_code; /* "statusCode" of the envelope, else 0 */
	char *message_id;  /* (d) messageId, if any */
} CpapiOrderReply;

/* One element of GET /iserver/account/orders. */
typedef struct CpapiLiveOrder
{
	char	 *order_id;	 /* orderId as digits */
	char	 *order_ref; /* echo of the cOID; may be absent */
	char	 *account;	 /* "account", else "acct" */
	int64_t	  conid;
	bool	  has_conid;
	CpapiSide side;
	char	 *status;			   /* PreSubmitted, Filled, ... */
	char	 *order_type;		   /* "Limit", "Market", ... as sent */
	char	 *tif;				   /* timeInForce: "GTC", "CLOSE", ... */
	char	 *total_size;		   /* decimal text, may be NULL */
	char	 *filled;			   /* filledQuantity, decimal text */
	char	 *remaining;		   /* remainingQuantity, decimal text */
	char	 *avg_price;		   /* absent until the first fill */
	char	 *price;			   /* limit price, decimal text */
	char	 *last_execution_time; /* ISO UTC, from lastExecutionTime */
	char	 *payload;			   /* the element as compact JSON */
} CpapiLiveOrder;

typedef struct CpapiLiveOrders
{
	int				n;
	CpapiLiveOrder *orders;
	bool			snapshot;	 /* value of "snapshot", false when absent */
	int				n_skipped;	 /* elements dropped as malformed */
	char		   *skip_reason; /* why the first one was dropped */
} CpapiLiveOrders;

/* GET /iserver/account/order/status/{orderId}. */
typedef struct CpapiOrderStatus
{
	char	 *order_id;
	char	 *account;
	int64_t	  conid;
	bool	  has_conid;
	char	 *symbol;
	CpapiSide side;
	char	 *status;	  /* order_status */
	char	 *ccp_status; /* order_ccp_status, a digit string */
	char	 *order_type;
	char	 *tif;
	char	 *total_size;
	char	 *remaining; /* "size" */
	char	 *cum_fill;
	char	 *avg_price; /* average_price, NULL when absent */
	char	 *limit_price;
	char	 *stop_price;
	char	 *order_time; /* ISO UTC */
} CpapiOrderStatus;

/* One element of GET /iserver/account/trades. */
typedef struct CpapiTrade
{
	char	 *execution_id;
	char	 *order_ref; /* NULL for trades placed elsewhere */
	char	 *account;	 /* "account", else "accountCode" */
	int64_t	  conid;
	bool	  has_conid;
	char	 *symbol;
	CpapiSide side;
	char	 *size;		  /* decimal text */
	char	 *price;	  /* decimal text */
	char	 *commission; /* decimal text, NULL when absent */
	char	 *trade_time; /* ISO UTC */
	char	 *payload;	  /* the element as compact JSON */
} CpapiTrade;

typedef struct CpapiTrades
{
	int			n;
	CpapiTrade *trades;
	int			n_skipped;
	char	   *skip_reason;
} CpapiTrades;

/* POST /iserver/auth/status and /iserver/auth/ssodh/init. */
typedef struct CpapiAuthStatus
{
	bool  authenticated;
	bool  connected;
	bool  competing;
	char *fail; /* reason text when authentication broke */
	char *message;
} CpapiAuthStatus;

/* POST /tickle. */
typedef struct CpapiTickle
{
	bool			has_session; /* a "session" key was present */
	bool			has_auth;	 /* iserver.authStatus was present */
	CpapiAuthStatus auth;		 /* valid only when has_auth */
	char		   *error;		 /* "error" of an envelope, if any */
} CpapiTickle;

/* GET /iserver/accounts. */
typedef struct CpapiAccounts
{
	int	   n;
	char **accounts;
	char  *selected;
} CpapiAccounts;

/* One bar of GET /iserver/marketdata/history. */
typedef struct CpapiBar
{
	int64_t t_ms;				  /* bar start, epoch milliseconds */
	char	time[CPAPI_TIME_LEN]; /* the same as ISO UTC */
	char   *open;
	char   *high;
	char   *low;
	char   *close;
	char   *volume;
} CpapiBar;

typedef struct CpapiHistory
{
	char	 *symbol;
	int		  n;
	CpapiBar *bars;
} CpapiHistory;

/*
 * One element of GET /iserver/secdef/search.  An element whose conid
 * cannot be read is kept with conid 0, so that it still counts when
 * matches are counted; it is never chosen.
 */
typedef struct CpapiContract
{
	int64_t conid; /* 0 when absent or unreadable */
	char   *symbol;
	char   *company_name;
	char   *company_header;
	char   *description;
	bool	has_stk; /* a section with secType STK */
} CpapiContract;

typedef struct CpapiContracts
{
	int			   n;
	CpapiContract *items;
	int			   n_skipped; /* elements that were not objects */
} CpapiContracts;

/* One element of GET /portfolio/{accountId}/positions/{pageId}. */
typedef struct CpapiPosition
{
	char   *account; /* acctId, NULL when absent */
	int64_t conid;
	char   *symbol;	  /* contractDesc, else ticker; may be NULL */
	char   *position; /* signed decimal text, may be fractional */
} CpapiPosition;

typedef struct CpapiPositions
{
	int			   n;
	CpapiPosition *items;
} CpapiPositions;

/* What the daemon needs to place one order. Text fields are borrowed. */
typedef struct CpapiTicket
{
	const char *account;
	const char *coid;
	int64_t		conid;
	const char *side;		 /* "buy" or "sell" */
	const char *quantity;	 /* decimal text */
	const char *order_type;	 /* market, limit, stop, stop_limit */
	const char *limit_price; /* decimal text or NULL */
	const char *stop_price;	 /* decimal text or NULL */
	const char *tif;		 /* day, gtc, ioc */
	bool		outside_rth;
	const char *parent_id; /* a bracket child's parent cOID, or NULL */
} CpapiTicket;

/* decimals and numbers */
extern int	cpapi_format_real(double v, char *buf, size_t len);
extern bool cpapi_decimal_valid(const char *s);
extern int	cpapi_decimal_to_json(const char *in, char *out, size_t len);
extern int	cpapi_decimal_sign(const char *s);
extern bool cpapi_decimal_equal(const char *a, const char *b);

/* times */
extern int cpapi_time_from_trade(const char *s, char *out, size_t len);
extern int cpapi_time_from_compact(const char *s, char *out, size_t len);
extern int cpapi_time_from_epoch_ms(int64_t ms, char *out, size_t len);

/* words */
extern CpapiSide	  cpapi_side_parse(const char *s);
extern const char	 *cpapi_side_db(CpapiSide side);
extern bool			  cpapi_status_is_terminal(const char *status);
extern bool			  cpapi_order_id_valid(const char *s);
extern bool			  cpapi_reply_id_valid(const char *s);
extern CpapiErrorKind cpapi_classify_error(long		   http_status,
										   const char *error_text);
extern const char	 *cpapi_error_kind_name(CpapiErrorKind kind);

/* error envelopes */
extern bool cpapi_may_ask_accounts(const char *body, size_t len);
extern int	cpapi_parse_error(const char *body, size_t len, char **error,
							  int *status_code);

/* documents */
extern int	cpapi_parse_order_reply(const char *body, size_t len,
									CpapiOrderReply *out,
									char *err, size_t errlen);
extern void cpapi_order_reply_free(CpapiOrderReply *r);
extern int	cpapi_parse_live_orders(const char *body, size_t len,
									CpapiLiveOrders *out,
									char *err, size_t errlen);
extern void cpapi_live_orders_free(CpapiLiveOrders *l);
extern int	cpapi_parse_order_status(const char *body, size_t len,
									 CpapiOrderStatus *out,
									 char *err, size_t errlen);
extern void cpapi_order_status_free(CpapiOrderStatus *s);
extern int	cpapi_parse_trades(const char *body, size_t len,
							   CpapiTrades *out, char *err, size_t errlen);
extern void cpapi_trades_free(CpapiTrades *t);
extern int	cpapi_parse_auth_status(const char *body, size_t len,
									CpapiAuthStatus *out,
									char *err, size_t errlen);
extern void cpapi_auth_status_free(CpapiAuthStatus *a);
extern bool cpapi_auth_healthy(const CpapiAuthStatus *a);
extern int	cpapi_parse_tickle(const char *body, size_t len,
							   CpapiTickle *out, char *err, size_t errlen);
extern void cpapi_tickle_free(CpapiTickle *t);
extern int	cpapi_parse_accounts(const char *body, size_t len,
								 CpapiAccounts *out,
								 char *err, size_t errlen);
extern void cpapi_accounts_free(CpapiAccounts *a);
extern int	cpapi_parse_history(const char *body, size_t len,
								CpapiHistory *out, char *err, size_t errlen);
extern void cpapi_history_free(CpapiHistory *h);
extern int	cpapi_parse_secdef_search(const char *body, size_t len,
									  CpapiContracts *out,
									  char *err, size_t errlen);
extern void cpapi_contracts_free(CpapiContracts *c);
extern bool cpapi_contract_is_match(const CpapiContract *k,
									const char			*symbol);
extern int	cpapi_choose_stock(const CpapiContracts *c, const char *symbol,
							   int64_t *conid);

extern int	cpapi_parse_positions(const char *body, size_t len,
								  CpapiPositions *l, int *n_page,
								  char *err, size_t errlen);
extern void cpapi_positions_free(CpapiPositions *l);
extern int	cpapi_positions_to_json(const CpapiPositions *l, char **out);

/* request bodies */
extern int cpapi_json_quote(const char *s, char **out);
extern int cpapi_build_order_body(const CpapiTicket *t, char **out,
								  char *err, size_t errlen);
extern int cpapi_build_orders_body(const CpapiTicket *t, int n, char **out,
								   char *err, size_t errlen);
extern int cpapi_build_ticket(const CpapiTicket *t, char **out, char *err,
							  size_t errlen);
extern int cpapi_build_id_list_body(const char *key, char *const *ids,
									int n, char **out);

#endif /* CPAPI_H */
