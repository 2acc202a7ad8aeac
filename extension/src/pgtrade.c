/*-------------------------------------------------------------------------
 *
 * pgtrade.c
 *	  Module entry point of the pgtrade extension.
 *
 * The extension's C code is split by area: indicators, the cron parser
 * and the built-in strategy kinds each keep a pure C core (no PostgreSQL
 * headers, so unit tests, fuzzers and benchmarks can link it alone) and a
 * thin fmgr glue file.  This file carries the module magic block, the
 * library's load-time set-up and its server settings.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"

#include "acting_role.h"

PG_MODULE_MAGIC;

PG_FUNCTION_INFO_V1(pgtrade_progress_interval);

void _PG_init(void);

static double progress_interval = 5.0;

/*
 * Called when a session first loads the library.  A value SET for
 * pgtrade.progress_interval before then is checked now: PostgreSQL
 * reports a bad one with a WARNING and keeps the default.
 */
void
_PG_init(void)
{
	DefineCustomRealVariable(
		"pgtrade.progress_interval",
		"Seconds between progress NOTICEs of a long call (import_bars, "
		"backtest, backtest_sweep); 0 reports every step.",
		NULL, &progress_interval, 5.0, 0.0, 1e6, PGC_USERSET, 0, NULL, NULL,
		NULL);
	pgtrade_acting_init();
}

/*
 * progress_interval(): pgtrade.progress_interval in seconds.  Calling it
 * loads the library, so the setting is defined (and checked) by then.
 */
Datum
pgtrade_progress_interval(PG_FUNCTION_ARGS)
{
	PG_RETURN_FLOAT8(progress_interval);
}
