/*-------------------------------------------------------------------------
 *
 * kinds.h
 *	  The built-in strategy kinds of kinds.c, for callers in C.
 *
 * backtest_sql.c decides with them close by close, as a live run does
 * through pgtrade.<kind>_eval, but without building each answer as
 * JSON.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTRADE_KINDS_H
#define PGTRADE_KINDS_H

#include "postgres.h"

#include "utils/jsonb.h"
#include "utils/timestamp.h"

#define KIND_MAX_PARAMS 8

typedef struct KindSpec KindSpec;

extern const KindSpec *pgtrade_kind_lookup(const char *name);
extern void			   pgtrade_kind_params(
			   const KindSpec *spec, Jsonb *params, double *p);
extern int pgtrade_kind_decide(
	const KindSpec *spec, const double *p, int n, const TimestampTz *ts,
	const double *high, const double *low, const double *close);

#endif /* PGTRADE_KINDS_H */
