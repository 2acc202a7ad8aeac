-- schema.sql: pins every object the extension owns, the column types
-- that carry money (numeric) and observations (double precision), the
-- triggers that enforce the gate and the state machine, and who may do
-- what.  A new or vanished object fails here until this list says so.
\ir preamble.psql
SET search_path = public;
SELECT plan(27);

SELECT set_eq(
	$$SELECT pg_describe_object(classid, objid, 0) FROM pg_depend
	  WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
		AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'pgtrade')$$,
	$$VALUES ('function pgtrade.add_account(text,text,text)'),
		('function pgtrade.kind_path_check(text,text)'),
		('view pgtrade.upcoming_runs'),
		('view pgtrade.recent_runs'),
		('function pgtrade.acting_role()'),
		('function pgtrade.kind_evaluate(regprocedure,jsonb,'
		 'timestamp with time zone[],double precision[],double precision[],'
		 'double precision[],double precision[],double precision[])'),
		('function pgtrade.kind_validate_as(name,regprocedure,jsonb)'),
		('function pgtrade.kind_evaluate_as(name,regprocedure,jsonb,'
		 'timestamp with time zone[],double precision[],double precision[],'
		 'double precision[],double precision[],double precision[])'),
		('function pgtrade.kind_refusal(pgtrade.strategy_kind)'),
		('function pgtrade.role_may_write(name)'),
		('function pgtrade.register_kind(text,regprocedure,regprocedure,text)'),
		('function pgtrade.revoke_account(name,text)'),
		('function pgtrade.sees_all_accounts(name)'),
		('view pgtrade.fills'),
		('view pgtrade.strategies'),
		('function pgtrade.grant_account(name,text)'),
		('view pgtrade.bars'),
		('function pgtrade.market_next_session(pgtrade.market_calendar,'
		 'timestamp with time zone)'),
		('function pgtrade.same_time_zone(text,text)'),
		('function pgtrade.zone_before_update()'),
		('function pgtrade.time_zone_name(text)'),
		('function pgtrade.market_next_close(text,timestamp with time zone)'),
		('function pgtrade.market_calendar_before_write()'),
		('function pgtrade.run_market_step(bigint,integer,pgtrade.strategy,'
		 'text,timestamp with time zone)'),
		('function pgtrade.market_status(text,timestamp with time zone)'),
		('table pgtrade.alert'),
		('function pgtrade.purge_step_details(interval)'),
		('function pgtrade.market_sessions(text,date,date)'),
		('function pgtrade.market_check_calendar(text)'),
		('function pgtrade.raise_alert(text,text,bigint,bigint,text,text)'),
		('sequence pgtrade.alert_alert_id_seq'),
		('function pgtrade.check_stuck_orders(interval)'),
		('table pgtrade.market_special_day'),
		('function pgtrade.acknowledge_alert(bigint)'),
		('view pgtrade.alerts'),
		('function pgtrade.rollup_performance(text)'),
		('function pgtrade.disable_failing_strategy(pgtrade.strategy)'),
		('view pgtrade.strategy_daily'),
		('table pgtrade.performance'),
		('function pgtrade.market_is_open(text,timestamp with time zone)'),
		('function pgtrade.set_instrument_calendar(text,text)'),
		('table pgtrade.market_calendar'),
		('function pgtrade.market_day(pgtrade.market_calendar,date)'),
		('function pgtrade.visible_accounts(name)'),
		('table pgtrade.account_grant'),
		('function pgtrade.require_account(text)'),
		('view pgtrade.order_history'),
		('view pgtrade.instruments'),
		('function pgtrade.caller_role()'),
		('function pgtrade.account_day_pnl(text,bigint)'),
		('function pgtrade.account_day_start(text)'),
		('function pgtrade.account_today(text)'),
		('function pgtrade.day_order_count(text,bigint,bigint)'),
		('function pgtrade.latest_close(bigint)'),
		('function pgtrade.open_order_count(text,bigint,bigint)'),
		('function pgtrade.position_day_roll()'),
		('function pgtrade.refuse_rewrite()'),
		('function pgtrade.acknowledge_drift(bigint,text)'),
		('function pgtrade.drift_blocked_accounts(text[])'),
		('function pgtrade.drift_close_agreed(text,bigint,bigint[],jsonb)'),
		('function pgtrade.position_check_save(text,bigint,text,jsonb,jsonb)'),
		('function pgtrade.drift_lock(bigint,text)'),
		('function pgtrade.position_activity_since(text,timestamp with time zone)'),
		('function pgtrade.position_adjust(text,bigint,numeric)'),
		('function pgtrade.position_adjustment_after_insert()'),
		('function pgtrade.position_adjustment_immutable()'),
		('function pgtrade.position_differences(text,jsonb)'),
		('function pgtrade.record_positions(bigint,text,jsonb)'),
		('function pgtrade.resolve_drift(bigint,text)'),
		('sequence pgtrade.position_adjustment_adjustment_id_seq'),
		('sequence pgtrade.position_drift_drift_id_seq'),
		('table pgtrade.position_adjustment'),
		('table pgtrade.position_check'),
		('table pgtrade.position_drift'),
		('view pgtrade.open_drift'),
		('function pgtrade.bars_to_refresh(text[],integer)'),
		('function pgtrade.history_bar(interval)'),
		('function pgtrade.history_period(interval,timestamp with time zone,'
		 'timestamp with time zone,integer)'),
		('function pgtrade.paper_accept(bigint,bigint)'),
		('function pgtrade.paper_cancel(bigint)'),
		('function pgtrade.paper_modify(bigint,bigint)'),
		('function pgtrade.paper_day_close(timestamp with time zone,text,'
		 'time without time zone)'),
		('function pgtrade.paper_end(pgtrade.orders,text,jsonb)'),
		('function pgtrade.paper_fill_price(pgtrade.orders,pgtrade.bar,'
		 'boolean,numeric,numeric)'),
		('function pgtrade.paper_latest_bar(pgtrade.instrument)'),
		('function pgtrade.paper_price(text,numeric,numeric,numeric)'),
		('function pgtrade.tick_price(text,text,numeric,numeric)'),
		('function pgtrade.paper_step(bigint,numeric,interval)'),
		('function pgtrade.record_bars(bigint,interval,jsonb)'),
		('function pgtrade.record_bars_check(text)'),
		('function pgtrade.record_bars_stage(interval,text,jsonb)'),
		('function pgtrade.add_instrument(text,bigint,text,text,text,text,'
		 'time without time zone,time without time zone,text)'),
		('function pgtrade.atr(double precision,double precision,double precision,bigint)'),
		('function pgtrade.atr(double precision[],double precision[],'
		 'double precision[],integer)'),
		('function pgtrade.atr_agg_transfn(internal,double precision,'
		 'double precision,double precision,bigint)'),
		('function pgtrade.bar_label(timestamp with time zone,interval,text)'),
		('function pgtrade.bar_size_label(interval)'),
		('function pgtrade.bar_end(timestamp with time zone,interval,text,'
		 'time without time zone)'),
		('function pgtrade.bar_size_supported(interval)'),
		('function pgtrade.bollinger(double precision[],integer,double precision)'),
		('function pgtrade.bracket_child_group(pgtrade.orders)'),
		('function pgtrade.calendar_shipped_guard()'),
		('function pgtrade.bracket_check_exits(bigint)'),
		('function pgtrade.bracket_resize_children(pgtrade.orders)'),
		('function pgtrade.bracket_children(bigint)'),
		('function pgtrade.bracket_exit_offsets(text,bigint,bigint)'),
		('function pgtrade.bracket_claim_children(bigint,bigint)'),
		('function pgtrade.bracket_parent_ended()'),
		('function pgtrade.bracket_parent_of(bigint)'),
		('function pgtrade.broker_status_target(text)'),
		('function pgtrade.cancel_order(bigint,text)'),
		('function pgtrade.claim_order(bigint,text[])'),
		('function pgtrade.claim_orders(bigint,text[],integer)'),
		('function pgtrade.claim_resend(bigint,bigint,integer)'),
		('function pgtrade.create_strategy(text,text,text,text,jsonb,numeric,'
		 'text,text,interval,boolean,interval,text)'),
		('function pgtrade.cron_matches(text,timestamp with time zone,text)'),
		('function pgtrade.cron_next(text,timestamp with time zone,text)'),
		('function pgtrade.cron_next_n(text,timestamp with time zone,integer,text)'),
		('function pgtrade.cron_validate(text)'),
		('function pgtrade.ema(double precision,bigint)'),
		('function pgtrade.ema(double precision[],integer)'),
		('function pgtrade.ema_agg_transfn(internal,double precision,bigint)'),
		('function pgtrade.fill_after_insert()'),
		('function pgtrade.fill_correct(text)'),
		('function pgtrade.fill_is_effective(text)'),
		('function pgtrade.fill_immutable()'),
		('function pgtrade.import_bars(regclass,interval)'),
		('function pgtrade.import_parse_ts(interval)'),
		('function pgtrade.note_progress(text,bigint,bigint,text,'
		 'timestamp with time zone,timestamp with time zone)'),
		('function pgtrade.progress_interval()'),
		('function pgtrade.indicator_agg_finalfn(internal)'),
		('function pgtrade.install_jobs(name,interval,interval)'),
		('function pgtrade.instrument_id(text)'),
		('function pgtrade.kill_switch_reason(text,bigint)'),
		('function pgtrade.listener_heartbeat(bigint,text,text[],text)'),
		('function pgtrade.listener_register(text,integer,text)'),
		('function pgtrade.listener_stopped(bigint)'),
		('function pgtrade.lock_order(bigint)'),
		('function pgtrade.macd(double precision[],integer,integer,integer)'),
		('function pgtrade.modifications_due(text[],interval)'),
		('function pgtrade.modify_check_state(pgtrade.orders,numeric)'),
		('function pgtrade.modify_gate(pgtrade.orders,numeric,numeric,numeric)'),
		('function pgtrade.modify_order(bigint,numeric,numeric,numeric)'),
		('function pgtrade.modify_request(pgtrade.orders,numeric,numeric,'
		 'numeric,text,jsonb)'),
		('function pgtrade.modify_target(pgtrade.orders,numeric,numeric,numeric)'),
		('function pgtrade.oca_open_quantity(text,text,bigint)'),
		('function pgtrade.open_quantity(text,bigint,bigint)'),
		('function pgtrade.open_side_quantities(text,bigint,bigint)'),
		('function pgtrade.order_apply_broker_status(pgtrade.orders,text,text,jsonb)'),
		('function pgtrade.order_is_open(text)'),
		('function pgtrade.order_modification_close()'),
		('function pgtrade.order_move(bigint,text,text,text,jsonb)'),
		('function pgtrade.order_note(bigint,text,text,text,jsonb)'),
		('function pgtrade.orders_after_insert()'),
		('function pgtrade.orders_after_update()'),
		('function pgtrade.orders_before_update()'),
		('function pgtrade.orders_cancel_asked()'),
		('function pgtrade.orders_gate()'),
		('function pgtrade.orders_to_cancel(text[],interval)'),
		('function pgtrade.position_step(numeric,numeric,numeric,text,numeric,numeric)'),
		('function pgtrade.position_rebuild(text,bigint)'),
		('function pgtrade.purge_run_details(interval)'),
		('function pgtrade.record_cancel_sent(bigint,jsonb)'),
		('function pgtrade.orders_in_flight(text[])'),
		('function pgtrade.place_bracket(text,text,text,numeric,numeric,'
		 'numeric,numeric,text,text,interval,boolean)'),
		('function pgtrade.place_order(text,text,text,numeric,text,numeric,'
		 'numeric,text,interval,boolean)'),
		('function pgtrade.position_apply(text,bigint,text,numeric,numeric)'),
		('function pgtrade.position_quantity(text,bigint)'),
		('function pgtrade.proc_call_name(regprocedure)'),
		('function pgtrade.record_conid(bigint,bigint,jsonb)'),
		('function pgtrade.record_modification(bigint,boolean,text,text,jsonb)'),
		('function pgtrade.record_modification_sent(bigint,bigint)'),
		('function pgtrade.record_fill(text,text,text,bigint,text,numeric,'
		 'numeric,timestamp with time zone,numeric,jsonb)'),
		('function pgtrade.record_fills(text[],text[],text[],bigint[],text[],'
		 'numeric[],numeric[],timestamp with time zone[],numeric[],jsonb[])'),
		('function pgtrade.record_rejection(bigint,text,jsonb)'),
		('function pgtrade.record_status(bigint,text,numeric,numeric,jsonb)'),
		('function pgtrade.record_step(bigint,integer,text,'
		 'timestamp with time zone,jsonb,jsonb)'),
		('function pgtrade.record_submission(bigint,text,text,jsonb)'),
		('function pgtrade.record_submissions(bigint[],text[],text[],jsonb[])'),
		('function pgtrade.release_unsent(bigint,bigint,text)'),
		('function pgtrade.cancel_asked_for(bigint,bigint)'),
		('function pgtrade.record_declined(bigint,bigint,text,jsonb)'),
		('function pgtrade.record_unknown(bigint,text)'),
		('function pgtrade.limit_scope_account(text,bigint)'),
		('function pgtrade.remove_risk_limit(text,text,bigint)'),
		('function pgtrade.resolve_unknown(bigint,text,text)'),
		('function pgtrade.resolve_vanished(bigint,text)'),
		('function pgtrade.risk_check(pgtrade.orders,boolean,text,boolean,jsonb)'),
		('function pgtrade.sec_type_refusal(bigint,text)'),
		('function pgtrade.risk_limit_audit()'),
		('function pgtrade.rsi(double precision,bigint)'),
		('function pgtrade.rsi(double precision[],integer)'),
		('function pgtrade.rsi_agg_transfn(internal,double precision,bigint)'),
		('function pgtrade.run_decide(bigint,integer,pgtrade.strategy,'
		 'timestamp with time zone,numeric,text,text,numeric,jsonb,'
		 'double precision,timestamp with time zone,integer,boolean,jsonb)'),
		('function pgtrade.size_target(pgtrade.strategy,numeric,'
		 'double precision,double precision,numeric,numeric,numeric)'),
		('function pgtrade.run_due(timestamp with time zone)'),
		('function pgtrade.run_execute(bigint,text,timestamp with time zone,'
		 'timestamp with time zone,boolean)'),
		('function pgtrade.run_next_due(timestamp with time zone,bigint)'),
		('function pgtrade.run_due_bulk(timestamp with time zone,integer)'),
		('function pgtrade.decision_reason(text,numeric,numeric,numeric,'
		 'boolean)'),
		('type pgtrade.run_probe'),
		('type pgtrade.backtest_engine_result'),
		('type pgtrade.backtest_read_result'),
		('function pgtrade.backtest_engine_read(pgtrade.strategy,bigint,text,'
		 'jsonb,integer,integer,integer,timestamp with time zone,'
		 'timestamp with time zone,numeric,numeric,numeric,numeric,numeric,'
		 'double precision,boolean,text,interval,text,'
		 'time without time zone,boolean)'),
		('function pgtrade.backtest_trade_list()'),
		('function pgtrade.bars_floor(timestamp with time zone,interval)'),
		('function pgtrade.period_bars(bigint,interval,'
		 'timestamp with time zone,timestamp with time zone,integer)'),
		('function pgtrade.bars_ended_by(timestamp with time zone,interval,'
		 'text,time without time zone)'),
		('table pgtrade.backtest'),
		('table pgtrade.scheduler_tick'),
		('function pgtrade.scheduler_ticked(timestamp with time zone)'),
		('sequence pgtrade.backtest_backtest_id_seq'),
		('table pgtrade.backtest_trade'),
		('table pgtrade.backtest_decision'),
		('function pgtrade.backtest(text,timestamp with time zone,'
		 'timestamp with time zone,numeric,numeric,numeric,jsonb,boolean,'
		 'boolean)'),
		('function pgtrade.backtest_run(text,timestamp with time zone,'
		 'timestamp with time zone,numeric,numeric,numeric,jsonb,boolean,'
		 'boolean,timestamp with time zone[],double precision[],'
		 'double precision[],double precision[],double precision[],'
		 'double precision[],boolean)'),
		('function pgtrade.backtest_order_check(pgtrade.strategy,text,numeric,'
		 'double precision,numeric,numeric,numeric,date,numeric,date,integer,'
		 'timestamp with time zone)'),
		('function pgtrade.backtest_kind_engine(pgtrade.strategy,text,jsonb,'
		 'integer,timestamp with time zone[],double precision[],'
		 'double precision[],double precision[],double precision[],integer,'
		 'integer,numeric,numeric,numeric,numeric,numeric,double precision,'
		 'boolean,text,interval,text,time without time zone,boolean)'),
		('function pgtrade.backtest_sma_cross_engine(pgtrade.strategy,integer,'
		 'integer,integer,timestamp with time zone[],double precision[],'
		 'double precision[],double precision[],double precision[],integer,'
		 'integer,numeric,numeric,numeric,numeric,numeric,double precision,'
		 'boolean,text,interval,text,time without time zone,boolean)'),
		('function pgtrade.backtest_sweep(text,timestamp with time zone,'
		 'timestamp with time zone,jsonb,numeric,numeric,numeric,boolean)'),
		('function pgtrade.report_backtest(bigint)'),
		('function pgtrade.report_strategy(bigint,timestamp with time zone,'
		 'timestamp with time zone)'),
		('function pgtrade.report_bars(bigint,interval,text,'
		 'time without time zone,timestamp with time zone,'
		 'timestamp with time zone,integer)'),
		('function pgtrade.report_chart(text,timestamp with time zone[],'
		 'double precision[],text[],text[],text,integer,jsonb,boolean,text)'),
		('function pgtrade.report_escape(text)'),
		('function pgtrade.report_figures(text,text[],text[])'),
		('function pgtrade.report_indicators(text,jsonb,double precision[],'
		 'double precision[],double precision[])'),
		('function pgtrade.report_number(numeric,integer,integer)'),
		('function pgtrade.report_page(text,text)'),
		('function pgtrade.report_percent(numeric)'),
		('function pgtrade.report_price_charts(text,text,jsonb,'
		 'timestamp with time zone[],double precision[],double precision[],'
		 'double precision[],integer,text,jsonb)'),
		('function pgtrade.report_step(double precision)'),
		('function pgtrade.report_time(timestamp with time zone,text,boolean)'),
		('function pgtrade.report_warmup(jsonb)'),
		('function pgtrade.kind_target(text,jsonb)'),
		('function pgtrade.evaluate_kind(pgtrade.strategy_kind,jsonb,text,'
		 'timestamp with time zone[],double precision[],double precision[],'
		 'double precision[],double precision[],double precision[])'),
		('function pgtrade.wma(double precision[],integer)'),
		('function pgtrade.wma(double precision,bigint)'),
		('function pgtrade.wma_agg_transfn(internal,double precision,bigint)'),
		('function pgtrade.stddev(double precision[],integer)'),
		('function pgtrade.stddev(double precision,bigint)'),
		('function pgtrade.stddev_agg_transfn(internal,double precision,'
		 'bigint)'),
		('function pgtrade.roc(double precision[],integer)'),
		('function pgtrade.roc(double precision,bigint)'),
		('function pgtrade.roc_agg_transfn(internal,double precision,bigint)'),
		('function pgtrade.obv(double precision[],double precision[])'),
		('function pgtrade.obv(double precision,double precision)'),
		('function pgtrade.obv_agg_transfn(internal,double precision,'
		 'double precision)'),
		('function pgtrade.supertrend(double precision[],double precision[],'
		 'double precision[],integer,double precision)'),
		('function pgtrade.supertrend(double precision,double precision,'
		 'double precision,bigint,double precision)'),
		('function pgtrade.supertrend_direction(double precision,'
		 'double precision,double precision,bigint,double precision)'),
		('function pgtrade.supertrend_agg_transfn(internal,double precision,'
		 'double precision,double precision,bigint,double precision)'),
		('function pgtrade.supertrend_direction_agg_finalfn(internal)'),
		('type pgtrade.macd_value'),
		('type pgtrade.bollinger_bands'),
		('function pgtrade.macd(double precision,bigint,bigint,bigint)'),
		('function pgtrade.macd_agg_transfn(internal,double precision,bigint,'
		 'bigint,bigint)'),
		('function pgtrade.macd_agg_finalfn(internal)'),
		('function pgtrade.bollinger(double precision,bigint,double precision)'),
		('function pgtrade.bollinger_agg_transfn(internal,double precision,'
		 'bigint,double precision)'),
		('function pgtrade.bollinger_agg_finalfn(internal)'),
		('function pgtrade.ema_cross_validate(jsonb)'),
		('function pgtrade.ema_cross_eval(jsonb,timestamp with time zone[],'
		 'double precision[],double precision[],double precision[],'
		 'double precision[],double precision[])'),
		('function pgtrade.macd_cross_validate(jsonb)'),
		('function pgtrade.macd_cross_eval(jsonb,timestamp with time zone[],'
		 'double precision[],double precision[],double precision[],'
		 'double precision[],double precision[])'),
		('function pgtrade.rsi_reversion_validate(jsonb)'),
		('function pgtrade.rsi_reversion_eval(jsonb,timestamp with time zone[],'
		 'double precision[],double precision[],double precision[],'
		 'double precision[],double precision[])'),
		('function pgtrade.bollinger_breakout_validate(jsonb)'),
		('function pgtrade.bollinger_breakout_eval(jsonb,timestamp with time zone[],'
		 'double precision[],double precision[],double precision[],'
		 'double precision[],double precision[])'),
		('function pgtrade.confirmations_validate(jsonb)'),
		('function pgtrade.confirmations_eval(jsonb,timestamp with time zone[],'
		 'double precision[],double precision[],double precision[],'
		 'double precision[],double precision[])'),
		('function pgtrade.run_probe(bigint[],text,timestamp with time zone,'
		 'jsonb)'),
		('function pgtrade.open_order_rests(text,bigint,bigint)'),
		('function pgtrade.recent_bars(bigint,interval,timestamp with time zone,'
		 'integer)'),
		('function pgtrade.run_steps(bigint,pgtrade.strategy,'
		 'timestamp with time zone,boolean)'),
		('function pgtrade.run_strategy(text,timestamp with time zone,text,boolean)'),
		('function pgtrade.set_risk_limit(text,bigint,numeric,numeric,text,'
		 'numeric,numeric,integer,integer,numeric,numeric,boolean)'),
		('function pgtrade.set_trading_enabled(boolean,text,bigint,text)'),
		('function pgtrade.side_from_broker(text)'),
		('function pgtrade.sma(double precision,bigint)'),
		('function pgtrade.sma(double precision[],integer)'),
		('function pgtrade.sma_agg_transfn(internal,double precision,bigint)'),
		('function pgtrade.sma_cross_eval(jsonb,timestamp with time zone[],'
		 'double precision[],double precision[],double precision[],'
		 'double precision[],double precision[])'),
		('function pgtrade.sma_cross_validate(jsonb)'),
		('function pgtrade.strategy_performance(text)'),
		('function pgtrade.strategy_before_write()'),
		('function pgtrade.strategy_kind_validate(text,jsonb)'),
		('function pgtrade.submit_decision(text,numeric,text,numeric,jsonb)'),
		('function pgtrade.unhalt_account(text,text)'),
		('sequence pgtrade.commission_commission_id_seq'),
		('sequence pgtrade.decision_decision_id_seq'),
		('sequence pgtrade.fill_fill_id_seq'),
		('sequence pgtrade.instrument_instrument_id_seq'),
		('sequence pgtrade.listener_listener_id_seq'),
		('sequence pgtrade.order_event_event_id_seq'),
		('sequence pgtrade.order_modification_modification_id_seq'),
		('sequence pgtrade.orders_order_id_seq'),
		('sequence pgtrade.risk_limit_history_history_id_seq'),
		('sequence pgtrade.risk_limit_limit_id_seq'),
		('sequence pgtrade.strategy_strategy_id_seq'),
		('sequence pgtrade.workflow_run_run_id_seq'),
		('table pgtrade."position"'),
		('table pgtrade.account'),
		('table pgtrade.bar'),
		('table pgtrade.bar_pack'),
		('table pgtrade.bar_change'),
		('function pgtrade.bar_note_change()'),
		('function pgtrade.bar_series()'),
		('function pgtrade.bar_note_row()'),
		('function pgtrade.bar_note_begin()'),
		('table pgtrade.bar_packer'),
		('function pgtrade.pack_bars(text,interval,boolean)'),
		('table pgtrade.commission'),
		('table pgtrade.decision'),
		('table pgtrade.fill'),
		('table pgtrade.fill_correction'),
		('table pgtrade.installation'),
		('table pgtrade.instrument'),
		('table pgtrade.listener'),
		('table pgtrade.order_event'),
		('table pgtrade.order_modification'),
		('table pgtrade.order_transition'),
		('table pgtrade.orders'),
		('table pgtrade.risk_limit'),
		('table pgtrade.risk_limit_history'),
		('table pgtrade.strategy'),
		('table pgtrade.strategy_kind'),
		('table pgtrade.workflow_run'),
		('table pgtrade.workflow_step'),
		('view pgtrade.decisions_explained'),
		('view pgtrade.listener_health'),
		('view pgtrade.monitor'),
		('view pgtrade.monitor_accounts'),
		('view pgtrade.open_orders'),
		('view pgtrade.positions'),
		('view pgtrade.unlinked_fills')$$,
	'the extension owns exactly these objects');

SELECT col_type_is('pgtrade', 'orders', 'quantity', 'numeric',
	'order quantity is numeric');
SELECT col_type_is('pgtrade', 'orders', 'limit_price', 'numeric',
	'order limit price is numeric');
SELECT col_type_is('pgtrade', 'fill', 'price', 'numeric', 'fill price is numeric');
SELECT col_type_is('pgtrade', 'fill', 'quantity', 'numeric',
	'fill quantity is numeric');
SELECT col_type_is('pgtrade', 'position', 'avg_cost', 'numeric',
	'average cost is numeric');
SELECT col_type_is('pgtrade', 'position', 'realized_pnl', 'numeric',
	'realized P&L is numeric');
SELECT col_type_is('pgtrade', 'commission', 'amount', 'numeric',
	'commission is numeric');
SELECT col_type_is('pgtrade', 'bar', 'close', 'double precision',
	'bar prices are double precision');
SELECT col_type_is('pgtrade', 'bar', 'ts', 'timestamp with time zone',
	'bar time is timestamptz');
SELECT has_pk('pgtrade', 'bar', 'bar has a primary key');
SELECT col_is_pk('pgtrade', 'bar', ARRAY['instrument_id', 'bar_size', 'ts'],
	'bars are unique by instrument, size and start');
SELECT col_is_unique('pgtrade', 'fill', ARRAY['execution_id'],
	'fills are unique by execution id');
SELECT col_is_unique('pgtrade', 'orders', ARRAY['client_order_id'],
	'client order ids are unique');
SELECT triggers_are('pgtrade', 'orders', ARRAY['orders_gate',
	'orders_after_insert', 'orders_before_update', 'orders_after_update',
	'orders_cancel_asked',
	'order_modification_close', 'bracket_parent_ended'],
	'orders carries the gate, state machine, modification and bracket '
	'triggers');
SELECT triggers_are('pgtrade', 'bar', ARRAY['bar_note_insert',
	'bar_note_update', 'bar_note_delete', 'bar_note_truncate',
	'bar_note_replica', 'bar_note_begin'],
	'bar notes each statement''s changes for the packs');
SELECT triggers_are('pgtrade', 'fill', ARRAY['fill_after_insert',
	'fill_immutable', 'append_only_truncate'],
	'fill carries its position and append-only triggers');
SELECT ok((SELECT count(*) = 5 FROM pg_roles WHERE rolname IN
	('pgtrade_reader', 'pgtrade_trader', 'pgtrade_admin', 'pgtrade_listener',
	 'pgtrade_scheduler') AND NOT rolcanlogin), 'the five group roles exist');
SELECT ok(NOT has_function_privilege('public',
	'pgtrade.claim_order(bigint, text[])', 'EXECUTE'),
	'PUBLIC cannot claim orders');
SELECT ok(has_function_privilege('pgtrade_listener',
	'pgtrade.record_fill(text, text, text, bigint, text, numeric, numeric, timestamptz, numeric, jsonb)',
	'EXECUTE'), 'the listener may record fills');
SELECT ok(NOT has_table_privilege('pgtrade_listener', 'pgtrade.orders',
	'UPDATE'), 'the listener cannot update orders directly');
SELECT ok(has_function_privilege('pgtrade_scheduler',
	'pgtrade.run_next_due(timestamptz, bigint)', 'EXECUTE')
	AND has_function_privilege('pgtrade_scheduler',
	'pgtrade.run_due_bulk(timestamptz, integer)', 'EXECUTE')
	AND NOT has_function_privilege('pgtrade_trader',
	'pgtrade.run_due_bulk(timestamptz, integer)', 'EXECUTE')
	AND NOT has_function_privilege('pgtrade_scheduler',
	'pgtrade.place_order(text, text, text, numeric, text, numeric, numeric, text, interval, boolean)',
	'EXECUTE'), 'the scheduler may run due strategies and nothing more');
SELECT ok(has_function_privilege('pgtrade_reader', 'pgtrade.ema(float8[], integer)',
	'EXECUTE') AND NOT has_function_privilege('public',
	'pgtrade.ema(float8[], integer)', 'EXECUTE'),
	'indicators are open to the pgtrade roles, not to PUBLIC');
SELECT is(ARRAY(
	SELECT format('%s %s', k.kind, k.name) FROM (
		SELECT 'function' AS kind, p.oid::regprocedure::text AS name,
			   coalesce(p.proacl, acldefault('f', p.proowner)) AS acl
		FROM pg_proc p WHERE p.pronamespace = 'pgtrade'::regnamespace
		UNION ALL
		SELECT 'relation', c.oid::regclass::text,
			   coalesce(c.relacl, acldefault('r', c.relowner))
		FROM pg_class c WHERE c.relnamespace = 'pgtrade'::regnamespace
		UNION ALL
		SELECT 'schema', n.nspname, coalesce(n.nspacl, acldefault('n', n.nspowner))
		FROM pg_namespace n WHERE n.nspname = 'pgtrade') k
	WHERE EXISTS (SELECT 1 FROM aclexplode(k.acl) a WHERE a.grantee = 0)
	ORDER BY 1), '{}'::text[],
	'nothing in pgtrade is granted to PUBLIC');
SELECT is((SELECT count(*)::int FROM pg_proc p
		   WHERE p.pronamespace = 'pgtrade'::regnamespace
			 AND obj_description(p.oid, 'pg_proc') IS NULL), 0,
	'every function has a comment');
SELECT is((SELECT count(*)::int FROM pg_class c
		   WHERE c.relnamespace = 'pgtrade'::regnamespace
			 AND c.relkind IN ('r', 'v')
			 AND obj_description(c.oid, 'pg_class') IS NULL), 0,
	'every table and view has a comment');

-- the strategy trigger that validates updates lists every column but the
-- two the scheduler writes, so that a new column is never left unchecked
SELECT set_eq(
	$$SELECT a.attname::text FROM pg_trigger t
	  JOIN pg_attribute a ON a.attrelid = t.tgrelid
		 AND a.attnum = ANY (t.tgattr::int2[])
	  WHERE t.tgrelid = 'pgtrade.strategy'::regclass
		AND t.tgname = 'strategy_before_update'$$,
	$$SELECT a.attname::text FROM pg_attribute a
	  WHERE a.attrelid = 'pgtrade.strategy'::regclass AND a.attnum > 0
		AND NOT a.attisdropped
		AND a.attname NOT IN ('next_run_at', 'updated_at')$$,
	'strategy_before_update fires for every column but next_run_at and updated_at');

SELECT * FROM finish();
ROLLBACK;
