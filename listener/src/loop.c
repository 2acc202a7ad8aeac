/*-------------------------------------------------------------------------
 *
 * loop.c
 *	  The listener's main loop.
 *
 * One thread, explicit states (the tracking reads alone are made on a
 * worker, fetch.c, and applied here).  Each turn:
 *	1. SIGHUP: reload the configuration (a bad one is logged and the
 *	   running one kept; a good one is logged like the start-up line).
 *	2. Database down: connect (with back-off), register once, LISTEN,
 *	   take the account leases, and ask for a reconciliation.  The
 *	   gateway session is still tickled meanwhile, so that a long
 *	   database outage does not cost it.
 *	3. Session not ready: establish it (with back-off).
 *	4. Session ready: tickle when due; reconcile when asked; otherwise
 *	   on a poll tick or a notification other than a new order's
 *	   ("cancel 42", "modify 42") send the cancels that are due, then
 *	   the modifications; on any notification or a poll tick claim and
 *	   submit; then track (apply a finished read, start the next one),
 *	   then compare positions.
 *	5. Heartbeat every poll interval.
 *	6. Collect the answer to a batch of executions and send the next
 *	   (fills.c).
 *	7. Wait on the database sockets and the tracking worker's pipe until
 *	   the next timer.
 * NOTIFY only rings the bell: the orders table is the queue, so a lost
 * notification costs one poll interval, never an order.
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "listener.h"
#include "log.h"

#define MIN(a, b) ((a) < (b) ? (a) : (b))

/*
 * Connect the database session and set it up.  Returns 0 (connected or
 * retry scheduled) or -1 when the listener cannot register at all.
 */
static int
loop_db_up(Listener *L)
{
	DbResult rc;

	rc = db_connect(L->db, L->cfg.conninfo, L->cfg.statement_timeout,
					L->cfg.lock_timeout);
	if (rc == DB_OK && !L->registered)
	{
		rc = db_listener_register(L->db, L->cfg.name, (int) getpid(),
								  LISTENER_VERSION, &L->listener_id);
		if (rc == DB_FAILED)
			return -1;
		L->registered = rc == DB_OK;
		if (L->registered)
			log_info("database", "registered as listener %lld (%s)",
					 (long long) L->listener_id, L->cfg.name);
	}
	if (rc != DB_OK)
	{
		db_disconnect(L->db);
		listener_set_error(L, "database: could not connect");
		L->next_db_try = mono_now() + L->db_delay;
		log_info("database", "next connection attempt in %.0f s",
				 L->db_delay);
		L->db_delay = L->db_delay * 2 > DB_RETRY_MAX ? DB_RETRY_MAX
													 : L->db_delay * 2;
		return 0;
	}
	log_info("database", "connected; listening on pgtrade_order");
	if (strncmp(L->last_error, "database", 8) == 0)
		L->last_error[0] = '\0';
	L->db_delay = DB_RETRY_MIN;
	L->need_reconcile = true;
	L->next_reconcile = mono_now();
	/* scan once: notifications were missed */
	L->notified = L->notified_other = true;
	leases_take(L);
	return 0;
}

/* Send the heartbeat: gateway state, accounts served, last error. */
static void
loop_heartbeat(Listener *L, const char *state)
{
	StrList	 served = {0};
	DbResult rc;

	leases_served(L, &served);
	rc = db_listener_heartbeat(L->db, L->listener_id, state, &served,
							   L->last_error[0] ? L->last_error : NULL);
	if (rc == DB_LOST)
		listener_db_lost(L);
	strlist_free(&served);
}

/*
 * Return true once SIGTERM or SIGINT has arrived.  The first call that
 * sees it logs which signal came, since the handler itself may not
 * write: the line appears as soon as the loop looks, that is after the
 * HTTP exchange under way, if any, has ended.
 */
bool
listener_stop_asked(void)
{
	static bool logged = false;

	if (got_stop && !logged)
	{
		logged = true;
		log_info(NULL, "received %s; finishing the request in flight",
				 got_stop == SIGINT ? "SIGINT" : "SIGTERM");
	}
	return got_stop != 0;
}

/* Return true when two optional strings are equal. */
static bool
same_text(const char *a, const char *b)
{
	return (a == NULL || b == NULL) ? a == b : strcmp(a, b) == 0;
}

/* Replace the gateway client after a change of its settings. */
static void
loop_new_gateway(Listener *L)
{
	GatewaySettings gs = {
		.base_url = L->cfg.gateway_url,
		.cacert = L->cfg.cacert,
		.insecure = L->cfg.insecure,
		.connect_timeout = L->cfg.connect_timeout,
		.request_timeout = L->cfg.http_timeout,
		.time_scale = L->cfg.time_scale,
		.no_budget = !L->cfg.rate_budget,
	};
	char	 err[256];
	Gateway *gw;

	if (L->cfg.paper)
		return; /* paper mode has no gateway */
	gw = gateway_create(&gs, err, sizeof(err));
	if (gw == NULL)
	{
		log_error("config", "gateway settings not applied: %s", err);
		return;
	}
	/* the worker's handle is a sibling of the old one */
	fetcher_destroy(L->fetcher);
	L->fetcher = NULL;
	L->fetch_inline = false;
	gateway_destroy(L->gw);
	L->gw = gw;
	gateway_set_guard(gw, db_idle, L->db);
	gateway_set_interrupt(gw, &got_stop);
	L->session = SESSION_DOWN;
	L->need_reconcile = true;
	L->next_establish = mono_now();
	L->establish_delay = SESSION_RETRY_MIN;
}

/* Log the settings a reload put in force, as the start-up line does. */
static void
loop_log_reloaded(const Config *cfg)
{
	char *settings = config_describe(cfg);

	log_info("config", "received SIGHUP; configuration reloaded: %s",
			 settings);
	free(settings);
}

/* Reload the configuration (SIGHUP) and apply what changed. */
static void
loop_reload(Listener *L)
{
	Config next;
	Config old;
	char   err[512];

	if (config_reload(&L->cfg, &next, err, sizeof(err)) != 0)
	{
		log_error("config", "received SIGHUP; reload failed, keeping the "
							"running configuration: %s",
				  err);
		return;
	}
	old = L->cfg;
	L->cfg = next;
	if (old.paper != next.paper)
	{
		log_info("config", "paper mode changes at the next start only");
		L->cfg.paper = old.paper;
	}
	log_set_verbose(L->cfg.verbose);
	if (!same_text(old.name, next.name))
		log_info("config", "a new name takes effect at the next start");
	if (!same_text(old.gateway_url, next.gateway_url) ||
		!same_text(old.cacert, next.cacert) ||
		old.insecure != next.insecure ||
		old.rate_budget != next.rate_budget ||
		old.http_timeout != next.http_timeout ||
		old.connect_timeout != next.connect_timeout)
		loop_new_gateway(L);
	else if (L->gw != NULL)
		gateway_set_time_scale(L->gw, next.time_scale);
	if (!same_text(old.conninfo, next.conninfo) ||
		old.statement_timeout != next.statement_timeout ||
		old.lock_timeout != next.lock_timeout)
	{
		log_info("config", "database settings changed; reconnecting");
		listener_db_lost(L);
	}
	if (!strlist_equal(&old.accounts, &next.accounts))
	{
		if (L->cfg.paper)
			paper_start(L);
		leases_update(L);
		leases_take(L);
	}
	if (!L->cfg.paper &&
		!strlist_equal(&old.suppress_ids, &next.suppress_ids) &&
		session_ready(L))
		session_send_suppress(L);
	config_free(&old);
	loop_log_reloaded(&L->cfg);
}

/* For --once: return true when an order of this run is in flight. */
static bool
loop_once_in_flight(Listener *L, bool *failed)
{
	StrList		 served = {0};
	InFlightList rows;
	bool		 any = false;
	int			 i;

	leases_served(L, &served);
	*failed = db_orders_in_flight(L->db, &served, &rows) != DB_OK;
	for (i = 0; !*failed && i < rows.n; i++)
	{
		char id[24];

		snprintf(id, sizeof(id), "%lld", (long long) rows.rows[i].order_id);
		any |= strlist_contains(&L->once_submitted, id);
	}
	if (!*failed)
		in_flight_free(&rows);
	strlist_free(&served);
	return any;
}

/*
 * For --once: return true when every order this run sent has left
 * flight and each of their accounts has had its trades read once since,
 * and what those reads brought is recorded, so that their fills are in.
 */
static bool
loop_once_done(Listener *L)
{
	bool failed;
	int	 i;

	if (!L->once_claims_done || L->need_reconcile || !session_ready(L) ||
		!db_is_connected(L->db) || fills_pending(L, NULL))
		return false;
	if (loop_once_in_flight(L, &failed) || failed)
	{
		L->once_settled = false;
		return false;
	}
	if (!L->once_settled)
	{
		L->once_settled = true;
		for (i = 0; i < L->n_leases; i++)
		{
			L->leases[i].once_mark = L->leases[i].trades_polls;
			if (strlist_contains(&L->once_accounts, L->leases[i].account))
				track_owe_trades(L, L->leases[i].account);
		}
		return false;
	}
	for (i = 0; i < L->n_leases; i++)
		if (L->leases[i].held &&
			strlist_contains(&L->once_accounts, L->leases[i].account) &&
			L->leases[i].trades_polls <= L->leases[i].once_mark)
			return false;
	return true;
}

/*
 * For --once, at the end: 1 when the lease of an account it was to serve
 * is held by another listener, so that this run may not have sent that
 * account's orders (a job that runs --once must not take that for
 * success), else 0.
 */
static int
loop_once_unserved(const Listener *L)
{
	int i;
	int n = 0;

	for (i = 0; i < L->n_leases; i++)
		if (!L->leases[i].held)
		{
			log_warning("account",
						"%s: --once: the run ends without this account's "
						"lease (another listener holds it), so its orders "
						"may not have been sent",
						L->leases[i].account);
			n++;
		}
	return n > 0 ? 1 : 0;
}

/*
 * Return the seconds the loop may sleep: until the next timer that the
 * current state will service (a timer the state ignores must not wake
 * the loop, or it would spin).
 */
static double
loop_timeout(const Listener *L)
{
	double now = mono_now();
	double next = L->next_poll;
	double penalty = L->gw != NULL ? gateway_penalty_left(L->gw) : 0;

	if (!db_is_connected(L->db))
	{
		next = MIN(next, L->next_db_try);
		if (L->session == SESSION_READY && penalty <= 0)
			next = MIN(next, L->next_tickle);
	}
	else if (L->cfg.paper)
		next = MIN(next, paper_next_due(L));
	else if (L->session != SESSION_READY)
		next = MIN(next, L->next_establish);
	else if (penalty > 0)
		next = MIN(next, now + penalty);
	else
	{
		next = MIN(next, L->next_tickle);
		if (L->need_reconcile)
			next = MIN(next, L->next_reconcile);
		else if (L->fetcher == NULL || !fetcher_busy(L->fetcher))
			next = MIN(next, L->next_track); /* else its pipe wakes us */
		if (!L->need_reconcile)
			next = MIN(next, positions_next_due(L));
		next = MIN(next, bars_next_due(L));
	}
	if (L->cfg.once)
		next = MIN(next, L->once_deadline);
	if (fills_next_due(L) >= 0)
		next = MIN(next, fills_next_due(L)); /* executions to send */
	return next > now ? next - now : 0;
}

/* Return true when orders may be claimed right now. */
static bool
loop_may_claim(const Listener *L)
{
	if (L->cfg.paper)
		return db_is_connected(L->db);
	return db_is_connected(L->db) && session_ready(L) &&
		!L->need_reconcile && !(L->cfg.once && L->once_claims_done);
}

/* Collect the notifications that arrived, and note what they ask. */
static void
loop_read_notifies(Listener *L)
{
	int count;
	int other;

	if (db_read_notifies(L->db, &count, &other) == DB_LOST)
		listener_db_lost(L);
	else
	{
		L->notified |= count > 0;
		L->notified_other |= other > 0;
	}
}

/* Sleep until the next timer, a notification, or a signal. */
static void
loop_wait(Listener *L)
{
	struct pollfd pfd[3];
	int			  sock = db_socket(L->db);
	int			  fills_sock;
	int			  timeout_ms = (int) (loop_timeout(L) * 1000.0) + 1;
	int			  n;
	int			  nfds = 0;

	/*
	 * Notifications that came in with the results of other statements
	 * wait in libpq, not on the socket: collect them before sleeping.
	 */
	if (sock >= 0 && (!L->notified || !L->notified_other))
	{
		loop_read_notifies(L);
		sock = db_socket(L->db);
	}
	/* a pending notification waits only while claiming is impossible */
	if (listener_stop_asked() || got_reload ||
		(L->notified && loop_may_claim(L)))
		return;
	/* after the notifications: a lost session closes the fills one */
	fills_sock = fills_socket(L);
	if (sock >= 0)
	{
		pfd[nfds].fd = sock;
		pfd[nfds].events = POLLIN;
		pfd[nfds++].revents = 0;
	}
	/* so does the answer to a batch of executions */
	if (fills_sock >= 0)
	{
		pfd[nfds].fd = fills_sock;
		pfd[nfds].events = POLLIN;
		pfd[nfds++].revents = 0;
	}
	/* a finished tracking read wakes the loop too */
	if (L->fetcher != NULL)
	{
		pfd[nfds].fd = fetcher_fd(L->fetcher);
		pfd[nfds].events = POLLIN;
		pfd[nfds++].revents = 0;
	}
	n = poll(pfd, (nfds_t) nfds, timeout_ms);
	if (n < 0 && errno != EINTR)
		log_warning("loop", "poll failed: %s", strerror(errno));
	if (n > 0 && sock >= 0 && pfd[0].revents != 0)
		loop_read_notifies(L);
}

/* Do the work of one turn once both database and session are up. */
static void
loop_work(Listener *L, double now)
{
	bool due = L->notified || now >= L->next_poll;
	/* a new order's notification does not ask for the cancel queries */
	bool others_due = L->notified_other || now >= L->next_poll;

	/*
	 * After a silence as long as the tickle interval (the rate-limit
	 * penalty, a database outage) the session may have timed out: check
	 * it before anything is claimed.
	 */
	if (now >= L->next_tickle ||
		gateway_silence(L->gw) >= SESSION_TICKLE_SECONDS * L->cfg.time_scale)
		session_tickle(L);
	if (!session_ready(L))
		return;
	if (now >= L->next_poll)
		leases_take(L);
	if (L->need_reconcile && now >= L->next_reconcile)
		(void) reconcile_run(L);
	/* cancels first: they take risk off, claims add to it */
	if (others_due && db_is_connected(L->db) && session_ready(L) &&
		!L->need_reconcile)
	{
		L->notified_other = false;
		cancel_send_due(L);
	}
	if (others_due && db_is_connected(L->db) && session_ready(L) &&
		!L->need_reconcile)
		modify_send_due(L);
	/* --once sends what was queued: nothing after the queue ran dry */
	if (due && loop_may_claim(L))
	{
		L->notified = false;
		claim_and_submit(L);
	}
	if (!L->need_reconcile && db_is_connected(L->db))
		track_tick(L);
	if (!L->need_reconcile && db_is_connected(L->db) && session_ready(L))
		positions_tick(L);
	/* market data last, and only when the order work is idle */
	if (!L->need_reconcile && db_is_connected(L->db))
		bars_tick(L);
}

/*
 * Run until SIGTERM or SIGINT (or, with --once, until the queued orders
 * are done or the deadline passed).  Returns the exit status.
 */
int
listener_run(Listener *L)
{
	int	   status = 0;
	double now = mono_now();

	L->db_delay = DB_RETRY_MIN;
	L->establish_delay = SESSION_RETRY_MIN;
	L->next_db_try = L->next_establish = L->next_poll = now;
	L->next_heartbeat = L->next_track = now;
	L->once_deadline = now + L->cfg.once_timeout;
	while (!listener_stop_asked())
	{
		now = mono_now();
		if (got_reload)
		{
			got_reload = 0;
			loop_reload(L);
		}
		if (!db_is_connected(L->db) && now >= L->next_db_try &&
			loop_db_up(L) != 0)
		{
			log_fatal("database",
					  "could not register this listener; is the pgtrade "
					  "extension installed and EXECUTE on its listener "
					  "functions granted?");
			return 1;
		}
		if (L->cfg.paper)
		{
			if (db_is_connected(L->db))
				paper_work(L, mono_now());
		}
		else if (db_is_connected(L->db) && L->session != SESSION_READY &&
				 now >= L->next_establish)
			(void) session_establish(L);
		if (!L->cfg.paper && db_is_connected(L->db) &&
			L->session == SESSION_READY)
			loop_work(L, mono_now());
		else if (L->session == SESSION_READY && mono_now() >= L->next_tickle)
		{
			/* keep the gateway session while the database is away */
			session_tickle(L);
		}
		now = mono_now();
		if (now >= L->next_poll)
			L->next_poll = now + L->cfg.poll_interval;
		if (db_is_connected(L->db) && now >= L->next_heartbeat)
		{
			loop_heartbeat(L, L->cfg.paper ? "paper" : session_state_name(L));
			L->next_heartbeat = now + L->cfg.poll_interval;
		}
		if (L->cfg.once && loop_once_done(L))
		{
			log_info("loop", "--once: every order of this run has left "
							 "flight; exiting");
			status = loop_once_unserved(L);
			break;
		}
		/* a tracking read that finished while the loop was elsewhere */
		track_collect(L);
		/* executions: collect a batch's answer, send the next batch */
		if (db_is_connected(L->db))
			fills_pump(L);
		if (L->cfg.once && now >= L->once_deadline)
		{
			log_warning("loop", "--once: deadline of %.0f s reached with "
								"work left",
						L->cfg.once_timeout);
			status = L->ever_ready && L->registered ? 0 : 1;
			break;
		}
		loop_wait(L);
	}
	/* the worker finishes its read; what it read is not applied */
	fetcher_destroy(L->fetcher);
	L->fetcher = NULL;
	fills_finish(L);
	if (db_is_connected(L->db) && L->registered)
	{
		loop_heartbeat(L, "stopped");
		if (db_is_connected(L->db))
			(void) db_listener_stopped(L->db, L->listener_id);
	}
	return status;
}
