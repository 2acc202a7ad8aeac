/*-------------------------------------------------------------------------
 *
 * indicators_loop.c
 *	  The indicators as plain C loops over a C array: the floor that
 *	  pgtrade's SQL array functions are compared with (bench/run.sh).
 *
 * It runs each indicator of extension/src/indicators.c, the code the SQL
 * functions call, over n closes held in memory (highs and lows 0.5 above
 * and below each), five times, and prints the median in nanoseconds a
 * value.  The SQL side of the comparison is bench/indicators.sql's "call"
 * and "in memory" queries, which time the same indicators called through
 * SQL; bench/run.sh hands this program the series those queries used, so
 * that both sides compute on the same values.
 *
 *	  indicators_loop [n [file]]	(default 200000)
 *
 * file holds at least n closes, one a line; without it the closes are a
 * random walk of its own.
 *
 *-------------------------------------------------------------------------
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "indicators.h"

#define RUNS 5

static double *in_high;
static double *in_low;
static double *in_close;
static double *out_a;
static double *out_b;
static double *out_c;

/* one indicator over the n values in memory */
typedef void (*BenchFn)(size_t n);

static void
run_sma(size_t n)
{
	ind_sma(in_close, n, 20, out_a);
}

static void
run_ema(size_t n)
{
	ind_ema(in_close, n, 20, out_a);
}

static void
run_wma(size_t n)
{
	ind_wma(in_close, n, 20, out_a);
}

static void
run_rsi(size_t n)
{
	ind_rsi(in_close, n, 14, out_a);
}

static void
run_stddev(size_t n)
{
	ind_stddev(in_close, n, 20, out_a);
}

static void
run_roc(size_t n)
{
	ind_roc(in_close, n, 10, out_a);
}

static void
run_bollinger(size_t n)
{
	ind_bollinger(in_close, n, 20, 2.0, out_a, out_b, out_c);
}

static void
run_macd(size_t n)
{
	ind_macd(in_close, n, 12, 26, 9, out_a, out_b, out_c);
}

static void
run_atr(size_t n)
{
	ind_atr(in_high, in_low, in_close, n, 14, out_a);
}

static void
run_supertrend(size_t n)
{
	ind_supertrend(in_high, in_low, in_close, n, 10, 3.0, out_a, out_b);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *) a;
	double y = *(const double *) b;

	return (x > y) - (x < y);
}

/*
 * Return the median over RUNS runs of fn, in nanoseconds a value.
 */
static double
median_ns(BenchFn fn, size_t n)
{
	double ns[RUNS];
	int	   r;

	for (r = 0; r < RUNS; r++)
	{
		struct timespec t0;
		struct timespec t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		fn(n);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ns[r] = ((double) (t1.tv_sec - t0.tv_sec) * 1e9 +
				 (double) (t1.tv_nsec - t0.tv_nsec)) /
			(double) n;
	}
	qsort(ns, RUNS, sizeof(double), cmp_double);
	return ns[RUNS / 2];
}

/*
 * Read n closes, one a line, from path into out; 0 on success, else an
 * error printed.
 */
static int
read_closes(const char *path, size_t n, double *out)
{
	FILE  *f = fopen(path, "r");
	size_t i;

	if (f == NULL)
	{
		perror(path);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (fscanf(f, "%lf", &out[i]) != 1)
		{
			fprintf(stderr, "indicators_loop: %s has %zu values, not %zu\n",
					path, i, n);
			fclose(f);
			return -1;
		}
	fclose(f);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct
	{
		const char *name;
		BenchFn		fn;
	} cases[] = {
		{"sma(20)", run_sma},
		{"ema(20)", run_ema},
		{"wma(20)", run_wma},
		{"rsi(14)", run_rsi},
		{"stddev(20)", run_stddev},
		{"roc(10)", run_roc},
		{"bollinger(20, 2)", run_bollinger},
		{"macd(12, 26, 9)", run_macd},
		{"atr(14)", run_atr},
		{"supertrend(10, 3)", run_supertrend},
	};
	size_t	 n = argc > 1 ? (size_t) strtoul(argv[1], NULL, 10) : 200000;
	uint64_t s = 42;
	double	 x = 100.0;
	size_t	 i;

	if (n < 100)
	{
		fprintf(stderr, "indicators_loop: n must be at least 100\n");
		return 2;
	}
	in_high = malloc(sizeof(double) * n);
	in_low = malloc(sizeof(double) * n);
	in_close = malloc(sizeof(double) * n);
	out_a = malloc(sizeof(double) * n);
	out_b = malloc(sizeof(double) * n);
	out_c = malloc(sizeof(double) * n);
	if (!in_high || !in_low || !in_close || !out_a || !out_b || !out_c)
	{
		fprintf(stderr, "indicators_loop: out of memory\n");
		return 1;
	}
	if (argc > 2 && read_closes(argv[2], n, in_close) != 0)
		return 1;
	/* without a file, a random walk (xorshift64) */
	for (i = 0; i < n; i++)
	{
		if (argc <= 2)
		{
			s ^= s << 13;
			s ^= s >> 7;
			s ^= s << 17;
			x += (double) (s >> 11) / 9007199254740992.0 - 0.5;
			in_close[i] = x;
		}
		in_high[i] = in_close[i] + 0.5;
		in_low[i] = in_close[i] - 0.5;
	}
	printf("indicator|ns_per_value\n");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		printf("%s|%.2f\n", cases[i].name, median_ns(cases[i].fn, n));
	return 0;
}
