-- GCRA rate limiting as one function, so a check can ride inside another statement
-- (the chat path authenticates the key, loads its bot and counts the request in one
-- round trip). Returns 0 when the request is allowed, else the seconds to wait.
CREATE OR REPLACE FUNCTION parley_rate_check(p_bucket text, p_interval interval, p_period interval)
RETURNS double precision
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    t timestamptz := clock_timestamp();
    counted timestamptz;
    wait double precision;
BEGIN
    INSERT INTO rate_limits AS r (bucket, tat, expires_at)
    VALUES (p_bucket, t + p_interval, t + p_period)
    ON CONFLICT (bucket) DO UPDATE
       SET tat = GREATEST(r.tat, t) + p_interval,
           expires_at = GREATEST(r.tat, t) + p_interval + p_period
     WHERE GREATEST(r.tat, t) + p_interval <= t + p_period
    RETURNING r.tat INTO counted;
    IF counted IS NOT NULL THEN
        RETURN 0;
    END IF;
    SELECT extract(epoch FROM r.tat + p_interval - p_period - t) INTO wait
      FROM rate_limits r WHERE r.bucket = p_bucket;
    RETURN GREATEST(coalesce(wait, 1), 0.001);
END
$$;
