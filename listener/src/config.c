/*-------------------------------------------------------------------------
 *
 * config.c
 *	  The listener's settings: defaults, config file, command line.
 *
 * One table lists every setting with its config-file key, type, default
 * and bounds; the command-line flags map onto the same keys, so a flag
 * and a file line are parsed by the same code.
 *
 * Config file syntax: one "key = value" per line; blank lines and
 * everything after '#' are ignored; a value may be single-quoted (a
 * quote inside is doubled), which allows '#' and leading blanks.
 *
 *-------------------------------------------------------------------------
 */
#define _POSIX_C_SOURCE 200809L

#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "gateway.h"

#define CONFIG_LINE_MAX 4096

typedef enum SettingType
{
	SET_STRING,
	SET_BOOL,
	SET_DOUBLE,
	SET_INT,
	SET_LIST
} SettingType;

typedef struct Setting
{
	const char *key; /* config file key */
	SettingType type;
	size_t		offset; /* field in Config */
	const char *boot;	/* default as text; NULL: unset */
	double		min;	/* bounds of numeric settings */
	double		max;
	const char *desc; /* one line for --describe-config */
} Setting;

#define CFG(field) offsetof(Config, field)

static const Setting settings[] = {
	{"conninfo", SET_STRING, CFG(conninfo), NULL, 0, 0,
	 "database name or connection string; unset: libpq's defaults and the "
	 "PG* environment variables"},
	{"gateway", SET_STRING, CFG(gateway_url), LISTENER_DEFAULT_GATEWAY, 0, 0,
	 "gateway base URL: https, or http to localhost only"},
	{"cacert", SET_STRING, CFG(cacert), NULL, 0, 0,
	 "CA certificate that signs the gateway's certificate; unset: the "
	 "system store"},
	{"insecure", SET_BOOL, CFG(insecure), "off", 0, 0,
	 "skip certificate checks; refused unless the gateway is on localhost"},
	{"compete", SET_BOOL, CFG(compete), "off", 0, 0,
	 "take the brokerage session over from another platform; off: wait "
	 "until it is free"},
	{"rate_budget", SET_BOOL, CFG(rate_budget), "on", 0, 0,
	 "keep requests under the gateway's 10 per second; off for benchmarks "
	 "only"},
	{"accounts", SET_LIST, CFG(accounts), "", 0, 0,
	 "accounts to serve, comma-separated; empty: every account the gateway "
	 "lists"},
	{"confirm_ids", SET_LIST, CFG(confirm_ids), "", 0, 0,
	 "prompt message ids that may be confirmed, comma-separated"},
	{"suppress_ids", SET_LIST, CFG(suppress_ids), "", 0, 0,
	 "message ids suppressed at the start of every brokerage session"},
	{"poll_interval", SET_DOUBLE, CFG(poll_interval), "2", 0.01, 3600,
	 "seconds between database polls and heartbeats"},
	{"time_scale", SET_DOUBLE, CFG(time_scale), "1", 0.001, 1000,
	 "factor on the gateway's timers (tickle, pacing, back-off, polls)"},
	{"http_timeout", SET_DOUBLE, CFG(http_timeout), "15", 0.1, 600,
	 "longest HTTP exchange with the gateway, seconds"},
	{"connect_timeout", SET_DOUBLE, CFG(connect_timeout), "5", 0.1, 120,
	 "longest connect to the gateway, seconds"},
	{"once_timeout", SET_DOUBLE, CFG(once_timeout), "300", 0.1, 86400,
	 "longest wait of --once, seconds"},
	{"positions_interval", SET_DOUBLE, CFG(pos_interval), "300", 0,
	 86400,
	 "seconds between comparisons of the broker's positions with "
	 "pgtrade's (not scaled); 0: never"},
	{"statement_timeout", SET_INT, CFG(statement_timeout), "15000", 100,
	 3600000, "statement timeout of the database session, milliseconds"},
	{"lock_timeout", SET_INT, CFG(lock_timeout), "5000", 100, 3600000,
	 "lock timeout of the database session, milliseconds"},
	{"name", SET_STRING, CFG(name), NULL, 0, 0,
	 "listener name recorded in pgtrade.listener; unset: the host name"},
	{"verbose", SET_BOOL, CFG(verbose), "off", 0, 0,
	 "write DEBUG lines too"},
	{"bars_interval", SET_DOUBLE, CFG(bars_interval), "0", 0, 86400,
	 "seconds between market-data refreshes, times time_scale; 0: off"},
	{"paper", SET_BOOL, CFG(paper), "off", 0, 0,
	 "paper mode: no gateway, orders filled from stored bars; needs "
	 "accounts; read at start only"},
	{"paper_slippage_bps", SET_DOUBLE, CFG(paper_slippage), "5", 0, 1000,
	 "slippage of paper fills against the trader, basis points"},
	{"paper_max_bar_age", SET_DOUBLE, CFG(paper_bar_age), "0", 0,
	 31536000,
	 "no paper fill from a bar that ended longer ago, seconds; 0: the "
	 "strategy's max_bar_age rule"},
};

#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

/* Codes of the long options that have no short form. */
enum
{
	OPT_GATEWAY = 256,
	OPT_CACERT,
	OPT_INSECURE,
	OPT_ACCOUNTS,
	OPT_CONFIRM_IDS,
	OPT_SUPPRESS_IDS,
	OPT_POLL_INTERVAL,
	OPT_TIME_SCALE,
	OPT_HTTP_TIMEOUT,
	OPT_ONCE,
	OPT_ONCE_TIMEOUT,
	OPT_NAME,
	OPT_POSITIONS_INTERVAL,
	OPT_COMPETE,
	OPT_BARS_INTERVAL,
	OPT_PAPER,
	OPT_PAPER_SLIPPAGE,
	OPT_PAPER_MAX_BAR_AGE,
	OPT_NO_RATE_BUDGET,
	OPT_DESCRIBE_CONFIG
};

/* Map of option codes to setting keys (flags without a key are NULL). */
static const struct
{
	int			code;
	const char *key;
} option_keys[] = {
	{'d', "conninfo"},
	{OPT_GATEWAY, "gateway"},
	{OPT_CACERT, "cacert"},
	{OPT_INSECURE, "insecure"},
	{OPT_ACCOUNTS, "accounts"},
	{OPT_CONFIRM_IDS, "confirm_ids"},
	{OPT_SUPPRESS_IDS, "suppress_ids"},
	{OPT_POLL_INTERVAL, "poll_interval"},
	{OPT_TIME_SCALE, "time_scale"},
	{OPT_HTTP_TIMEOUT, "http_timeout"},
	{OPT_ONCE_TIMEOUT, "once_timeout"},
	{OPT_NAME, "name"},
	{OPT_POSITIONS_INTERVAL, "positions_interval"},
	{OPT_COMPETE, "compete"},
	{OPT_NO_RATE_BUDGET, "rate_budget"},
	{'v', "verbose"},
	{OPT_BARS_INTERVAL, "bars_interval"},
	{OPT_PAPER, "paper"},
	{OPT_PAPER_SLIPPAGE, "paper_slippage_bps"},
	{OPT_PAPER_MAX_BAR_AGE, "paper_max_bar_age"},
};

/* The command-line options; option_keys maps them onto settings. */
static const struct option long_options[] = {
	{"config", required_argument, NULL, 'c'},
	{"dbname", required_argument, NULL, 'd'},
	{"gateway", required_argument, NULL, OPT_GATEWAY},
	{"cacert", required_argument, NULL, OPT_CACERT},
	{"insecure", no_argument, NULL, OPT_INSECURE},
	{"accounts", required_argument, NULL, OPT_ACCOUNTS},
	{"confirm-ids", required_argument, NULL, OPT_CONFIRM_IDS},
	{"suppress-ids", required_argument, NULL, OPT_SUPPRESS_IDS},
	{"poll-interval", required_argument, NULL, OPT_POLL_INTERVAL},
	{"time-scale", required_argument, NULL, OPT_TIME_SCALE},
	{"http-timeout", required_argument, NULL, OPT_HTTP_TIMEOUT},
	{"once", no_argument, NULL, OPT_ONCE},
	{"once-timeout", required_argument, NULL, OPT_ONCE_TIMEOUT},
	{"name", required_argument, NULL, OPT_NAME},
	{"positions-interval", required_argument, NULL,
	 OPT_POSITIONS_INTERVAL},
	{"compete", no_argument, NULL, OPT_COMPETE},
	{"no-rate-budget", no_argument, NULL, OPT_NO_RATE_BUDGET},
	{"verbose", no_argument, NULL, 'v'},
	{"bars-interval", required_argument, NULL, OPT_BARS_INTERVAL},
	{"paper", no_argument, NULL, OPT_PAPER},
	{"paper-slippage-bps", required_argument, NULL, OPT_PAPER_SLIPPAGE},
	{"paper-max-bar-age", required_argument, NULL, OPT_PAPER_MAX_BAR_AGE},
	{"version", no_argument, NULL, 'V'},
	{"help", no_argument, NULL, '?'},
	{"describe-config", no_argument, NULL, OPT_DESCRIBE_CONFIG},
	{NULL, 0, NULL, 0}};

/* Print the --help text. */
static void
print_help(void)
{
	printf("pgtrade-listener sends pgtrade's orders to an IBKR Client Portal "
		   "gateway\nand records what becomes of them in PostgreSQL.\n\n");
	printf("Usage:\n  pgtrade-listener [OPTION]...\n\n");
	printf("Options:\n");
	printf("  -c, --config=FILE          read settings from FILE\n");
	printf("      --name=NAME            listener name recorded in the "
		   "database\n"
		   "                             (default: the host name)\n");
	printf("      --once                 process the queued orders, wait "
		   "until they end,\n"
		   "                             then exit\n");
	printf("      --once-timeout=SECS    longest wait of --once "
		   "(default: 300)\n");
	printf("      --poll-interval=SECS   seconds between database polls "
		   "(default: 2)\n");
	printf("  -v, --verbose              write DEBUG lines too\n");
	printf("  -V, --version              output version information, "
		   "then exit\n");
	printf("  -?, --help                 show this help, then exit\n");
	printf("      --describe-config      list every setting (tab-separated), "
		   "then exit\n");
	printf("\nGateway options:\n");
	printf("      --gateway=URL          gateway base URL\n"
		   "                             (default: %s)\n",
		   LISTENER_DEFAULT_GATEWAY);
	printf("      --cacert=FILE          CA certificate that signs the "
		   "gateway's certificate\n");
	printf("      --insecure             skip certificate checks "
		   "(localhost only)\n");
	printf("      --accounts=A,B         accounts to serve (default: every "
		   "account\n"
		   "                             the gateway lists)\n");
	printf("      --confirm-ids=IDS      prompt message ids that may be "
		   "confirmed\n"
		   "                             (default: none)\n");
	printf("      --suppress-ids=IDS     message ids to suppress at session "
		   "start\n");
	printf("      --compete              take the brokerage session over "
		   "from another\n"
		   "                             platform (default: wait until it "
		   "is free)\n");
	printf("      --time-scale=F         multiply the gateway's timers by F "
		   "(default: 1)\n");
	printf("      --http-timeout=SECS    longest HTTP exchange "
		   "(default: 15)\n");
	printf("      --positions-interval=SECS  seconds between broker "
		   "position checks\n"
		   "                             (default: 300; 0: never)\n");
	printf("      --bars-interval=SECS   fetch the strategies' bars every "
		   "SECS seconds\n"
		   "                             times the time scale "
		   "(default: 0, off)\n");
	printf("\nPaper trading (no gateway):\n");
	printf("      --paper                fill the served accounts' orders "
		   "from stored\n"
		   "                             bars; needs --accounts\n");
	printf("      --paper-slippage-bps=N slippage of paper fills in basis "
		   "points\n"
		   "                             (default: 5)\n");
	printf("      --paper-max-bar-age=SECS\n"
		   "                             no paper fill from a bar that "
		   "ended longer ago\n"
		   "                             (default: the strategy's "
		   "max_bar_age rule)\n");
	printf("      --no-rate-budget       lift the 10 requests/s budget "
		   "(benchmarks only)\n");
	printf("\nConnection options:\n");
	printf("  -d, --dbname=CONNINFO      database name or connection "
		   "string\n");
	printf("\nThe database connection also follows the PG* environment "
		   "variables.\n");
	printf("Exit status: 0 normal, 1 runtime failure, 2 usage or "
		   "configuration error.\n");
}

/*
 * Append to buf the command-line flags that set the setting key, as
 * "-d, --dbname": a short letter when the option has one, then every long
 * name whose option code maps onto key.
 */
static void
setting_flags(const char *key, char *buf, size_t len)
{
	size_t i;
	size_t o;

	buf[0] = '\0';
	for (i = 0; i < sizeof(option_keys) / sizeof(option_keys[0]); i++)
	{
		int code = option_keys[i].code;

		if (strcmp(option_keys[i].key, key) != 0)
			continue;
		if (code < 256)
			snprintf(buf + strlen(buf), len - strlen(buf), "%s-%c",
					 buf[0] ? ", " : "", code);
		for (o = 0; long_options[o].name != NULL; o++)
			if (long_options[o].val == code)
				snprintf(buf + strlen(buf), len - strlen(buf), "%s--%s",
						 buf[0] ? ", " : "", long_options[o].name);
	}
}

/*
 * Print every setting on one tab-separated line, in table order: key,
 * type, default (empty when unset), minimum and maximum (empty unless
 * numeric), command-line flags, description.  The reference generator
 * reads this, so the documentation cannot lose a setting.
 */
static void
print_describe_config(void)
{
	/* in the order of SettingType */
	static const char *const type_names[] = {
		"string", "bool", "real", "integer", "list"};
	char   flags[128];
	size_t i;

	for (i = 0; i < N_SETTINGS; i++)
	{
		const Setting *s = &settings[i];
		bool		   numeric = s->type == SET_DOUBLE || s->type == SET_INT;

		setting_flags(s->key, flags, sizeof(flags));
		printf("%s\t%s\t%s\t", s->key, type_names[s->type],
			   s->boot ? s->boot : "");
		if (numeric)
			printf("%.15g\t%.15g\t", s->min, s->max);
		else
			printf("\t\t");
		printf("%s\t%s\n", flags, s->desc ? s->desc : "");
	}
}

/* Return the setting with the given key, or NULL. */
static const Setting *
setting_find(const char *key)
{
	size_t i;

	for (i = 0; i < N_SETTINGS; i++)
		if (strcmp(settings[i].key, key) == 0)
			return &settings[i];
	return NULL;
}

/* Parse a boolean word.  Returns 0 or -1. */
static int
parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"on", "true", "yes", "1"};
	static const char *const no[] = {"off", "false", "no", "0"};
	size_t					 i;

	for (i = 0; i < 4; i++)
	{
		if (strcasecmp(s, yes[i]) == 0 || strcasecmp(s, no[i]) == 0)
		{
			*out = strcasecmp(s, yes[i]) == 0;
			return 0;
		}
	}
	return -1;
}

/* Parse a number within [min, max].  Returns 0 or -1. */
static int
parse_number(const char *s, double min, double max, double *out)
{
	char  *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !isfinite(v) ||
		v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/*
 * Set one setting of cfg from its text value.  Returns 0, or -1 with err
 * set (the setting keeps its old value).
 */
static int
setting_apply(Config *cfg, const Setting *s, const char *value,
			  char *err, size_t errlen)
{
	char   *field = (char *) cfg + s->offset;
	StrList list = {0};
	double	d;
	bool	b;

	switch (s->type)
	{
		case SET_STRING:
			free(*(char **) field);
			*(char **) field = value[0] ? xstrdup(value) : NULL;
			return 0;
		case SET_BOOL:
			if (parse_bool(value, &b) != 0)
				break;
			*(bool *) field = b;
			return 0;
		case SET_DOUBLE:
		case SET_INT:
			if (parse_number(value, s->min, s->max, &d) != 0 ||
				(s->type == SET_INT && d != (double) (int) d))
				break;
			if (s->type == SET_INT)
				*(int *) field = (int) d;
			else
				*(double *) field = d;
			return 0;
		case SET_LIST:
			if (strlist_split(&list, value) != 0)
			{
				strlist_free(&list);
				break;
			}
			strlist_free((StrList *) field);
			*(StrList *) field = list;
			return 0;
	}
	if (s->type == SET_DOUBLE || s->type == SET_INT)
		snprintf(err, errlen, "invalid value for \"%s\": \"%s\" (a number "
							  "from %g to %g)",
				 s->key, value, s->min, s->max);
	else
		snprintf(err, errlen, "invalid value for \"%s\": \"%s\"",
				 s->key, value);
	return -1;
}

/* Set every setting to its built-in default. */
static void
config_set_defaults(Config *cfg)
{
	char   err[256];
	size_t i;

	for (i = 0; i < N_SETTINGS; i++)
		if (settings[i].boot != NULL)
			(void) setting_apply(cfg, &settings[i], settings[i].boot,
								 err, sizeof(err));
}

/*
 * Split one config line into key and value (pointers into line, which
 * is modified).  Returns 1 for a setting, 0 for a blank or comment line,
 * -1 for a syntax error.
 */
static int
config_split_line(char *line, char **key, char **value)
{
	char *p = line;
	char *out;

	while (isspace((unsigned char) *p))
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	*key = p;
	while (isalnum((unsigned char) *p) || *p == '_')
		p++;
	if (p == *key)
		return -1;
	out = p;
	while (isspace((unsigned char) *p))
		p++;
	if (*p++ != '=')
		return -1;
	*out = '\0';
	while (isspace((unsigned char) *p))
		p++;
	*value = out = p;
	if (*p == '\'')
	{
		*value = out = ++p;
		for (;; p++)
		{
			if (*p == '\0')
				return -1;
			if (*p == '\'' && p[1] != '\'')
				break;
			*out++ = *p;
			if (*p == '\'')
				p++;
		}
		*out = '\0';
		p++;
		while (isspace((unsigned char) *p))
			p++;
		return (*p == '\0' || *p == '#') ? 1 : -1;
	}
	while (*p && *p != '#')
		p++;
	while (p > *value && isspace((unsigned char) p[-1]))
		p--;
	*p = '\0';
	return 1;
}

/* Read the config file into cfg.  Returns 0, or -1 with err set. */
static int
config_read_file(Config *cfg, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char  line[CONFIG_LINE_MAX];
	char  why[256];
	int	  lineno = 0;
	int	  rc = 0;

	struct stat st;

	if (f == NULL)
	{
		snprintf(err, errlen, "could not open config file \"%s\": %s",
				 path, strerror(errno));
		return -1;
	}
	/* a directory opens and reads as empty: every setting its default */
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
	{
		snprintf(err, errlen, "config file \"%s\" is not a regular file",
				 path);
		fclose(f);
		return -1;
	}
	cfg->config_file_mode = (int) (st.st_mode & 07777);
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL)
	{
		char		  *key;
		char		  *value;
		const Setting *s;
		int			   kind;

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		kind = config_split_line(line, &key, &value);
		if (kind == 0)
			continue;
		if (kind < 0)
			snprintf(why, sizeof(why), "syntax error");
		else if ((s = setting_find(key)) == NULL)
			snprintf(why, sizeof(why), "unknown setting \"%.100s\"", key);
		else if (setting_apply(cfg, s, value, why, sizeof(why)) == 0)
			continue;
		snprintf(err, errlen, "config file \"%s\", line %d: %s",
				 path, lineno, why);
		rc = -1;
	}
	fclose(f);
	return rc;
}

/*
 * Tell whether path is a readable file holding a PEM certificate, as
 * the gateway client's CA file must: anything else would fail every TLS
 * handshake, forever.  Returns false with err set.
 */
static bool
ca_file_ok(const char *path, char *err, size_t errlen)
{
	FILE	   *f = fopen(path, "r");
	struct stat st;
	char		line[512];
	bool		found = false;

	if (f == NULL)
	{
		snprintf(err, errlen, "could not read CA file \"%s\": %s", path,
				 strerror(errno));
		return false;
	}
	if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode))
		while (!found && fgets(line, sizeof(line), f) != NULL)
			found = strncmp(line, "-----BEGIN CERTIFICATE-----", 27) == 0;
	fclose(f);
	if (!found)
		snprintf(err, errlen, "CA file \"%s\" holds no PEM certificate "
							  "(-----BEGIN CERTIFICATE-----)",
				 path);
	return found;
}

/* Fill in derived defaults and check the whole configuration. */
static int
config_finish(Config *cfg, char *err, size_t errlen)
{
	char   host[256];
	size_t n;

	if (cfg->name == NULL)
	{
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "pgtrade-listener");
		host[sizeof(host) - 1] = '\0';
		cfg->name = xstrdup(host);
	}
	/*
	 * A connection string (key=value pairs or a URI; anything else is a
	 * database name) that libpq cannot parse would fail every connection
	 * attempt, forever.
	 */
	if (cfg->conninfo != NULL &&
		(strchr(cfg->conninfo, '=') != NULL ||
		 strncmp(cfg->conninfo, "postgresql://", 13) == 0 ||
		 strncmp(cfg->conninfo, "postgres://", 11) == 0))
	{
		char			 *why = NULL;
		PQconninfoOption *opts = PQconninfoParse(cfg->conninfo, &why);

		if (opts == NULL)
		{
			n = why != NULL ? strcspn(why, "\n") : 0;
			snprintf(err, errlen, "database connection string: %.*s",
					 (int) n, why != NULL ? why : "out of memory");
			PQfreemem(why);
			return -1;
		}
		PQconninfoFree(opts);
	}
	if (cfg->paper)
	{
		/* nothing is sent anywhere: the gateway settings are not used */
		if (cfg->accounts.n == 0)
		{
			snprintf(err, errlen, "paper mode needs the accounts to serve "
								  "(--accounts): a paper listener fills "
								  "every order of its accounts");
			return -1;
		}
		if (cfg->once)
		{
			snprintf(err, errlen, "--once is not available in paper mode");
			return -1;
		}
		return 0;
	}
	n = strlen(cfg->gateway_url);
	while (n > 0 && cfg->gateway_url[n - 1] == '/')
		cfg->gateway_url[--n] = '\0';
	if (cfg->cacert != NULL && !ca_file_ok(cfg->cacert, err, errlen))
		return -1;
	return gateway_check_url(cfg->gateway_url, cfg->insecure, err, errlen);
}

/* Apply the saved command-line settings on top of cfg. */
static int
config_apply_overrides(Config *cfg, const StrList *keys,
					   const StrList *values, char *err, size_t errlen)
{
	int i;

	for (i = 0; i < keys->n; i++)
		if (setting_apply(cfg, setting_find(keys->items[i]),
						  values->items[i], err, errlen) != 0)
			return -1;
	return 0;
}

/* Return the setting key of an option code, or NULL. */
static const char *
option_key(int code)
{
	size_t i;

	for (i = 0; i < sizeof(option_keys) / sizeof(option_keys[0]); i++)
		if (option_keys[i].code == code)
			return option_keys[i].key;
	return NULL;
}

/* Read the options of argv into cfg.  Returns CONFIG_OK or the outcome. */
static ConfigOutcome
config_parse_options(int argc, char **argv, Config *cfg)
{
	int c;

	while ((c = getopt_long(argc, argv, "c:d:vV?", long_options, NULL)) != -1)
	{
		const char *key = option_key(c);

		if (key != NULL)
		{
			strlist_add(&cfg->override_keys, key);
			strlist_add(&cfg->override_values,
						optarg						  ? optarg
							: c == OPT_NO_RATE_BUDGET ? "off"
													  : "on");
		}
		else if (c == 'c')
		{
			free(cfg->config_file);
			cfg->config_file = xstrdup(optarg);
		}
		else if (c == OPT_ONCE)
			cfg->once = true;
		else if (c == OPT_DESCRIBE_CONFIG)
		{
			print_describe_config();
			return CONFIG_DONE;
		}
		else if (c == 'V')
		{
			printf("pgtrade-listener (pgtrade) %s\n", LISTENER_VERSION);
			return CONFIG_DONE;
		}
		else
		{
			fprintf(stderr, "Try \"pgtrade-listener --help\" for more "
							"information.\n");
			return CONFIG_ERROR;
		}
	}
	if (optind < argc)
	{
		fprintf(stderr, "pgtrade-listener: too many command-line arguments "
						"(first is \"%s\")\n",
				argv[optind]);
		fprintf(stderr, "Try \"pgtrade-listener --help\" for more "
						"information.\n");
		return CONFIG_ERROR;
	}
	return CONFIG_OK;
}

/* Return the password a conninfo string holds (malloc'ed), or NULL. */
static char *
conninfo_password(const char *conninfo)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	PQconninfoOption *o;
	char			 *pw = NULL;

	for (o = opts; o != NULL && o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL &&
			o->val[0] != '\0')
			pw = xstrdup(o->val);
	PQconninfoFree(opts);
	return pw;
}

/*
 * Overwrite with 'x' the password inside value, which ends the argument
 * arg ("-dVALUE", "--dbname=VALUE" or VALUE): where it appears once as
 * written, just it; otherwise (written with escapes, or several times)
 * the whole value.
 */
static void
mask_password(char *arg, const char *value, const char *pw)
{
	size_t alen = strlen(arg);
	size_t vlen = strlen(value);
	char  *v;
	char  *hit;

	if (vlen > alen || strcmp(arg + alen - vlen, value) != 0)
		return;
	v = arg + alen - vlen;
	hit = strstr(v, pw);
	if (hit != NULL && strstr(hit + 1, pw) == NULL)
		memset(hit, 'x', strlen(pw));
	else
		memset(v, 'x', vlen);
}

/*
 * Return the user name and password of a URL ("user:secret" in
 * "https://user:secret@host/"), as gateway_redact_url finds them
 * (malloc'ed), or NULL when it has none.
 */
static char *
url_credentials(const char *url)
{
	const char *auth = strstr(url, "://");
	const char *at;

	auth = auth != NULL ? auth + 3 : url;
	at = strrchr(auth, '@');
	if (at == NULL || at == auth)
		return NULL;
	return xasprintf("%.*s", (int) (at - auth), auth);
}

/*
 * Hide the secrets given on the command line from the other users of
 * the machine: ps and /proc/<pid>/cmdline show the arguments as they
 * are in this process's memory, so once the options are read, the
 * password of each conninfo argument and the credentials of each
 * gateway URL are overwritten there.  The settings keep their own
 * copies.  Until this runs, at start-up, they are visible: a config
 * file (or ~/.pgpass) keeps them out of the arguments altogether.
 */
static void
config_hide_password(int argc, char **argv, const Config *cfg)
{
	int i;
	int a;

	for (i = 0; i < cfg->override_keys.n; i++)
	{
		const char *key = cfg->override_keys.items[i];
		const char *value = cfg->override_values.items[i];
		char	   *secret = NULL;

		if (strcmp(key, "conninfo") == 0)
			secret = conninfo_password(value);
		else if (strcmp(key, "gateway") == 0)
			secret = url_credentials(value);
		if (secret == NULL)
			continue;
		for (a = 1; a < argc; a++)
			mask_password(argv[a], value, secret);
		free(secret);
	}
}

/*
 * Build the configuration from the command line (and the config file it
 * names).  Prints --help or --version, or an error on stderr.  A
 * password in -d is masked in argv (config_hide_password).
 */
ConfigOutcome
config_from_args(int argc, char **argv, Config *cfg)
{
	char		  err[512];
	ConfigOutcome r;

	const char *first = argc > 1 ? argv[1] : "";

	memset(cfg, 0, sizeof(*cfg));
	if (strcmp(first, "--help") == 0 || strcmp(first, "-?") == 0)
	{
		print_help();
		return CONFIG_DONE;
	}
	if (strcmp(first, "--describe-config") == 0)
	{
		print_describe_config();
		return CONFIG_DONE;
	}
	if (strcmp(first, "--version") == 0 || strcmp(first, "-V") == 0)
	{
		printf("pgtrade-listener (pgtrade) %s\n", LISTENER_VERSION);
		return CONFIG_DONE;
	}
	config_set_defaults(cfg);
	r = config_parse_options(argc, argv, cfg);
	if (r != CONFIG_OK)
		return r;
	config_hide_password(argc, argv, cfg);
	if ((cfg->config_file != NULL &&
		 config_read_file(cfg, cfg->config_file, err, sizeof(err)) != 0) ||
		config_apply_overrides(cfg, &cfg->override_keys,
							   &cfg->override_values, err, sizeof(err)) != 0 ||
		config_finish(cfg, err, sizeof(err)) != 0)
	{
		fprintf(stderr, "pgtrade-listener: %s\n", err);
		return CONFIG_ERROR;
	}
	return CONFIG_OK;
}

/*
 * Build next from defaults, the config file of cur and the command-line
 * settings of cur, as SIGHUP asks.  Returns 0, or -1 with err set and
 * next freed.
 */
int
config_reload(const Config *cur, Config *next, char *err, size_t errlen)
{
	memset(next, 0, sizeof(*next));
	config_set_defaults(next);
	next->once = cur->once;
	next->config_file = xstrdup(cur->config_file);
	strlist_copy(&next->override_keys, &cur->override_keys);
	strlist_copy(&next->override_values, &cur->override_values);
	if ((next->config_file != NULL &&
		 config_read_file(next, next->config_file, err, errlen) != 0) ||
		config_apply_overrides(next, &next->override_keys,
							   &next->override_values, err, errlen) != 0 ||
		config_finish(next, err, errlen) != 0)
	{
		config_free(next);
		return -1;
	}
	return 0;
}

/*
 * Describe the settings an operator checks in the log, in one line
 * (malloc'ed; the caller frees it).  The gateway URL is shown with any
 * user name and password masked; the connection string never appears.
 */
char *
config_describe(const Config *cfg)
{
	char *gateway = gateway_redact_url(cfg->gateway_url);
	char *accounts = strlist_join(&cfg->accounts, ",");
	char *confirm = strlist_join(&cfg->confirm_ids, ",");
	char *text;

	if (cfg->paper && cfg->paper_bar_age > 0)
		text = xasprintf("paper mode, no gateway; accounts %s; slippage "
						 "%g bps; max bar age %g s; poll %.2f s",
						 accounts, cfg->paper_slippage,
						 cfg->paper_bar_age, cfg->poll_interval);
	else if (cfg->paper)
		text = xasprintf("paper mode, no gateway; accounts %s; slippage "
						 "%g bps; max bar age of the strategy; poll %.2f s",
						 accounts, cfg->paper_slippage,
						 cfg->poll_interval);
	else
		text = xasprintf("gateway %s%s; accounts %s; confirm ids %s; "
						 "poll %.2f s; positions every %g s; time scale %g; "
						 "bars every %g s%s%s%s",
						 gateway,
						 cfg->insecure ? " (certificate checks off)" : "",
						 accounts[0] ? accounts : "(all)",
						 confirm[0] ? confirm : "(none)", cfg->poll_interval,
						 cfg->pos_interval, cfg->time_scale,
						 cfg->bars_interval, cfg->compete ? "; compete" : "",
						 cfg->once ? "; --once" : "",
						 cfg->rate_budget ? "" : "; RATE BUDGET OFF");
	free(gateway);
	free(accounts);
	free(confirm);
	return text;
}

/* Release everything cfg owns and zero it. */
void
config_free(Config *cfg)
{
	free(cfg->conninfo);
	free(cfg->gateway_url);
	free(cfg->cacert);
	strlist_free(&cfg->accounts);
	strlist_free(&cfg->confirm_ids);
	strlist_free(&cfg->suppress_ids);
	free(cfg->name);
	free(cfg->config_file);
	strlist_free(&cfg->override_keys);
	strlist_free(&cfg->override_values);
	memset(cfg, 0, sizeof(*cfg));
}
