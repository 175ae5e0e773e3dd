-- Chat limits per visitor under a higher ceiling per address (hardening item 13): visitors
-- behind one NAT each have their own allowance, and one address cannot exceed the ceiling
-- however many visitor ids it claims. One call, so the check still rides in the caller's
-- statement. The ceiling is counted only when the visitor's own bucket lets the request in.
CREATE OR REPLACE FUNCTION parley_rate_check_under(
    p_bucket text, p_interval interval, p_ceiling text, p_ceiling_interval interval,
    p_period interval
)
RETURNS double precision
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    wait double precision;
BEGIN
    wait := parley_rate_check(p_bucket, p_interval, p_period);
    IF wait > 0 OR p_ceiling IS NULL THEN
        RETURN wait;
    END IF;
    RETURN parley_rate_check(p_ceiling, p_ceiling_interval, p_period);
END
$$;
