/*-------------------------------------------------------------------------
 *
 * history.h
 *	  Pure helpers for the gateway's history endpoint: the request path
 *	  and the bars array handed to pgtrade.record_bars.
 *
 * No I/O, no libpq, no libcurl: only the parsed CpapiHistory of cpapi.h.
 * Prices and volumes stay the decimal text cpapi.c made of the gateway's
 * numbers; they become JSON numbers again without floating point.
 *
 *-------------------------------------------------------------------------
 */
#ifndef HISTORY_H
#define HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cpapi.h"

extern int	history_path(int64_t conid, const char *period, const char *bar,
						 char *out, size_t len);
extern int	history_bars_json(const CpapiHistory *h, char **out);
extern bool history_is_no_data(const char *error);

#endif /* HISTORY_H */
