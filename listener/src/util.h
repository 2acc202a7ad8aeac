/*-------------------------------------------------------------------------
 *
 * util.h
 *	  Allocation, string lists and clocks shared by the listener's modules.
 *
 * The x* allocators never return NULL: running out of memory ends the
 * process with exit status 1.  The daemon is safe to stop at any point,
 * since every claim is committed before an order leaves and orders left
 * in flight are reconciled on the next start.
 *
 *-------------------------------------------------------------------------
 */
#ifndef UTIL_H
#define UTIL_H

#include <stdbool.h>
#include <stddef.h>

/* A growable vector of malloc'ed strings. */
typedef struct StrList
{
	int	   n;
	char **items;
} StrList;

extern void *xmalloc(size_t size);
extern void *xcalloc(size_t n, size_t size);
extern void *xrealloc(void *p, size_t size);
extern char *xstrdup(const char *s);
extern char *xasprintf(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

extern void	 strlist_add(StrList *l, const char *s);
extern void	 strlist_free(StrList *l);
extern void	 strlist_copy(StrList *dst, const StrList *src);
extern bool	 strlist_contains(const StrList *l, const char *s);
extern bool	 strlist_equal(const StrList *a, const StrList *b);
extern char *strlist_join(const StrList *l, const char *sep);
extern int	 strlist_split(StrList *l, const char *text);

extern double mono_now(void);
extern void	  sleep_seconds(double seconds);

#endif /* UTIL_H */
