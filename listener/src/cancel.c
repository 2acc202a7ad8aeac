/*-------------------------------------------------------------------------
 *
 * cancel.c
 *	  Send the cancels users asked for: DELETE the broker's order.
 *
 * pgtrade.cancel_order moves a working order to cancel_requested and
 * notifies the listener.  At the points where pending orders are
 * claimed, the listener lists the orders whose cancel is due
 * (pgtrade.orders_to_cancel: cancel_requested, with a broker order id,
 * not sent within CANCEL_RESEND_SECONDS, scaled) and sends one DELETE
 * each.  Every answer that comes back is recorded with
 * record_cancel_sent, error answers included, so a cancel is sent
 * again only after the resend interval; a request that got no answer
 * is not recorded and goes again at the next poll.
 *
 * The DELETE only asks: the order stays cancel_requested, and tracking
 * (track.c) moves it to cancelled or filled when the broker reports
 * the end.  The list is read, and its transaction ended, before the
 * first request leaves.
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listener.h"
#include "log.h"

/*
 * Return the payload to record for an answer (malloc'ed): the body when
 * it is JSON, else {"http_status": n, "body": "<text>"}.
 */
static char *
cancel_payload(const GwResponse *resp, bool is_json)
{
	char *quoted = NULL;
	char *payload;

	if (is_json)
		return xstrdup(resp->body);
	(void) cpapi_json_quote(resp->body ? resp->body : "", &quoted);
	payload = xasprintf("{\"http_status\":%ld,\"body\":%s}", resp->status,
						quoted ? quoted : "null");
	free(quoted);
	return payload;
}

/* Log what the gateway answered to the cancel of c. */
static void
cancel_log_answer(const CancelOrder *c, const char *ctx,
				  const GwResponse *resp, int parsed, const char *error)
{
	if (parsed == 0 && resp->status == 200)
		log_info(ctx, "cancel sent for broker order %s (cOID %s)",
				 c->broker_order_id, c->client_order_id);
	else if (parsed == 1)
		log_warning(ctx, "cancel of broker order %s (cOID %s) answered "
						 "HTTP %ld: %s",
					c->broker_order_id, c->client_order_id, resp->status,
					error);
	else
		log_warning(ctx, "cancel of broker order %s (cOID %s) answered "
						 "HTTP %ld%s",
					c->broker_order_id, c->client_order_id, resp->status,
					parsed < 0 ? " with a body that is not JSON" : "");
}

/* The gateway path of a broker order of account (malloc'ed). */
static char *
order_path(const char *account, const char *broker_order_id)
{
	char *acct = gateway_escape(account);
	char *bid = gateway_escape(broker_order_id);
	char *path = xasprintf("/iserver/account/%s/order/%s", acct, bid);

	free(bid);
	free(acct);
	return path;
}

/*
 * Send the cancel of one order and record the answer.  Returns DB_OK,
 * or what recording returned.
 */
static DbResult
cancel_send(Listener *L, const CancelOrder *c)
{
	char	   ctx[48];
	char	  *path = order_path(c->account_id, c->broker_order_id);
	GwResponse resp;
	GwResult   r = session_call(L, "DELETE", path, NULL, GW_PACE_NONE, &resp);
	char	  *error = NULL;
	char	  *payload;
	int		   parsed;
	DbResult   rc = DB_OK;

	snprintf(ctx, sizeof(ctx), "order %lld", (long long) c->order_id);
	if (r != GW_OK)
	{
		if (r != GW_INTERRUPTED)
			log_warning(ctx, "could not send the cancel of broker order %s: "
							 "%s%s%s; it is sent again at the next poll",
						c->broker_order_id, gateway_result_name(r),
						resp.error[0] ? ": " : "", resp.error);
		goto done;
	}
	parsed = cpapi_parse_error(resp.body, resp.len, &error, NULL);
	cancel_log_answer(c, ctx, &resp, parsed, error);
	payload = cancel_payload(&resp, parsed >= 0);
	rc = db_record_cancel_sent(L->db, c->order_id, payload);
	free(payload);
	free(error);
done:
	gateway_response_free(&resp);
	free(path);
	return rc;
}

/*
 * Cancel at the broker an order pgtrade holds as cancelled that the
 * broker's live orders show working: one the reconciliation found
 * nowhere and cancelled, which the gateway placed after all (its answer
 * lost, the listener killed while waiting).  The DELETE's answer is only
 * logged; the broker's next report of the order is recorded as any is.
 */
void
cancel_stray(Listener *L, int64_t order_id, const char *account,
			 const char *coid, const char *broker_order_id)
{
	char	   ctx[48];
	char	  *path = order_path(account, broker_order_id);
	GwResponse resp;
	GwResult   r;

	snprintf(ctx, sizeof(ctx), "order %lld", (long long) order_id);
	log_warning(ctx, "working at the broker as order %s (cOID %s) though "
					 "pgtrade holds it cancelled: sending its cancel",
				broker_order_id, coid);
	r = session_call(L, "DELETE", path, NULL, GW_PACE_NONE, &resp);
	if (r != GW_OK)
		log_warning(ctx, "could not send the cancel of broker order %s: %s; "
						 "sent again while it shows working",
					broker_order_id, gateway_result_name(r));
	else
		log_info(ctx, "cancel of broker order %s answered HTTP %ld",
				 broker_order_id, resp.status);
	gateway_response_free(&resp);
	free(path);
}

/*
 * Send every cancel that is due on the accounts served, one DELETE per
 * order, while the session and the database stay up.
 */
void
cancel_send_due(Listener *L)
{
	StrList	   served = {0};
	CancelList list;
	char	   resend[48];
	DbResult   rc;
	int		   i;

	leases_served(L, &served);
	snprintf(resend, sizeof(resend), "%.3f seconds",
			 CANCEL_RESEND_SECONDS * L->cfg.time_scale);
	rc = served.n > 0 ? db_orders_to_cancel(L->db, &served, resend, &list)
					  : DB_FAILED;
	strlist_free(&served);
	if (rc == DB_LOST)
		listener_db_lost(L);
	if (rc != DB_OK)
		return;
	for (i = 0; i < list.n && rc != DB_LOST && !listener_stop_asked() &&
		 session_ready(L);
		 i++)
	{
		rc = cancel_send(L, &list.rows[i]);
		if (rc == DB_LOST)
			listener_db_lost(L);
	}
	cancel_list_free(&list);
}
