/*-------------------------------------------------------------------------
 *
 * pgtrade.c
 *	  Module entry point of the pgtrade extension.
 *
 * The extension's C code is split by area: indicators, the cron parser
 * and the built-in strategy kinds each keep a pure C core (no PostgreSQL
 * headers, so unit tests, fuzzers and benchmarks can link it alone) and a
 * thin fmgr glue file.  This file only carries the module magic block.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"

PG_MODULE_MAGIC;
