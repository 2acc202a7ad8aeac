/*-------------------------------------------------------------------------
 *
 * util.c
 *	  Allocation, string lists and clocks shared by the listener's modules.
 *
 * Timers use the monotonic clock so that a wall-clock step (NTP, daylight
 * saving) can neither fire nor hold back a tickle or a poll.
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L

#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* End the process after a failed allocation. */
static void
out_of_memory(void)
{
	fputs("pgtrade-listener: out of memory\n", stderr);
	exit(1);
}

/* Allocate size bytes; never returns NULL. */
void *
xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);

	if (p == NULL)
		out_of_memory();
	return p;
}

/* Allocate n zeroed elements of size bytes; never returns NULL. */
void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		out_of_memory();
	return p;
}

/* Resize p to size bytes; never returns NULL. */
void *
xrealloc(void *p, size_t size)
{
	void *q = realloc(p, size ? size : 1);

	if (q == NULL)
		out_of_memory();
	return q;
}

/* Duplicate s; NULL gives NULL. */
char *
xstrdup(const char *s)
{
	char *r;

	if (s == NULL)
		return NULL;
	r = strdup(s);
	if (r == NULL)
		out_of_memory();
	return r;
}

/* Format into a new malloc'ed string. */
char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	int		n;
	char   *s;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		out_of_memory();
	s = xmalloc((size_t) n + 1);
	va_start(ap, fmt);
	vsnprintf(s, (size_t) n + 1, fmt, ap);
	va_end(ap);
	return s;
}

/* Append a copy of s to the list. */
void
strlist_add(StrList *l, const char *s)
{
	l->items = xrealloc(l->items, sizeof(char *) * (size_t) (l->n + 1));
	l->items[l->n++] = xstrdup(s);
}

/* Free every string and the vector; the list is left empty. */
void
strlist_free(StrList *l)
{
	int i;

	for (i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

/* Make dst a deep copy of src (dst must be empty or freed). */
void
strlist_copy(StrList *dst, const StrList *src)
{
	int i;

	dst->n = 0;
	dst->items = NULL;
	for (i = 0; i < src->n; i++)
		strlist_add(dst, src->items[i]);
}

/* Return true when s is an element of l (exact comparison). */
bool
strlist_contains(const StrList *l, const char *s)
{
	int i;

	for (i = 0; s != NULL && i < l->n; i++)
		if (strcmp(l->items[i], s) == 0)
			return true;
	return false;
}

/* Return true when both lists hold the same strings in the same order. */
bool
strlist_equal(const StrList *a, const StrList *b)
{
	int i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->items[i], b->items[i]) != 0)
			return false;
	return true;
}

/* Join the list with sep into a new malloc'ed string ("" when empty). */
char *
strlist_join(const StrList *l, const char *sep)
{
	size_t len = 1;
	char  *s;
	int	   i;

	for (i = 0; i < l->n; i++)
		len += strlen(l->items[i]) + strlen(sep);
	s = xmalloc(len);
	s[0] = '\0';
	for (i = 0; i < l->n; i++)
	{
		if (i > 0)
			strcat(s, sep);
		strcat(s, l->items[i]);
	}
	return s;
}

/*
 * Split a comma-separated text into l (appending), trimming blanks around
 * each element.  Returns 0, or -1 when an element is empty ("a,,b").  An
 * empty or blank text is an empty list.
 */
int
strlist_split(StrList *l, const char *text)
{
	const char *p = text;

	while (isspace((unsigned char) *p))
		p++;
	if (*p == '\0')
		return 0;
	for (;;)
	{
		const char *start = p;
		const char *end = strchr(p, ',');
		size_t		n;
		char	   *item;

		if (end == NULL)
			end = p + strlen(p);
		while (start < end && isspace((unsigned char) *start))
			start++;
		n = (size_t) (end - start);
		while (n > 0 && isspace((unsigned char) start[n - 1]))
			n--;
		if (n == 0)
			return -1;
		item = xmalloc(n + 1);
		memcpy(item, start, n);
		item[n] = '\0';
		strlist_add(l, item);
		free(item);
		if (*end == '\0')
			return 0;
		p = end + 1;
	}
}

/* Return seconds on the monotonic clock. */
double
mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/*
 * Sleep for the given seconds, or less when a signal arrives (the caller
 * then looks at its signal flags).
 */
void
sleep_seconds(double seconds)
{
	struct timespec ts;

	if (seconds <= 0)
		return;
	ts.tv_sec = (time_t) seconds;
	ts.tv_nsec = (long) ((seconds - (double) ts.tv_sec) * 1e9);
	(void) nanosleep(&ts, NULL);
}
