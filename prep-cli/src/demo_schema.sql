-- The lab layout of SPEC §2.1: what `quantbot demo-data` writes and `--source lab` reads.
CREATE TABLE calls(call_id VARCHAR, caller VARCHAR, chain VARCHAR, mint VARCHAR,
                   alert_ts_ms BIGINT, price_at_alert DOUBLE);
CREATE TABLE candles(chain VARCHAR, mint VARCHAR, interval_s INTEGER, ts BIGINT, open DOUBLE,
                     high DOUBLE, low DOUBLE, close DOUBLE, volume DOUBLE);
