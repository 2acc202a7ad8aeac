/*-------------------------------------------------------------------------
 *
 * modify.c
 *	  Send the modifications users asked for: POST the full order body to
 *	  the broker's order, answer its prompts, record the outcome.
 *
 * pgtrade.modify_order records a request (status requested) and
 * notifies the listener.  Next to the cancels, the listener lists what
 * is due (pgtrade.modifications_due) and, for each requested one:
 *	1. marks it sent (record_modification_sent), committed before the
 *	   POST, so a request is posted at most once;
 *	2. posts POST /iserver/account/{acct}/order/{broker order id} with
 *	   the single order object carrying every field with the new values
 *	   (no cOID: the path names the order);
 *	3. answers prompts with the allow list of placements (confirm_ids);
 *	4. records applied (shape (a)) or refused (an error text, a prompt
 *	   not on the allow list, a server prompt) with record_modification.
 * A request that got no clear answer (timeout, transport failure, 5xx,
 * session loss) stays sent.  Once it has been sent CANCEL_RESEND_SECONDS
 * (scaled) ago it is settled from the broker's live orders, never sent
 * again: the live order showing the new totalSize and prices means
 * applied, anything else refused, with what the broker shows.
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

/* Columns of pgtrade.modifications_due, in the order selected. */
enum
{
	MC_ID,
	MC_STATUS,
	MC_ORDER,
	MC_COID,
	MC_ACCOUNT,
	MC_BROKER_ID,
	MC_CONID,
	MC_SIDE,
	MC_TYPE,
	MC_QTY,
	MC_LIMIT,
	MC_STOP,
	MC_TIF,
	MC_RTH,
	MC_OLD_QTY,
	MC_OLD_LIMIT,
	MC_OLD_STOP
};

/* One due modification, borrowed from the DbRows it came from. */
typedef struct Modification
{
	const DbRows *rows;
	int			  row;
	char		  ctx[48]; /* "order 42" */
	StrList		  answers; /* raw JSON of every parsed answer */
} Modification;

/* Return column c of the modification. */
static const char *
mod_get(const Modification *m, int c)
{
	return db_rows_get(m->rows, m->row, c);
}

/* Record the outcome of a modification.  Returns what recording did. */
static DbResult
modify_record(Listener *L, Modification *m, bool applied, const char *reason,
			  const char *broker_status, const char *payload)
{
	const char *params[5] = {mod_get(m, MC_ID), applied ? "t" : "f", reason,
							 broker_status, payload};
	DbRows		out;
	DbResult	rc;

	rc = db_rows(L->db, "record_modification",
				 "SELECT pgtrade.record_modification($1::bigint, "
				 "$2::boolean, $3, $4, $5::jsonb)",
				 5, params, &out);
	db_rows_free(&out);
	if (rc == DB_OK && applied)
		log_info(m->ctx, "modification %s applied: quantity %s%s%s%s%s",
				 mod_get(m, MC_ID), mod_get(m, MC_QTY),
				 mod_get(m, MC_LIMIT) ? ", limit " : "",
				 mod_get(m, MC_LIMIT) ? mod_get(m, MC_LIMIT) : "",
				 mod_get(m, MC_STOP) ? ", stop " : "",
				 mod_get(m, MC_STOP) ? mod_get(m, MC_STOP) : "");
	else if (rc == DB_OK)
		log_warning(m->ctx, "modification %s refused: %s", mod_get(m, MC_ID),
					reason ? reason : "no reason given");
	return rc;
}

/* Build {"request": body, "responses": [...]} (malloc'ed). */
static char *
modify_payload(const Modification *m, const char *body)
{
	char *answers = strlist_join(&m->answers, ",");
	char *payload = xasprintf("{\"request\":%s,\"responses\":[%s]}",
							  body ? body : "null", answers);

	free(answers);
	return payload;
}

/* Build the single order body of the modification (malloc'ed), or NULL. */
static char *
modify_body(const Modification *m, char *err, size_t errlen)
{
	const char *conid = mod_get(m, MC_CONID);
	CpapiTicket t = {
		.account = mod_get(m, MC_ACCOUNT),
		.coid = NULL,
		.conid = conid ? strtoll(conid, NULL, 10) : 0,
		.side = mod_get(m, MC_SIDE),
		.quantity = mod_get(m, MC_QTY),
		.order_type = mod_get(m, MC_TYPE),
		.limit_price = mod_get(m, MC_LIMIT),
		.stop_price = mod_get(m, MC_STOP),
		.tif = mod_get(m, MC_TIF),
		.outside_rth = mod_get(m, MC_RTH) &&
			strcmp(mod_get(m, MC_RTH), "t") == 0,
	};
	char *body = NULL;

	if (cpapi_build_ticket(&t, &body, err, errlen) != 0)
		return NULL;
	return body;
}

/* Decline a prompt at the gateway; the answer is only logged. */
static void
modify_decline(Listener *L, const Modification *m, const char *reply_id)
{
	GwResponse resp;
	char	  *esc = gateway_escape(reply_id);
	char	  *path = xasprintf("/iserver/reply/%s", esc);
	GwResult   r = gateway_call(L->gw, "POST", path,
								"{\"confirmed\":false}", GW_PACE_NONE, &resp);

	log_debug(m->ctx, "declined prompt %s: %s, HTTP %ld", reply_id,
			  gateway_result_name(r), resp.status);
	gateway_response_free(&resp);
	free(path);
	free(esc);
}

/*
 * Send one request of the chain and parse its answer.  Returns true with
 * *r filled; false when the answer was not clear (logged), leaving the
 * modification sent.
 */
static bool
modify_exchange(Listener *L, Modification *m, const char *path,
				const char *body, CpapiOrderReply *r, long *status)
{
	GwResponse resp;
	GwResult   g = session_call(L, "POST", path, body, GW_PACE_NONE, &resp);
	char	   err[CPAPI_ERR_LEN];
	char	  *why = NULL;

	*status = resp.status;
	if (g != GW_OK)
		why = xasprintf("%s%s%s", gateway_result_name(g),
						resp.error[0] ? ": " : "", resp.error);
	else if (resp.status >= 500 || resp.status == 429 ||
			 resp.status == 401)
		why = xasprintf("HTTP %ld", resp.status);
	else if (cpapi_parse_order_reply(resp.body, resp.len, r, err,
									 sizeof(err)) != 0)
		why = xasprintf("HTTP %ld with %s", resp.status, err);
	else
		strlist_add(&m->answers, resp.body);
	gateway_response_free(&resp);
	if (why == NULL)
		return true;
	log_warning(m->ctx, "modification %s: no clear answer from the gateway "
						"(%s); it is settled from the live orders later, "
						"not sent again",
				mod_get(m, MC_ID), why);
	listener_set_error(L, "%s: modification without a clear answer (%s)",
					   m->ctx, why);
	free(why);
	return false;
}

/*
 * Handle a prompt of the chain: returns the next path to post to
 * (malloc'ed) after confirming it, or NULL after declining and
 * recording the refusal.
 */
static char *
modify_prompt(Listener *L, Modification *m, const CpapiOrderReply *r,
			  int round, const char *body, DbResult *rc)
{
	char *text = prompt_text(r);
	char *why = NULL;
	char *esc;
	char *path;

	char	*asked = NULL;
	DbResult asked_rc = db_cancel_asked_for(
		L->db, L->listener_id, strtoll(mod_get(m, MC_ORDER), NULL, 10), &asked);

	/*
	 * The order's cancel requested meanwhile: the modification is not
	 * confirmed (it could fill the order the trader is cancelling), nor
	 * when the database cannot say (fail closed: it is refused).
	 */
	if (asked_rc != DB_OK)
		why = xasprintf("confirmation declined: could not read whether the "
						"order's cancel was requested; prompt %s",
						text);
	else if (asked != NULL)
		why = xasprintf("confirmation declined: %s; prompt %s", asked, text);
	else if (!prompt_allowed(L, r))
		why = xasprintf("confirmation prompt not allowed: %s", text);
	else if (round >= ORDER_PROMPT_ROUNDS_MAX)
		why = xasprintf("more than %d confirmation prompts; last: %s",
						ORDER_PROMPT_ROUNDS_MAX, text);
	if (why != NULL)
	{
		char *payload = modify_payload(m, body);

		modify_decline(L, m, r->reply_id);
		*rc = modify_record(L, m, false, why, NULL, payload);
		free(payload);
		free(why);
		free(text);
		free(asked);
		return NULL;
	}
	log_info(m->ctx, "modification %s: confirming prompt %s",
			 mod_get(m, MC_ID), text);
	free(text);
	esc = gateway_escape(r->reply_id);
	path = xasprintf("/iserver/reply/%s", esc);
	free(esc);
	return path;
}

/*
 * Record a final answer (accepted, error, server prompt).  Returns
 * false when the answer leaves the outcome open (a session error).
 */
static bool
modify_answer(Listener *L, Modification *m, const CpapiOrderReply *r,
			  long status, const char *body, DbResult *rc)
{
	char		  *payload = modify_payload(m, body);
	CpapiErrorKind kind;
	char		  *why = NULL;

	if (r->kind == CPAPI_REPLY_ACCEPTED)
		*rc = modify_record(L, m, true, NULL,
							r->order_status ? r->order_status : "Submitted",
							payload);
	else if (r->kind == CPAPI_REPLY_ERROR &&
			 (kind = cpapi_classify_error(status, r->error)) != CPAPI_ERR_OTHER &&
			 kind != CPAPI_ERR_DUPLICATE_COID)
	{
		log_warning(m->ctx, "modification %s: %s: %s; it is settled from "
							"the live orders later",
					mod_get(m, MC_ID), cpapi_error_kind_name(kind), r->error);
		free(payload);
		return false;
	}
	else
	{
		if (r->kind == CPAPI_REPLY_SERVER_PROMPT)
			why = xasprintf("server prompt not answered: %s", r->error);
		*rc = modify_record(L, m, false, why ? why : r->error, NULL, payload);
	}
	free(why);
	free(payload);
	return true;
}

/* Post the modification and follow its prompt chain to an outcome. */
static DbResult
modify_run(Listener *L, Modification *m, const char *body)
{
	char		   *acct = gateway_escape(mod_get(m, MC_ACCOUNT));
	char		   *bid = gateway_escape(mod_get(m, MC_BROKER_ID));
	char		   *path = xasprintf("/iserver/account/%s/order/%s", acct, bid);
	const char	   *send = body;
	DbResult		rc = DB_OK;
	CpapiOrderReply r;
	long			status;
	int				round;

	for (round = 1;; round++)
	{
		char *next;

		memset(&r, 0, sizeof(r));
		if (!modify_exchange(L, m, path, send, &r, &status))
			break;
		if (r.kind != CPAPI_REPLY_PROMPT)
		{
			(void) modify_answer(L, m, &r, status, body, &rc);
			cpapi_order_reply_free(&r);
			break;
		}
		next = modify_prompt(L, m, &r, round, body, &rc);
		cpapi_order_reply_free(&r);
		if (next == NULL)
			break;
		free(path);
		path = next;
		send = "{\"confirmed\":true}";
	}
	free(path);
	free(bid);
	free(acct);
	return rc;
}

/* Mark one requested modification sent, then post it. */
static DbResult
modify_send(Listener *L, Modification *m)
{
	char		err[CPAPI_ERR_LEN];
	char		lid[24];
	const char *params[2] = {mod_get(m, MC_ID), lid};
	char	   *body = modify_body(m, err, sizeof(err));
	DbRows		out;
	DbResult	rc;
	bool		sent;

	if (body == NULL)
	{
		char *why = xasprintf("cannot build the order body: %s", err);

		rc = modify_record(L, m, false, why, NULL, NULL);
		free(why);
		return rc;
	}
	snprintf(lid, sizeof(lid), "%lld", (long long) L->listener_id);
	rc = db_rows(L->db, "record_modification_sent",
				 "SELECT pgtrade.record_modification_sent($1::bigint, "
				 "$2::bigint)",
				 2, params, &out);
	sent = rc == DB_OK && db_rows_get(&out, 0, 0) != NULL &&
		strcmp(db_rows_get(&out, 0, 0), "t") == 0;
	db_rows_free(&out);
	if (sent)
	{
		log_info(m->ctx, "modification %s sent for broker order %s: "
						 "quantity %s -> %s%s%s%s%s",
				 mod_get(m, MC_ID), mod_get(m, MC_BROKER_ID),
				 mod_get(m, MC_OLD_QTY), mod_get(m, MC_QTY),
				 mod_get(m, MC_LIMIT) ? ", limit " : "",
				 mod_get(m, MC_LIMIT) ? mod_get(m, MC_LIMIT) : "",
				 mod_get(m, MC_STOP) ? ", stop " : "",
				 mod_get(m, MC_STOP) ? mod_get(m, MC_STOP) : "");
		rc = modify_run(L, m, body);
	}
	free(body);
	return rc;
}

/* Return a JSON string or number as decimal text (malloc'ed), or NULL. */
static char *
json_decimal_text(const json_t *v)
{
	char buf[CPAPI_DECIMAL_LEN];

	if (json_is_string(v) && cpapi_decimal_valid(json_string_value(v)))
		return xstrdup(json_string_value(v));
	if (json_is_integer(v))
		return xasprintf("%lld", (long long) json_integer_value(v));
	if (json_is_real(v) &&
		cpapi_format_real(json_real_value(v), buf, sizeof(buf)) == 0)
		return xstrdup(buf);
	return NULL;
}

/* Return true when a and b are both NULL or equal decimals. */
static bool
same_decimal(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return cpapi_decimal_equal(a, b);
}

/*
 * Compare a live order with a set of terms (quantity, limit, stop):
 * price is the limit (LMT, STOP_LIMIT) or the stop (STP), auxPrice the
 * stop of STOP_LIMIT.
 */
static bool
live_has_terms(const Modification *m, const char *size, const char *price,
			   const char *aux, int qty_col, int limit_col, int stop_col)
{
	const char *type = mod_get(m, MC_TYPE);
	const char *want_price = strcmp(type, "stop") == 0
		? mod_get(m, stop_col)
		: mod_get(m, limit_col);

	if (!same_decimal(size, mod_get(m, qty_col)))
		return false;
	if (strcmp(type, "market") != 0 && !same_decimal(price, want_price))
		return false;
	if (strcmp(type, "stop_limit") == 0 &&
		!same_decimal(aux, mod_get(m, stop_col)))
		return false;
	return true;
}

/*
 * Settle a modification whose answer was lost from what the broker's
 * live orders show for the order's cOID.
 */
static DbResult
modify_reconcile(Listener *L, Modification *m)
{
	BrokerMatch m2;
	json_t	   *row = NULL;
	char	   *price = NULL;
	char	   *aux = NULL;
	char	   *why = NULL;
	DbResult	rc = DB_OK;

	if (broker_find(L, mod_get(m, MC_ACCOUNT), mod_get(m, MC_COID), &m2) != 0)
		return DB_OK; /* the broker could not be asked: later */
	if (m2.in_live && m2.payload != NULL)
		row = json_loads(m2.payload, 0, NULL);
	if (row != NULL)
	{
		price = json_decimal_text(json_object_get(row, "price"));
		aux = json_decimal_text(json_object_get(row, "auxPrice"));
	}
	if (!m2.in_live)
		why = xstrdup("no answer, and the order is not among the broker's "
					  "live orders; not sent again");
	else if (live_has_terms(m, m2.total_size, price, aux, MC_QTY, MC_LIMIT,
							MC_STOP))
		rc = modify_record(L, m, true, "no answer; the broker's live order "
									   "shows the new terms",
						   m2.status, m2.payload);
	else
		why = xasprintf("no answer, and the broker's live order shows "
						"quantity %s%s%s%s%s (%s); not sent again",
						m2.total_size ? m2.total_size : "?",
						price ? ", price " : "", price ? price : "",
						aux ? ", auxPrice " : "", aux ? aux : "",
						live_has_terms(m, m2.total_size, price, aux,
									   MC_OLD_QTY, MC_OLD_LIMIT, MC_OLD_STOP)
							? "the old terms"
							: "neither the old nor the new terms");
	if (why != NULL)
		rc = modify_record(L, m, false, why, m2.status, m2.payload);
	free(why);
	free(price);
	free(aux);
	json_decref(row);
	broker_match_free(&m2);
	return rc;
}

/*
 * Send every modification that is due on the accounts served, and settle
 * those whose answer was lost, while the session and database stay up.
 */
void
modify_send_due(Listener *L)
{
	StrList		served = {0};
	char		resend[48];
	char	   *arr;
	const char *params[2];
	DbRows		rows;
	DbResult	rc;
	int			i;

	leases_served(L, &served);
	if (served.n == 0)
	{
		strlist_free(&served);
		return;
	}
	arr = db_text_array(&served);
	snprintf(resend, sizeof(resend), "%.3f seconds",
			 CANCEL_RESEND_SECONDS * L->cfg.time_scale);
	params[0] = arr;
	params[1] = resend;
	rc = db_rows(L->db, "modifications_due",
				 "SELECT modification_id, status, order_id, client_order_id, "
				 "account_id, broker_order_id, conid, side, order_type, "
				 "quantity, limit_price, stop_price, tif, outside_rth, "
				 "old_quantity, old_limit_price, old_stop_price "
				 "FROM pgtrade.modifications_due($1::text[], $2::interval)",
				 2, params, &rows);
	free(arr);
	strlist_free(&served);
	if (rc == DB_LOST)
		listener_db_lost(L);
	for (i = 0; rc == DB_OK && i < rows.nrows && !listener_stop_asked() &&
		 session_ready(L);
		 i++)
	{
		Modification m = {.rows = &rows, .row = i};

		snprintf(m.ctx, sizeof(m.ctx), "order %s", mod_get(&m, MC_ORDER));
		if (strcmp(mod_get(&m, MC_STATUS), "requested") == 0)
			rc = modify_send(L, &m);
		else
			rc = modify_reconcile(L, &m);
		strlist_free(&m.answers);
		if (rc == DB_LOST)
			listener_db_lost(L);
		if (rc == DB_FAILED)
			rc = DB_OK; /* logged; go on with the others */
	}
	db_rows_free(&rows);
}
