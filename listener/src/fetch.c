/*-------------------------------------------------------------------------
 *
 * fetch.c
 *	  Reads of an account's live orders and trades on a worker thread.
 *
 * One worker, one job at a time.  The loop hands a job over with
 * fetcher_start and polls fetcher_fd: the worker writes a byte to that
 * pipe when the job is done, and fetcher_take hands it back.  The
 * worker blocks every signal, so that SIGTERM and SIGHUP still end the
 * loop's poll; it calls only the gateway (its own handle), the parsers
 * and the log, none of which keeps state between threads but the
 * cookie share, which the gateway locks.
 *
 * fetch_job_run is also what the loop runs itself, on its own handle,
 * when the worker could not be started.
 *
 *-------------------------------------------------------------------------
 */
#define _GNU_SOURCE /* pipe2 */

#include "fetch.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

struct Fetcher
{
	Gateway		   *gw; /* the worker's own handle */
	pthread_t		thread;
	pthread_mutex_t lock;
	pthread_cond_t	wake;
	FetchJob	   *todo; /* handed over, not started */
	FetchJob	   *running;
	FetchJob	   *done; /* finished, not taken */
	bool			quit;
	int				pipe_rd;
	int				pipe_wr;
};

/*
 * Run one job on gw: the live orders when asked, then (unless they
 * failed) the trades, each parsed.
 */
void
fetch_job_run(FetchJob *job, Gateway *gw)
{
	GwResponse *live = &job->live_resp;
	GwResponse *trades = &job->trades_resp;

	job->live_rc = job->trades_rc = -1;
	if (job->want_live)
	{
		job->live_read = true;
		job->live_r = gateway_call(gw, "GET", job->live_path, NULL,
								   GW_PACE_ORDERS, live);
		if (job->live_r == GW_OK && live->status == 200)
			job->live_rc = cpapi_parse_live_orders(
				live->body, live->len, &job->live, job->live_err,
				sizeof(job->live_err));
		if (job->live_rc != 0)
			return;
	}
	job->trades_read = true;
	job->trades_r = gateway_call(gw, "GET", job->trades_path, NULL,
								 GW_PACE_TRADES, trades);
	if (job->trades_r == GW_OK && trades->status == 200)
		job->trades_rc = cpapi_parse_trades(
			trades->body, trades->len, &job->trades, job->trades_err,
			sizeof(job->trades_err));
}

/* Release a job and everything it holds; NULL is allowed. */
void
fetch_job_free(FetchJob *job)
{
	if (job == NULL)
		return;
	free(job->account);
	free(job->live_path);
	free(job->trades_path);
	in_flight_free(&job->rows);
	gateway_response_free(&job->live_resp);
	gateway_response_free(&job->trades_resp);
	if (job->live_rc == 0)
		cpapi_live_orders_free(&job->live);
	if (job->trades_rc == 0)
		cpapi_trades_free(&job->trades);
	free(job);
}

/* The worker: run what is handed over until told to quit. */
static void *
fetcher_main(void *arg)
{
	Fetcher *f = arg;

	pthread_mutex_lock(&f->lock);
	for (;;)
	{
		FetchJob *job;
		char	  byte = 1;

		while (f->todo == NULL && !f->quit)
			pthread_cond_wait(&f->wake, &f->lock);
		if (f->quit)
			break;
		job = f->running = f->todo;
		f->todo = NULL;
		pthread_mutex_unlock(&f->lock);
		fetch_job_run(job, f->gw);
		pthread_mutex_lock(&f->lock);
		f->running = NULL;
		f->done = job;
		/* the pipe holds at most a byte a job: it cannot fill up */
		if (write(f->pipe_wr, &byte, 1) != 1)
			log_warning("track", "could not wake the loop: %s",
						strerror(errno));
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

/* Release what a fetcher holds but its thread, which must be gone. */
static void
fetcher_release(Fetcher *f)
{
	fetch_job_free(f->todo);
	fetch_job_free(f->done);
	close(f->pipe_rd);
	close(f->pipe_wr);
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&f->wake);
	gateway_destroy(f->gw);
	free(f);
}

/*
 * Start a fetcher on a sibling of gw (which must outlive it).  Returns
 * NULL with err set when the handle, the pipe or the thread cannot be
 * had.
 */
Fetcher *
fetcher_create(const Gateway *gw, char *err, size_t errlen)
{
	Fetcher *f = xcalloc(1, sizeof(Fetcher));
	int		 fds[2];
	sigset_t all;
	sigset_t old;
	int		 rc;

	f->gw = gateway_create_sibling(gw, err, errlen);
	if (f->gw == NULL)
	{
		free(f);
		return NULL;
	}
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
	{
		snprintf(err, errlen, "could not create a pipe: %s", strerror(errno));
		gateway_destroy(f->gw);
		free(f);
		return NULL;
	}
	f->pipe_rd = fds[0];
	f->pipe_wr = fds[1];
	pthread_mutex_init(&f->lock, NULL);
	pthread_cond_init(&f->wake, NULL);
	/* the thread inherits the mask: signals go to the loop's thread */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&f->thread, NULL, fetcher_main, f);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
	{
		snprintf(err, errlen, "could not start a thread: %s", strerror(rc));
		fetcher_release(f);
		return NULL;
	}
	return f;
}

/*
 * Stop the worker, after the read it is making (bounded by the HTTP
 * timeout), and drop any job.  NULL is allowed.
 */
void
fetcher_destroy(Fetcher *f)
{
	if (f == NULL)
		return;
	pthread_mutex_lock(&f->lock);
	f->quit = true;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	fetcher_release(f);
}

/* Return true while a job is handed over and not taken back. */
bool
fetcher_busy(Fetcher *f)
{
	bool busy;

	pthread_mutex_lock(&f->lock);
	busy = f->todo != NULL || f->running != NULL || f->done != NULL;
	pthread_mutex_unlock(&f->lock);
	return busy;
}

/* Hand a job over; the fetcher must not be busy.  It owns the job. */
void
fetcher_start(Fetcher *f, FetchJob *job)
{
	pthread_mutex_lock(&f->lock);
	f->todo = job;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
}

/* Take back the finished job, or NULL; the caller then owns it. */
FetchJob *
fetcher_take(Fetcher *f)
{
	FetchJob *job;
	char	  buf[16];

	pthread_mutex_lock(&f->lock);
	job = f->done;
	f->done = NULL;
	if (job != NULL)
		while (read(f->pipe_rd, buf, sizeof(buf)) > 0)
			;
	pthread_mutex_unlock(&f->lock);
	return job;
}

/* Return the descriptor that turns readable when a job is done. */
int
fetcher_fd(const Fetcher *f)
{
	return f->pipe_rd;
}
