/*-------------------------------------------------------------------------
 *
 * bracket.c
 *	  Send a bracket's parent and children in one request and record
 *	  every answer.
 *
 * pgtrade.claim_orders claims a bracket's parent together with its
 * pending children (all three move to submitting in one committed
 * transaction), counts them, and never claims a child alone.  When the
 * claimed order has children (pgtrade.bracket_children, in submitting;
 * not asked when the claim counted none), the request body holds the
 * parent's order body followed by each child's: {"orders": [parent,
 * take-profit, stop-loss]}, the children with
 * parentId = the parent's cOID.  Each child keeps its own cOID as well,
 * although the gateway's documentation says children may omit it:
 * pgtrade joins fills and looks orders up by cOID (order_ref), so every
 * order it sends carries one.
 *
 * The accepted answer has one element per order body; the parent's is
 * recorded by order.c as for any order, each child's here, matched by
 * local_order_id (else by position).  A child whose answer element is
 * missing stays submitting and is looked up by cOID like any other.  A
 * refused request is recorded on the parent, and pgtrade rejects the
 * children sent with it.
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "listener.h"
#include "log.h"

/* Columns of pgtrade.bracket_children, in the order selected. */
enum
{
	BC_ID,
	BC_COID,
	BC_SIDE,
	BC_QTY,
	BC_TYPE,
	BC_LIMIT,
	BC_STOP,
	BC_TIF,
	BC_RTH,
	BC_STATUS
};

/*
 * Read the children of parent_id into *rows.  Returns DB_OK (rows may
 * be empty), or what the query returned.
 */
static DbResult
bracket_children(Listener *L, int64_t parent_id, DbRows *rows)
{
	char		id[24];
	const char *params[1] = {id};

	snprintf(id, sizeof(id), "%lld", (long long) parent_id);
	return db_rows(L->db, "bracket_children",
				   "SELECT order_id, client_order_id, side, quantity, "
				   "order_type, limit_price, stop_price, tif, outside_rth, "
				   "status FROM pgtrade.bracket_children($1::bigint)",
				   1, params, rows);
}

/* Return true when child row i of rows is claimed and not sent yet. */
static bool
bracket_child_sendable(const DbRows *rows, int i)
{
	const char *status = db_rows_get(rows, i, BC_STATUS);

	return status != NULL && strcmp(status, "submitting") == 0;
}

/*
 * Build the request body for a claimed order: its single order body, or,
 * for a bracket's parent, the parent's order body and its children's.
 * Returns 0 with *body malloc'ed, or -1 with err set (a database
 * failure included: nothing is sent without knowing the children).
 */
int
bracket_build_body(Listener *L, const ClaimedOrder *o, const CpapiTicket *t,
				   char **body, char *err, size_t errlen)
{
	DbRows		 rows;
	CpapiTicket *all;
	int			 n = 1;
	int			 i;
	int			 rc;

	*body = NULL;
	if (o->children == 0)
		return cpapi_build_orders_body(t, 1, body, err, errlen);
	if (bracket_children(L, o->order_id, &rows) != DB_OK)
	{
		snprintf(err, errlen, "could not read the order's bracket children");
		return -1;
	}
	all = xcalloc((size_t) rows.nrows + 1, sizeof(CpapiTicket));
	all[0] = *t;
	for (i = 0; i < rows.nrows; i++)
	{
		const char *rth = db_rows_get(&rows, i, BC_RTH);

		if (!bracket_child_sendable(&rows, i))
			continue;
		all[n] = *t;
		all[n].coid = db_rows_get(&rows, i, BC_COID);
		all[n].parent_id = o->client_order_id;
		all[n].side = db_rows_get(&rows, i, BC_SIDE);
		all[n].quantity = db_rows_get(&rows, i, BC_QTY);
		all[n].order_type = db_rows_get(&rows, i, BC_TYPE);
		all[n].limit_price = db_rows_get(&rows, i, BC_LIMIT);
		all[n].stop_price = db_rows_get(&rows, i, BC_STOP);
		all[n].tif = db_rows_get(&rows, i, BC_TIF);
		all[n].outside_rth = rth != NULL && strcmp(rth, "t") == 0;
		n++;
	}
	rc = cpapi_build_orders_body(all, n, body, err, errlen);
	if (rc == 0 && n > 1)
		log_info("bracket", "order %lld: sending it with %d child order%s "
							"in one request",
				 (long long) o->order_id, n - 1, n == 2 ? "" : "s");
	free(all);
	db_rows_free(&rows);
	return rc;
}

/* Return the text of a JSON string or integer member (malloc'ed). */
static char *
json_member_text(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);

	if (json_is_string(v))
		return xstrdup(json_string_value(v));
	if (json_is_integer(v))
		return xasprintf("%lld", (long long) json_integer_value(v));
	return NULL;
}

/*
 * Find the answer element of a child: the one whose local_order_id is
 * its cOID, else the element at its position (1 + its index among the
 * order bodies sent).
 */
static const json_t *
bracket_answer_of(const json_t *answer, const char *coid, size_t position)
{
	size_t		  i;
	const json_t *e;

	json_array_foreach(answer, i, e)
	{
		const json_t *local = json_object_get(e, "local_order_id");

		if (json_is_string(local) && strcmp(json_string_value(local), coid) == 0)
			return e;
	}
	e = json_array_get(answer, position);
	return json_object_get(e, "local_order_id") == NULL ? e : NULL;
}

/* Record one child's acceptance from its answer element. */
static DbResult
bracket_record_child(Listener *L, const DbRows *rows, int i,
					 const json_t *e)
{
	const char *id = db_rows_get(rows, i, BC_ID);
	char		ctx[48];
	char	   *broker_id = json_member_text(e, "order_id");
	char	   *status = json_member_text(e, "order_status");
	char	   *payload = json_dumps(e, JSON_COMPACT);
	char	   *now = NULL;
	DbResult	rc = DB_OK;

	snprintf(ctx, sizeof(ctx), "order %s", id);
	if (broker_id == NULL || !cpapi_order_id_valid(broker_id))
		log_warning(ctx, "no valid broker order id in the bracket answer "
						 "(%.40s); it is looked up by cOID %s",
					broker_id ? broker_id : "none",
					db_rows_get(rows, i, BC_COID));
	else
	{
		rc = db_record_submission(L->db, strtoll(id, NULL, 10), broker_id,
								  status ? status : "Submitted", payload,
								  &now);
		if (rc == DB_OK)
			log_info(ctx, "accepted with its parent as broker order %s, "
						  "broker status %s; order is %s",
					 broker_id, status ? status : "Submitted",
					 now ? now : "?");
	}
	free(now);
	free(payload);
	free(status);
	free(broker_id);
	return rc;
}

/*
 * Record the answers of a bracket's children from the accepted answer
 * (raw JSON) to the request that carried them.  Returns DB_OK, or
 * DB_LOST / DB_FAILED when a child could not be recorded (it stays
 * submitting and is reconciled by cOID).
 */
DbResult
bracket_record_children(Listener *L, const ClaimedOrder *o,
						const char *answer_text)
{
	DbRows	 rows;
	json_t	*answer;
	DbResult rc;
	int		 i;
	size_t	 position = 1;

	if (o->children == 0)
		return DB_OK; /* claimed without children */
	rc = bracket_children(L, o->order_id, &rows);
	if (rc != DB_OK || rows.nrows == 0)
	{
		db_rows_free(&rows);
		return rc;
	}
	answer = answer_text ? json_loads(answer_text, 0, NULL) : NULL;
	for (i = 0; rc != DB_LOST && i < rows.nrows; i++)
	{
		const json_t *e;
		DbResult	  one;

		if (!bracket_child_sendable(&rows, i))
			continue;
		e = json_is_array(answer)
			? bracket_answer_of(answer, db_rows_get(&rows, i, BC_COID),
								position)
			: NULL;
		position++;
		if (e == NULL)
		{
			log_warning("bracket", "order %s: no answer element for child "
								   "cOID %s; it is looked up by cOID",
						db_rows_get(&rows, i, BC_ID),
						db_rows_get(&rows, i, BC_COID));
			continue;
		}
		one = bracket_record_child(L, &rows, i, e);
		if (one != DB_OK)
			rc = one;
	}
	json_decref(answer);
	db_rows_free(&rows);
	return rc;
}

/*
 * Tell whether a submitting order the broker does not show must be left
 * alone rather than marked unknown: a bracket child whose parent is in
 * the retry slot (it is sent again with its parent), or whose status
 * moved on since the in-flight list was read (its parent's resend
 * recorded it).
 */
bool
bracket_child_settles_later(Listener *L, const InFlightOrder *row)
{
	char		id[24];
	const char *params[1] = {id};
	DbRows		parent;
	DbRows		rows;
	int64_t		parent_id = 0;
	bool		later = false;
	int			i;

	snprintf(id, sizeof(id), "%lld", (long long) row->order_id);
	if (db_rows(L->db, "bracket_parent_of",
				"SELECT pgtrade.bracket_parent_of($1::bigint)", 1, params,
				&parent) != DB_OK)
		return true; /* cannot tell: decide at the next reconciliation */
	if (db_rows_get(&parent, 0, 0) != NULL)
		parent_id = strtoll(db_rows_get(&parent, 0, 0), NULL, 10);
	db_rows_free(&parent);
	if (parent_id == 0)
		return false;
	if (L->retry.active && L->retry.order.order_id == parent_id)
		return true;
	if (bracket_children(L, parent_id, &rows) != DB_OK)
		return true;
	for (i = 0; i < rows.nrows; i++)
		if (strcmp(db_rows_get(&rows, i, BC_ID), id) == 0 &&
			strcmp(db_rows_get(&rows, i, BC_STATUS), "submitting") != 0)
			later = true;
	db_rows_free(&rows);
	return later;
}

/*
 * Watch the cancelled children of a parent cancelled as not found at the
 * broker (track_note_ended), as the parent is: placed late with it,
 * they are cancelled at the broker when its live orders show them.
 */
void
bracket_note_children_ended(Listener *L, int64_t parent_id,
							const char *account)
{
	DbRows rows;
	int	   i;

	if (bracket_children(L, parent_id, &rows) != DB_OK)
		return;
	for (i = 0; i < rows.nrows; i++)
	{
		const char *status = db_rows_get(&rows, i, BC_STATUS);
		const char *coid = db_rows_get(&rows, i, BC_COID);
		int64_t		id = strtoll(db_rows_get(&rows, i, BC_ID), NULL, 10);

		if (status != NULL && coid != NULL &&
			strcmp(status, "cancelled") == 0)
			track_note_ended(L, account, coid, id, "cancelled");
	}
	db_rows_free(&rows);
}
