/*-------------------------------------------------------------------------
 *
 * db.c
 *	  The listener's database session: connect, LISTEN, leases, and the
 *	  listener-facing SQL functions of pgtrade.
 *
 * The session pins search_path to pg_catalog (and pg_temp last) and
 * names every pgtrade object with its schema, so nothing a user creates
 * can capture a call.  statement_timeout and lock_timeout bound every
 * statement, so a stuck database cannot freeze the loop for long.
 *
 * Connection strings are never logged: they may hold passwords.  Error
 * lines carry the SQLSTATE and the server's primary message.
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L

#include "db.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "log.h"

struct DbConn
{
	PGconn *conn;
	bool	busy;		 /* a statement sent without waiting */
	char	sqlstate[6]; /* of the last failure, or "" */
};

static DbResult db_call_text(DbConn *db, const char *what, const char *sql,
							 int nparams, const char *const *params,
							 char **out);

/* Create an unconnected session holder. */
DbConn *
db_create(void)
{
	return xcalloc(1, sizeof(DbConn));
}

/* Close the session, if any, and free the holder. */
void
db_destroy(DbConn *db)
{
	if (db == NULL)
		return;
	db_disconnect(db);
	free(db);
}

/* Close the session; its advisory locks go with it. */
void
db_disconnect(DbConn *db)
{
	db->busy = false;
	if (db->conn != NULL)
		PQfinish(db->conn);
	db->conn = NULL;
}

/*
 * Return true when the last failure on the session was one that goes
 * away by itself: a lock or statement timeout, a deadlock, a
 * serialization failure.  Trying again later is then the remedy.
 */
bool
db_failed_transiently(const DbConn *db)
{
	static const char *const states[] = {"55P03", "57014", "40P01", "40001"};
	size_t					 i;

	for (i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		if (strcmp(db->sqlstate, states[i]) == 0)
			return true;
	return false;
}

/* Return true while a session is open. */
bool
db_is_connected(const DbConn *db)
{
	return db->conn != NULL;
}

/*
 * Return true when no transaction is open on the session (or there is
 * no session).  This is the guard the gateway asks before every call.
 */
bool
db_idle(void *arg)
{
	DbConn *db = arg;

	if (db == NULL || db->conn == NULL)
		return true;
	switch (PQtransactionStatus(db->conn))
	{
		case PQTRANS_IDLE:
		case PQTRANS_UNKNOWN: /* a dead connection holds no transaction */
			return true;
		default:
			return false;
	}
}

/* Return the session's socket for poll(), or -1. */
int
db_socket(const DbConn *db)
{
	return db->conn ? PQsocket(db->conn) : -1;
}

/* Copy the first line of s into buf (messages end with a newline). */
static void
first_line(const char *s, char *buf, size_t len)
{
	snprintf(buf, len, "%s", s ? s : "");
	buf[strcspn(buf, "\n")] = '\0';
}

/*
 * Judge a failed result: DB_LOST when the connection is gone (it is
 * then closed), otherwise DB_FAILED.  Logs the error with its SQLSTATE.
 */
static DbResult
db_failure(DbConn *db, const char *what, const PGresult *res)
{
	char		msg[512];
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE)
							: NULL;

	snprintf(db->sqlstate, sizeof(db->sqlstate), "%s", state ? state : "");
	first_line(res ? PQresultErrorMessage(res) : PQerrorMessage(db->conn),
			   msg, sizeof(msg));
	if (msg[0] == '\0')
		first_line(PQerrorMessage(db->conn), msg, sizeof(msg));
	if (PQstatus(db->conn) == CONNECTION_BAD)
	{
		log_warning("database", "connection lost during %s: %s", what, msg);
		db_disconnect(db);
		return DB_LOST;
	}
	log_error("database", "%s failed: %s%s%s%s", what, msg,
			  state ? " (SQLSTATE " : "", state ? state : "",
			  state ? ")" : "");
	return DB_FAILED;
}

/*
 * Run one statement with text parameters.  On DB_OK *res holds the
 * result (caller clears it with PQclear); otherwise *res is NULL.
 */
DbResult
db_exec(DbConn *db, const char *what, const char *sql, int nparams,
		const char *const *params, PGresult **res)
{
	PGresult	  *r;
	ExecStatusType st;
	DbResult	   rc;

	*res = NULL;
	if (db->conn == NULL)
		return DB_LOST;
	r = PQexecParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
	{
		*res = r;
		return DB_OK;
	}
	rc = db_failure(db, what, r);
	PQclear(r);
	return rc;
}

/*
 * Open the session: libpq defaults and PG* variables, then conninfo (a
 * database name or a connection string), then application_name; pin
 * search_path, set the timeouts, LISTEN pgtrade_order.
 */
DbResult
db_connect(DbConn *db, const char *conninfo, int statement_timeout_ms,
		   int lock_timeout_ms)
{
	return db_connect_as(db, conninfo, statement_timeout_ms, lock_timeout_ms,
						 true);
}

/*
 * What the server says outside an answer (a WARNING, or the FATAL of a
 * connection it ends), as a line of the listener's log rather than
 * libpq's bare text on stderr: at the listener's level for it, with the
 * server's own severity named only where the level does not say it, and
 * its hint, if any, on the same line.
 */
static void
db_notice(void *arg, const PGresult *res)
{
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);
	char		line[512];
	char		hint_line[256];
	size_t		len;

	(void) arg;
	first_line(msg ? msg : PQresultErrorMessage(res), line, sizeof(line));
	/* what to do, where the server says it, on the same line */
	if (hint != NULL)
	{
		first_line(hint, hint_line, sizeof(hint_line));
		len = strlen(line);
		snprintf(line + len, sizeof(line) - len, " (hint: %s)", hint_line);
	}
	if (sev == NULL)
		log_warning("database", "server: %s", line);
	else if (strcmp(sev, "NOTICE") == 0 || strcmp(sev, "INFO") == 0 ||
			 strcmp(sev, "LOG") == 0 || strncmp(sev, "DEBUG", 5) == 0)
		log_info("database", "server: %s", line);
	else if (strcmp(sev, "WARNING") == 0)
		log_warning("database", "server: %s", line);
	else
		log_warning("database", "server %s: %s", sev, line);
}

/*
 * Open the session as db_connect does; with listen false it does not
 * LISTEN (a second session that only records, whose notifications
 * nobody would read).
 */
DbResult
db_connect_as(DbConn *db, const char *conninfo, int statement_timeout_ms,
			  int lock_timeout_ms, bool listen)
{
	const char *keys[] = {"connect_timeout", "dbname", "application_name",
						  NULL};
	const char *values[] = {getenv("PGCONNECT_TIMEOUT") ? NULL : "10",
							conninfo, "pgtrade-listener", NULL};
	char		st[16];
	char		lt[16];
	const char *params[2] = {st, lt};
	PGresult   *res;
	DbResult	rc;
	char		msg[512];

	db_disconnect(db);
	db->conn = PQconnectdbParams(keys, values, 1);
	if (db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK)
	{
		first_line(db->conn ? PQerrorMessage(db->conn) : "out of memory",
				   msg, sizeof(msg));
		log_warning("database", "could not connect: %s", msg);
		db_disconnect(db);
		return DB_LOST;
	}
	PQsetNoticeReceiver(db->conn, db_notice, NULL);
	snprintf(st, sizeof(st), "%d", statement_timeout_ms);
	snprintf(lt, sizeof(lt), "%d", lock_timeout_ms);
	rc = db_exec(db, "session setup",
				 "SELECT pg_catalog.set_config('search_path', "
				 "'pg_catalog, pg_temp', false), "
				 "pg_catalog.set_config('statement_timeout', $1, false), "
				 "pg_catalog.set_config('lock_timeout', $2, false)",
				 2, params, &res);
	PQclear(res);
	if (rc == DB_OK && listen)
	{
		rc = db_exec(db, "LISTEN", "LISTEN pgtrade_order", 0, NULL, &res);
		PQclear(res);
	}
	if (rc != DB_OK)
		db_disconnect(db);
	return rc == DB_OK ? DB_OK : DB_LOST;
}

/*
 * Read what arrived on the socket and count the notifications of
 * pgtrade_order: *count all of them, *other those whose payload is not
 * a bare order id (a new order's), such as "cancel 42", "modify 42" or
 * an empty one.  Returns DB_LOST when the connection broke.
 */
DbResult
db_read_notifies(DbConn *db, int *count, int *other)
{
	PGnotify *n;
	char	  msg[512];

	*count = 0;
	*other = 0;
	if (db->conn == NULL)
		return DB_LOST;
	if (!PQconsumeInput(db->conn))
	{
		first_line(PQerrorMessage(db->conn), msg, sizeof(msg));
		log_warning("database", "connection lost: %s", msg);
		db_disconnect(db);
		return DB_LOST;
	}
	while ((n = PQnotifies(db->conn)) != NULL)
	{
		const char *c = n->extra;

		while (*c >= '0' && *c <= '9')
			c++;
		log_debug("database", "notification on %s: %s%s", n->relname,
				  c == n->extra ? "" : "order ", n->extra);
		(*count)++;
		if (*c != '\0' || c == n->extra)
			(*other)++;
		PQfreemem(n);
	}
	return DB_OK;
}

/*
 * Write an array literal of n strings, each element double-quoted with
 * quotes and backslashes escaped, a NULL string as an SQL NULL element.
 * Returns a malloc'ed string.
 */
static char *
array_literal_opt(const char *const *items, int n)
{
	size_t len = 3;
	char  *s;
	char  *p;
	int	   i;

	for (i = 0; i < n; i++)
		len += items[i] ? 2 * strlen(items[i]) + 3 : 5;
	p = s = xmalloc(len);
	*p++ = '{';
	for (i = 0; i < n; i++)
	{
		const char *c;

		if (i > 0)
			*p++ = ',';
		if (items[i] == NULL)
		{
			memcpy(p, "NULL", 4);
			p += 4;
			continue;
		}
		*p++ = '"';
		for (c = items[i]; *c; c++)
		{
			if (*c == '"' || *c == '\\')
				*p++ = '\\';
			*p++ = *c;
		}
		*p++ = '"';
	}
	*p++ = '}';
	*p = '\0';
	return s;
}

/* Return an array literal of the list (malloc'ed). */
static char *
array_literal(const StrList *l)
{
	return array_literal_opt((const char *const *) l->items, l->n);
}

/* Return a text[] literal of the list (malloc'ed), for a parameter. */
char *
db_text_array(const StrList *l)
{
	return array_literal(l);
}

/* Return a malloc'ed copy of a result value, or NULL for SQL NULL. */
static char *
get_value(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL
									  : xstrdup(PQgetvalue(res, row, col));
}

/* Read an int8 result value (0 for NULL). */
static int64_t
get_int64(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return 0;
	return (int64_t) strtoll(PQgetvalue(res, row, col), NULL, 10);
}

/* Register this process; sets *id to the listener id. */
DbResult
db_listener_register(DbConn *db, const char *name, int pid,
					 const char *version, int64_t *id)
{
	char		pidtext[16];
	const char *params[3] = {name, pidtext, version};
	PGresult   *res;
	DbResult	rc;

	snprintf(pidtext, sizeof(pidtext), "%d", pid);
	rc = db_exec(db, "listener_register",
				 "SELECT pgtrade.listener_register($1, $2::int, $3)",
				 3, params, &res);
	if (rc == DB_OK && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		*id = get_int64(res, 0, 0);
	else if (rc == DB_OK)
	{
		log_error("database", "listener_register returned no id");
		rc = DB_FAILED;
	}
	PQclear(res);
	return rc;
}

/* Record a clean stop of this listener. */
DbResult
db_listener_stopped(DbConn *db, int64_t id)
{
	char		idtext[24];
	const char *params[1] = {idtext};

	snprintf(idtext, sizeof(idtext), "%lld", (long long) id);
	return db_call_text(db, "listener_stopped",
						"SELECT pgtrade.listener_stopped($1::bigint)",
						1, params, NULL);
}

/* Report state, served accounts and the last error (NULL: none). */
DbResult
db_listener_heartbeat(DbConn *db, int64_t id, const char *state,
					  const StrList *accounts, const char *last_error)
{
	char		idtext[24];
	char	   *arr = array_literal(accounts);
	const char *params[4] = {idtext, state, arr, last_error};
	PGresult   *res;
	DbResult	rc;

	snprintf(idtext, sizeof(idtext), "%lld", (long long) id);
	rc = db_exec(db, "listener_heartbeat",
				 "SELECT pgtrade.listener_heartbeat($1::bigint, $2, "
				 "$3::text[], $4)",
				 4, params, &res);
	PQclear(res);
	free(arr);
	return rc;
}

/*
 * Try to take the lease of an account: a session advisory lock, held
 * until released or until the session ends.  *got tells whether it is
 * ours now (taking it again while held is harmless but stacks; the
 * caller tries only leases it does not hold).
 */
DbResult
db_lease_try(DbConn *db, const char *account, bool *got)
{
	char		classid[16];
	const char *params[2] = {classid, account};
	PGresult   *res;
	DbResult	rc;

	*got = false;
	snprintf(classid, sizeof(classid), "%d", DB_LEASE_CLASSID);
	rc = db_exec(db, "lease",
				 "SELECT pg_catalog.pg_try_advisory_lock($1::int4, "
				 "pg_catalog.hashtext($2))",
				 2, params, &res);
	if (rc == DB_OK)
		*got = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return rc;
}

/*
 * Tell whether pgtrade knows an account (pgtrade.account): orders come
 * only for accounts it knows, so a listener serving another waits for
 * nothing.  *known is true unless the answer is no.
 */
DbResult
db_account_known(DbConn *db, const char *account, bool *known)
{
	const char *params[1] = {account};
	PGresult   *res;
	DbResult	rc;

	*known = true;
	rc = db_exec(db, "account",
				 "SELECT count(*) FROM pgtrade.account WHERE account_id = $1",
				 1, params, &res);
	if (rc == DB_OK)
		*known = PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), "0") != 0;
	PQclear(res);
	return rc;
}

/* Give up the lease of an account. */
DbResult
db_lease_release(DbConn *db, const char *account)
{
	char		classid[16];
	const char *params[2] = {classid, account};
	PGresult   *res;
	DbResult	rc;

	snprintf(classid, sizeof(classid), "%d", DB_LEASE_CLASSID);
	rc = db_exec(db, "lease release",
				 "SELECT pg_catalog.pg_advisory_unlock($1::int4, "
				 "pg_catalog.hashtext($2))",
				 2, params, &res);
	PQclear(res);
	return rc;
}

/* Release the strings of a claimed order and zero it. */
void
claimed_order_free(ClaimedOrder *o)
{
	free(o->client_order_id);
	free(o->account_id);
	free(o->symbol);
	free(o->side);
	free(o->quantity);
	free(o->order_type);
	free(o->limit_price);
	free(o->stop_price);
	free(o->tif);
	memset(o, 0, sizeof(*o));
}

/* Make dst a deep copy of src. */
void
claimed_order_copy(ClaimedOrder *dst, const ClaimedOrder *src)
{
	*dst = *src;
	dst->client_order_id = xstrdup(src->client_order_id);
	dst->account_id = xstrdup(src->account_id);
	dst->symbol = xstrdup(src->symbol);
	dst->side = xstrdup(src->side);
	dst->quantity = xstrdup(src->quantity);
	dst->order_type = xstrdup(src->order_type);
	dst->limit_price = xstrdup(src->limit_price);
	dst->stop_price = xstrdup(src->stop_price);
	dst->tif = xstrdup(src->tif);
}

/*
 * Copy the first 13 columns of row r of a claim_order row into *o; its
 * number of children is not known (-1).
 */
static void
claimed_order_read(const PGresult *res, int r, ClaimedOrder *o)
{
	o->order_id = get_int64(res, r, 0);
	o->client_order_id = get_value(res, r, 1);
	o->account_id = get_value(res, r, 2);
	o->conid = get_int64(res, r, 3);
	o->symbol = get_value(res, r, 4);
	o->side = get_value(res, r, 5);
	o->quantity = get_value(res, r, 6);
	o->order_type = get_value(res, r, 7);
	o->limit_price = get_value(res, r, 8);
	o->stop_price = get_value(res, r, 9);
	o->tif = get_value(res, r, 10);
	o->outside_rth = !PQgetisnull(res, r, 11) &&
		strcmp(PQgetvalue(res, r, 11), "t") == 0;
	o->attempts = (int) get_int64(res, r, 12);
	o->children = -1;
}

/*
 * Claim up to max pending orders of the given accounts, oldest first
 * (pending -> submitting, committed when this returns).  *out gets *n
 * orders (malloc'ed, NULL when none); release each with
 * claimed_order_free, then the array.
 */
DbResult
db_claim_orders(DbConn *db, int64_t id, const StrList *accounts, int max,
				ClaimedOrder **out, int *n)
{
	char		idtext[24];
	char		maxtext[24];
	char	   *arr = array_literal(accounts);
	const char *params[3] = {idtext, arr, maxtext};
	PGresult   *res;
	DbResult	rc;
	int			i;

	*out = NULL;
	*n = 0;
	snprintf(idtext, sizeof(idtext), "%lld", (long long) id);
	snprintf(maxtext, sizeof(maxtext), "%d", max);
	rc = db_exec(db, "claim_orders",
				 "SELECT order_id, client_order_id, account_id, conid, "
				 "symbol, side, quantity, order_type, limit_price, "
				 "stop_price, tif, outside_rth, attempts, children "
				 "FROM pgtrade.claim_orders($1::bigint, $2::text[], "
				 "$3::integer)",
				 3, params, &res);
	free(arr);
	if (rc == DB_OK && PQntuples(res) > 0)
	{
		*n = PQntuples(res);
		*out = xcalloc((size_t) *n, sizeof(ClaimedOrder));
		for (i = 0; i < *n; i++)
		{
			claimed_order_read(res, i, &(*out)[i]);
			(*out)[i].children = (int) get_int64(res, i, 13);
		}
	}
	PQclear(res);
	return rc;
}

/*
 * Claim the next pending order of the given accounts (pending ->
 * submitting, committed when this returns).  *found is false when there
 * is none.
 */
DbResult
db_claim_order(DbConn *db, int64_t id, const StrList *accounts,
			   ClaimedOrder *o, bool *found)
{
	char		idtext[24];
	char	   *arr = array_literal(accounts);
	const char *params[2] = {idtext, arr};
	PGresult   *res;
	DbResult	rc;

	memset(o, 0, sizeof(*o));
	*found = false;
	snprintf(idtext, sizeof(idtext), "%lld", (long long) id);
	rc = db_exec(db, "claim_order",
				 "SELECT order_id, client_order_id, account_id, conid, "
				 "symbol, side, quantity, order_type, limit_price, "
				 "stop_price, tif, outside_rth, attempts "
				 "FROM pgtrade.claim_order($1::bigint, $2::text[])",
				 2, params, &res);
	free(arr);
	if (rc == DB_OK && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
	{
		*found = true;
		claimed_order_read(res, 0, o);
	}
	PQclear(res);
	return rc;
}

/*
 * Ask pgtrade.claim_resend whether the submitting order order_id may be
 * sent again with its cOID (at most max_attempts sends in all).  On
 * DB_OK, either *o holds its order body (the attempt is counted and
 * committed) and *refused is NULL, or *refused (malloc'ed) says why it
 * may not be sent again and *o is empty.
 */
DbResult
db_claim_resend(DbConn *db, int64_t id, int64_t order_id, int max_attempts,
				ClaimedOrder *o, char **refused)
{
	char		idtext[24];
	char		ordertext[24];
	char		maxtext[24];
	const char *params[3] = {idtext, ordertext, maxtext};
	PGresult   *res;
	DbResult	rc;

	memset(o, 0, sizeof(*o));
	*refused = NULL;
	snprintf(idtext, sizeof(idtext), "%lld", (long long) id);
	snprintf(ordertext, sizeof(ordertext), "%lld", (long long) order_id);
	snprintf(maxtext, sizeof(maxtext), "%d", max_attempts);
	rc = db_exec(db, "claim_resend",
				 "SELECT order_id, client_order_id, account_id, conid, "
				 "symbol, side, quantity, order_type, limit_price, "
				 "stop_price, tif, outside_rth, attempts, refused "
				 "FROM pgtrade.claim_resend($1::bigint, $2::bigint, "
				 "$3::integer)",
				 3, params, &res);
	if (rc == DB_OK && PQntuples(res) != 1)
		rc = DB_FAILED;
	else if (rc == DB_OK && !PQgetisnull(res, 0, 13))
		*refused = get_value(res, 0, 13);
	else if (rc == DB_OK)
		claimed_order_read(res, 0, o);
	PQclear(res);
	return rc;
}

/* Run a statement whose single result is one text value (or none). */
static DbResult
db_call_text(DbConn *db, const char *what, const char *sql, int nparams,
			 const char *const *params, char **out)
{
	PGresult *res;
	DbResult  rc = db_exec(db, what, sql, nparams, params, &res);

	if (out != NULL)
		*out = (rc == DB_OK && PQntuples(res) == 1 && PQnfields(res) == 1)
			? get_value(res, 0, 0)
			: NULL;
	PQclear(res);
	return rc;
}

/* Record the broker's acceptance; *new_status gets the order's status. */
DbResult
db_record_submission(DbConn *db, int64_t order_id,
					 const char *broker_order_id, const char *broker_status,
					 const char *payload, char **new_status)
{
	char		idtext[24];
	const char *params[4] = {idtext, broker_order_id, broker_status,
							 payload};

	snprintf(idtext, sizeof(idtext), "%lld", (long long) order_id);
	return db_call_text(db, "record_submission",
						"SELECT pgtrade.record_submission($1::bigint, $2, $3, "
						"$4::jsonb)",
						4, params, new_status);
}

/*
 * Send pgtrade.record_submissions for n acceptances without waiting for
 * its answer (db_record_submissions_wait collects it): the database
 * records them while the caller goes on.  One statement, so one
 * transaction: all or none.
 */
DbResult
db_record_submissions_send(DbConn *db, int n, const int64_t *order_ids,
						   const StrList *broker_order_ids,
						   const StrList *broker_statuses,
						   const StrList *payloads)
{
	StrList ids = {0};
	char   *params[4];
	char	msg[512];
	int		ok;
	int		i;

	if (db->conn == NULL)
		return DB_LOST;
	for (i = 0; i < n; i++)
	{
		char id[24];

		snprintf(id, sizeof(id), "%lld", (long long) order_ids[i]);
		strlist_add(&ids, id);
	}
	params[0] = array_literal(&ids);
	params[1] = array_literal(broker_order_ids);
	params[2] = array_literal(broker_statuses);
	params[3] = array_literal(payloads);
	ok = PQsendQueryParams(
		db->conn,
		"SELECT order_id, status FROM "
		"pgtrade.record_submissions($1::bigint[], $2::text[], "
		"$3::text[], $4::text[]::jsonb[])",
		4, NULL, (const char *const *) params, NULL, NULL, 0);
	for (i = 0; i < 4; i++)
		free(params[i]);
	strlist_free(&ids);
	if (ok)
	{
		db->busy = true;
		return DB_OK;
	}
	first_line(PQerrorMessage(db->conn), msg, sizeof(msg));
	log_warning("database", "could not send record_submissions: %s", msg);
	if (PQstatus(db->conn) == CONNECTION_BAD)
	{
		db_disconnect(db);
		return DB_LOST;
	}
	return DB_FAILED;
}

/*
 * Collect the answer to a statement sent without waiting, which must
 * return n rows.  On DB_OK *res holds them (PQclear it); otherwise
 * *res is NULL.
 */
static DbResult
db_collect(DbConn *db, const char *what, int n, PGresult **res)
{
	PGresult *r;
	DbResult  rc = DB_OK;

	*res = NULL;
	if (db->conn == NULL || !db->busy)
		return DB_LOST;
	while ((r = PQgetResult(db->conn)) != NULL)
	{
		if (*res == NULL && PQresultStatus(r) == PGRES_TUPLES_OK)
			*res = r;
		else
		{
			if (rc == DB_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
				rc = db_failure(db, what, r);
			PQclear(r);
		}
		if (db->conn == NULL)
			break;
	}
	db->busy = false;
	if (rc == DB_OK && *res == NULL)
		rc = db->conn != NULL && PQstatus(db->conn) != CONNECTION_BAD
			? DB_FAILED
			: db_failure(db, what, NULL);
	if (rc == DB_OK && PQntuples(*res) != n)
	{
		log_error("database", "%s answered %d rows for %d", what,
				  PQntuples(*res), n);
		rc = DB_FAILED;
	}
	if (rc != DB_OK)
	{
		PQclear(*res);
		*res = NULL;
	}
	return rc;
}

/*
 * Wait for the answer of db_record_submissions_send (n acceptances).
 * On DB_OK, statuses (malloc'ed, n entries, each malloc'ed or NULL) get
 * each order's status after.
 */
DbResult
db_record_submissions_wait(DbConn *db, int n, char ***statuses)
{
	PGresult *res;
	DbResult  rc = db_collect(db, "record_submissions", n, &res);
	int		  i;

	*statuses = NULL;
	if (rc == DB_OK)
	{
		*statuses = xcalloc((size_t) n, sizeof(char *));
		for (i = 0; i < n; i++)
			(*statuses)[i] = get_value(res, i, 1);
	}
	PQclear(res);
	return rc;
}

/*
 * Record n acceptances in one transaction (pgtrade.record_submissions):
 * all or none.  On DB_OK, statuses as db_record_submissions_wait.
 */
DbResult
db_record_submissions(DbConn *db, int n, const int64_t *order_ids,
					  const StrList *broker_order_ids,
					  const StrList *broker_statuses,
					  const StrList *payloads, char ***statuses)
{
	DbResult rc = db_record_submissions_send(
		db, n, order_ids, broker_order_ids, broker_statuses, payloads);

	*statuses = NULL;
	return rc == DB_OK ? db_record_submissions_wait(db, n, statuses) : rc;
}

/* Return true while a statement sent without waiting is unanswered. */
bool
db_busy(const DbConn *db)
{
	return db->busy;
}

/* Record that the broker refused the order (or that we would not confirm). */
DbResult
db_record_rejection(DbConn *db, int64_t order_id, const char *reason,
					const char *payload)
{
	char		idtext[24];
	const char *params[3] = {idtext, reason, payload};

	snprintf(idtext, sizeof(idtext), "%lld", (long long) order_id);
	return db_call_text(db, "record_rejection",
						"SELECT pgtrade.record_rejection($1::bigint, $2, "
						"$3::jsonb)",
						3, params, NULL);
}

/*
 * Cache the conid a contract lookup found for the order's instrument;
 * pgtrade.record_conid refuses to change a conid already known.
 */
DbResult
db_record_conid(DbConn *db, int64_t order_id, int64_t conid,
				const char *payload)
{
	char		idtext[24];
	char		conidtext[24];
	const char *params[3] = {idtext, conidtext, payload};

	snprintf(idtext, sizeof(idtext), "%lld", (long long) order_id);
	snprintf(conidtext, sizeof(conidtext), "%lld", (long long) conid);
	return db_call_text(db, "record_conid",
						"SELECT pgtrade.record_conid($1::bigint, $2::bigint, "
						"$3::jsonb)",
						3, params, NULL);
}

/* Record a broker status report; *new_status gets the order's status. */
DbResult
db_record_status(DbConn *db, int64_t order_id, const char *broker_status,
				 const char *filled_quantity, const char *avg_price,
				 const char *payload, char **new_status)
{
	char		idtext[24];
	const char *params[5] = {idtext, broker_status, filled_quantity,
							 avg_price, payload};

	snprintf(idtext, sizeof(idtext), "%lld", (long long) order_id);
	return db_call_text(db, "record_status",
						"SELECT pgtrade.record_status($1::bigint, $2, "
						"$3::numeric, $4::numeric, $5::jsonb)",
						5, params, new_status);
}

/*
 * Send pgtrade.record_fills for n executions without waiting for its
 * answer (db_record_fills_wait collects it).  One statement, so one
 * transaction: all or none.
 */
DbResult
db_record_fills_send(DbConn *db, int n, const FillRecord *fills)
{
	/* the columns of FillRecord, in pgtrade.record_fills' order */
	static const size_t cols[10] = {
		offsetof(FillRecord, execution_id), offsetof(FillRecord, order_ref),
		offsetof(FillRecord, account_id), offsetof(FillRecord, conid),
		offsetof(FillRecord, side), offsetof(FillRecord, quantity),
		offsetof(FillRecord, price), offsetof(FillRecord, trade_time),
		offsetof(FillRecord, commission), offsetof(FillRecord, payload)};
	const char **col;
	char		*params[10];
	char		 msg[512];
	int			 ok;
	int			 c;
	int			 i;

	if (db->conn == NULL)
		return DB_LOST;
	col = xcalloc((size_t) (n > 0 ? n : 1), sizeof(char *));
	for (c = 0; c < 10; c++)
	{
		for (i = 0; i < n; i++)
			col[i] = *(const char *const *) ((const char *) &fills[i] +
											 cols[c]);
		params[c] = array_literal_opt(col, n);
	}
	free(col);
	ok = PQsendQueryParams(
		db->conn,
		"SELECT execution_id, inserted FROM "
		"pgtrade.record_fills($1::text[], $2::text[], $3::text[], "
		"$4::bigint[], $5::text[], $6::numeric[], $7::numeric[], "
		"$8::timestamptz[], $9::numeric[], $10::text[]::jsonb[])",
		10, NULL, (const char *const *) params, NULL, NULL, 0);
	for (i = 0; i < 10; i++)
		free(params[i]);
	if (ok)
	{
		db->busy = true;
		return DB_OK;
	}
	first_line(PQerrorMessage(db->conn), msg, sizeof(msg));
	log_warning("database", "could not send record_fills: %s", msg);
	if (PQstatus(db->conn) == CONNECTION_BAD)
	{
		db_disconnect(db);
		return DB_LOST;
	}
	return DB_FAILED;
}

/*
 * Wait for the answer of db_record_fills_send (n executions).  On
 * DB_OK, inserted[i] tells whether execution i was a new row.
 */
DbResult
db_record_fills_wait(DbConn *db, int n, bool *inserted)
{
	PGresult *res;
	DbResult  rc = db_collect(db, "record_fills", n, &res);
	int		  i;

	for (i = 0; rc == DB_OK && i < n; i++)
		inserted[i] = !PQgetisnull(res, i, 1) &&
			strcmp(PQgetvalue(res, i, 1), "t") == 0;
	PQclear(res);
	return rc;
}

/* Record n executions in one transaction and wait: all or none. */
DbResult
db_record_fills(DbConn *db, int n, const FillRecord *fills, bool *inserted)
{
	DbResult rc = db_record_fills_send(db, n, fills);

	return rc == DB_OK ? db_record_fills_wait(db, n, inserted) : rc;
}

/*
 * Return true when the answer to a statement sent without waiting has
 * come in (or the session broke), so that collecting it will not block.
 */
bool
db_answer_ready(DbConn *db)
{
	if (db->conn == NULL || !db->busy)
		return true;
	if (!PQconsumeInput(db->conn))
		return true; /* the wait reports the failure */
	return !PQisBusy(db->conn);
}

/* Record one execution; *inserted is true only for a new row. */
DbResult
db_record_fill(DbConn *db, const FillRecord *f, bool *inserted)
{
	const char *params[10] = {f->execution_id, f->order_ref,
							  f->account_id, f->conid, f->side,
							  f->quantity, f->price, f->trade_time,
							  f->commission, f->payload};
	char	   *v = NULL;
	DbResult	rc;

	rc = db_call_text(db, "record_fill",
					  "SELECT pgtrade.record_fill($1, $2, $3, $4::bigint, $5, "
					  "$6::numeric, $7::numeric, $8::timestamptz, "
					  "$9::numeric, $10::jsonb)",
					  10, params, &v);
	*inserted = v != NULL && strcmp(v, "t") == 0;
	free(v);
	return rc;
}

/* Mark an order unknown: sent, but not found at the broker. */
DbResult
db_record_unknown(DbConn *db, int64_t order_id, const char *reason)
{
	char		idtext[24];
	const char *params[2] = {idtext, reason};

	snprintf(idtext, sizeof(idtext), "%lld", (long long) order_id);
	return db_call_text(db, "record_unknown",
						"SELECT pgtrade.record_unknown($1::bigint, $2)",
						2, params, NULL);
}

/*
 * Cancel an order this listener claimed and never sent, which may not be
 * sent now either (pgtrade.release_unsent).
 */
DbResult
db_release_unsent(DbConn *db, int64_t listener_id, int64_t order_id,
				  const char *reason)
{
	char		idtext[24];
	char		ordertext[24];
	const char *params[3] = {idtext, ordertext, reason};

	snprintf(idtext, sizeof(idtext), "%lld", (long long) listener_id);
	snprintf(ordertext, sizeof(ordertext), "%lld", (long long) order_id);
	return db_call_text(db, "release_unsent",
						"SELECT pgtrade.release_unsent($1::bigint, "
						"$2::bigint, $3)",
						3, params, NULL);
}

/*
 * The cancel asked for an order this listener is submitting, or NULL in
 * *asked (pgtrade.cancel_asked_for).
 */
DbResult
db_cancel_asked_for(DbConn *db, int64_t listener_id, int64_t order_id,
					char **asked)
{
	char		idtext[24];
	char		ordertext[24];
	const char *params[2] = {idtext, ordertext};

	snprintf(idtext, sizeof(idtext), "%lld", (long long) listener_id);
	snprintf(ordertext, sizeof(ordertext), "%lld", (long long) order_id);
	return db_call_text(db, "cancel_asked_for",
						"SELECT pgtrade.cancel_asked_for($1::bigint, "
						"$2::bigint)",
						2, params, asked);
}

/*
 * Cancel an order whose confirmation prompt this listener declined for a
 * cancel asked meanwhile (pgtrade.record_declined).
 */
DbResult
db_record_declined(DbConn *db, int64_t listener_id, int64_t order_id,
				   const char *question, const char *payload)
{
	char		idtext[24];
	char		ordertext[24];
	const char *params[4] = {idtext, ordertext, question, payload};

	snprintf(idtext, sizeof(idtext), "%lld", (long long) listener_id);
	snprintf(ordertext, sizeof(ordertext), "%lld", (long long) order_id);
	return db_call_text(db, "record_declined",
						"SELECT pgtrade.record_declined($1::bigint, "
						"$2::bigint, $3, $4::jsonb)",
						4, params, NULL);
}

/* Release an in-flight list and zero it. */
void
in_flight_free(InFlightList *l)
{
	int i;

	for (i = 0; i < l->n; i++)
	{
		free(l->rows[i].client_order_id);
		free(l->rows[i].account_id);
		free(l->rows[i].status);
		free(l->rows[i].broker_order_id);
		free(l->rows[i].updated_at);
		free(l->rows[i].side);
		free(l->rows[i].quantity);
	}
	free(l->rows);
	memset(l, 0, sizeof(*l));
}

/* List the orders of the given accounts that are out at the broker. */
DbResult
db_orders_in_flight(DbConn *db, const StrList *accounts, InFlightList *out)
{
	char	   *arr = array_literal(accounts);
	const char *params[1] = {arr};
	PGresult   *res;
	DbResult	rc;
	int			i;

	memset(out, 0, sizeof(*out));
	rc = db_exec(db, "orders_in_flight",
				 "SELECT order_id, client_order_id, account_id, status, "
				 "broker_order_id, attempts, updated_at, conid, side, "
				 "quantity "
				 "FROM pgtrade.orders_in_flight($1::text[]) "
				 "ORDER BY order_id",
				 1, params, &res);
	free(arr);
	if (rc != DB_OK)
		return rc;
	out->n = PQntuples(res);
	out->rows = xcalloc((size_t) out->n, sizeof(InFlightOrder));
	for (i = 0; i < out->n; i++)
	{
		InFlightOrder *r = &out->rows[i];

		r->order_id = get_int64(res, i, 0);
		r->client_order_id = get_value(res, i, 1);
		r->account_id = get_value(res, i, 2);
		r->status = get_value(res, i, 3);
		r->broker_order_id = get_value(res, i, 4);
		r->attempts = (int) get_int64(res, i, 5);
		r->updated_at = get_value(res, i, 6);
		r->conid = get_int64(res, i, 7);
		r->side = get_value(res, i, 8);
		r->quantity = get_value(res, i, 9);
	}
	PQclear(res);
	return DB_OK;
}

/* Release a cancel list and zero it. */
void
cancel_list_free(CancelList *l)
{
	int i;

	for (i = 0; i < l->n; i++)
	{
		free(l->rows[i].client_order_id);
		free(l->rows[i].account_id);
		free(l->rows[i].broker_order_id);
	}
	free(l->rows);
	memset(l, 0, sizeof(*l));
}

/*
 * List the orders of the given accounts whose cancel must be sent: in
 * cancel_requested, with a broker order id, and not sent within
 * resend_after (interval text, such as "30 seconds").
 */
DbResult
db_orders_to_cancel(DbConn *db, const StrList *accounts,
					const char *resend_after, CancelList *out)
{
	char	   *arr = array_literal(accounts);
	const char *params[2] = {arr, resend_after};
	PGresult   *res;
	DbResult	rc;
	int			i;

	memset(out, 0, sizeof(*out));
	rc = db_exec(db, "orders_to_cancel",
				 "SELECT order_id, client_order_id, account_id, "
				 "broker_order_id "
				 "FROM pgtrade.orders_to_cancel($1::text[], $2::interval) "
				 "ORDER BY order_id",
				 2, params, &res);
	free(arr);
	if (rc != DB_OK)
		return rc;
	out->n = PQntuples(res);
	out->rows = xcalloc((size_t) out->n, sizeof(CancelOrder));
	for (i = 0; i < out->n; i++)
	{
		CancelOrder *r = &out->rows[i];

		r->order_id = get_int64(res, i, 0);
		r->client_order_id = get_value(res, i, 1);
		r->account_id = get_value(res, i, 2);
		r->broker_order_id = get_value(res, i, 3);
	}
	PQclear(res);
	return DB_OK;
}

/* Record that the cancel of an order was sent; payload is the answer. */
DbResult
db_record_cancel_sent(DbConn *db, int64_t order_id, const char *payload)
{
	char		idtext[24];
	const char *params[2] = {idtext, payload};

	snprintf(idtext, sizeof(idtext), "%lld", (long long) order_id);
	return db_call_text(db, "record_cancel_sent",
						"SELECT pgtrade.record_cancel_sent($1::bigint, "
						"$2::jsonb)",
						2, params, NULL);
}

/*
 * Run one statement with text parameters and copy its result into *out
 * as text (release with db_rows_free).  For the modules that call their
 * own pgtrade functions: the statement must schema-qualify them.
 */
DbResult
db_rows(DbConn *db, const char *what, const char *sql, int nparams,
		const char *const *params, DbRows *out)
{
	PGresult *res;
	DbResult  rc = db_exec(db, what, sql, nparams, params, &res);
	int		  i;
	int		  j;

	memset(out, 0, sizeof(*out));
	if (rc != DB_OK)
		return rc;
	out->nrows = PQntuples(res);
	out->ncols = PQnfields(res);
	out->cells = xcalloc((size_t) out->nrows * (size_t) out->ncols + 1,
						 sizeof(char *));
	for (i = 0; i < out->nrows; i++)
		for (j = 0; j < out->ncols; j++)
			out->cells[i * out->ncols + j] = get_value(res, i, j);
	PQclear(res);
	return DB_OK;
}

/* Release a list of position differences and zero it. */
void
position_diffs_free(PositionDiffList *l)
{
	int i;

	for (i = 0; i < l->n; i++)
	{
		free(l->rows[i].drift_id);
		free(l->rows[i].conid);
		free(l->rows[i].symbol);
		free(l->rows[i].pgtrade_quantity);
		free(l->rows[i].broker_quantity);
		free(l->rows[i].outcome);
	}
	free(l->rows);
	memset(l, 0, sizeof(*l));
}

/*
 * Compare an account's broker positions (the JSON of
 * cpapi_positions_to_json) with pgtrade's; out gets the differences and
 * their outcome.  On DB_OK the caller frees out.
 */
DbResult
db_record_positions(DbConn *db, int64_t listener_id, const char *account,
					const char *positions, PositionDiffList *out)
{
	char		idtext[24];
	const char *params[3] = {idtext, account, positions};
	PGresult   *res;
	DbResult	rc;
	int			i;

	memset(out, 0, sizeof(*out));
	snprintf(idtext, sizeof(idtext), "%lld", (long long) listener_id);
	rc = db_exec(db, "record_positions",
				 "SELECT drift_id, conid, symbol, pgtrade_quantity, "
				 "broker_quantity, outcome "
				 "FROM pgtrade.record_positions($1::bigint, $2, $3::jsonb)",
				 3, params, &res);
	if (rc != DB_OK)
		return rc;
	out->n = PQntuples(res);
	out->rows = xcalloc((size_t) out->n + 1, sizeof(PositionDiff));
	for (i = 0; i < out->n; i++)
	{
		PositionDiff *r = &out->rows[i];

		r->drift_id = get_value(res, i, 0);
		r->conid = get_value(res, i, 1);
		r->symbol = get_value(res, i, 2);
		r->pgtrade_quantity = get_value(res, i, 3);
		r->broker_quantity = get_value(res, i, 4);
		r->outcome = get_value(res, i, 5);
	}
	PQclear(res);
	return DB_OK;
}

/* Return a cell of a DbRows (NULL for SQL NULL or out of range). */
const char *
db_rows_get(const DbRows *r, int row, int col)
{
	if (row < 0 || row >= r->nrows || col < 0 || col >= r->ncols)
		return NULL;
	return r->cells[row * r->ncols + col];
}

/* Release a DbRows and zero it. */
void
db_rows_free(DbRows *r)
{
	int i;

	for (i = 0; i < r->nrows * r->ncols; i++)
		free(r->cells[i]);
	free(r->cells);
	memset(r, 0, sizeof(*r));
}
