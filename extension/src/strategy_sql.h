/*-------------------------------------------------------------------------
 *
 * strategy_sql.h
 *	  What the SQL glue of the built-in strategy kinds shares
 *	  (strategy_sql.c): reading the bar arrays every evaluator takes,
 *	  printing a bar's time in a reason, and writing JSON numbers.
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGTRADE_STRATEGY_SQL_H
#define PGTRADE_STRATEGY_SQL_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

extern const char  *pgtrade_json_kind(const JsonbValue *v);
extern TimestampTz *pgtrade_bar_timestamps(ArrayType *arr, int *n);
extern void			pgtrade_check_bar_length(ArrayType *arr, const char *name,
											 int n);
extern char		   *pgtrade_format_ts(TimestampTz t);
extern void			pgtrade_put_number(StringInfo buf, const char *key,
									   bool known, double x);

#endif /* PGTRADE_STRATEGY_SQL_H */
