/*-------------------------------------------------------------------------
 *
 * main.c
 *	  pgtrade-listener: sends pgtrade's orders to an IBKR Client Portal
 *	  gateway and records what becomes of them.
 *
 * This file reads the configuration, installs the signal handlers and
 * hands over to the loop.  Signal handlers only set flags (got_stop
 * holds the number of the signal, so that the loop can name it):
 *	SIGTERM, SIGINT	finish the request in flight, then exit 0
 *	SIGHUP			reload the configuration at the next turn
 *	SIGPIPE			ignored (a closed gateway socket is an error
 *					return, not a death)
 *
 * Exit status: 0 normal, 1 runtime failure, 2 usage or configuration
 * error.
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "listener.h"
#include "log.h"

volatile sig_atomic_t got_stop = 0;
volatile sig_atomic_t got_reload = 0;

/* SIGTERM and SIGINT: ask the loop to stop, remembering which. */
static void
handle_stop(int signo)
{
	got_stop = signo;
}

/* SIGHUP: ask the loop to reload the configuration. */
static void
handle_reload(int signo)
{
	(void) signo;
	got_reload = 1;
}

/* Install the handlers; no SA_RESTART, so poll() wakes up at once. */
static void
install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = handle_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = handle_reload;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

/* Log the settings that matter (never the connection string). */
static void
log_settings(const Config *cfg)
{
	char *settings = config_describe(cfg);

	log_info("config", "pgtrade-listener %s starting as \"%s\"; %s",
			 LISTENER_VERSION, cfg->name, settings);
	free(settings);
	if (cfg->config_file != NULL && (cfg->config_file_mode & 077) != 0)
		log_warning("config",
					"config file %s is open to other users (mode %04o); "
					"it may hold passwords: chmod 0600 it",
					cfg->config_file, cfg->config_file_mode);
}

/* Release everything the listener holds (at exit). */
static void
listener_free(Listener *L)
{
	int i;

	retry_clear(L);
	fetcher_destroy(L->fetcher);
	gateway_destroy(L->gw);
	db_destroy(L->db);
	db_destroy(L->rec);
	fills_free(L);
	for (i = 0; i < L->n_leases; i++)
		free(L->leases[i].account);
	free(L->leases);
	strlist_free(&L->gw_accounts);
	strlist_free(&L->fills_seen.keys);
	strlist_free(&L->status_seen.keys);
	strlist_free(&L->once_submitted);
	strlist_free(&L->once_accounts);
	strlist_free(&L->unsent);
	strlist_free(&L->paper_seen.keys);
	bars_free(L);
	config_free(&L->cfg);
}

/*
 * Read the configuration, set up the gateway client and the database
 * holder, run the loop, and exit with its status.
 */
int
main(int argc, char **argv)
{
	Listener		L;
	GatewaySettings gs;
	char			err[256];
	int				status;

	memset(&L, 0, sizeof(L));
	switch (config_from_args(argc, argv, &L.cfg))
	{
		case CONFIG_DONE:
			return 0;
		case CONFIG_ERROR:
			return 2;
		case CONFIG_OK:
			break;
	}
	log_set_verbose(L.cfg.verbose);
	install_signals();
	if (L.cfg.paper)
	{
		/* paper mode: no gateway client at all, so no HTTP */
		L.db = db_create();
		log_settings(&L.cfg);
		paper_start(&L);
		status = listener_run(&L);
		log_info(NULL, "pgtrade-listener stopped (exit status %d)", status);
		listener_free(&L);
		return status;
	}
	if (gateway_global_init() != 0)
	{
		log_fatal(NULL, "could not initialise libcurl");
		return 1;
	}
	memset(&gs, 0, sizeof(gs));
	gs.base_url = L.cfg.gateway_url;
	gs.cacert = L.cfg.cacert;
	gs.insecure = L.cfg.insecure;
	gs.connect_timeout = L.cfg.connect_timeout;
	gs.request_timeout = L.cfg.http_timeout;
	gs.time_scale = L.cfg.time_scale;
	gs.no_budget = !L.cfg.rate_budget;
	L.gw = gateway_create(&gs, err, sizeof(err));
	if (L.gw == NULL)
	{
		log_fatal("config", "%s", err);
		return 2;
	}
	L.db = db_create();
	gateway_set_guard(L.gw, db_idle, L.db);
	gateway_set_interrupt(L.gw, &got_stop);
	log_settings(&L.cfg);
	status = listener_run(&L);
	log_info(NULL, "pgtrade-listener stopped (exit status %d)", status);
	listener_free(&L);
	gateway_global_cleanup();
	return status;
}
