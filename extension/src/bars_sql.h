/*-------------------------------------------------------------------------
 *
 * bars_sql.h
 *	  SQL functions of bars_sql.c that other C files call directly.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTRADE_BARS_SQL_H
#define PGTRADE_BARS_SQL_H

#include "fmgr.h"

/* pgtrade.bar_end(ts, bar_size, time_zone, session_close) */
extern Datum pgtrade_bar_end(PG_FUNCTION_ARGS);

#endif /* PGTRADE_BARS_SQL_H */
