/*-------------------------------------------------------------------------
 *
 * strategy_sql.h
 *	  What the SQL glue of the built-in strategy kinds shares
 *	  (strategy_sql.c): reading the bar arrays every evaluator takes,
 *	  printing a bar's time in a reason, and building an evaluator's jsonb
 *	  answer member by member.
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
extern void			pgtrade_jb_key(JsonbParseState **st, const char *key);
extern void			pgtrade_jb_number(JsonbParseState **st, const char *key,
									  bool known, double x);
extern void			pgtrade_jb_int(JsonbParseState **st, const char *key, int64 x);
extern void			pgtrade_jb_bool(JsonbParseState **st, const char *key, bool b);
extern void			pgtrade_jb_string(JsonbParseState **st, const char *key,
									  const char *s);
extern void			pgtrade_jb_time(JsonbParseState **st, const char *key,
									bool known, TimestampTz t);

#endif /* PGTRADE_STRATEGY_SQL_H */
