/*-------------------------------------------------------------------------
 *
 * db.h
 *	  The listener's database session: connect, LISTEN, leases, and the
 *	  listener-facing SQL functions of pgtrade.
 *
 * The session runs in autocommit: each call below is one statement and
 * one transaction, committed when the call returns, so no transaction
 * is ever open while an HTTP call is in progress (db_idle checks it).
 * All parameters travel as text; numbers are cast in SQL, never in C.
 *
 * Every call returns a DbResult: DB_OK, DB_FAILED (the statement failed,
 * the session is fine; the error is logged), or DB_LOST (the connection
 * is gone: advisory locks are released with it; call db_connect again).
 *
 *-------------------------------------------------------------------------
 */
#ifndef DB_H
#define DB_H

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

/* classid of the per-account advisory locks: "pgtr" in ASCII */
#define DB_LEASE_CLASSID 1885828210

typedef enum DbResult
{
	DB_OK = 0,
	DB_FAILED,
	DB_LOST
} DbResult;

/* One row of pgtrade.claim_order(); text fields malloc'ed. */
typedef struct ClaimedOrder
{
	int64_t order_id;
	char   *client_order_id;
	char   *account_id;
	int64_t conid; /* 0 when NULL */
	char   *symbol;
	char   *side;		 /* buy, sell */
	char   *quantity;	 /* numeric text */
	char   *order_type;	 /* market, limit, stop, stop_limit */
	char   *limit_price; /* numeric text or NULL */
	char   *stop_price;	 /* numeric text or NULL */
	char   *tif;		 /* day, gtc, ioc */
	bool	outside_rth;
	int		attempts;
	int		children; /* bracket children claimed with it; -1: unknown */
} ClaimedOrder;

/* One row of pgtrade.orders_in_flight(). */
typedef struct InFlightOrder
{
	int64_t order_id;
	char   *client_order_id;
	char   *account_id;
	char   *status;			 /* submitting, working, cancel_requested */
	char   *broker_order_id; /* NULL until known */
	int		attempts;
	char   *updated_at;
	int64_t conid;	  /* 0 when NULL */
	char   *side;	  /* buy, sell */
	char   *quantity; /* numeric text */
} InFlightOrder;

typedef struct InFlightList
{
	int			   n;
	InFlightOrder *rows;
} InFlightList;

/* One row of pgtrade.orders_to_cancel(); text fields malloc'ed. */
typedef struct CancelOrder
{
	int64_t order_id;
	char   *client_order_id;
	char   *account_id;
	char   *broker_order_id;
} CancelOrder;

typedef struct CancelList
{
	int			 n;
	CancelOrder *rows;
} CancelList;

/* Arguments of pgtrade.record_fill(), all text, borrowed. */
typedef struct FillRecord
{
	const char *execution_id;
	const char *order_ref;
	const char *account_id;
	const char *conid; /* digits or NULL */
	const char *side;
	const char *quantity;
	const char *price;
	const char *trade_time;
	const char *commission;
	const char *payload;
} FillRecord;

/*
 * A result as text, for the modules that run their own statements
 * (db_rows): cells[row * ncols + col], NULL for SQL NULL, malloc'ed.
 */
typedef struct DbRows
{
	int	   nrows;
	int	   ncols;
	char **cells;
} DbRows;
/* One row of pgtrade.record_positions(); text fields malloc'ed. */
typedef struct PositionDiff
{
	char *drift_id; /* NULL unless recorded drift */
	char *conid;
	char *symbol;
	char *pgtrade_quantity; /* numeric text */
	char *broker_quantity;	/* numeric text */
	char *outcome;			/* postponed, suspected, drift, open, acknowledged,
				    * agreed */
} PositionDiff;

typedef struct PositionDiffList
{
	int			  n;
	PositionDiff *rows;
} PositionDiffList;

typedef struct DbConn DbConn;
struct pg_result; /* libpq's PGresult */

extern DbConn  *db_create(void);
extern void		db_destroy(DbConn *db);
extern DbResult db_connect(DbConn *db, const char *conninfo,
						   int statement_timeout_ms, int lock_timeout_ms);
extern DbResult db_connect_as(
	DbConn *db, const char *conninfo, int statement_timeout_ms,
	int lock_timeout_ms, bool listen);
extern void		db_disconnect(DbConn *db);
extern bool		db_is_connected(const DbConn *db);
extern bool		db_idle(void *db);
extern int		db_socket(const DbConn *db);
extern DbResult db_read_notifies(DbConn *db, int *count, int *other);
extern DbResult db_exec(DbConn *db, const char *what, const char *sql,
						int nparams, const char *const *params,
						struct pg_result **res);
extern char	   *db_text_array(const StrList *l);

extern DbResult db_listener_register(DbConn *db, const char *name, int pid,
									 const char *version, int64_t *id);
extern DbResult db_listener_stopped(DbConn *db, int64_t id);
extern DbResult db_listener_heartbeat(DbConn *db, int64_t id,
									  const char	*state,
									  const StrList *accounts,
									  const char	*last_error);
extern DbResult db_lease_try(DbConn *db, const char *account, bool *got);
extern DbResult db_lease_release(DbConn *db, const char *account);
extern DbResult db_account_known(DbConn *db, const char *account,
								 bool *known);
extern DbResult db_claim_order(DbConn *db, int64_t id,
							   const StrList *accounts, ClaimedOrder *out,
							   bool *found);
extern DbResult db_claim_orders(DbConn *db, int64_t id,
								const StrList *accounts, int max,
								ClaimedOrder **out, int *n);
extern DbResult db_claim_resend(DbConn *db, int64_t id, int64_t order_id,
								int max_attempts, ClaimedOrder *out,
								char **refused);
extern void		claimed_order_free(ClaimedOrder *o);
extern void		claimed_order_copy(ClaimedOrder *dst, const ClaimedOrder *src);
extern DbResult db_record_submission(DbConn *db, int64_t order_id,
									 const char *broker_order_id,
									 const char *broker_status,
									 const char *payload,
									 char	   **new_status);
extern DbResult db_record_submissions_send(
	DbConn *db, int n, const int64_t *order_ids,
	const StrList *broker_order_ids, const StrList *broker_statuses,
	const StrList *payloads);
extern DbResult db_record_submissions_wait(DbConn *db, int n,
										   char ***statuses);
extern bool		db_busy(const DbConn *db);
extern DbResult db_record_submissions(
	DbConn *db, int n, const int64_t *order_ids,
	const StrList *broker_order_ids, const StrList *broker_statuses,
	const StrList *payloads, char ***statuses);
extern DbResult	   db_release_unsent(DbConn *db, int64_t listener_id,
									 int64_t order_id, const char *reason);
extern DbResult	   db_record_conid(DbConn *db, int64_t order_id,
								   int64_t conid, const char *payload);
extern DbResult	   db_record_rejection(DbConn *db, int64_t order_id,
									   const char *reason,
									   const char *payload);
extern DbResult	   db_record_status(DbConn *db, int64_t order_id,
									const char *broker_status,
									const char *filled_quantity,
									const char *avg_price,
									const char *payload, char **new_status);
extern DbResult	   db_record_fills_send(DbConn *db, int n,
										const FillRecord *fills);
extern DbResult	   db_record_fills_wait(DbConn *db, int n, bool *inserted);
extern DbResult	   db_record_fills(DbConn *db, int n, const FillRecord *fills,
								   bool *inserted);
extern bool		   db_answer_ready(DbConn *db);
extern bool		   db_failed_transiently(const DbConn *db);
extern DbResult	   db_record_fill(DbConn *db, const FillRecord *f,
								  bool *inserted);
extern DbResult	   db_record_unknown(DbConn *db, int64_t order_id,
									 const char *reason);
extern DbResult	   db_orders_in_flight(DbConn *db, const StrList *accounts,
									   InFlightList *out);
extern void		   in_flight_free(InFlightList *l);
extern DbResult	   db_orders_to_cancel(DbConn *db, const StrList *accounts,
									   const char *resend_after,
									   CancelList *out);
extern void		   cancel_list_free(CancelList *l);
extern DbResult	   db_rows(DbConn *db, const char *what, const char *sql,
						   int nparams, const char *const *params, DbRows *out);
extern const char *db_rows_get(const DbRows *r, int row, int col);
extern void		   db_rows_free(DbRows *r);
extern DbResult	   db_record_cancel_sent(DbConn *db, int64_t order_id,
										 const char *payload);

/* a cancel asked during a confirmation prompt (order.c) */
extern DbResult db_cancel_asked_for(
	DbConn *db, int64_t listener_id, int64_t order_id, char **asked);
extern DbResult db_record_declined(
	DbConn *db, int64_t listener_id, int64_t order_id, const char *question,
	const char *payload);

extern DbResult db_record_positions(DbConn *db, int64_t listener_id,
									const char		 *account,
									const char		 *positions,
									PositionDiffList *out);
extern void		position_diffs_free(PositionDiffList *l);

#endif /* DB_H */
