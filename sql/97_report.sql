/*
 * 97_report.sql: pages that picture a kept backtest or a strategy's
 * trading: prices with the kind's indicators, buy and sell markers at
 * the fills, equity and drawdown, the summary and the trades.
 *
 * A page is one text value of HTML with inline CSS and SVG: no script,
 * no font, no image and no address to fetch, and a Content-Security-
 * Policy that forbids loading any.  The charts are drawn here, each
 * series a path whose points are scaled to the chart's box.  Every text
 * that comes from the database goes through report_escape.
 *
 * The functions run with the caller's rights (SECURITY INVOKER): they
 * read the views and tables under the same privileges and row-level
 * security as any query of the caller's, so a page shows only what its
 * caller may see, and an id the caller may not see is reported as
 * missing.  Kept backtests are for traders and admins, as the tables
 * are; a strategy's page reads only views, so readers may draw it too.
 */

/*
 * report_escape makes a text safe inside HTML elements and quoted
 * attributes; NULL becomes the empty string, so that a missing value
 * cannot blank a page built by concatenation.
 */
CREATE FUNCTION pgtrade.report_escape(value text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(replace(replace(replace(replace(replace(value,
		'&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;'),
		'''', '&#39;'), '');
$$;
COMMENT ON FUNCTION pgtrade.report_escape(text) IS
	'Internal: a text escaped for HTML (& < > " and quote); NULL gives an '
	'empty string.';

/*
 * report_number formats a number with thousands separated by commas and
 * the given decimals (at least that many, up to 4 more when the value
 * has them); NULL becomes a dash.
 */
CREATE FUNCTION pgtrade.report_number(value numeric, decimals integer,
	extra integer DEFAULT 0)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN value IS NULL THEN '–'
		WHEN value = 'NaN' THEN 'NaN'
		ELSE rtrim(to_char(round(value, decimals + extra),
			'FM999,999,999,999,999,999,990'
			|| CASE WHEN decimals + extra > 0 THEN '.'
				|| repeat('0', decimals) || repeat('9', extra) ELSE '' END),
			'.') END;
$$;
COMMENT ON FUNCTION pgtrade.report_number(numeric, integer, integer) IS
	'Internal: a number for a page: 1,234.50 with decimals 2; extra more '
	'decimals shown only when not zero; NULL as a dash.';

/*
 * report_percent formats a fraction as a percentage with two decimals.
 */
CREATE FUNCTION pgtrade.report_percent(value numeric)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE WHEN value IS NULL THEN '–'
		ELSE pgtrade.report_number(value * 100, 2) || ' %' END;
$$;
COMMENT ON FUNCTION pgtrade.report_percent(numeric) IS
	'Internal: a fraction as a percentage for a page (-0.0512 is -5.12 %).';

/*
 * report_time formats an instant in a zone: the date alone for daily
 * bars, the date and the minute otherwise.
 */
CREATE FUNCTION pgtrade.report_time(value timestamptz, time_zone text,
	daily boolean)
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(to_char(value AT TIME ZONE time_zone,
		CASE WHEN daily THEN 'YYYY-MM-DD' ELSE 'YYYY-MM-DD HH24:MI' END),
		'–');
$$;
COMMENT ON FUNCTION pgtrade.report_time(timestamptz, text, boolean) IS
	'Internal: an instant for a page, in a time zone: a date for daily '
	'bars, a date and time otherwise.';

/*
 * report_indicators lists the lines a strategy kind decides by, computed
 * over the closes (and highs and lows) given: panel price for lines
 * drawn over the prices, indicator for those drawn in a chart of their
 * own.  Defaults of the params are the kinds' own.  A kind it does not
 * know (a user's) has no lines.
 */
CREATE FUNCTION pgtrade.report_indicators(kind text, params jsonb,
	high float8[], low float8[], close float8[])
RETURNS TABLE (panel text, label text, series float8[])
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	v_p jsonb := coalesce(params, '{}');
	v_a integer;
	v_b integer;
	v_c integer;
	v_k float8;
	v_n integer := coalesce(cardinality(close), 0);
BEGIN
	IF v_n = 0 THEN
		RETURN;
	END IF;
	CASE kind
	WHEN 'sma_cross', 'ema_cross' THEN
		v_a := coalesce((v_p ->> 'fast')::integer,
						CASE kind WHEN 'ema_cross' THEN 12 END);
		v_b := coalesce((v_p ->> 'slow')::integer,
						CASE kind WHEN 'ema_cross' THEN 26 END);
		IF v_a IS NULL OR v_b IS NULL THEN
			RETURN;
		END IF;
		RETURN QUERY
			SELECT 'price', format('%s(%s)', upper(left(kind, 3)), x.n),
				CASE kind WHEN 'sma_cross' THEN pgtrade.sma(close, x.n)
					ELSE pgtrade.ema(close, x.n) END
			FROM unnest(ARRAY[v_a, v_b]) WITH ORDINALITY x(n, o)
			ORDER BY x.o;
	WHEN 'bollinger_breakout' THEN
		v_a := coalesce((v_p ->> 'period')::integer, 20);
		v_k := coalesce((v_p ->> 'k')::float8, 2);
		RETURN QUERY
			SELECT 'price', x.l, x.s
			FROM pgtrade.bollinger(close, v_a, v_k) b,
				LATERAL (VALUES
					(1, format('upper band (%s, %s)', v_a, v_k), b.upper),
					(2, format('SMA(%s)', v_a), b.middle),
					(3, format('lower band (%s, %s)', v_a, v_k), b.lower))
				x(o, l, s)
			ORDER BY x.o;
	WHEN 'confirmations' THEN
		v_a := coalesce((v_p ->> 'sma')::integer, 20);
		v_b := coalesce((v_p ->> 'supertrend_period')::integer, 10);
		v_k := coalesce((v_p ->> 'supertrend_multiplier')::float8, 3);
		RETURN QUERY
			SELECT 'price', format('SMA(%s)', v_a), pgtrade.sma(close, v_a);
		RETURN QUERY
			SELECT 'price', format('SuperTrend(%s, %s)', v_b, v_k),
				(pgtrade.supertrend(high, low, close, v_b, v_k)).supertrend;
	WHEN 'macd_cross' THEN
		v_a := coalesce((v_p ->> 'fast')::integer, 12);
		v_b := coalesce((v_p ->> 'slow')::integer, 26);
		v_c := coalesce((v_p ->> 'signal')::integer, 9);
		RETURN QUERY
			SELECT 'indicator', x.l, x.s
			FROM pgtrade.macd(close, v_a, v_b, v_c) m,
				LATERAL (VALUES
					(1, format('MACD(%s, %s)', v_a, v_b), m.macd),
					(2, format('signal(%s)', v_c), m.signal)) x(o, l, s)
			ORDER BY x.o;
	WHEN 'rsi_reversion' THEN
		v_a := coalesce((v_p ->> 'period')::integer, 14);
		RETURN QUERY
			SELECT 'indicator', format('RSI(%s)', v_a), pgtrade.rsi(close, v_a);
		/* the thresholds, as flat lines */
		RETURN QUERY
			SELECT 'indicator', format('%s %s', x.l, x.v),
				array_fill(x.v, ARRAY[v_n])
			FROM (VALUES
					(1, 'low', coalesce((v_p ->> 'low')::float8, 30)),
					(2, 'high', coalesce((v_p ->> 'high')::float8, 70)))
				x(o, l, v)
			ORDER BY x.o;
	ELSE
		RETURN;
	END CASE;
END
$$;
COMMENT ON FUNCTION pgtrade.report_indicators(text, jsonb, float8[],
	float8[], float8[]) IS
	'Internal: the lines a built-in strategy kind decides by, for its '
	'charts (moving averages, bands and SuperTrend over the prices; MACD '
	'and RSI apart).';

/*
 * report_step rounds a tick interval up to 1, 2 or 5 times a power of
 * ten, so that axis labels are round numbers.
 */
CREATE FUNCTION pgtrade.report_step(raw float8)
RETURNS float8
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT m * CASE WHEN raw / m <= 1 THEN 1 WHEN raw / m <= 2 THEN 2
					WHEN raw / m <= 5 THEN 5 ELSE 10 END
	FROM (SELECT 10 ^ floor(log(raw)) AS m) x;
$$;
COMMENT ON FUNCTION pgtrade.report_step(float8) IS
	'Internal: an axis step of 1, 2 or 5 times a power of ten, at least '
	'raw (which must be above 0).';

/*
 * report_chart draws one chart as inline SVG.  ts holds the instants of
 * the points, oldest first; series is a two-dimensional array with one
 * row per line, as long as ts (NULL leaves a gap); labels and classes
 * name each line for the legend and the style sheet.  marks is a JSON
 * array of {"ts", "y", "class", "shape" (up, down or dot), "title"}.
 * With area the first line is filled down to zero.  Each line's path
 * carries its count of points and its first, last, lowest and highest
 * values as data- attributes, for whoever reads the page by program.  The axes fit every
 * point and mark; times are labelled in time_zone.  Without a point it
 * returns a paragraph that says so.
 */
CREATE FUNCTION pgtrade.report_chart(id text, ts timestamptz[],
	series float8[], labels text[], classes text[], time_zone text,
	height integer DEFAULT 300, marks jsonb DEFAULT '[]',
	area boolean DEFAULT false, unit text DEFAULT '')
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	c_w constant float8 := 960;
	c_left constant float8 := 80;
	c_right constant float8 := 16;
	c_top constant float8 := 26;
	c_bottom constant float8 := 26;
	v_pw float8 := c_w - c_left - c_right;
	v_ph float8 := height - c_top - c_bottom;
	v_rows integer := coalesce(array_length(series, 1), 0);
	v_n integer := coalesce(array_length(series, 2), 0);
	v_marks jsonb := coalesce(marks, '[]');
	v_e0 float8;
	v_e1 float8;
	v_lo float8;
	v_hi float8;
	v_pad float8;
	v_step float8;
	v_dec integer;
	v_y float8;
	v_x float8;
	v_fmt text;
	v_d text;
	v_data text;
	v_body text := '';
	v_grid text := '';
	v_legend text := '';
	v_lx float8 := c_left;
	i integer;
BEGIN
	SELECT min(extract(epoch FROM t)), max(extract(epoch FROM t))
	INTO v_e0, v_e1
	FROM (SELECT unnest(ts) AS t
		  UNION ALL
		  SELECT (m ->> 'ts')::timestamptz FROM jsonb_array_elements(v_marks) m) x;
	SELECT min(v), max(v) INTO v_lo, v_hi
	FROM (SELECT unnest(series) AS v
		  UNION ALL
		  SELECT (m ->> 'y')::float8 FROM jsonb_array_elements(v_marks) m) x
	WHERE v <> 'NaN';
	IF v_e0 IS NULL OR v_lo IS NULL THEN
		RETURN format('<p class="empty" id="%s">Nothing to chart.</p>',
					  pgtrade.report_escape(id));
	END IF;

	/* the value axis: a margin around the data, zero in an area chart */
	IF area THEN
		v_lo := least(v_lo, 0);
		v_hi := greatest(v_hi, 0);
	END IF;
	v_pad := CASE WHEN v_hi > v_lo THEN (v_hi - v_lo) * 0.05
				  ELSE greatest(abs(v_hi) * 0.05, 1) END;
	v_lo := v_lo - v_pad;
	v_hi := v_hi + v_pad;
	v_step := pgtrade.report_step((v_hi - v_lo) / 8);
	v_dec := greatest(0, -floor(log(v_step))::integer);
	FOR i IN ceil(v_lo / v_step)::integer .. floor(v_hi / v_step)::integer LOOP
		v_y := c_top + (v_hi - i * v_step) / (v_hi - v_lo) * v_ph;
		v_grid := v_grid || format('<line class="grid" x1="%s" y1="%s" '
			'x2="%s" y2="%s"/><text class="tick y" x="%s" y="%s">%s%s</text>',
			c_left, round(v_y::numeric, 1), c_w - c_right,
			round(v_y::numeric, 1), c_left - 6, round(v_y::numeric + 4, 1),
			pgtrade.report_number((i * v_step)::numeric, v_dec),
			pgtrade.report_escape(unit));
	END LOOP;

	/* the time axis: six instants, dates unless it spans under 3 days */
	v_fmt := CASE WHEN v_e1 - v_e0 >= 3 * 86400 THEN 'YYYY-MM-DD'
				  ELSE 'MM-DD HH24:MI' END;
	FOR i IN 0 .. CASE WHEN v_e1 > v_e0 THEN 5 ELSE 0 END LOOP
		v_x := c_left + CASE WHEN v_e1 > v_e0 THEN i * v_pw / 5
							 ELSE v_pw / 2 END;
		v_grid := v_grid || format('<text class="tick x" x="%s" y="%s" '
			'text-anchor="%s">%s</text>', round(v_x::numeric, 1), height - 8,
			CASE WHEN v_e1 = v_e0 THEN 'middle' WHEN i = 0 THEN 'start'
				 WHEN i = 5 THEN 'end' ELSE 'middle' END,
			to_char(to_timestamp(round(v_e0 + i * (v_e1 - v_e0) / 5))
					AT TIME ZONE time_zone, v_fmt));
	END LOOP;

	/* each line: M at the first point and after a gap, L otherwise */
	FOR i IN 1 .. v_rows LOOP
		SELECT string_agg(CASE WHEN p.gap THEN 'M' ELSE 'L' END
						  || p.x || ',' || p.y, ' ' ORDER BY p.j),
			   format('data-points="%s" data-first="%s" data-last="%s" '
				'data-min="%s" data-max="%s"', count(*),
				round((array_agg(p.v ORDER BY p.j))[1]::numeric, 6),
				round((array_agg(p.v ORDER BY p.j DESC))[1]::numeric, 6),
				round(min(p.v)::numeric, 6), round(max(p.v)::numeric, 6))
		INTO v_d, v_data
		FROM (SELECT u.j, u.v,
				round((c_left + coalesce((extract(epoch FROM u.t) - v_e0)
					/ nullif(v_e1 - v_e0, 0) * v_pw, v_pw / 2))::numeric,
					1) AS x,
				round((c_top + (v_hi - u.v) / (v_hi - v_lo) * v_ph)::numeric,
					1) AS y,
				coalesce(lag(u.v) OVER (ORDER BY u.j) IS NULL, true) AS gap
			  FROM unnest(ts, series[i:i][1:v_n]) WITH ORDINALITY u(t, v, j)) p
		WHERE p.v IS NOT NULL AND p.v <> 'NaN';
		CONTINUE WHEN v_d IS NULL;
		IF area AND i = 1 THEN
			v_y := c_top + v_hi / (v_hi - v_lo) * v_ph;
			v_body := v_body || format('<path class="area %s" d="%s L%s,%s '
				'L%s,%s Z"/>', pgtrade.report_escape(classes[i]), v_d,
				substring(v_d FROM '([0-9.-]+),[0-9.-]+$'),
				round(v_y::numeric, 1),
				substring(v_d FROM '^M([0-9.-]+),'), round(v_y::numeric, 1));
		END IF;
		v_body := v_body || format('<path class="line %s" d="%s" %s/>',
			pgtrade.report_escape(classes[i]), v_d, v_data);
		v_legend := v_legend || format('<line class="line %s" x1="%s" '
			'y1="12" x2="%s" y2="12"/><text class="legend" x="%s" y="16">%s'
			'</text>', pgtrade.report_escape(classes[i]), v_lx, v_lx + 18,
			v_lx + 23, pgtrade.report_escape(labels[i]));
		v_lx := v_lx + 40 + 7 * length(coalesce(labels[i], ''));
	END LOOP;

	/* markers: a triangle under a buy, over a sell, or a dot */
	SELECT v_body || coalesce(string_agg(format(
		'<path class="%s" d="%s"><title>%s</title></path>',
		pgtrade.report_escape(m.v ->> 'class'),
		CASE m.v ->> 'shape'
			WHEN 'up' THEN format('M%s,%s l-5,10 h10 z', m.x, m.y + 2)
			WHEN 'down' THEN format('M%s,%s l-5,-10 h10 z', m.x, m.y - 2)
			ELSE format('M%s,%s a3,3 0 1,0 6,0 a3,3 0 1,0 -6,0', m.x - 3, m.y)
			END,
		pgtrade.report_escape(m.v ->> 'title')), '' ORDER BY m.o), '')
	INTO v_body
	FROM (SELECT e.v, e.o,
			round((c_left + coalesce((extract(epoch FROM (e.v ->> 'ts')::timestamptz)
				- v_e0) / nullif(v_e1 - v_e0, 0) * v_pw, v_pw / 2))::numeric,
				1) AS x,
			round((c_top + (v_hi - (e.v ->> 'y')::float8) / (v_hi - v_lo)
				* v_ph)::numeric, 1) AS y
		  FROM jsonb_array_elements(v_marks) WITH ORDINALITY e(v, o)) m;

	RETURN format('<svg id="%s" class="chart" viewBox="0 0 %s %s" width="%s" '
		'height="%s" role="img" preserveAspectRatio="xMinYMin meet">'
		'<rect class="frame" x="%s" y="%s" width="%s" height="%s"/>%s%s%s'
		'</svg>', pgtrade.report_escape(id), c_w, height, c_w, height,
		c_left, c_top, v_pw, v_ph, v_grid, v_body, v_legend);
END
$$;
COMMENT ON FUNCTION pgtrade.report_chart(text, timestamptz[], float8[],
	text[], text[], text, integer, jsonb, boolean, text) IS
	'Internal: one chart of a page as inline SVG: lines over time, '
	'scaled to the chart''s box, with axes, a legend and markers.';

/*
 * report_page wraps a page's body in the document: its title, the style
 * sheet, and a policy that lets the page load nothing.
 */
CREATE FUNCTION pgtrade.report_page(title text, body text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT format($html$<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="generator" content="pgtrade">
<title>%s</title>
<style>
body { font: 14px/1.4 sans-serif; color: #1f2937; margin: 24px; max-width: 980px; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 24px 0 8px; }
p.sub { color: #6b7280; margin: 0 0 16px; }
p.empty { color: #6b7280; font-style: italic; }
table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 10px; border-bottom: 1px solid #e5e7eb; text-align: right; }
th { background: #f3f4f6; }
td.text, th.text { text-align: left; }
table.figures th { text-align: left; font-weight: normal; color: #6b7280; }
tr.buy td.side { color: #15803d; }
tr.sell td.side { color: #b91c1c; }
svg.chart { display: block; width: 100%%; height: auto; background: #fff; }
svg .frame { fill: none; stroke: #d1d5db; }
svg .grid { stroke: #f3f4f6; }
svg text { font: 11px sans-serif; fill: #6b7280; }
svg text.tick.y { text-anchor: end; }
svg text.legend { fill: #374151; }
svg .line { fill: none; stroke-width: 1.5; }
svg .line.close { stroke: #374151; stroke-width: 1.2; }
svg .line.ind-1 { stroke: #2563eb; }
svg .line.ind-2 { stroke: #d97706; }
svg .line.ind-3 { stroke: #7c3aed; }
svg .line.ind-4 { stroke: #0891b2; }
svg .line.equity { stroke: #0f766e; }
svg .line.drawdown { stroke: #b91c1c; }
svg .area.drawdown { fill: #fecaca; stroke: none; }
svg .marker.buy { fill: #16a34a; }
svg .marker.sell { fill: #dc2626; }
svg .decision { fill: none; stroke-width: 1.2; }
svg .decision.buy { stroke: #16a34a; }
svg .decision.sell { stroke: #dc2626; }
</style>
</head>
<body>
%s
</body>
</html>
$html$, pgtrade.report_escape(title), body);
$$;
COMMENT ON FUNCTION pgtrade.report_page(text, text) IS
	'Internal: a page''s document around its body: title, style sheet '
	'and a Content-Security-Policy that loads nothing.';

/*
 * report_figures lays out label and value pairs as a two-column table;
 * the values are HTML already, the labels are escaped.
 */
CREATE FUNCTION pgtrade.report_figures(id text, labels text[], cells text[])
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT format('<table id="%s" class="figures">%s</table>',
		pgtrade.report_escape(id),
		string_agg(format('<tr><th>%s</th><td class="text">%s</td></tr>',
			pgtrade.report_escape(f.l), coalesce(f.c, '–')), '' ORDER BY f.o))
	FROM unnest(labels, cells) WITH ORDINALITY f(l, c, o);
$$;
COMMENT ON FUNCTION pgtrade.report_figures(text, text[], text[]) IS
	'Internal: a table of figures for a page, one label and value a row.';

/*
 * report_bars loads the bars of an instrument that close within
 * [from_ts, to_ts], and before them up to warm bars more, so that the
 * indicators drawn over the first bars shown have warmed up as they had
 * when the decisions were made.  shown is the number of bars within.
 */
CREATE FUNCTION pgtrade.report_bars(instrument_id bigint, bar_size interval,
	time_zone text, session_close time, from_ts timestamptz,
	to_ts timestamptz, warm integer,
	OUT ts timestamptz[], OUT high float8[], OUT low float8[],
	OUT close float8[], OUT shown integer)
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	v_first timestamptz;
BEGIN
	/* a bar starts at most a day and a bar before it ends: the index */
	SELECT min(b.ts), count(*) INTO v_first, shown
	FROM pgtrade.bars b
	WHERE b.instrument_id = instrument_id AND b.bar_size = bar_size
		AND b.ts >= from_ts - bar_size - interval '1 day' AND b.ts <= to_ts
		AND pgtrade.bar_end(b.ts, bar_size, time_zone, session_close)
			BETWEEN from_ts AND to_ts;
	IF shown = 0 THEN
		RETURN;
	END IF;
	SELECT array_agg(x.ts ORDER BY x.ts), array_agg(x.high ORDER BY x.ts),
		   array_agg(x.low ORDER BY x.ts), array_agg(x.close ORDER BY x.ts)
	INTO ts, high, low, close
	FROM ((SELECT b.ts, b.high, b.low, b.close FROM pgtrade.bars b
		   WHERE b.instrument_id = instrument_id AND b.bar_size = bar_size
			   AND b.ts < v_first
		   ORDER BY b.ts DESC LIMIT greatest(warm, 0))
		  UNION ALL
		  (SELECT b.ts, b.high, b.low, b.close FROM pgtrade.bars b
		   WHERE b.instrument_id = instrument_id AND b.bar_size = bar_size
			   AND b.ts >= v_first AND b.ts <= to_ts
			   AND pgtrade.bar_end(b.ts, bar_size, time_zone, session_close)
				   <= to_ts)) x;
END
$$;
COMMENT ON FUNCTION pgtrade.report_bars(bigint, interval, text, time,
	timestamptz, timestamptz, integer) IS
	'Internal: the bars a page draws, those closing in [from_ts, to_ts] '
	'with up to warm bars before them to warm the indicators up.';

/*
 * report_warmup is how many bars before the first one drawn an
 * indicator of params needs: three times the longest period among them
 * (an EMA still moves after one), and at least 100 for the kinds'
 * defaults.
 */
CREATE FUNCTION pgtrade.report_warmup(params jsonb)
RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
	SELECT greatest(100, 3 * coalesce(max(p.value::numeric), 0))::integer
	FROM jsonb_each_text(coalesce(params, '{}')) p
	WHERE p.value ~ '^[0-9]{1,5}$';
$$;
COMMENT ON FUNCTION pgtrade.report_warmup(jsonb) IS
	'Internal: bars to load before a chart''s first so that its '
	'indicators have warmed up.';

/*
 * report_price_charts draws the price chart (closes, the kind's lines
 * over them, and marks) and, for a kind whose lines are not prices,
 * the indicator chart under it.  Bars and lines come whole, warm-up
 * included; warm is how many bars lead the ones to draw.
 */
CREATE FUNCTION pgtrade.report_price_charts(symbol text, kind text,
	params jsonb, ts timestamptz[], high float8[], low float8[],
	close float8[], warm integer, time_zone text, marks jsonb)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	v_n integer := cardinality(ts);
	v_ts timestamptz[] := ts[warm + 1:v_n];
	v_price float8[] := ARRAY[close[warm + 1:v_n]];
	v_plabels text[] := ARRAY[symbol || ' close'];
	v_pclasses text[] := ARRAY['close'];
	v_ind float8[];
	v_ilabels text[] := '{}';
	v_iclasses text[] := '{}';
	v_line record;
	v_out text;
BEGIN
	FOR v_line IN
		SELECT r.panel, r.label, r.series[warm + 1:v_n] AS s
		FROM pgtrade.report_indicators(kind, params, high, low, close) r
	LOOP
		IF v_line.panel = 'price' THEN
			v_price := v_price || v_line.s;
			v_plabels := v_plabels || v_line.label;
			v_pclasses := v_pclasses || ('ind-' || cardinality(v_pclasses));
		ELSE
			v_ind := CASE WHEN v_ind IS NULL THEN ARRAY[v_line.s]
						  ELSE v_ind || v_line.s END;
			v_ilabels := v_ilabels || v_line.label;
			v_iclasses := v_iclasses || ('ind-' || (cardinality(v_iclasses) + 1));
		END IF;
	END LOOP;
	v_out := '<h2>Price</h2>' || pgtrade.report_chart('price-chart', v_ts,
		v_price, v_plabels, v_pclasses, time_zone, 340, marks);
	IF v_ind IS NOT NULL THEN
		v_out := v_out || '<h2>Indicator</h2>'
			|| pgtrade.report_chart('indicator-chart', v_ts, v_ind,
				v_ilabels, v_iclasses, time_zone, 180);
	END IF;
	RETURN v_out;
END
$$;
COMMENT ON FUNCTION pgtrade.report_price_charts(text, text, jsonb,
	timestamptz[], float8[], float8[], float8[], integer, text, jsonb) IS
	'Internal: a page''s price chart with the kind''s lines and the '
	'markers, and its indicator chart when the kind has one.';

/*
 * report_backtest draws the page of a kept backtest: its summary, the
 * closes of its period with the kind's lines and a marker at each fill,
 * the equity at each close (cash plus the position at the close, as the
 * backtest counted it) and its drawdown from the running peak (the
 * capital at first), and the fills.
 */
CREATE FUNCTION pgtrade.report_backtest(backtest_id bigint)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	v_b pgtrade.backtest;
	v_s record;
	v_i record;
	v_bars record;
	v_daily boolean;
	v_warm integer;
	v_ts timestamptz[];
	v_eq float8[];
	v_dd float8[];
	v_marks jsonb;
	v_title text;
	v_body text;
	v_rows text;
BEGIN
	IF backtest_id IS NULL THEN
		RAISE EXCEPTION 'a backtest report needs a backtest id'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF NOT has_table_privilege('pgtrade.backtest', 'SELECT') THEN
		RAISE EXCEPTION 'role "%" may not read kept backtests', current_user
			USING ERRCODE = 'insufficient_privilege',
				  HINT = 'Traders and admins may; pgtrade.report_strategy() '
					|| 'draws a strategy''s own trading.';
	END IF;
	SELECT * INTO v_b FROM pgtrade.backtest b
	WHERE b.backtest_id = report_backtest.backtest_id;
	IF FOUND THEN
		SELECT * INTO v_s FROM pgtrade.strategies s
		WHERE s.strategy_id = v_b.strategy_id;
	END IF;
	IF v_s IS NULL THEN
		RAISE EXCEPTION 'backtest % does not exist', backtest_id
			USING ERRCODE = 'no_data_found',
				  HINT = 'Backtests are kept by pgtrade.backtest() with '
					|| 'store => true; those of accounts you may not see '
					|| 'are not shown.';
	END IF;
	SELECT * INTO STRICT v_i FROM pgtrade.instruments i
	WHERE i.instrument_id = v_s.instrument_id;
	v_daily := v_s.bar_size >= interval '1 day';
	v_warm := pgtrade.report_warmup(v_b.params);
	v_bars := pgtrade.report_bars(v_s.instrument_id, v_s.bar_size,
		v_i.time_zone, v_i.session_close, v_b.from_ts, v_b.to_ts, v_warm);
	v_warm := coalesce(cardinality(v_bars.ts), 0) - v_bars.shown;
	v_title := format('Backtest %s: %s on %s', v_b.backtest_id, v_s.name,
					  v_s.symbol);

	v_body := format('<header><h1>%s</h1><p class="sub">%s %s, %s bars of %s '
		'to %s (%s), account %s</p></header>',
		pgtrade.report_escape(v_title), pgtrade.report_escape(v_b.kind),
		pgtrade.report_escape(v_b.params::text),
		pgtrade.report_escape(v_s.bar_size::text),
		pgtrade.report_time(v_b.from_ts, v_i.time_zone, false),
		pgtrade.report_time(v_b.to_ts, v_i.time_zone, false),
		pgtrade.report_escape(v_i.time_zone),
		pgtrade.report_escape(v_s.account_id));
	v_body := v_body || '<h2>Summary</h2>' || pgtrade.report_figures('summary',
		ARRAY['Bars', 'Trades', 'Orders refused', 'Capital', 'Final equity',
			  'Total return',
			  'CAGR', 'Sharpe', 'Sortino', 'Max drawdown', 'Win rate',
			  'Profit factor', 'Exposure', 'Commission a unit', 'Slippage',
			  'Sizing', 'Kept by'],
		ARRAY[pgtrade.report_number(v_b.bars, 0),
			  pgtrade.report_number(v_b.trades, 0),
			  pgtrade.report_number(v_b.refused, 0) || CASE WHEN v_b.risk
				THEN ' (by the account''s risk limits)'
				ELSE ' (risk limits not applied)' END,
			  pgtrade.report_number(v_b.capital, 2),
			  pgtrade.report_number(v_b.final_equity, 2),
			  pgtrade.report_percent(v_b.total_return),
			  pgtrade.report_percent(v_b.cagr),
			  pgtrade.report_number(v_b.sharpe::numeric, 2),
			  pgtrade.report_number(v_b.sortino::numeric, 2),
			  pgtrade.report_percent(v_b.max_drawdown) || CASE
				WHEN v_b.drawdown_trough IS NOT NULL
					AND v_b.max_drawdown < 0 THEN format(' (%s to %s)',
					pgtrade.report_time(v_b.drawdown_peak, v_i.time_zone,
						v_daily),
					pgtrade.report_time(v_b.drawdown_trough, v_i.time_zone,
						v_daily)) ELSE '' END,
			  pgtrade.report_percent(v_b.win_rate),
			  pgtrade.report_number(v_b.profit_factor, 2),
			  pgtrade.report_percent(v_b.exposure),
			  pgtrade.report_number(v_b.commission, 2, 4),
			  pgtrade.report_number(v_b.slippage_bps, 0, 2) || ' bps',
			  pgtrade.report_escape(v_b.sizing),
			  pgtrade.report_escape(v_b.created_by) || ' at '
				|| pgtrade.report_time(v_b.created_at, v_i.time_zone, false)]);

	IF v_bars.shown = 0 THEN
		v_body := v_body || format('<p class="empty" id="no-bars">No %s bar '
			'of %s closes between %s and %s: there is nothing to chart.</p>',
			pgtrade.report_escape(v_s.bar_size::text),
			pgtrade.report_escape(v_s.symbol),
			pgtrade.report_time(v_b.from_ts, v_i.time_zone, false),
			pgtrade.report_time(v_b.to_ts, v_i.time_zone, false));
	ELSE
		v_ts := v_bars.ts[v_warm + 1:];
		SELECT jsonb_agg(jsonb_build_object('ts', t.filled_at, 'y', t.price,
			'class', 'marker ' || t.side,
			'shape', CASE t.side WHEN 'buy' THEN 'up' ELSE 'down' END,
			'title', format('%s %s at %s on %s (decided %s)', t.side,
				pgtrade.report_number(t.quantity, 0, 8),
				pgtrade.report_number(t.price, 2, 4),
				pgtrade.report_time(t.filled_at, v_i.time_zone, v_daily),
				pgtrade.report_time(t.decided_at, v_i.time_zone, v_daily)))
			ORDER BY t.trade_no)
		INTO v_marks
		FROM pgtrade.backtest_trade t
		WHERE t.backtest_id = v_b.backtest_id;
		v_body := v_body || pgtrade.report_price_charts(v_s.symbol, v_b.kind,
			v_b.params, v_bars.ts, v_bars.high, v_bars.low, v_bars.close,
			v_warm, v_i.time_zone, v_marks);

		/* equity at each close: what the fills by then left, marked */
		SELECT array_agg(p.equity::float8 ORDER BY p.j),
			   array_agg(((p.equity / p.peak - 1) * 100)::float8 ORDER BY p.j)
		INTO v_eq, v_dd
		FROM (SELECT e.j, e.equity, greatest(v_b.capital,
					 max(e.equity) OVER (ORDER BY e.j)) AS peak
			  FROM (SELECT u.j, v_b.capital - coalesce(f.flow, 0)
						   + coalesce(f.pos, 0) * u.c::numeric AS equity
					FROM unnest(v_ts, v_bars.close[v_warm + 1:])
						 WITH ORDINALITY u(t, c, j)
					LEFT JOIN LATERAL (
					  SELECT sum(CASE t.side WHEN 'buy' THEN t.quantity
						  ELSE -t.quantity END * t.price + t.commission)
						  AS flow,
						  (array_agg(t.position ORDER BY t.trade_no
							  DESC))[1] AS pos
					  FROM pgtrade.backtest_trade t
					  WHERE t.backtest_id = v_b.backtest_id
						  AND t.filled_at <= u.t) f ON true) e) p;
		v_body := v_body || '<h2>Equity</h2>' || pgtrade.report_chart(
			'equity-chart', v_ts, ARRAY[v_eq], ARRAY['equity'],
			ARRAY['equity'], v_i.time_zone, 240)
			|| '<h2>Drawdown</h2>' || pgtrade.report_chart('drawdown-chart',
			v_ts, ARRAY[v_dd], ARRAY['drawdown from the peak'],
			ARRAY['drawdown'], v_i.time_zone, 180, area => true,
			unit => ' %');
	END IF;

	SELECT string_agg(format('<tr class="%s"><td>%s</td><td class="text">%s'
		'</td><td class="text">%s</td><td class="text side">%s</td><td>%s</td>'
		'<td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>',
		t.side, t.trade_no,
		pgtrade.report_time(t.decided_at, v_i.time_zone, v_daily),
		pgtrade.report_time(t.filled_at, v_i.time_zone, v_daily), t.side,
		pgtrade.report_number(t.quantity, 0, 8),
		pgtrade.report_number(t.price, 2, 4),
		pgtrade.report_number(t.commission, 2, 4),
		pgtrade.report_number(t.position, 0, 8),
		pgtrade.report_number(t.realized_pnl, 2)), '' ORDER BY t.trade_no)
	INTO v_rows
	FROM pgtrade.backtest_trade t
	WHERE t.backtest_id = v_b.backtest_id;
	v_body := v_body || '<h2>Trades</h2>' || CASE WHEN v_rows IS NULL
		THEN CASE WHEN v_b.refused > 0
			THEN format('<p class="empty" id="no-trades">No trades: the risk '
				'limits refused all %s orders the strategy placed.</p>',
				v_b.refused)
			ELSE '<p class="empty" id="no-trades">No trades: the strategy '
				 'never changed its position in this period.</p>' END
		ELSE '<table id="trades"><thead><tr><th>#</th><th class="text">'
			 'decided</th><th class="text">filled</th><th class="text">side'
			 '</th><th>quantity</th><th>price</th><th>commission</th>'
			 '<th>position</th><th>realized P&amp;L</th></tr></thead><tbody>'
			 || v_rows || '</tbody></table>' END;
	RETURN pgtrade.report_page(v_title, v_body);
END
$$;
COMMENT ON FUNCTION pgtrade.report_backtest(bigint) IS
	'A kept backtest as a self-contained HTML page: summary, prices with '
	'the kind''s indicators and the fills marked, equity, drawdown and '
	'the trades.';

/*
 * report_strategy draws the page of a strategy's own trading, live or
 * paper, between from_ts and to_ts (instants compared with the bars'
 * closes, the decisions' bars and the fills' times): the closes with
 * the kind's lines, a marker at each fill of the strategy's orders and
 * a ring at each decision to buy or sell, its daily P&L (realized plus
 * unrealized at the close, before commissions, as strategy_performance
 * computes it) with its drawdown, and its decisions, orders and fills.
 * from_ts defaults to the bar of the strategy's first decision or its
 * first order (a fill follows an order), whichever is earlier, or
 * without either to the close of its 250th newest bar; to_ts to none.
 */
CREATE FUNCTION pgtrade.report_strategy(strategy_id bigint,
	from_ts timestamptz DEFAULT NULL, to_ts timestamptz DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
	v_s record;
	v_i record;
	v_bars record;
	v_daily boolean;
	v_from timestamptz := from_ts;
	v_to timestamptz := coalesce(to_ts, 'infinity');
	v_warm integer;
	v_marks jsonb;
	v_perf record;
	v_body text;
	v_title text;
	v_rows text;
	v_counts record;
BEGIN
	IF strategy_id IS NULL THEN
		RAISE EXCEPTION 'a strategy report needs a strategy id'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF v_from > v_to THEN
		RAISE EXCEPTION 'a strategy report needs from_ts <= to_ts, not % > %',
			from_ts, to_ts
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	SELECT * INTO v_s FROM pgtrade.strategies s
	WHERE s.strategy_id = report_strategy.strategy_id;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'strategy % does not exist', strategy_id
			USING ERRCODE = 'no_data_found',
				  HINT = 'Strategies of accounts you may not see are not '
					|| 'shown; see pgtrade.strategies.';
	END IF;
	SELECT * INTO STRICT v_i FROM pgtrade.instruments i
	WHERE i.instrument_id = v_s.instrument_id;
	v_daily := v_s.bar_size >= interval '1 day';

	/* by default, from the strategy's first decision or order */
	IF v_from IS NULL THEN
		SELECT least(
			(SELECT min(coalesce(d.last_bar_ts, d.as_of))
			 FROM pgtrade.decisions_explained d WHERE d.strategy = v_s.name),
			(SELECT min(o.created_at) FROM pgtrade.order_history o
			 WHERE o.strategy_id = v_s.strategy_id))
		INTO v_from;
	END IF;
	IF v_from IS NULL THEN
		SELECT pgtrade.bar_end(min(x.ts), v_s.bar_size, v_i.time_zone,
							   v_i.session_close)
		INTO v_from
		FROM (SELECT b.ts FROM pgtrade.bars b
			  WHERE b.instrument_id = v_s.instrument_id
				  AND b.bar_size = v_s.bar_size AND b.ts <= v_to
			  ORDER BY b.ts DESC LIMIT 250) x;
	END IF;
	v_from := coalesce(v_from, '-infinity');
	SELECT * INTO v_counts FROM
		(SELECT count(*) FILTER (WHERE d.action = 'hold') AS holds,
				count(*) FILTER (WHERE d.action <> 'hold') AS trades
		 FROM pgtrade.decisions_explained d
		 WHERE d.strategy = v_s.name
			 AND coalesce(d.last_bar_ts, d.as_of) BETWEEN v_from AND v_to) d,
		(SELECT count(*) AS orders FROM pgtrade.order_history o
		 WHERE o.strategy_id = v_s.strategy_id
			 AND o.created_at BETWEEN v_from AND v_to) o,
		(SELECT count(*) AS fills FROM pgtrade.fills f
		 JOIN pgtrade.order_history o USING (order_id)
		 WHERE o.strategy_id = v_s.strategy_id AND f.effective
			 AND f.trade_time BETWEEN v_from AND v_to) f;
	SELECT * INTO v_perf FROM pgtrade.strategy_performance(v_s.name) p
	WHERE (p.day::timestamp AT TIME ZONE v_i.time_zone) <= v_to
	ORDER BY p.day DESC LIMIT 1;

	v_title := format('Strategy %s on %s', v_s.name, v_s.symbol);
	v_body := format('<header><h1>%s</h1><p class="sub">%s %s, %s bars, '
		'account %s, %s; from %s to %s (%s)</p></header>',
		pgtrade.report_escape(v_title), pgtrade.report_escape(v_s.kind),
		pgtrade.report_escape(v_s.params::text),
		pgtrade.report_escape(v_s.bar_size::text),
		pgtrade.report_escape(v_s.account_id),
		CASE WHEN v_s.active THEN 'active' ELSE 'inactive' END,
		CASE WHEN isfinite(v_from) THEN
			pgtrade.report_time(v_from, v_i.time_zone, false)
			ELSE 'the first bar' END,
		CASE WHEN isfinite(v_to) THEN
			pgtrade.report_time(v_to, v_i.time_zone, false)
			ELSE 'the last' END,
		pgtrade.report_escape(v_i.time_zone));
	v_body := v_body || '<h2>Summary</h2>' || pgtrade.report_figures('summary',
		ARRAY['Decisions to trade', 'Decisions to hold', 'Orders', 'Fills',
			  'Position', 'Realized P&L', 'Unrealized P&L', 'P&L',
			  'Quantity a unit of target'],
		ARRAY[pgtrade.report_number(v_counts.trades, 0),
			  pgtrade.report_number(v_counts.holds, 0),
			  pgtrade.report_number(v_counts.orders, 0),
			  pgtrade.report_number(v_counts.fills, 0),
			  pgtrade.report_number(v_perf.net_position, 0, 8),
			  pgtrade.report_number(v_perf.cumulative_realized, 2),
			  pgtrade.report_number(v_perf.unrealized_pnl, 2),
			  pgtrade.report_number(v_perf.equity, 2)
				|| ' (before commissions, at the last close)',
			  pgtrade.report_number(v_s.quantity, 0, 8)]);

	v_warm := pgtrade.report_warmup(v_s.params);
	v_bars := pgtrade.report_bars(v_s.instrument_id, v_s.bar_size,
		v_i.time_zone, v_i.session_close, v_from, v_to, v_warm);
	IF v_bars.shown = 0 THEN
		v_body := v_body || format('<p class="empty" id="no-bars">No %s bar '
			'of %s closes in this period: there are no prices to chart.</p>',
			pgtrade.report_escape(v_s.bar_size::text),
			pgtrade.report_escape(v_s.symbol));
	ELSE
		SELECT jsonb_agg(m.v ORDER BY m.t, m.o) INTO v_marks
		FROM (SELECT f.trade_time AS t, 1 AS o, jsonb_build_object(
				'ts', f.trade_time, 'y', f.price, 'class', 'marker ' || f.side,
				'shape', CASE f.side WHEN 'buy' THEN 'up' ELSE 'down' END,
				'title', format('%s %s at %s on %s (order %s)', f.side,
					pgtrade.report_number(f.quantity, 0, 8),
					pgtrade.report_number(f.price, 2, 4),
					pgtrade.report_time(f.trade_time, v_i.time_zone, false),
					f.order_id)) AS v
			  FROM pgtrade.fills f
			  JOIN pgtrade.order_history o USING (order_id)
			  WHERE o.strategy_id = v_s.strategy_id AND f.effective
				  AND f.trade_time BETWEEN v_from AND v_to
			  UNION ALL
			  SELECT d.last_bar_ts, 0, jsonb_build_object('ts', d.last_bar_ts,
				'y', d.last_close, 'class', 'decision ' || d.action,
				'shape', 'dot',
				'title', format('decided to %s %s: %s', d.action,
					pgtrade.report_number(d.quantity, 0, 8), d.reason))
			  FROM pgtrade.decisions_explained d
			  WHERE d.strategy = v_s.name AND d.action <> 'hold'
				  AND d.last_close IS NOT NULL
				  AND d.last_bar_ts BETWEEN v_from AND v_to) m;
		v_body := v_body || pgtrade.report_price_charts(v_s.symbol, v_s.kind,
			v_s.params, v_bars.ts, v_bars.high, v_bars.low, v_bars.close,
			coalesce(cardinality(v_bars.ts), 0) - v_bars.shown,
			v_i.time_zone, v_marks);
	END IF;

	/* P&L by session day, at the day's start in the exchange's zone */
	SELECT '<h2>P&amp;L</h2>' || pgtrade.report_chart('equity-chart',
			array_agg(p.t ORDER BY p.t),
			ARRAY[array_agg(p.equity::float8 ORDER BY p.t)],
			ARRAY['P&L: realized + unrealized at the close'], ARRAY['equity'],
			v_i.time_zone, 240)
		|| '<h2>Drawdown</h2>' || pgtrade.report_chart('drawdown-chart',
			array_agg(p.t ORDER BY p.t),
			ARRAY[array_agg(p.drawdown::float8 ORDER BY p.t)],
			ARRAY['drawdown from the peak of P&L'], ARRAY['drawdown'],
			v_i.time_zone, 180, area => true)
	INTO v_rows
	FROM (SELECT p.day::timestamp AT TIME ZONE v_i.time_zone AS t, p.equity,
				 p.drawdown
		  FROM pgtrade.strategy_performance(v_s.name) p) p
	WHERE p.t BETWEEN v_from - interval '1 day' AND v_to
	HAVING count(*) > 0;
	v_body := v_body || coalesce(v_rows, '<h2>P&amp;L</h2><p class="empty" '
		'id="no-equity">No fills: there is no P&amp;L to chart.</p>');

	/* the decisions that traded, the orders and the fills */
	SELECT string_agg(format('<tr class="%s"><td class="text">%s</td>'
		'<td class="text">%s</td><td class="text side">%s</td><td>%s</td>'
		'<td>%s</td><td class="text">%s</td><td class="text">%s</td></tr>',
		d.action, pgtrade.report_time(d.as_of, v_i.time_zone, false),
		pgtrade.report_escape(d.trigger), d.action,
		pgtrade.report_number(d.quantity, 0, 8),
		pgtrade.report_number(d.target_position, 0, 8),
		pgtrade.report_escape(coalesce(d.order_status, 'no order')),
		pgtrade.report_escape(d.reason)), '' ORDER BY d.as_of, d.decision_id)
	INTO v_rows
	FROM pgtrade.decisions_explained d
	WHERE d.strategy = v_s.name AND d.action <> 'hold'
		AND coalesce(d.last_bar_ts, d.as_of) BETWEEN v_from AND v_to;
	v_body := v_body || '<h2>Decisions to trade</h2>' || CASE
		WHEN v_rows IS NULL THEN '<p class="empty" id="no-decisions">No '
			'decision to buy or sell in this period.</p>'
		ELSE '<table id="decisions"><thead><tr><th class="text">as of</th>'
			'<th class="text">trigger</th><th class="text">action</th>'
			'<th>quantity</th><th>target</th><th class="text">order</th>'
			'<th class="text">reason</th></tr></thead><tbody>' || v_rows
			|| '</tbody></table>' END
		|| format('<p class="sub">%s decisions to hold are not listed.</p>',
				  v_counts.holds);

	SELECT string_agg(format('<tr class="%s"><td>%s</td><td class="text">%s'
		'</td><td class="text side">%s</td><td>%s</td><td class="text">%s</td>'
		'<td>%s</td><td class="text">%s</td><td>%s</td><td>%s</td>'
		'<td class="text">%s</td></tr>',
		o.side, o.order_id,
		pgtrade.report_time(o.created_at, v_i.time_zone, false), o.side,
		pgtrade.report_number(o.quantity, 0, 8),
		pgtrade.report_escape(o.order_type),
		pgtrade.report_number(coalesce(o.limit_price, o.stop_price), 2, 4),
		pgtrade.report_escape(o.status),
		pgtrade.report_number(o.filled_quantity, 0, 8),
		pgtrade.report_number(o.avg_fill_price, 2, 4),
		pgtrade.report_escape(o.risk_reason)), '' ORDER BY o.order_id)
	INTO v_rows
	FROM pgtrade.order_history o
	WHERE o.strategy_id = v_s.strategy_id
		AND o.created_at BETWEEN v_from AND v_to;
	v_body := v_body || '<h2>Orders</h2>' || CASE
		WHEN v_rows IS NULL THEN '<p class="empty" id="no-orders">No orders '
			'in this period.</p>'
		ELSE '<table id="orders"><thead><tr><th>order</th><th class="text">'
			'created</th><th class="text">side</th><th>quantity</th>'
			'<th class="text">type</th><th>limit or stop</th>'
			'<th class="text">status</th><th>filled</th><th>average price</th>'
			'<th class="text">risk gate</th></tr></thead><tbody>' || v_rows
			|| '</tbody></table>' END;

	SELECT string_agg(format('<tr class="%s"><td class="text">%s</td>'
		'<td class="text side">%s</td><td>%s</td><td>%s</td><td>%s</td>'
		'<td>%s</td><td class="text">%s</td></tr>',
		f.side, pgtrade.report_time(f.trade_time, v_i.time_zone, false),
		f.side, pgtrade.report_number(f.quantity, 0, 8),
		pgtrade.report_number(f.price, 2, 4),
		pgtrade.report_number(f.commission, 2, 4), f.order_id,
		pgtrade.report_escape(f.execution_id)),
		'' ORDER BY f.trade_time, f.fill_id)
	INTO v_rows
	FROM pgtrade.fills f
	JOIN pgtrade.order_history o USING (order_id)
	WHERE o.strategy_id = v_s.strategy_id AND f.effective
		AND f.trade_time BETWEEN v_from AND v_to;
	v_body := v_body || '<h2>Fills</h2>' || CASE
		WHEN v_rows IS NULL THEN '<p class="empty" id="no-fills">No fills in '
			'this period.</p>'
		ELSE '<table id="fills"><thead><tr><th class="text">time</th>'
			'<th class="text">side</th><th>quantity</th><th>price</th>'
			'<th>commission</th><th>order</th><th class="text">execution</th>'
			'</tr></thead><tbody>' || v_rows || '</tbody></table>' END;
	RETURN pgtrade.report_page(v_title, v_body);
END
$$;
COMMENT ON FUNCTION pgtrade.report_strategy(bigint, timestamptz,
	timestamptz) IS
	'A strategy''s trading as a self-contained HTML page: prices with the '
	'kind''s indicators, its fills and decisions marked, its daily P&L '
	'and drawdown, and its decisions, orders and fills.';

/*
 * The pages run with the caller's rights, so EXECUTE on them lets a
 * role see nothing it could not query itself: readers draw strategies
 * (through the views), traders and admins kept backtests as well.  The
 * helpers they call run with the caller's rights too, and only compute.
 */
DO $grants$
DECLARE
	v_fn regprocedure;
BEGIN
	FOR v_fn IN
		SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
		WHERE p.pronamespace = 'pgtrade'::regnamespace
			AND p.proname IN ('report_escape', 'report_number',
				'report_percent', 'report_time', 'report_indicators',
				'report_step', 'report_chart', 'report_page', 'report_figures',
				'report_bars', 'report_warmup', 'report_price_charts',
				'report_backtest', 'report_strategy')
	LOOP
		EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC',
								  v_fn);
		EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO '
			'pgtrade_reader, pgtrade_trader, pgtrade_admin', v_fn);
	END LOOP;
END
$grants$;
