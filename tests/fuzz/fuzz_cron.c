/*-------------------------------------------------------------------------
 *
 * fuzz_cron.c
 *	  libFuzzer target over pgtrade's cron parser and search
 *	  (extension/src/cron.c).
 *
 * An input is a cron expression, then after a NUL byte eight bytes
 * giving an instant.  Every expression must parse or be refused with a
 * position inside the text and a message; one that parses is searched
 * from that instant in a zone of its own that moves between UTC-5 and
 * UTC-4 every 37 days, as daylight saving does, so the skipped and
 * repeated local times are exercised.  Besides the sanitizers' findings,
 * the target aborts on a broken promise of the core:
 *	  - cron_next returns a minute strictly after the start;
 *	  - searching again from the minute before it finds it again (no
 *		firing time lies between), and cron_matches says it matches.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cron.h"

#define ZONE_PERIOD (INT64_C(37) * 86400)

static int64_t
floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;

	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static bool
zone_offset_at(void *arg, int64_t t, int32_t *offset)
{
	*offset = (floor_div(t, ZONE_PERIOD) & 1) ? -14400 : -18000;
	return true;
}

static int
zone_next_change(void *arg, int64_t t, int64_t *change)
{
	*change = (floor_div(t, ZONE_PERIOD) + 1) * ZONE_PERIOD;
	return 1;
}

static void
broken(const char *what, const char *text)
{
	fprintf(stderr, "fuzz_cron: %s for \"%s\"\n", what, text);
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   text[256];
	size_t	   n = 0;
	int64_t	   after = 0;
	CronExpr   expr;
	CronError  err;
	CronZone   zone = {zone_offset_at, zone_next_change, NULL};
	CronStatus st;
	int64_t	   next;
	int64_t	   again;
	bool	   matches;

	while (n < size && n < sizeof(text) - 1 && data[n] != '\0')
	{
		text[n] = (char) data[n];
		n++;
	}
	text[n] = '\0';
	if (n < size && size - n - 1 >= sizeof(after))
		memcpy(&after, data + n + 1, sizeof(after));
	/*
	 * Within half the range the core accepts, whole minutes or not, so
	 * that the run time found (up to years later) can be a start too.
	 */
	after %= CRON_INSTANT_LIMIT / 2;

	memset(&err, 0, sizeof(err));
	if (!cron_parse(text, &expr, &err))
	{
		if (err.detail[0] == '\0' || err.position < 0 ||
			err.position > (int) n + 1)
			broken("a refusal without a message or inside position", text);
		return 0;
	}
	st = cron_next(&expr, &zone, after, &next);
	if (st != CRON_FOUND)
		return 0;
	if (next <= after || next % 60 != 0)
		broken("cron_next not a whole minute after the start", text);
	if (cron_next(&expr, &zone, next - 60, &again) != CRON_FOUND ||
		again != next)
		broken("searching from the minute before did not find it again",
			   text);
	if (cron_matches(&expr, &zone, next, &matches) != CRON_FOUND || !matches)
		broken("cron_matches does not match what cron_next found", text);
	return 0;
}
