/*-------------------------------------------------------------------------
 *
 * order.c
 *	  Submit one claimed order: POST it, answer its prompts, record the
 *	  outcome.
 *
 * The claim was committed before we get here, so the order is durably
 * "submitting" before any byte leaves.  An order is sent once, with its
 * cOID; the only second send is the same order body with the same cOID, and
 * only after the broker was asked and did not have it (see track.c).
 *
 * An instrument registered without a conid is looked up first with
 * GET /iserver/secdef/search (after the claim, so no transaction is
 * open).  Only a unique stock listing of the exact symbol is taken:
 * one match, or among several the single US listing.  It is cached
 * with record_conid before the order is built; no match, an ambiguous
 * answer or a failed lookup rejects the order, and nothing is posted.
 *
 * Outcomes:
 *	accepted (a)	record_submission with the broker order id and status
 *	prompt (b)		declined, and the order cancelled, when a cancel was
 *					asked meanwhile; else confirmed only when every message
 *					id is on the allow list, otherwise declined and
 *					recorded as a rejection
 *	error (c)		a duplicate cOID is adopted after checking account,
 *					contract, side and quantity, else the order becomes
 *					unknown; any other error text is a rejection
 *	server prompt (d) recorded as a rejection, logged as an ERROR
 *	no clear answer	(timeout, transport failure, 5xx, session loss,
 *					unreadable body) the order stays submitting and is
 *					looked up by cOID before anything else is claimed
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listener.h"
#include "log.h"

/* What one submission gathered, for the log and the payload. */
typedef struct Submission
{
	const ClaimedOrder *o;
	char				ctx[48];   /* "order 42" */
	char			   *body;	   /* the order body we POST */
	StrList				answers;   /* raw JSON of every parsed answer */
	StrList				confirmed; /* message ids we confirmed */
} Submission;

/* Build {"request": body, "responses": [...], "confirmed": [...]}. */
static char *
submission_payload(const Submission *s)
{
	char *answers = strlist_join(&s->answers, ",");
	char *ids = NULL;
	char *payload;

	cpapi_build_id_list_body("confirmed", s->confirmed.items,
							 s->confirmed.n, &ids);
	/* ids is {"confirmed":[...]}: splice its member into our object */
	ids[strlen(ids) - 1] = '\0';
	payload = xasprintf("{\"request\":%s,\"responses\":[%s],%s}",
						s->body ? s->body : "null", answers, ids + 1);
	free(answers);
	free(ids);
	return payload;
}

/* Record a rejection with the gathered payload. */
static SubmitOutcome
submission_reject(Listener *L, Submission *s, const char *reason)
{
	char	*payload = submission_payload(s);
	DbResult rc = db_record_rejection(L->db, s->o->order_id, reason,
									  payload);

	free(payload);
	log_warning(s->ctx, "rejected: %s", reason);
	if (rc != DB_OK)
	{
		/* keep the verdict so the reconciliation can still record it */
		free(L->retry.rejection);
		L->retry.rejection = xstrdup(reason);
		return rc == DB_LOST ? SUBMIT_DB_LOST : SUBMIT_UNCERTAIN;
	}
	retry_clear(L);
	return SUBMIT_RECORDED;
}

/*
 * Acceptances of a batch of claimed orders, recorded together after the
 * batch's POSTs (accepts_flush).  Until then the orders are submitting
 * in the database; if the process dies first, the reconciliation finds
 * them at the broker by cOID and adopts them.
 */
struct AcceptBatch
{
	int		 n;
	int		 cap;
	int64_t *order_ids;
	StrList	 broker_ids;
	StrList	 statuses;
	StrList	 payloads;
	StrList	 accounts; /* for the ended-order memory */
	StrList	 coids;
	StrList	 notes; /* the broker's "text", or "" */
};

/* Empty an acceptance batch. */
static void
accepts_clear(AcceptBatch *a)
{
	free(a->order_ids);
	strlist_free(&a->broker_ids);
	strlist_free(&a->statuses);
	strlist_free(&a->payloads);
	strlist_free(&a->accounts);
	strlist_free(&a->coids);
	strlist_free(&a->notes);
	memset(a, 0, sizeof(*a));
}

/* Log and remember what an acceptance recorded: status is the order's. */
static void
accept_recorded(Listener *L, const char *ctx, const char *account,
				const char *coid, int64_t order_id, const char *broker_id,
				const char *broker_status, const char *note,
				const char *status)
{
	if (status != NULL && strcmp(status, "working") != 0)
		track_note_ended(L, account, coid, order_id, status);
	log_info(ctx, "accepted as broker order %s, broker status %s; "
				  "order is %s%s%s",
			 broker_id, broker_status, status ? status : "?",
			 note != NULL && note[0] ? "; note: " : "",
			 note != NULL ? note : "");
}

/*
 * Log and remember what became of a batch's acceptances: statuses[i] is
 * the order's status after, or NULL when it was not recorded.  Frees
 * the statuses.
 */
static void
accepts_report(Listener *L, const AcceptBatch *a, char **statuses)
{
	int i;

	for (i = 0; i < a->n; i++)
	{
		char ctx[48];

		snprintf(ctx, sizeof(ctx), "order %lld", (long long) a->order_ids[i]);
		if (statuses != NULL && statuses[i] != NULL)
			accept_recorded(L, ctx, a->accounts.items[i], a->coids.items[i],
							a->order_ids[i], a->broker_ids.items[i],
							a->statuses.items[i], a->notes.items[i],
							statuses[i]);
		else
			log_warning(ctx,
						"accepted as broker order %s (%s) but not recorded; "
						"it will be found by its cOID %s",
						a->broker_ids.items[i], a->statuses.items[i],
						a->coids.items[i]);
		if (statuses != NULL)
			free(statuses[i]);
	}
	free(statuses);
}

/* Ask for a reconciliation after acceptances went unrecorded. */
static void
accepts_failed(Listener *L, DbResult rc)
{
	L->need_reconcile = true;
	L->next_reconcile = mono_now();
	if (rc == DB_LOST)
		listener_db_lost(L);
}

/*
 * Record a batch's acceptances on the main session and wait: in one
 * statement, or one by one when that fails for a reason other than a
 * lost connection, so that one bad row does not hold up the others.
 * Returns the worst outcome.
 */
static DbResult
accepts_record_now(Listener *L, const AcceptBatch *a)
{
	char   **statuses = NULL;
	DbResult rc = DB_FAILED;
	int		 i;

	if (a->n > 1)
		rc = db_record_submissions(L->db, a->n, a->order_ids,
								   &a->broker_ids, &a->statuses,
								   &a->payloads, &statuses);
	if (rc == DB_FAILED)
	{
		statuses = xcalloc((size_t) a->n, sizeof(char *));
		rc = DB_OK;
		for (i = 0; i < a->n && rc != DB_LOST; i++)
		{
			DbResult one = db_record_submission(
				L->db, a->order_ids[i], a->broker_ids.items[i],
				a->statuses.items[i], a->payloads.items[i], &statuses[i]);

			if (one != DB_OK)
			{
				free(statuses[i]);
				statuses[i] = NULL;
				rc = one;
			}
			else if (statuses[i] == NULL)
				statuses[i] = xstrdup("?");
		}
	}
	accepts_report(L, a, statuses);
	return rc;
}

/*
 * Wait for the batch the second session is recording, if any, and
 * report it.  When its statement failed (it was rolled back), the batch
 * is recorded again on the main session; when the second session was
 * lost, whether it committed is not known: the orders are reconciled,
 * which finds them either recorded or at the broker by cOID.
 */
void
accepts_settle(Listener *L)
{
	AcceptBatch *a = L->recording;
	char	   **statuses = NULL;
	DbResult	 rc;

	if (a == NULL)
		return;
	L->recording = NULL;
	rc = db_record_submissions_wait(L->rec, a->n, &statuses);
	if (rc == DB_OK)
		accepts_report(L, a, statuses);
	else if (rc == DB_FAILED && db_is_connected(L->db))
		rc = accepts_record_now(L, a);
	else
		accepts_report(L, a, NULL);
	if (rc != DB_OK)
		accepts_failed(L, rc == DB_LOST && db_is_connected(L->db) ? DB_FAILED : rc);
	accepts_clear(a);
	free(a);
}

/*
 * Return true when the second session can take a batch, connecting it
 * first when needed.  After a failed connection it is not tried again
 * for a minute: batches are then recorded on the main session.
 */
static bool
accepts_second_session(Listener *L)
{
	static double next_try = 0;

	if (L->rec == NULL)
		L->rec = db_create();
	if (db_is_connected(L->rec))
		return true;
	if (mono_now() < next_try)
		return false;
	if (db_connect_as(L->rec, L->cfg.conninfo, L->cfg.statement_timeout,
					  L->cfg.lock_timeout, false) == DB_OK)
		return true;
	next_try = mono_now() + 60.0;
	log_warning("database",
				"could not open a second session to record acceptances; "
				"recording them on the main one");
	return false;
}

/*
 * Record the acceptances of the batch.  The previous batch's recording
 * is waited for first.  A batch of several orders goes to the second
 * session without waiting, so that the database records it while this
 * process claims and sends the next batch on the main one; a single
 * order is recorded at once.  An acceptance that could not be recorded
 * leaves its order submitting and asks for a reconciliation, which
 * finds it by cOID.  Returns DB_OK, DB_FAILED or DB_LOST.
 */
static DbResult
accepts_flush(Listener *L)
{
	AcceptBatch *a = L->accepts;
	DbResult	 rc;

	accepts_settle(L);
	if (a == NULL || a->n == 0)
		return L->need_reconcile ? DB_FAILED : DB_OK;
	if (a->n > 1 && accepts_second_session(L) &&
		db_record_submissions_send(L->rec, a->n, a->order_ids,
								   &a->broker_ids, &a->statuses,
								   &a->payloads) == DB_OK)
	{
		L->recording = xmalloc(sizeof(AcceptBatch));
		*L->recording = *a;
		memset(a, 0, sizeof(*a));
		return DB_OK;
	}
	rc = accepts_record_now(L, a);
	if (rc != DB_OK)
		accepts_failed(L, rc);
	accepts_clear(a);
	return rc;
}

/* Add an acceptance to the batch. */
static void
accepts_add(AcceptBatch *a, const ClaimedOrder *o, const char *broker_id,
			const char *broker_status, const char *payload,
			const char *note)
{
	if (a->n == a->cap)
	{
		a->cap = a->cap ? 2 * a->cap : CLAIM_BATCH_MAX;
		a->order_ids = xrealloc(a->order_ids, a->cap * sizeof(int64_t));
	}
	a->order_ids[a->n++] = o->order_id;
	strlist_add(&a->broker_ids, broker_id);
	strlist_add(&a->statuses, broker_status);
	strlist_add(&a->payloads, payload);
	strlist_add(&a->accounts, o->account_id);
	strlist_add(&a->coids, o->client_order_id);
	strlist_add(&a->notes, note ? note : "");
}

/*
 * Record the acceptance (shape (a)): in the batch when one is open and
 * the order has no bracket children, else at once.
 */
static SubmitOutcome
submission_accept(Listener *L, Submission *s, const CpapiOrderReply *r)
{
	char	   *payload = submission_payload(s);
	char	   *status = NULL;
	const char *broker_status = r->order_status ? r->order_status
												: "Submitted";
	DbResult	rc;

	track_owe_trades(L, s->o->account_id);
	if (L->accepts != NULL && s->o->children == 0)
	{
		accepts_add(L->accepts, s->o, r->order_id, broker_status, payload,
					r->text);
		free(payload);
		retry_clear(L);
		return SUBMIT_RECORDED;
	}
	rc = db_record_submission(L->db, s->o->order_id, r->order_id,
							  broker_status, payload, &status);
	free(payload);
	if (rc != DB_OK)
	{
		log_warning(s->ctx, "accepted as broker order %s (%s) but not "
							"recorded; it will be found by its cOID",
					r->order_id,
					broker_status);
		return rc == DB_LOST ? SUBMIT_DB_LOST : SUBMIT_UNCERTAIN;
	}
	accept_recorded(L, s->ctx, s->o->account_id, s->o->client_order_id,
					s->o->order_id, r->order_id, broker_status, r->text,
					status);
	free(status);
	/* a bracket's children are answered in the same array */
	if (s->answers.n > 0 &&
		bracket_record_children(L, s->o,
								s->answers.items[s->answers.n - 1]) ==
			DB_LOST)
		return SUBMIT_DB_LOST;
	retry_clear(L);
	return SUBMIT_RECORDED;
}

/* Leave the order submitting; it is looked up before the next claim. */
static SubmitOutcome
submission_uncertain(Listener *L, Submission *s, const char *why)
{
	log_warning(s->ctx, "no clear answer from the gateway (%s); the order "
						"stays submitting and is looked up by cOID %s before "
						"anything else is sent",
				why, s->o->client_order_id);
	listener_set_error(L, "%s: no clear answer (%s)", s->ctx, why);
	L->need_reconcile = true;
	return SUBMIT_UNCERTAIN;
}

/* Return true when every message id of the prompt may be confirmed. */
bool
prompt_allowed(const Listener *L, const CpapiOrderReply *r)
{
	int i;

	if (r->n_message_ids == 0)
		return false;
	for (i = 0; i < r->n_message_ids; i++)
		if (!strlist_contains(&L->cfg.confirm_ids, r->message_ids[i]))
			return false;
	return true;
}

/* Describe a prompt as "o354: text; o163: text" (malloc'ed). */
char *
prompt_text(const CpapiOrderReply *r)
{
	StrList parts = {0};
	char   *s;
	int		i;
	int		n = r->n_message_ids;

	if (r->n_messages > n)
		n = r->n_messages;
	for (i = 0; i < n; i++)
	{
		const char *id = i < r->n_message_ids ? r->message_ids[i] : "(no id)";
		const char *text = i < r->n_messages ? r->messages[i] : "";
		char	   *p = xasprintf("%s: %s", id, text);

		strlist_add(&parts, p);
		free(p);
	}
	s = strlist_join(&parts, "; ");
	strlist_free(&parts);
	return s;
}

/* Decline a prompt at the gateway; the answer is only logged. */
static void
prompt_decline(Listener *L, Submission *s, const char *reply_id)
{
	GwResponse resp;
	char	  *esc = gateway_escape(reply_id);
	char	  *path = xasprintf("/iserver/reply/%s", esc);
	GwResult   r = gateway_call(L->gw, "POST", path,
								"{\"confirmed\":false}", GW_PACE_NONE, &resp);

	log_debug(s->ctx, "declined prompt %s: %s, HTTP %ld", reply_id,
			  gateway_result_name(r), resp.status);
	gateway_response_free(&resp);
	free(path);
	free(esc);
}

/*
 * Handle a duplicate-cOID answer: adopt the broker's order only when
 * account, contract, side and quantity match ours; otherwise the order
 * becomes unknown.
 */
static SubmitOutcome
submission_duplicate(Listener *L, Submission *s, const char *error)
{
	const ClaimedOrder *o = s->o;
	BrokerMatch			m;
	char			   *why = NULL;
	DbResult			rc;

	log_warning(s->ctx, "the broker already has cOID %s (%s); looking "
						"it up",
				o->client_order_id, error);
	if (broker_find(L, o->account_id, o->client_order_id, &m) != 0)
		return submission_uncertain(L, s, "duplicate cOID, lookup failed");
	if (!m.in_live)
		why = xasprintf("cOID %s is already registered at the broker but "
						"is not among its live orders",
						o->client_order_id);
	else
		why = broker_match_differs(o, &m);
	if (why == NULL)
	{
		rc = broker_adopt(L, o->order_id, &m);
		track_owe_trades(L, o->account_id);
		log_info(s->ctx, "adopted broker order %s with the same cOID",
				 m.order_id);
	}
	else
	{
		rc = db_record_unknown(L->db, o->order_id, why);
		log_error(s->ctx, "order is unknown: %s", why);
		free(why);
	}
	broker_match_free(&m);
	if (rc == DB_OK)
		retry_clear(L);
	return rc == DB_OK ? SUBMIT_RECORDED : rc == DB_LOST ? SUBMIT_DB_LOST
														 : SUBMIT_UNCERTAIN;
}

/* Handle shape (c): an error envelope. */
static SubmitOutcome
submission_error(Listener *L, Submission *s, long status,
				 const CpapiOrderReply *r)
{
	CpapiErrorKind kind = cpapi_classify_error(status, r->error);
	char		  *why;
	SubmitOutcome  out;

	switch (kind)
	{
		case CPAPI_ERR_DUPLICATE_COID:
			return submission_duplicate(L, s, r->error);
		case CPAPI_ERR_NOT_AUTHENTICATED:
		case CPAPI_ERR_NO_BRIDGE:
		case CPAPI_ERR_QUERY_ACCOUNTS:
		case CPAPI_ERR_REPLY_NOT_FOUND:
		case CPAPI_ERR_RATE_LIMITED:
		case CPAPI_ERR_TRANSIENT:
			why = xasprintf("%s: %s", cpapi_error_kind_name(kind), r->error);
			out = submission_uncertain(L, s, why);
			free(why);
			return out;
		default:
			return submission_reject(L, s, r->error);
	}
}

/*
 * Send one request of the chain and read its answer.  Returns true with
 * *r filled, or false with *out set to the outcome.
 */
static bool
submission_exchange(Listener *L, Submission *s, const char *path,
					const char *body, CpapiOrderReply *r, long *status,
					SubmitOutcome *out)
{
	GwResponse resp;
	GwResult   g = session_call(L, "POST", path, body, GW_PACE_NONE, &resp);
	char	   err[CPAPI_ERR_LEN];
	char	  *why = NULL;

	*status = resp.status;
	if (g != GW_OK)
		why = xasprintf("%s %s%s%s", path, gateway_result_name(g),
						resp.error[0] ? ": " : "", resp.error);
	else if (resp.status >= 500 || resp.status == 429 ||
			 resp.status == 401)
		why = xasprintf("%s answered HTTP %ld", path, resp.status);
	else if (cpapi_parse_order_reply(resp.body, resp.len, r, err,
									 sizeof(err)) != 0)
		why = xasprintf("%s answered HTTP %ld with %s", path, resp.status,
						err);
	else
		strlist_add(&s->answers, resp.body);
	gateway_response_free(&resp);
	if (why == NULL)
		return true;
	*out = submission_uncertain(L, s, why);
	free(why);
	return false;
}

/*
 * Before a prompt is confirmed: when a cancel was asked since the order
 * was claimed (orders.cancel_asked), decline the prompt, which places
 * nothing, and record the order cancelled; returns true with *out set.
 * When the database cannot say, the prompt is declined too (below).
 * When the cancel cannot be recorded, the order stays
 * submitting: the reconciliation finds nothing at the broker and
 * cancels it then, not sending it again.
 */
static bool
prompt_cancel_asked(Listener *L, Submission *s, const CpapiOrderReply *r,
					const char *text, SubmitOutcome *out)
{
	char	*asked = NULL;
	char	*payload;
	DbResult rc = db_cancel_asked_for(L->db, L->listener_id, s->o->order_id,
									  &asked);

	if (rc != DB_OK)
	{
		/*
		 * Fail closed: declined, nothing is placed, and the order stays
		 * submitting.  The reconciliation finds it nowhere and sends it
		 * again with its cOID (its prompt then asked again), or cancels
		 * it if a cancel was asked.
		 */
		prompt_decline(L, s, r->reply_id);
		log_warning(s->ctx,
					"declined prompt %s: could not read whether a cancel "
					"was asked; looked up and sent again unless one was",
					text);
		*out = rc == DB_LOST ? SUBMIT_DB_LOST : SUBMIT_UNCERTAIN;
		return true;
	}
	if (asked == NULL)
		return false;
	prompt_decline(L, s, r->reply_id);
	payload = submission_payload(s);
	rc = db_record_declined(L->db, L->listener_id, s->o->order_id, text,
							payload);
	free(payload);
	if (rc == DB_OK)
	{
		log_info(s->ctx, "declined prompt %s: a cancel was asked while the "
						 "order was being submitted (%s); cancelled, never "
						 "placed",
				 text, asked);
		retry_clear(L);
		*out = SUBMIT_RECORDED;
	}
	else
	{
		log_warning(s->ctx, "declined prompt %s for the cancel asked (%s); "
							"the cancel is not recorded yet",
					text, asked);
		*out = rc == DB_LOST ? SUBMIT_DB_LOST : SUBMIT_UNCERTAIN;
	}
	free(asked);
	return true;
}

/* Run the request and prompt chain of one order. */
static SubmitOutcome
submission_run(Listener *L, Submission *s)
{
	char		   *esc = gateway_escape(s->o->account_id);
	char		   *path = xasprintf("/iserver/account/%s/orders", esc);
	const char	   *body = s->body;
	SubmitOutcome	out = SUBMIT_UNCERTAIN;
	CpapiOrderReply r;
	long			status;
	int				round;
	int				i;

	for (round = 1;; round++)
	{
		memset(&r, 0, sizeof(r));
		if (!submission_exchange(L, s, path, body, &r, &status, &out))
			break;
		if (r.kind == CPAPI_REPLY_ACCEPTED)
			out = submission_accept(L, s, &r);
		else if (r.kind == CPAPI_REPLY_ERROR)
			out = submission_error(L, s, status, &r);
		else if (r.kind == CPAPI_REPLY_SERVER_PROMPT)
		{
			char *why = xasprintf("server prompt not answered: %s",
								  r.error);

			log_error(s->ctx, "the gateway asks a question pgtrade does not "
							  "answer (message id %s): %s",
					  r.message_id ? r.message_id : "none", r.error);
			out = submission_reject(L, s, why);
			free(why);
		}
		else if (r.kind == CPAPI_REPLY_PROMPT)
		{
			char *text = prompt_text(&r);
			char *why = NULL;

			if (prompt_cancel_asked(L, s, &r, text, &out))
			{
				free(text);
				cpapi_order_reply_free(&r);
				break;
			}
			if (!prompt_allowed(L, &r))
				why = xasprintf("confirmation prompt not allowed: %s", text);
			else if (round >= ORDER_PROMPT_ROUNDS_MAX)
				why = xasprintf("more than %d confirmation prompts; last: %s",
								ORDER_PROMPT_ROUNDS_MAX, text);
			if (why != NULL)
			{
				prompt_decline(L, s, r.reply_id);
				out = submission_reject(L, s, why);
				free(why);
				free(text);
				cpapi_order_reply_free(&r);
				break;
			}
			log_info(s->ctx, "confirming prompt %s", text);
			free(text);
			for (i = 0; i < r.n_message_ids; i++)
				strlist_add(&s->confirmed, r.message_ids[i]);
			free(path);
			free(esc);
			esc = gateway_escape(r.reply_id);
			path = xasprintf("/iserver/reply/%s", esc);
			body = "{\"confirmed\":true}";
			cpapi_order_reply_free(&r);
			continue;
		}
		cpapi_order_reply_free(&r);
		break;
	}
	free(path);
	free(esc);
	return out;
}

/* Describe the matches as "8314 (NYSE), 1411 (LSE)" (malloc'ed). */
static char *
contract_matches_text(const CpapiContracts *c, const char *symbol)
{
	StrList parts = {0};
	char   *s;
	int		i;

	for (i = 0; i < c->n; i++)
	{
		const CpapiContract *k = &c->items[i];
		char				 conid[24] = "?";
		char				*p;

		if (!cpapi_contract_is_match(k, symbol))
			continue;
		if (k->conid > 0)
			snprintf(conid, sizeof(conid), "%lld", (long long) k->conid);
		p = xasprintf("%s (%s)", conid,
					  k->description ? k->description : "no exchange");
		strlist_add(&parts, p);
		free(p);
	}
	s = strlist_join(&parts, ", ");
	strlist_free(&parts);
	return s;
}

/*
 * Choose a conid among the search results c, log the result, and return
 * it; return 0 with *why set (malloc'ed) when there is no unique match.
 */
static int64_t
contract_choose(Submission *s, const CpapiContracts *c, char **why)
{
	const char *sym = s->o->symbol;
	int64_t		conid;
	int			n = cpapi_choose_stock(c, sym, &conid);
	char	   *list = contract_matches_text(c, sym);

	if (conid > 0)
	{
		log_info(s->ctx, "contract lookup for %s: conid %lld chosen from "
						 "%d stock match%s: %s",
				 sym, (long long) conid, n, n == 1 ? "" : "es", list);
		free(list);
		return conid;
	}
	log_info(s->ctx, "contract lookup for %s: none chosen from %d stock "
					 "match%s%s%s",
			 sym, n, n == 1 ? "" : "es", n > 0 ? ": " : "", list);
	if (n == 0)
		*why = xasprintf("contract lookup for %s found 0 matches; register "
						 "the conid with pgtrade.add_instrument",
						 sym);
	else
		*why = xasprintf("contract lookup for %s found %d match%s: conids "
						 "%s; register the conid with pgtrade.add_instrument",
						 sym, n, n == 1 ? "" : "es", list);
	free(list);
	return conid;
}

/*
 * Look the order's symbol up with GET /iserver/secdef/search and choose
 * its stock listing.  Returns the conid, or 0 with *why set (malloc'ed).
 * *answer gets the search answer (malloc'ed JSON) whenever one parsed.
 */
static int64_t
contract_lookup(Listener *L, Submission *s, char **answer, char **why)
{
	const char	  *sym = s->o->symbol;
	char		  *esc = gateway_escape(sym);
	char		  *path;
	GwResponse	   resp;
	GwResult	   g;
	CpapiContracts c = {0};
	char		   err[CPAPI_ERR_LEN];
	int			   p = -1;
	int64_t		   conid = 0;

	path = xasprintf("/iserver/secdef/search?symbol=%s&secType=STK", esc);
	g = session_call(L, "GET", path, NULL, GW_PACE_NONE, &resp);
	if (g != GW_OK)
		*why = xasprintf("contract lookup for %s failed: %s%s%s", sym,
						 gateway_result_name(g), resp.error[0] ? ": " : "",
						 resp.error);
	else if ((p = cpapi_parse_secdef_search(resp.body, resp.len, &c, err,
											sizeof(err))) != 0 ||
			 resp.status != 200)
		*why = xasprintf("contract lookup for %s failed: HTTP %ld%s%s", sym,
						 resp.status, p != 0 ? ", " : "", p != 0 ? err : "");
	else
	{
		*answer = xstrdup(resp.body);
		conid = contract_choose(s, &c, why);
	}
	cpapi_contracts_free(&c);
	gateway_response_free(&resp);
	free(path);
	free(esc);
	return conid;
}

/*
 * Find the conid of an order whose instrument has none: look it up and
 * cache it with record_conid.  Returns the conid, or 0 after recording
 * a rejection, with *out set to its outcome.
 */
static int64_t
contract_resolve(Listener *L, Submission *s, SubmitOutcome *out)
{
	char	*answer = NULL;
	char	*why = NULL;
	int64_t	 conid = contract_lookup(L, s, &answer, &why);
	DbResult rc;

	if (conid > 0)
	{
		rc = db_record_conid(L->db, s->o->order_id, conid, answer);
		if (rc != DB_OK)
			why = xasprintf("contract lookup for %s found conid %lld, which "
							"could not be recorded in pgtrade.instrument",
							s->o->symbol, (long long) conid);
	}
	if (why != NULL)
	{
		if (answer != NULL)
			strlist_add(&s->answers, answer);
		*out = submission_reject(L, s, why);
		conid = 0;
	}
	free(answer);
	free(why);
	return conid;
}

/* Put the order in the retry slot, unless it is there already. */
static void
retry_remember(Listener *L, const ClaimedOrder *o)
{
	if (L->retry.active && L->retry.order.order_id == o->order_id)
		return;
	retry_clear(L);
	L->retry.active = true;
	claimed_order_copy(&L->retry.order, o);
}

/*
 * Submit one claimed order and record what became of it.  Returns
 * SUBMIT_UNCERTAIN when the order must be looked up at the broker before
 * anything else is sent.
 */
SubmitOutcome
order_submit(Listener *L, const ClaimedOrder *o)
{
	Submission	s = {0};
	CpapiTicket t = {
		.account = o->account_id,
		.coid = o->client_order_id,
		.conid = o->conid,
		.side = o->side,
		.quantity = o->quantity,
		.order_type = o->order_type,
		.limit_price = o->limit_price,
		.stop_price = o->stop_price,
		.tif = o->tif,
		.outside_rth = o->outside_rth,
	};
	char		  err[CPAPI_ERR_LEN];
	SubmitOutcome out = SUBMIT_RECORDED;
	ClaimedOrder  resolved;
	const char	 *stop_label;

	s.o = o;
	snprintf(s.ctx, sizeof(s.ctx), "order %lld", (long long) o->order_id);
	retry_remember(L, o);
	if (o->conid <= 0 && o->symbol == NULL)
		return submission_reject(L, &s, "instrument has no IBKR conid and "
										"no symbol to look it up by");
	if (o->conid <= 0)
	{
		/* the order as claimed, but with the conid the lookup found */
		resolved = *o;
		resolved.conid = contract_resolve(L, &s, &out);
		if (resolved.conid <= 0)
			return out;
		o = s.o = &resolved;
		t.conid = resolved.conid;
		L->retry.order.conid = resolved.conid;
	}
	if (bracket_build_body(L, o, &t, &s.body, err, sizeof(err)) != 0)
	{
		char *why = xasprintf("cannot build the order: %s", err);

		out = submission_reject(L, &s, why);
		free(why);
		return out;
	}
	/* "stop 360.00", "stop_limit 361.00 stop 360.00" */
	stop_label = o->stop_price == NULL		 ? ""
		: strcmp(o->order_type, "stop") == 0 ? " "
											 : " stop ";
	log_info(s.ctx, "sending cOID %s to account %s: %s %s %s (conid %lld), "
					"%s%s%s%s%s, %s",
			 o->client_order_id, o->account_id, o->side,
			 o->quantity, o->symbol ? o->symbol : "?", (long long) o->conid,
			 o->order_type, o->limit_price ? " " : "",
			 o->limit_price ? o->limit_price : "", stop_label,
			 o->stop_price ? o->stop_price : "", o->tif);
	out = submission_run(L, &s);
	free(s.body);
	strlist_free(&s.answers);
	strlist_free(&s.confirmed);
	return out;
}

/* Remember an order submitted by this run, and its account (--once). */
static void
once_note(Listener *L, const ClaimedOrder *o)
{
	char id[24];

	snprintf(id, sizeof(id), "%lld", (long long) o->order_id);
	if (!L->cfg.once)
		return;
	if (!strlist_contains(&L->once_submitted, id))
		strlist_add(&L->once_submitted, id);
	if (!strlist_contains(&L->once_accounts, o->account_id))
		strlist_add(&L->once_accounts, o->account_id);
}

/*
 * Claim and submit orders in batches until none is pending, the session
 * is lost, an answer left an order's fate open, or a stop was asked.
 * Each batch is claimed in one transaction, its orders are sent one
 * after the other, and their acceptances are recorded in one more.  A
 * batch under way is finished after SIGTERM; when an unclear answer or
 * a lost session stops it early, the orders claimed and not sent stay
 * submitting, and the reconciliation that comes first sends them with
 * their cOIDs once the broker was asked and did not have them.
 */
void
claim_and_submit(Listener *L)
{
	StrList		served = {0};
	AcceptBatch accepts = {0};
	bool		more = true;

	positions_claimable(L, &served);
	L->accepts = &accepts;
	while (more && served.n > 0 && !listener_stop_asked() &&
		   session_ready(L) && db_is_connected(L->db) && !L->need_reconcile)
	{
		ClaimedOrder *batch;
		int			  n;
		int			  i;
		int			  j;
		double		  started;
		DbResult	  rc;

		rc = db_claim_orders(L->db, L->listener_id, &served, CLAIM_BATCH_MAX,
							 &batch, &n);

		if (rc == DB_LOST)
			listener_db_lost(L);
		if (rc != DB_OK)
			break;
		if (n == 0)
		{
			L->once_claims_done = !positions_pending(L);
			break;
		}
		started = mono_now();
		for (i = 0; i < n && more; i++)
		{
			SubmitOutcome out;

			if (!session_ready(L) || L->need_reconcile ||
				(i > 0 && mono_now() - started > CLAIM_BATCH_SECONDS))
				break;
			once_note(L, &batch[i]);
			out = order_submit(L, &batch[i]);
			if (out != SUBMIT_RECORDED)
			{
				/* its fate is open or unrecorded: look it up before more */
				L->need_reconcile = true;
				L->next_reconcile = mono_now();
				if (out == SUBMIT_DB_LOST)
					listener_db_lost(L);
				more = false;
			}
		}
		if (i < n)
		{
			for (j = i; j < n; j++)
				unsent_note(L, batch[j].order_id);
			log_warning("claim",
						"%d claimed order%s not sent (%s): %s submitting "
						"and %s sent with %s cOID%s once the broker was "
						"asked and did not have %s",
						n - i, n - i == 1 ? "" : "s",
						!session_ready(L) ? "the gateway session was lost"
							: L->need_reconcile
							? "an answer left an order open"
							: "the batch took over a second",
						n - i == 1 ? "it stays" : "they stay",
						n - i == 1 ? "is" : "are",
						n - i == 1 ? "its" : "their",
						n - i == 1 ? "" : "s", n - i == 1 ? "it" : "them");
			L->need_reconcile = true;
			L->next_reconcile = mono_now();
			more = false;
		}
		if (accepts_flush(L) != DB_OK)
			more = false;
		for (i = 0; i < n; i++)
			claimed_order_free(&batch[i]);
		free(batch);
		/* a short batch emptied the queue (--once looks until it is sure) */
		if (n < CLAIM_BATCH_MAX && !L->cfg.once)
			more = false;
	}
	(void) accepts_flush(L);
	accepts_settle(L);
	L->accepts = NULL;
	if (served.n == 0 && !positions_pending(L))
		L->once_claims_done = true;
	strlist_free(&served);
}
