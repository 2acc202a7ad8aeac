/*-------------------------------------------------------------------------
 *
 * config.h
 *	  The listener's settings: defaults, config file, command line.
 *
 * Precedence, lowest first: built-in defaults, the config file (-c), the
 * command line.  On SIGHUP the file is read again and the command line
 * re-applied on top; a file that fails to parse leaves the running
 * configuration untouched.  The database connection follows libpq:
 * PG* environment variables, then the conninfo setting (-d).
 *
 *-------------------------------------------------------------------------
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

#define LISTENER_DEFAULT_GATEWAY "https://localhost:5000/v1/api"

typedef struct Config
{
	char   *conninfo;		   /* NULL: libpq defaults only */
	char   *gateway_url;	   /* base URL, no trailing slash */
	char   *cacert;			   /* CA file for the gateway, or NULL */
	bool	insecure;		   /* skip TLS checks (loopback only) */
	bool	compete;		   /* evict a competing session at init */
	bool	rate_budget;	   /* off: no 10 requests/s cap (benchmarks) */
	StrList accounts;		   /* empty: every account of the gateway */
	StrList confirm_ids;	   /* prompt message ids we may confirm */
	StrList suppress_ids;	   /* message ids suppressed per session */
	double	poll_interval;	   /* seconds between polls */
	double	time_scale;		   /* factor on the gateway's timers */
	double	http_timeout;	   /* seconds for a whole HTTP exchange */
	double	connect_timeout;   /* seconds to connect to the gateway */
	double	once_timeout;	   /* --once: seconds before giving up */
	double	pos_interval;	   /* seconds between position checks */
	int		statement_timeout; /* milliseconds */
	int		lock_timeout;	   /* milliseconds */
	char   *name;			   /* listener name recorded in the database */
	bool	verbose;		   /* write DEBUG lines */

	/* market-data refresh (bars.c) and paper mode (paper.c) */
	double bars_interval;  /* seconds between bar refreshes, 0: off */
	bool   paper;		   /* fill from stored bars, no gateway */
	double paper_slippage; /* basis points */
	double paper_bar_age;  /* seconds; 0: the strategy's rule */

	/* command line only */
	bool	once;
	char   *config_file;
	int		config_file_mode; /* its permission bits, once read */
	StrList override_keys;	  /* settings given on the command line */
	StrList override_values;
} Config;

typedef enum ConfigOutcome
{
	CONFIG_OK,	 /* run with the configuration */
	CONFIG_DONE, /* --help or --version was printed */
	CONFIG_ERROR /* a message was printed; exit 2 */
} ConfigOutcome;

extern ConfigOutcome config_from_args(int argc, char **argv, Config *cfg);
extern int			 config_reload(const Config *cur, Config *next,
								   char *err, size_t errlen);
extern char			*config_describe(const Config *cfg);
extern void			 config_free(Config *cfg);

#endif /* CONFIG_H */
